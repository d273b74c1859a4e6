"""Confirmations read from the assignment team's replies to our queue-move requests.

For every queue-move request the ledger holds as sent through Outlook whose tenants are not
all confirmed yet: the replies in its conversation, from the assignment team's address,
received after the request. A reply with a returned workbook confirms its filled rows; a
reply whose first line is "Done" or "Moved" confirms every tenant of the request on the
reply's date; any other reply is listed for the FM and confirms nothing. Replies from anyone
else are ignored. Nothing in the mailbox is changed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ftc_office.errors import Problem
from ftc_office.jobs import JobKind, State
from ftc_office.ledger import Entry, Ledger
from ftc_office.run.returned import Confirmation, ConfirmationProblems, read_returned

if TYPE_CHECKING:
    from ftc_office.backends.o365_replies import Reply, ReplyReader

_CONFIRMING = re.compile(r"^(done|moved)\b[\s.!]*$", re.IGNORECASE)


@dataclass
class MailboxReading:
    """What the mailbox said: confirmations to apply, replies a person must read."""

    confirmations: list[Confirmation] = field(default_factory=list)
    unanswered: list[str] = field(default_factory=list)
    requests: int = 0
    replies: int = 0


def open_requests(ledger: Ledger) -> list[Entry]:
    """Queue-move requests sent through Outlook with a tenant not yet confirmed."""
    confirmed = ledger.tenants_in(JobKind.CONFIRM_QUEUE, (State.DONE,))
    return [e for e in ledger.entries((State.SENT,))
            if e.kind == JobKind.QUEUE_MOVE and e.backend == "o365"
            and any(t.casefold() not in confirmed for t in e.tenant_ids)]


def _from_reply(reply: Reply, entry: Entry, ledger: Ledger, today: dt.date,
                out: MailboxReading, problems: list[Problem]) -> None:
    when = reply.received.astimezone(dt.UTC).date()
    said = f"reply from {reply.sender} on {reply.received:%Y-%m-%d %H:%M} UTC"
    if reply.attachments:
        for name, data in reply.attachments:
            try:
                found = read_returned(data, f"{said}, {name}", ledger, today)
            except ConfirmationProblems as exc:
                problems.extend(exc.problems)
                continue
            out.confirmations.extend(
                Confirmation(c.tenant_id, c.date, "reply-workbook", c.where, c.by or
                             reply.sender, c.request) for c in found)
        return
    if _CONFIRMING.match(reply.first_line):
        out.confirmations.extend(Confirmation(t, when, "reply", f"{said}: {reply.first_line}",
                                              reply.sender, entry.key)
                                 for t in entry.tenant_ids)
        return
    out.unanswered.append(f"{said} to {entry.key}: {reply.first_line or '(no text)'!r} — "
                          "read it; it confirms nothing")


def read_mailbox(reader: ReplyReader, ledger: Ledger, team: str, today: dt.date
                 ) -> MailboxReading:
    """Every open request's replies from ``team`` turned into confirmations (or listed).
    Raises ConfirmationProblems when a returned workbook in a reply is wrong."""
    out = MailboxReading()
    problems: list[Problem] = []
    for entry in open_requests(ledger):
        sent = reader.sent_copy(entry.key)
        if sent is None:
            continue
        out.requests += 1
        for reply in reader.replies(sent, team):  # our own copy and anyone else left out
            out.replies += 1
            _from_reply(reply, entry, ledger, today, out, problems)
    if problems:
        raise ConfirmationProblems(problems)
    return out

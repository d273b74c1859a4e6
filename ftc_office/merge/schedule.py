"""Scheduled sending (``--send-at``, a *Send At* column): held by Exchange, or kept in the
ledger till then.

Each row's time is its *Send At* cell (``--send-at-column``; a column headed "Send At" is
used by itself), else ``--send-at``: the cell wins for its row. Times are the user's local
time unless they carry an offset. Through o365 each message is created with deferred
delivery (PidTagDeferredSendTime), so Exchange holds it in the Outbox and sends it at that
time even when the laptop is closed; the ledger records it sent (Exchange has it) and a
``scheduled`` event with the time, and the first run after the time confirms it through Sent
Items. Other backends cannot hold a message: a run before the time records the message's
intent (``planned``) and the time, and sends nothing; the first run of the same command at
or after that time sends it. A time in the past is refused before anything is sent, unless
an earlier run already scheduled that row (then it is due now).

``ftc-office status`` lists what is scheduled (`pending`); ``resolve KEY --skip`` cancels it
(`cancel`: through o365 the held message is deleted from the Outbox).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftc_office.errors import FtcError, LedgerError, Problem, UsageError
from ftc_office.jobs import Job, State
from ftc_office.ledger import Entry, Ledger

if TYPE_CHECKING:
    from ftc_office.backends.base import Backend

HELD_BY_PROVIDER = ("o365",)
FORMAT = "%Y-%m-%d %H:%M"
COLUMN = "Send At"  # used without --send-at-column when the data has it
SCHEDULED, CONFIRMED, CANCELLED = "scheduled", "scheduled_confirmed", "scheduled_cancelled"


def parse_send_at(text: str) -> dt.datetime:
    """``2026-12-01 09:00`` in the user's time zone (an explicit offset is kept)."""
    when = _parse(text)
    if when is None:
        raise UsageError(f"--send-at {text!r}", "not a date and time",
                         'write it as "YYYY-MM-DD HH:MM" (your local time)')
    return when


def _parse(text: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return when if when.tzinfo else when.astimezone()


def cell_time(value: Any, where: str) -> dt.datetime | Problem | None:
    """A *Send At* cell: an Excel date and time or ``YYYY-MM-DD HH:MM`` text, local time
    (None when empty; a Problem naming the cell when it is no time of day)."""
    if value in ("", None):
        return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.astimezone()
    when = None if isinstance(value, dt.date) else _parse(str(value))
    if when is None or (isinstance(value, str) and len(value.strip()) <= 10):
        return Problem(where, f"{value!s} is not a date and time to send at",
                       'write it as "YYYY-MM-DD HH:MM" (your local time), or empty the cell')
    return when


def label(when: dt.datetime) -> str:
    """``Scheduled for 2026-12-01 09:00`` (local time)."""
    return f"Scheduled for {when.astimezone():{FORMAT}}"


def check(times: dict[str, dt.datetime], cells: dict[str, str], now: dt.datetime,
          jobs: list[Job], ledger: Ledger) -> None:
    """Refuse a time in the past for a row no earlier run scheduled, naming its cell (or
    ``--send-at``): all of them, before anything is sent."""
    late = [j.key for j in jobs if (t := times.get(j.key)) is not None and t <= now
            and ledger.get(j.key) is None]
    if not late:
        return
    now_text = f"{now.astimezone():{FORMAT}}"
    in_cells = [k for k in late if k in cells]
    if not in_cells:
        raise UsageError(f"--send-at {times[late[0]].astimezone():{FORMAT}}",
                         f"the time is in the past (now {now_text}); nothing was sent",
                         "give a later time, or leave out --send-at to send now")
    listed = "; ".join(f"{cells[k]} ({times[k].astimezone():{FORMAT}})" for k in in_cells)
    raise UsageError(listed, f"{len(in_cells)} send time(s) in the past (now {now_text}); "
                     "nothing was sent", "give later times, or empty those cells to send "
                     "them now")


def deferred(jobs: list[Job], times: dict[str, dt.datetime]) -> list[Job]:
    """The jobs, those with a time with their messages marked for deferred delivery."""
    out = []
    for job in jobs:
        when = times.get(job.key)
        if when is not None and job.message is not None:
            msg = dataclasses.replace(job.message, deferred_until=when.astimezone(dt.UTC))
            job = dataclasses.replace(job, message=msg)
        out.append(job)
    return out


def hold(jobs: list[Job], ledger: Ledger, backend: str, times: dict[str, dt.datetime]
         ) -> int:
    """Record each message's intent (``planned``) and its time, and send nothing."""
    known = recorded(ledger)
    n = 0
    for job in jobs:
        if ledger.plan(job, backend) in (State.PLANNED, State.FAILED):  # else: done before
            note(ledger, job.key, times[job.key], known)
            n += 1
    return n


def note(ledger: Ledger, key: str, when: dt.datetime,
         known: dict[str, tuple[str, dt.datetime]]) -> None:
    """Record ``key``'s time (once; again only when it changed)."""
    if key in known and known[key] == (SCHEDULED, when):
        return
    entry = ledger.get(key)
    if entry is not None:
        ledger.transition(key, entry.state, event=SCHEDULED,
                          send_at=when.astimezone(dt.UTC).isoformat())


def recorded(ledger: Ledger) -> dict[str, tuple[str, dt.datetime]]:
    """Key → (its last schedule event, the time it names) from the ledger's event log."""
    out: dict[str, tuple[str, dt.datetime]] = {}
    for e in ledger.events():
        if e["event"] in (SCHEDULED, CONFIRMED, CANCELLED) and e["key"]:
            when = e["detail"].get("send_at")
            prior = out.get(e["key"])
            at = dt.datetime.fromisoformat(when) if when else (prior[1] if prior else None)
            if at is not None:
                out[e["key"]] = (e["event"], at)
    return out


@dataclass(frozen=True)
class Pending:
    """A message scheduled and not yet sent (or not yet seen in Sent Items)."""

    entry: Entry
    when: dt.datetime

    @property
    def held(self) -> bool:
        """Held by the provider (Exchange's Outbox), not by the ledger."""
        return self.entry.state == State.SENT and self.entry.backend in HELD_BY_PROVIDER


def pending(ledger: Ledger) -> list[Pending]:
    """What is scheduled, soonest first: planned with a time, or held by Exchange and not
    yet confirmed in Sent Items."""
    out = []
    for key, (event, when) in recorded(ledger).items():
        entry = ledger.get(key)
        if event == SCHEDULED and entry is not None and (
                entry.state == State.PLANNED or Pending(entry, when).held):
            out.append(Pending(entry, when))
    return sorted(out, key=lambda p: (p.when, p.entry.key))


def confirm(ledger: Ledger, backend: Backend, keys: set[str], now: dt.datetime) -> int:
    """Held messages of ``keys`` whose time has passed: found in Sent Items, recorded as
    confirmed. Returns how many."""
    import requests

    from ftc_office.backends.o365_lookup import find

    n = 0
    for p in pending(ledger):
        if not (p.held and p.entry.key in keys and p.when <= now):
            continue
        try:
            seen = find(backend, "sent", p.entry.key)  # type: ignore[arg-type]
        except requests.RequestException:
            return n  # Graph cannot tell now: the next run looks again
        if seen:
            ledger.transition(p.entry.key, State.SENT, event=CONFIRMED,
                              send_at=p.when.isoformat())
            n += 1
    return n


def cancel(ledger: Ledger, key: str, make: Any, now: dt.datetime | None = None) -> str | None:
    """``resolve KEY --skip`` of a scheduled message: through o365 the held message is
    deleted from the Outbox first (``make()`` gives the opened backend). Returns what was
    done, None when ``key`` is not scheduled."""
    found = next((p for p in pending(ledger) if p.entry.key == key), None)
    if found is None:
        return None
    when = f"{found.when.astimezone():{FORMAT}}"
    if found.held:
        if found.when <= (now or dt.datetime.now(dt.UTC)):
            raise LedgerError(f"ledger key {key}", f"Exchange sent it at {when}; nothing "
                              "can be cancelled", "leave it as it is")
        _delete_held(make, found.entry, when)
    ledger.transition(key, State.SKIPPED, event=CANCELLED, by="user")
    return (f"the message scheduled for {when} was deleted from the Outbox" if found.held
            else f"the message scheduled for {when} will not be sent")


def _delete_held(make: Any, entry: Entry, when: str) -> None:
    """Delete the message Exchange holds (its immutable id is the ledger's provider id)."""
    import requests

    from ftc_office.backends.o365_auth import ensure_token
    from ftc_office.backends.o365_graph import describe, http_status

    backend = make()
    try:
        ensure_token(backend.account, backend.settings, now=backend._clock)
        box = backend.account.mailbox(resource=backend.settings.mailbox or None)
        message = box.get_message(object_id=entry.provider_id)
        if message is None or not message.delete():
            raise LedgerError(f"ledger key {entry.key}", "the held message is not in the "
                              "Outbox", "look in Outlook's Outbox and Sent Items")
    except requests.RequestException as exc:
        if http_status(exc) == 404:
            raise LedgerError(f"ledger key {entry.key}", "the held message is not in the "
                              "Outbox any more (sent, or deleted in Outlook)",
                              "look in Outlook's Sent Items; nothing was changed") from None
        raise LedgerError(f"ledger key {entry.key}", f"the message held for {when} could "
                          f"not be deleted ({describe(exc)})", "nothing was changed; check "
                          "the connection and run resolve again") from None
    except FtcError:
        raise
    finally:
        backend.close()

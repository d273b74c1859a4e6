"""The unit of work every stage shares: a job (a message, or none for a note-only step),
the cells it stamps, the notes it leaves, its ledger key, and the states it moves through.

Composition makes jobs, the ledger records them, backends deliver their messages, and
write-back projects their stamps; all of them speak these nouns, defined once here.
"""

from __future__ import annotations

import datetime as dt
import enum
import hashlib
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from ftc_office.addresses import Address

if TYPE_CHECKING:  # `plan` imports the stamps, not the email package (25 ms)
    from ftc_office.message import OutgoingMessage

StampValue = dt.date | str
T = TypeVar("T")


class JobKind(enum.StrEnum):
    """What a job does. Mail kinds are the mailers' kinds; the others stamp and note only."""

    ATU = "atu"
    CUSTOMER_FOLLOWUP = "customer_followup"
    QUEUE_MOVE = "queue_move"
    ATU_NOTE = "atu_note"
    UNASSIGN_FM = "unassign_fm"
    CONFIRM_QUEUE = "confirm_queue"
    MERGE = "merge"


class State(enum.StrEnum):
    """A ledger entry's state. ``refused`` is a permanent refusal by the provider (e.g. SMTP
    550 at RCPT): never retried automatically, released only by ``resolve --resend``."""

    PLANNED = "planned"
    SENDING = "sending"
    SENT = "sent"
    DRAFTED = "drafted"
    FAILED = "failed"
    REFUSED = "refused"
    UNKNOWN = "unknown"
    DONE = "done"
    SKIPPED = "skipped"


#: nothing more will be sent for these keys
FINISHED = frozenset({State.SENT, State.DONE, State.SKIPPED})
#: the provider may hold the message: looked up before anything new is sent
IN_DOUBT = frozenset({State.SENDING, State.UNKNOWN, State.DRAFTED})
#: a person has to decide (listed by ``status``)
NEEDS_PERSON = frozenset({State.SENDING, State.UNKNOWN, State.FAILED, State.REFUSED})
#: the content is fixed: a different rendering for the key is refused
COMMITTED = frozenset({State.SENT, State.DRAFTED, State.DONE})


@dataclass(frozen=True)
class Stamp:
    """One output cell to write: for one workload row, or every row of the tenant."""

    tracker: str
    tenant_id: str
    workload: str | None
    field: str
    value: StampValue

    def __reduce__(self) -> tuple[object, ...]:
        # unpickled (from a compose-ahead worker), the repeated strings are shared again:
        # a run keeps every finished stamp, ~25,000 at 10,000 rows
        return (_stamp, (self.tracker, self.tenant_id, self.workload, self.field, self.value))


#: a stamp's fields whose text repeats across stamps: one string each, however many
#: stamps are decoded (a ledger entry's) or unpickled (a compose-ahead worker's)
SHARED_FIELDS = ("tracker", "tenant_id", "workload", "field")


def shared(value: T) -> T:
    """``value`` as the one string of its text (anything else as it is)."""
    return sys.intern(value) if type(value) is str else value  # type: ignore[call-overload]


def _stamp(tracker: str, tenant_id: str, workload: str | None, field: str,
           value: StampValue) -> Stamp:
    """An unpickled stamp, its SHARED_FIELDS shared."""
    return Stamp(shared(tracker), shared(tenant_id), shared(workload), shared(field), value)


@dataclass(frozen=True)
class Note:
    """An Engagement Management note for one tenant (and workload, when per workload)."""

    tenant_id: str
    workload: str | None
    text: str


@dataclass(frozen=True)
class Job:
    """One unit of work: a message to deliver (or none, for note-only steps) and its stamps."""

    key: str
    kind: str
    tenant_ids: tuple[str, ...]
    message: OutgoingMessage | None
    stamps: tuple[Stamp, ...]
    notes: tuple[Note, ...]
    summary: str
    #: what the FM should look at before it goes (e.g. a discussion held long ago)
    warnings: tuple[str, ...] = ()

    @property
    def content_hash(self) -> str:
        return self.message.content_hash if self.message else self.key


# ---- ledger keys: built here only, from tenant, workload, kind and recipients -------------

def slug(text: str) -> str:
    """An ASCII key part: ``Exchange Online`` → ``exchange-online``."""
    s = re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-").lower()
    return s[:40] or "x"


def recipients_digest(addresses: Iterable[Address]) -> str:
    """A short stable digest of a set of recipients, used in message keys."""
    joined = ",".join(sorted(a.email for a in addresses))
    return hashlib.sha256(joined.encode()).hexdigest()[:10]


def mail_key(kind: str, tenant_id: str, workload: str | None,
             recipients: Iterable[Address]) -> str:
    """``atu.<tenant>.<workload>.<recipients digest>``: one message per audience."""
    return ".".join([kind, slug(tenant_id), slug(workload or "all"),
                     recipients_digest(recipients)])


def note_key(kind: str, tenant_id: str, workload: str | None = None) -> str:
    """A note-only step: ``atu_note.<tenant>.<workload>`` or ``unassign_fm.<tenant>``."""
    parts = [kind, slug(tenant_id)]
    if kind != JobKind.UNASSIGN_FM:
        parts.append(slug(workload or "all"))
    return ".".join(parts)


def queue_move_key(queue: str, as_of: dt.date, tenant_ids: Iterable[str]) -> str:
    """One request per queue, date and set of tenants."""
    digest = hashlib.sha256(",".join(sorted(i.casefold() for i in tenant_ids)).encode())
    return ".".join(["queue_move", slug(queue), as_of.isoformat(), digest.hexdigest()[:10]])


def confirm_queue_key(tenant_id: str, date: dt.date) -> str:
    """The assignment team's confirmation of one tenant's move."""
    return f"confirm_queue.{tenant_id.casefold()}.{date.isoformat()}"


def merge_key(campaign: str, identity: str) -> str:
    """One ad-hoc merge message per campaign (the template folder's name by default) and
    row identity (the key column's value, compared ignoring case and spacing): never the
    row's position, so inserting or sorting rows changes no key."""
    norm = " ".join(identity.split()).casefold()
    digest = hashlib.sha256(norm.encode()).hexdigest()[:12]
    return f"merge.{slug(campaign)}.{slug(norm)[:24]}.{digest}"

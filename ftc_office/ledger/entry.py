"""What the ledger stores and hands out: an `Entry` (one job), the `Claimant` (who is sending),
and the rules about claims that both implementations share.

A claim is the intent row of a message: the claimant's user, host, process and run session,
and a lease the sender renews while it works. Times are UTC ISO text (they sort as text).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import getpass
import os
import socket
import uuid
from dataclasses import dataclass
from typing import Any

from ftc_office.backends.base import Sought
from ftc_office.jobs import SHARED_FIELDS, shared
from ftc_office.message import message_id_for

USER_ENV = "FTC_OFFICE_USER"
HOST_ENV = "FTC_OFFICE_HOST"


def now(offset: float = 0.0, precise: bool = False) -> str:
    """The current UTC time as ISO text (seconds; milliseconds when ``precise``, as leases
    are kept), ``offset`` seconds later."""
    t = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=offset)
    return t.isoformat(timespec="milliseconds" if precise else "seconds")


@dataclass(frozen=True)
class Claimant:
    """Who works on the ledger: a user (``FTC_OFFICE_USER``, else ``ledger.user`` in the
    config, else the login name), the host (``FTC_OFFICE_HOST``, else the host name), this
    process and this opening's session."""

    user: str
    host: str
    pid: int
    session: str

    @classmethod
    def here(cls, configured: str = "") -> Claimant:
        """The claimant for this process."""
        user = os.environ.get(USER_ENV) or configured
        if not user:
            try:
                user = getpass.getuser()
            except Exception:  # no login name (a service account without one)
                user = "unknown"
        return cls(user, os.environ.get(HOST_ENV) or socket.gethostname(), os.getpid(),
                   uuid.uuid4().hex)


@dataclass(frozen=True)
class Entry:
    """One row of the jobs table."""

    key: str
    kind: str
    tenant_ids: list[str]
    trackers: list[str]
    content_hash: str
    state: str
    backend: str | None
    provider_id: str | None
    error: str | None
    summary: str
    recipients: list[str]
    subject: str | None
    stamps: list[dict[str, Any]]
    notes: list[list[Any]]
    attempts: int
    created_at: str
    updated_at: str
    written_at: str | None
    prepared_at: str | None = None
    claimed_by: str | None = None
    claimed_host: str | None = None
    claimed_pid: int | None = None
    claim_session: str | None = None
    claimed_at: str | None = None
    lease_until: str | None = None
    tracker_ids: list[str] = dataclasses.field(default_factory=list)

    @property
    def prepared(self) -> bool:
        """The backend's last step before the final one is recorded (an Outlook draft id,
        SMTP's message data sent but not its final dot)."""
        return self.prepared_at is not None

    def sought(self) -> Sought:
        """What a backend's look-up needs to find this message: the Message-ID is rebuilt
        from the key and the recorded content hash exactly as the message carried it."""
        return Sought(self.key, message_id_for(self.key, self.content_hash),
                      tuple(self.recipients), self.provider_id, self.prepared)

    def by(self) -> str:
        """Who claimed it last, for messages: ``USER on HOST``."""
        return f"{self.claimed_by or 'someone'} on {self.claimed_host or 'an unknown host'}"


FIELDS = frozenset(f.name for f in dataclasses.fields(Entry))
JSON_FIELDS = ("tenant_ids", "trackers", "recipients", "stamps", "notes", "tracker_ids")


def stamp_for(stamp: dict[str, Any], copy: str, uid: str | None) -> bool:
    """Whether a recorded stamp goes to this tracker: named by this copy's path key, or by
    the tracker's travelling ID (``tracker:<FtcOfficeTrackerId>``) whichever copy sent it."""
    return stamp["tracker"] == copy or (uid is not None and stamp.get("uid") == uid)


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True  # it exists (another user's), or we cannot tell: assume alive
    return True


def claim_live(entry: Entry, me: Claimant, at: str) -> bool:
    """Whether ``entry`` is being sent right now by a run other than ``me``'s session.

    On this host the claimant process must still run (a dead process, or this process
    under an earlier session, holds nothing); on another host the lease must not have
    expired (the sender renews it while it works)."""
    if entry.state != "sending" or entry.claim_session is None:
        return False
    if entry.claim_session == me.session:
        return False
    if entry.claimed_host == me.host:
        return entry.claimed_pid != me.pid and pid_alive(entry.claimed_pid or 0)
    return entry.lease_until is not None and entry.lease_until > at


def share_strings(stamp: dict[str, Any]) -> None:
    """A decoded stamp's repeated strings, shared in place (write-back holds every entry
    of a tracker: 18 → 14 MB at 10,000 rows)."""
    for k in SHARED_FIELDS:
        if k in stamp:
            stamp[k] = shared(stamp[k])

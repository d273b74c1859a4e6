"""Scheduled sending (``--send-at``): held by Exchange, or kept in the ledger till then.

Through o365 each message is created with deferred delivery (PidTagDeferredSendTime), so
Exchange holds it in the Outbox and sends it at that time even when the laptop is closed;
the ledger records it sent (Exchange has it) and the status says "Scheduled for …". Other
backends cannot hold a message: a run before that time records each message's intent in the
ledger (``planned``) and sends nothing; the first run of the same command at or after that
time sends them. A time in the past is refused before anything is sent, unless an earlier
run of this merge already scheduled it (then it is due now).
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from ftc_office.errors import UsageError
from ftc_office.jobs import Job
from ftc_office.ledger import Ledger

HELD_BY_PROVIDER = ("o365",)
FORMAT = "%Y-%m-%d %H:%M"


def parse_send_at(text: str) -> dt.datetime:
    """``2026-12-01 09:00`` in the user's time zone (an explicit offset is kept)."""
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"--send-at {text!r}", "not a date and time",
                         'write it as "YYYY-MM-DD HH:MM" (your local time)') from None
    return when if when.tzinfo else when.astimezone()


def label(when: dt.datetime) -> str:
    """``Scheduled for 2026-12-01 09:00`` (local time)."""
    return f"Scheduled for {when.astimezone():{FORMAT}}"


def check(send_at: dt.datetime, now: dt.datetime, jobs: list[Job], ledger: Ledger) -> None:
    """Refuse a time in the past, unless this merge was scheduled by an earlier run."""
    if send_at > now or any(ledger.get(j.key) is not None for j in jobs):
        return
    raise UsageError(f"--send-at {send_at.astimezone():{FORMAT}}",
                     f"the time is in the past (now {now.astimezone():{FORMAT}}); nothing "
                     "was sent", "give a later time, or leave out --send-at to send now")


def deferred(jobs: list[Job], send_at: dt.datetime) -> list[Job]:
    """The jobs with their messages marked for deferred delivery by the provider."""
    out = []
    for job in jobs:
        assert job.message is not None
        msg = dataclasses.replace(job.message, deferred_until=send_at.astimezone(dt.UTC))
        out.append(dataclasses.replace(job, message=msg))
    return out


def hold(jobs: list[Job], ledger: Ledger, backend: str) -> int:
    """Record each message's intent (``planned``) and send nothing; return how many."""
    for job in jobs:
        ledger.plan(job, backend)
    return len(jobs)

"""Reconcile: before anything new is sent, ask the provider about every entry a crash or a
lost connection left in doubt (``sending``, ``unknown``, ``drafted``).

Each entry is looked up with a :class:`~ftc_office.backends.base.Sought` record built from
the ledger (key, the exact Message-ID, recipients, provider id, prepared mark). A backend
that can take back an unsent message (:class:`~ftc_office.backends.base.Withdrawing`)
withdraws a draft an interrupted send left behind, so the message goes out afresh.
"""

from __future__ import annotations

from ftc_office.backends.base import Backend, Status, Withdrawing
from ftc_office.errors import FtcError
from ftc_office.jobs import State
from ftc_office.ledger import Entry, Ledger
from ftc_office.run.report import RunReport


def reconcile(ledger: Ledger, backend: Backend, report: RunReport) -> None:
    """Resolve every ``sending``/``unknown``/``drafted`` entry of this user before sending
    anything (never one another run is sending now; see `Ledger.reconcilable`)."""
    for entry in ledger.reconcilable():
        try:
            found = find(backend, entry)
        except FtcError as exc:
            report.errors.append(str(exc))
            continue
        record(ledger, entry, found, report)


def find(backend: Backend, entry: Entry) -> Status | None:
    """The provider's answer for one entry (after withdrawing an interrupted draft)."""
    sought = entry.sought()
    found = backend.lookup(sought)
    if (found == Status.DRAFTED and entry.state in (State.SENDING, State.UNKNOWN)
            and isinstance(backend, Withdrawing)):
        # interrupted between the draft and its send: in send mode the unsent draft is
        # deleted and the message goes out afresh
        found = backend.withdraw(sought)
    return found


def record(ledger: Ledger, entry: Entry, found: Status | None, report: RunReport) -> None:
    """Move the entry to what the provider said."""
    if found == Status.SENT:
        ledger.transition(entry.key, State.SENT, event="reconciled_sent")
    elif found == Status.DRAFTED:
        if entry.state != State.DRAFTED:
            ledger.transition(entry.key, State.DRAFTED, event="reconciled_drafted")
    elif found is None:
        ledger.transition(entry.key, State.FAILED, error="not found at the provider "
                          "after an interruption; safe to send again",
                          event="reconciled_not_sent", prepared=entry.prepared)
    else:
        if entry.state != State.UNKNOWN:
            ledger.transition(entry.key, State.UNKNOWN, event="reconciled_unknown")
        report.unknown.append(entry.key)

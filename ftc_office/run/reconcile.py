"""Reconcile: before anything new is sent, ask the provider about every entry a crash or a
lost connection left in doubt (``sending``, ``unknown``, ``drafted``)."""

from __future__ import annotations

from ftc_office.addresses import AddressError, parse_address
from ftc_office.backends.base import Backend, Status
from ftc_office.errors import FtcError
from ftc_office.ledger import Entry, Ledger
from ftc_office.message import OutgoingMessage
from ftc_office.run.report import RunReport


class _Stub(OutgoingMessage):
    """A message rebuilt from the ledger, enough for a backend's look-up (key, Message-ID)."""

    _hash: str = ""

    @property
    def content_hash(self) -> str:
        return self._hash


def stub_message(entry: Entry) -> OutgoingMessage:
    """The key, recipients and Message-ID of a recorded message, for reconciliation."""
    to = []
    for r in entry.recipients or []:
        try:
            to.append(parse_address(r))
        except AddressError:
            continue
    stub = _Stub(key=entry.key, kind=entry.kind, audience="internal",
                 to=tuple(to) or (parse_address("nobody@example.com"),),
                 subject=entry.subject or entry.key, text="", html="")
    object.__setattr__(stub, "_hash", entry.content_hash)
    return stub


def reconcile(ledger: Ledger, backend: Backend, report: RunReport) -> None:
    """Resolve every ``sending``/``unknown``/``drafted`` entry before sending anything."""
    for entry in ledger.entries(("sending", "unknown", "drafted")):
        stub = stub_message(entry)
        try:
            found = backend.lookup(stub, entry.provider_id)
            withdraw = getattr(backend, "withdraw", None)
            if (found == Status.DRAFTED and entry.state in ("sending", "unknown")
                    and withdraw is not None):
                # interrupted between the draft and its send: in send mode the unsent
                # draft is deleted and the message goes out afresh
                found = withdraw(stub, entry.provider_id)
        except FtcError as exc:
            report.errors.append(str(exc))
            continue
        if found == Status.SENT:
            ledger.transition(entry.key, "sent", event="reconciled_sent")
        elif found == Status.DRAFTED:
            if entry.state != "drafted":
                ledger.transition(entry.key, "drafted", event="reconciled_drafted")
        elif found is None:
            ledger.transition(entry.key, "failed", error="not found at the provider "
                              "after an interruption; safe to send again",
                              event="reconciled_not_sent")
        else:
            if entry.state != "unknown":
                ledger.transition(entry.key, "unknown", event="reconciled_unknown")
            report.unknown.append(entry.key)

"""A test send: every message the run would send, to yourself, through the real backend.

Mail-merge users look at the real thing in their own inbox before the real send. The
messages come from the simulation (exactly what the run would send), each copied to one
address — subject prefixed ``[TEST]``, no Cc — and delivered through the configured backend.
Nothing is recorded in the ledger and nothing is stamped: a later real run sends everything
as if no test had happened. The address must be in ``mail.internal_domains``: internal mail
never goes outside them, even as a test.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ftc_office.addresses import AddressError, domain_allowed, parse_address
from ftc_office.backends.base import Backend, Status
from ftc_office.config import Settings
from ftc_office.errors import FtcError, UsageError
from ftc_office.message import OutgoingMessage
from ftc_office.run.report import RunOptions
from ftc_office.run.simulate import simulate

TEST_PREFIX = "[TEST] "


@dataclass
class TestSendReport:
    """What a test send did: one line per message, and the problems met."""

    address: str
    lines: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        """Whether any test message could not be delivered."""
        return bool(self.errors)


def as_test(message: OutgoingMessage, to: str) -> OutgoingMessage:
    """The message as a test: to ``to`` only, ``[TEST]`` subject, its own key."""
    subject = message.subject if message.subject.startswith(TEST_PREFIX) else \
        TEST_PREFIX + message.subject
    return dataclasses.replace(
        message, key=f"test.{message.key}"[:200], to=(parse_address(to),), cc=(),
        subject=subject[:255], audience="internal")


def check_test_address(address: str, settings: Settings) -> str:
    """The test address, validated: a UsageError unless it is an internal address."""
    try:
        addr = parse_address(address)
    except AddressError as exc:
        raise UsageError(f"--test-to {address}", str(exc), "give your own address") from None
    internal = tuple(d.lower() for d in settings.mail.internal_domains)
    if not domain_allowed(addr, internal):
        raise UsageError(f"--test-to {address}", "not in mail.internal_domains (internal "
                         "messages never leave them, even as tests)",
                         "give your own work address")
    return addr.email


def send_test_copies(paths: Sequence[Path], settings: Settings, options: RunOptions,
                     backend: Backend, address: str, *, data: Path | None = None,
                     limit: int | None = None) -> TestSendReport:
    """Send a test copy of each message the run would send (at most ``limit``)."""
    to = check_test_address(address, settings)
    report = TestSendReport(to)
    with simulate(paths, settings, options, backend.name, data=data) as sim:
        messages = [j.message for j in sim.jobs if j.message is not None]
        backend.open()
        try:
            for message in messages[:limit] if limit is not None else messages:
                _send_one(backend, as_test(message, to), report)
        finally:
            backend.close()
    return report


def _send_one(backend: Backend, copy: OutgoingMessage, report: TestSendReport) -> None:
    try:
        result = backend.deliver(copy)
    except FtcError as exc:
        report.errors.append(str(exc))
        return
    if result.status in (Status.SENT, Status.DRAFTED):
        verb = "drafted" if result.status == Status.DRAFTED else "sent"
        report.lines.append(f"test {verb} to {report.address}: {copy.subject}")
    else:
        report.errors.append(f"{copy.subject}: {result.status} — {result.error}")

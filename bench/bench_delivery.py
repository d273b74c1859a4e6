"""Benchmark: messages per second through the outbox and the SMTP backend.

Run from the project folder::

    .venv/bin/python bench/bench_delivery.py [-n 2000]

Each message has two recipients, a text and an HTML part and one 8 KB attachment. The SMTP
run goes to an aiosmtpd server on 127.0.0.1 in this process (a thread), over one connection,
so it measures our client plus a Python server, not a network. The outbox run fsyncs every
file (as in real use).
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Backend, Status
from ftc_office.backends.outbox import OutboxBackend
from ftc_office.backends.smtp import SmtpBackend
from ftc_office.backends.wire import wire_bytes, wire_date
from ftc_office.config import SmtpSettings
from ftc_office.message import Attachment, OutgoingMessage


def messages(n: int) -> list[OutgoingMessage]:
    """``n`` distinct messages, each with a small attachment."""
    attachment = Attachment("brief.docx", os.urandom(8 * 1024),
                            "application/vnd.openxmlformats-officedocument"
                            ".wordprocessingml.document")
    return [OutgoingMessage(
        key=f"atu.t{i}.teams.{i:06x}", kind="atu", audience="internal",
        to=(parse_address(f"ann{i}@microsoft.com"),), cc=(parse_address("fm@microsoft.com"),),
        sender=parse_address("fm@microsoft.com"),
        subject=f"Enablement complete — Contoso {i}", text=f"Hello Ann,\n\nTenant {i} is done.",
        html=f"<p>Hello Ann,</p><p>Tenant <b>{i}</b> is done.</p>", attachments=(attachment,))
        for i in range(n)]


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


class _FreePortController(Controller):
    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


def run(backend: Backend, msgs: list[OutgoingMessage]) -> float:
    """Seconds to deliver all ``msgs``; every one must be SENT."""
    start = time.perf_counter()
    backend.open()
    for msg in msgs:
        result = backend.deliver(msg)
        assert result.status is Status.SENT, result
    backend.close()
    return time.perf_counter() - start


def timed(label: str, n: int, fn: Callable[[], float]) -> None:
    seconds = fn()
    print(f"{label:<34} {n:>6} msgs {seconds:8.2f} s {n / seconds:9.0f} msg/s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    n = parser.parse_args().n
    msgs = messages(n)
    print(f"Python {platform.python_version()} on {platform.platform()}, {os.cpu_count()} CPUs")

    def build() -> float:
        start = time.perf_counter()
        date = wire_date()
        for msg in msgs:
            wire_bytes(msg, date)
        return time.perf_counter() - start

    timed("MIME bytes only (wire_bytes)", n, build)
    with tempfile.TemporaryDirectory() as tmp:
        timed("outbox (.eml, fsync each)", n, lambda: run(OutboxBackend(Path(tmp)), msgs))
    counter = _Counter()
    controller = _FreePortController(counter, hostname="127.0.0.1", port=0,
                                     server_hostname="localhost")
    controller.start()
    try:
        settings = SmtpSettings(host="127.0.0.1", port=controller.port, security="none",
                                helo_domain="localhost")
        timed("SMTP, local aiosmtpd, 1 connection", n, lambda: run(SmtpBackend(settings), msgs))
    finally:
        controller.stop()
    assert counter.count == n


if __name__ == "__main__":
    main()

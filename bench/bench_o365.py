"""Benchmark: the O365 backend through the real O365 library to the fake Graph server.

Usage:  python bench/bench_o365.py [-n 200] [--requests-delay-ms 0] [--attachment-kb 8]

Sends N messages (To + Cc, HTML body, one attachment) through ``O365Backend.deliver`` with
no pacing (max_per_minute very high) to tests/fakegraph.py on 127.0.0.1, and reports the
HTTP requests per message and messages per second. ``--requests-delay-ms`` is O365's own
minimum gap between requests (its default, and the backend's, is 200 ms).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))
sys.path.insert(0, str(HERE.parent))


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=200)
    parser.add_argument("--requests-delay-ms", type=int, default=0)
    parser.add_argument("--attachment-kb", type=int, default=8)
    args = parser.parse_args()

    from fakegraph import FakeGraph, seed_token_cache
    from O365.utils.token import MemoryTokenBackend

    from ftc_office.addresses import parse_address
    from ftc_office.backends.base import Status
    from ftc_office.backends.o365 import O365Backend, SendLog
    from ftc_office.config import O365Settings
    from ftc_office.message import Attachment, OutgoingMessage

    with tempfile.TemporaryDirectory() as tmp:
        os.environ["FTC_OFFICE_DATA_DIR"] = tmp
        os.environ["FTC_OFFICE_CONFIG_DIR"] = tmp
        graph = FakeGraph().start()
        try:
            tokens = MemoryTokenBackend()
            seed_token_cache(tokens, None, client_id="bench", scopes=["Mail.Send"],
                             expires_in=86400)
            settings = O365Settings(client_id="bench", graph_url=graph.url, timeout=10,
                                    max_per_minute=1_000_000,
                                    daily_recipient_limit=1_000_000)
            backend = O365Backend(settings, token_backend=tokens,
                                  requests_delay_ms=args.requests_delay_ms,
                                  send_log=SendLog(Path(tmp) / "sends.sqlite"))
            backend.open()
            payload = os.urandom(args.attachment_kb * 1024)
            messages = [OutgoingMessage(
                key=f"bench.{i:05d}", kind="atu", audience="internal",
                to=(parse_address("ann@microsoft.com"),),
                cc=(parse_address("bob@microsoft.com"),),
                subject=f"Enablement complete {i}", text="hi",
                html=f"<p>Hello {i}</p>" + "<p>body text</p>" * 40,
                attachments=(Attachment("summary.pdf", payload, "application/pdf"),),
            ) for i in range(args.n)]
            started = time.perf_counter()
            statuses = [backend.deliver(m).status for m in messages]
            elapsed = time.perf_counter() - started
            backend.close()
            assert all(s is Status.SENT for s in statuses), statuses
            requests = len(graph.requests)
            assert len(graph.sent) == args.n
        finally:
            graph.stop()
    print(f"O365 path: {args.n} messages, {requests} requests "
          f"({requests / args.n:.2f} per message), {elapsed:.2f} s, "
          f"{args.n / elapsed:.1f} msg/s (requests_delay {args.requests_delay_ms} ms, "
          f"{args.attachment_kb} KB attachment; Python {platform.python_version()})")


if __name__ == "__main__":
    main()

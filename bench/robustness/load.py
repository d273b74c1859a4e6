"""Load: many messages through the SMTP and O365 backends, each delivered exactly once.

    .venv/bin/python bench/robustness/load.py [--smtp 10000] [--graph 2000]
        [--throttle 0.05] [--pacing-n 250] [--seed S] [--json FILE]

1. SMTP: ``--smtp`` distinct messages (To + Cc, text + HTML, an 8 KB attachment) through
   ``SmtpBackend`` (one connection, reconnecting if dropped) to a real aiosmtpd server on
   127.0.0.1. The server records every Message-ID it accepted: duplicates (an id received
   more than once) and lost (a message reported SENT that never arrived, or not SENT at
   all) must both be 0.
2. Graph: ``--graph`` messages through ``O365Backend`` (the real O365 library, real HTTP) to
   the fake Graph server of tests/fakegraph.py, which answers ``--throttle`` of all
   requests (draft create, send, look-ups) with 429 and ``Retry-After: 0`` (one throttle in
   ten: ``Retry-After: 1``). Pacing is set to ``max_per_minute=6000`` so the run finishes;
   each message must end up in Sent Items exactly once (by its key), none lost.
3. Pacing window: ``--pacing-n`` messages with ``max_per_minute=100`` on a simulated clock
   (it moves only when the backend sleeps): in every 60-second window at most 100 messages
   may be handed to Graph.

Figures: messages, duplicates, lost, throttled requests, wall time, messages per second.
"""

from __future__ import annotations

import argparse
import collections
import json
import logging
import os
import random
import re
import sys
import tempfile
import threading
import time
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import SMTP, Envelope, Session  # noqa: E402
from fakegraph import FakeGraph, Fault, seed_token_cache  # noqa: E402
from O365.utils.token import MemoryTokenBackend  # noqa: E402

from ftc_office.addresses import parse_address  # noqa: E402
from ftc_office.backends.base import Sought, Status  # noqa: E402
from ftc_office.backends.o365 import O365Backend, SendLog  # noqa: E402
from ftc_office.backends.smtp import SmtpBackend  # noqa: E402
from ftc_office.config import O365Settings, SmtpSettings  # noqa: E402
from ftc_office.message import Attachment, OutgoingMessage  # noqa: E402

ATTACHMENT = Attachment("brief.docx", os.urandom(8 * 1024),
                        "application/vnd.openxmlformats-officedocument.wordprocessingml"
                        ".document")


def messages(n: int, prefix: str) -> list[OutgoingMessage]:
    return [OutgoingMessage(
        key=f"{prefix}.t{i}.teams.{i:06x}", kind="atu", audience="internal",
        to=(parse_address(f"ann{i % 97}@microsoft.com"),),
        cc=(parse_address("fm@microsoft.com"),), sender=parse_address("fm@microsoft.com"),
        subject=f"Enablement complete — Contoso {i}", text=f"Hello,\n\nTenant {i} is done.",
        html=f"<p>Hello,</p><p>Tenant <b>{i}</b> is done.</p>", attachments=(ATTACHMENT,))
        for i in range(n)]


class _Recorder:
    def __init__(self) -> None:
        self.ids: collections.Counter[str] = collections.Counter()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or envelope.content
        raw = data if isinstance(data, bytes) else str(data).encode()
        self.ids[str(BytesHeaderParser().parsebytes(raw)["Message-ID"])] += 1
        return "250 OK"


class _FreePortController(Controller):
    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


def smtp_run(n: int) -> dict[str, Any]:
    recorder = _Recorder()
    controller = _FreePortController(recorder, hostname="127.0.0.1", port=0,
                                     server_hostname="localhost", data_size_limit=None)
    controller.start()
    try:
        msgs = messages(n, "smtp")
        backend = SmtpBackend(SmtpSettings(host="127.0.0.1", port=controller.port,
                                           security="none", helo_domain="localhost"))
        start = time.perf_counter()
        backend.open()
        statuses = collections.Counter(backend.deliver(m).status for m in msgs)
        backend.close()
        wall = time.perf_counter() - start
    finally:
        controller.stop()
    expected = {m.message_id() for m in msgs}
    dups = sum(c - 1 for c in recorder.ids.values() if c > 1)
    lost = len(expected - set(recorder.ids)) + (n - statuses[Status.SENT])
    return {"messages": n, "sent": statuses[Status.SENT], "received": sum(recorder.ids.values()),
            "duplicates": dups, "lost": lost, "foreign": len(set(recorder.ids) - expected),
            "wall_s": round(wall, 1), "msg_per_s": round(n / wall)}


class ThrottlingGraph(FakeGraph):
    """The fake Graph, answering a random share of all requests with 429."""

    def __init__(self, share: float, seed: int) -> None:
        super().__init__()
        self.share = share
        self.rnd = random.Random(seed)
        self.throttled = 0
        self.throttled_1s = 0
        self._rlock = threading.Lock()

    def _match_fault(self, method: str, path: str) -> Fault | None:
        with self._rlock:
            if path.startswith("/v1.0/") and self.rnd.random() < self.share:
                self.throttled += 1
                ra = 1.0 if self.rnd.random() < 0.1 else 0.0
                self.throttled_1s += ra == 1.0
                return Fault(method, re.escape(path), "throttle", retry_after=ra)
        return super()._match_fault(method, path)


def graph_backend(graph: FakeGraph, tmp: Path, per_minute: int, clock: Any = None
                  ) -> O365Backend:
    tokens = MemoryTokenBackend()
    seed_token_cache(tokens, None, client_id="load", scopes=["Mail.Send"], expires_in=86400)
    settings = O365Settings(client_id="load", graph_url=graph.url, timeout=10,
                            max_per_minute=per_minute, daily_recipient_limit=10_000_000,
                            max_retries=8, max_retry_wait=2.0)
    extra: dict[str, Any] = {}
    if clock is not None:
        extra = {"clock": clock.time, "sleep": clock.sleep}
    return O365Backend(settings, token_backend=tokens, requests_delay_ms=0,
                       send_log=SendLog(tmp / f"sends-{per_minute}.sqlite"), **extra)


def graph_run(n: int, share: float, seed: int, tmp: Path) -> dict[str, Any]:
    graph = ThrottlingGraph(share, seed).start()
    try:
        msgs = messages(n, "graph")
        backend = graph_backend(graph, tmp, 6000)
        start = time.perf_counter()
        backend.open()
        statuses: collections.Counter[Status] = collections.Counter()
        for m in msgs:
            status = backend.deliver(m).status
            if status is Status.UNKNOWN:  # what the pipeline does next: look it up
                status = backend.lookup(Sought.of(m)) or Status.UNKNOWN
            statuses[status] += 1
        backend.close()
        wall = time.perf_counter() - start
        per_key = collections.Counter(
            p["value"] for s in graph.sent for p in s.props())
        requests = len(graph.requests)
    finally:
        graph.stop()
    keys = [m.key for m in msgs]
    dups = sum(per_key[k] - 1 for k in keys if per_key[k] > 1)
    lost = sum(1 for k in keys if per_key[k] == 0)
    return {"messages": n, "sent": statuses[Status.SENT],
            "statuses": {str(k): v for k, v in statuses.items()},
            "in_sent_items": sum(per_key[k] for k in keys), "duplicates": dups, "lost": lost,
            "requests": requests, "throttled": graph.throttled,
            "throttled_retry_after_1s": graph.throttled_1s,
            "wall_s": round(wall, 1), "msg_per_s": round(n / wall, 1)}


class SimClock:
    def __init__(self) -> None:
        self.now = time.time()

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)


def pacing_run(n: int, tmp: Path, per_minute: int = 100) -> dict[str, Any]:
    graph = FakeGraph().start()
    clock = SimClock()
    try:
        backend = graph_backend(graph, tmp, per_minute, clock)
        backend.open()
        times = []
        for m in messages(n, "pace"):
            assert backend.deliver(m).status is Status.SENT
            times.append(clock.now)
            clock.now += 0.05  # the time a real send takes
        backend.close()
    finally:
        graph.stop()
    worst = max(sum(1 for t in times if s <= t < s + 60.0) for s in times)
    return {"messages": n, "max_per_minute": per_minute, "worst_60s_window": worst,
            "simulated_minutes": round((times[-1] - times[0]) / 60, 2),
            "respected": worst <= per_minute}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smtp", type=int, default=10_000)
    ap.add_argument("--graph", type=int, default=2_000)
    ap.add_argument("--throttle", type=float, default=0.05)
    ap.add_argument("--pacing-n", type=int, default=250)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    logging.getLogger("O365").setLevel(logging.CRITICAL)  # each 429 is an ERROR line there
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        os.environ["FTC_OFFICE_DATA_DIR"] = str(tmp)
        os.environ["FTC_OFFICE_CONFIG_DIR"] = str(tmp)
        out: dict[str, Any] = {"date": time.strftime("%Y-%m-%d")}
        out["smtp"] = smtp_run(args.smtp)
        print("smtp", json.dumps(out["smtp"]), flush=True)
        out["graph"] = graph_run(args.graph, args.throttle, args.seed, tmp)
        print("graph", json.dumps(out["graph"]), flush=True)
        out["pacing"] = pacing_run(args.pacing_n, tmp)
        print("pacing", json.dumps(out["pacing"]), flush=True)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    ok = (out["smtp"]["duplicates"] == out["smtp"]["lost"] == 0
          and out["graph"]["duplicates"] == out["graph"]["lost"] == 0
          and out["pacing"]["respected"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

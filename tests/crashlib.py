"""Crash campaign machinery: SIGKILL `ftc-office run` at named points and at random moments,
rerun it to completion, and count duplicates, lost records, lost mail and unreadable
trackers.

Used by tests/test_crash_resume.py (small tracker, each named point once) and by the long
campaign script bench/robustness/crash_campaign.py (its CLI is :func:`main` here):

    .venv/bin/python bench/robustness/crash_campaign.py [--random N] [--nth 1,7,20]
        [--wb-nth 1,2,3] [--seed S] [--tracker samples/tracker.xlsx]
        [--backends outbox,smtp,o365]

Each trial works in a fresh temporary folder (tracker copy, data folder, outbox) and runs
``python -m ftc_office run tracker.xlsx --as-of 2026-11-26 --no-dry-run --yes`` in a child
process, either with ``FTC_OFFICE_CRASH_AT=<point>@<n>`` (the child kills itself with SIGKILL
at the n-th visit of that point) or killed by this process after a random delay. Then it
reruns the same command until it exits 0 (at most 6 times). For SMTP, every entry left
``unknown`` is resolved the way a person would: ``resolve KEY --sent`` if the server received
the message, else ``--resend``. The SMTP server is aiosmtpd on 127.0.0.1 in this process.

O365 (``--backend o365``): each trial starts its own fake Graph (tests/fakegraph.py) on
127.0.0.1 in this process, with a Sent Items delay (the sent copy becomes visible 0.5-2 s
after the send), and gives the child an ftc-office.toml (graph_url, ``sent_items_grace`` of
3 s) and a seeded token cache in its FTC_OFFICE_CONFIG_DIR. Besides the in-process points
(with ``after_prepared``: the draft exists and its id is recorded, not yet sent), the fake
server kills the child in the middle of a request: ``draft_created`` (the server created the
draft, the child dies before the answer), ``send_received`` (the send request arrived,
nothing done), ``send_done`` (the draft was sent, the child dies before the answer). A rerun
that leaves entries ``unknown`` (the Sent Items copy not visible yet) is followed by a wait
of the grace period and another rerun; only what is still unknown after that is resolved as
a person would (counted). Duplicates are keys the server sent twice (a draft ``send`` or a
``sendMail``); stray drafts left in Drafts are counted too.

Time (o365): by default the campaign runs in real time (the fake's Sent Items delay on
``time.monotonic``, the grace wait a real sleep), as the recorded campaigns did. With
``trial(..., clock=ManualClock())`` time moves only when the harness says so, so the outcome
does not depend on how fast the machine is: the fake Graph reads that clock (a sent copy
stays invisible until the clock is advanced past its delay) and "waiting out the grace" is
:func:`pass_the_grace`: the clock advances by the grace and every send attempt in the
child's send log is moved as far into the past, which is what the child's grace check
(``now - last attempt < sent_items_grace``, on its own wall clock) sees after a real wait.
The child's ``sent_items_grace`` is then set far above any real time a trial takes, so a
rerun is always inside the grace until the harness passes it. The production look-up and
withdraw code runs unchanged in the child.

Figures per trial (all must be 0):
- duplicates: a message the server received twice / an .eml file written twice (its inode
  changed after the file existed);
- lost records: a message that went out whose ledger entry is not ``sent``+written, or whose
  date/queue stamps are not in the final workbook;
- lost mail: a message of the uninterrupted run (same tracker, same date) that never went out
  (a queue-move request counts per tenant: after an interruption a queue's tenants may be
  requested in two messages);
- unreadable: the final tracker does not open in openpyxl or python-calamine.
Also reported: cells that differ from the uninterrupted run's final workbook, stray temp files.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fakegraph import FakeGraph, ManualClock, seed_token_cache
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook

from ftc_office.backends.o365_auth import TOKEN_FILE, SecureFileTokenBackend
from ftc_office.fields import FIELDS
from ftc_office.ledger import Ledger
from ftc_office.message import KEY_HEADER

ROOT = Path(__file__).resolve().parents[1]

POINTS = ("before_intent", "after_intent", "after_response", "during_writeback",
          "after_replace")
# o365: the draft is recorded (prepared hook) but not sent; and kills by the fake server
# in the middle of a request (see KillingGraph)
O365_POINTS = ("before_intent", "after_intent", "after_prepared", "after_response",
               "during_writeback", "after_replace")
SERVER_POINTS = ("draft_created", "send_received", "send_done")
SERVER_WHERE = {"draft_created": ("POST", "/mailFolders/Drafts/messages", "after"),
                "send_received": ("POST", "/send", "before"),
                "send_done": ("POST", "/send", "after")}
WB_POINTS = ("during_writeback", "after_replace")
O365_CLIENT = "11111111-2222-3333-4444-555555555555"
O365_GRACE = 3.0  # delivery.o365.sent_items_grace of the children
AS_OF = "2026-11-26"
CHECKED = ("atu_sent", "customer_email_sent", "task_4058", "queue_requested", "target_queue",
           "next_action_date", "fm_unassigned")
MAX_RERUNS = 6


# ---- the SMTP server ---------------------------------------------------------------------
@dataclass
class Sink:
    """aiosmtpd handler: records the key header of every message it accepts."""

    keys: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        headers = BytesParser(policy=default_policy).parsebytes(data, headersonly=True)
        self.keys.append(str(headers.get(KEY_HEADER, "?")))
        return "250 2.0.0 OK queued"

    def settled(self, quiet: float = 0.5, limit: float = 10.0) -> set[str]:
        """The keys received, once nothing has arrived for `quiet` seconds: a killed child's
        last message may still be in the server's hands (as a person checks the mailbox
        after the mail has come in, not while it is arriving)."""
        end = time.monotonic() + limit
        seen, since = len(self.keys), time.monotonic()
        while time.monotonic() < end and time.monotonic() - since < quiet:
            time.sleep(0.05)
            if len(self.keys) != seen:
                seen, since = len(self.keys), time.monotonic()
        return set(self.keys)


class _Ctl(Controller):
    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


def start_smtp() -> tuple[_Ctl, Sink]:
    sink = Sink()
    ctl = _Ctl(sink, hostname="127.0.0.1", port=0, server_hostname="localhost")
    ctl.start()
    return ctl, sink


# ---- the fake Graph -----------------------------------------------------------------------
class KillingGraph(FakeGraph):
    """The fake Graph, able to SIGKILL the child in the middle of a request: at the n-th
    matching request, before the server acts (``send_received``) or after it acted and
    before the answer leaves (``draft_created``, ``send_done``)."""

    def __init__(self, sent_items_delay: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(clock)
        self.sent_items_delay = sent_items_delay
        # a killed child resets its connection: not worth a traceback on stderr
        self.server.handle_error = lambda request, client_address: None  # type: ignore[method-assign, unused-ignore]
        self.victim: int | None = None
        self.armed: tuple[str, str, str, int] | None = None
        self.hits = 0

    def arm(self, point: str, nth: int) -> None:
        self.armed = (*SERVER_WHERE[point], nth)
        self.hits = 0

    def _maybe_kill(self, method: str, path: str, when: str) -> bool:
        if self.armed is None or self.victim is None:
            return False
        m, suffix, at, nth = self.armed
        if method != m or not path.endswith(suffix) or when != at:
            return False
        self.hits += 1
        if self.hits < nth:
            return False
        self.armed = None
        os.kill(self.victim, signal.SIGKILL)  # the answer never reaches the child
        return True

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              body: bytes, data: Any) -> tuple[int, dict[str, str], Any]:
        if self._maybe_kill(method, path, "before"):
            return 500, {}, None  # killed as the request arrived: nothing is done
        result = super().route(method, path, query, headers, body, data)
        if result[0] < 300:
            self._maybe_kill(method, path, "after")
        return result

    def sent_keys(self) -> list[str]:
        """The key of every message the server sent (draft sends and sendMail)."""
        with self._lock:
            return [next((str(p.get("value")) for p in m.props()), "?") for m in self.sent]


# ---- one child run -----------------------------------------------------------------------
def child(work: Path, args: list[str], crash_at: str | None = None,
          kill_after: float | None = None, timeout: float = 300.0,
          graph: KillingGraph | None = None) -> tuple[int, bool, str]:
    """Run ``python -m ftc_office ARGS`` in ``work``; returns (exit code, killed, output)."""
    env = dict(os.environ)
    env.update(FTC_OFFICE_DATA_DIR=str(work / "data"), FTC_OFFICE_CONFIG_DIR=str(work / "cfg"),
               PYTHONUNBUFFERED="1")
    for name in ("FTC_OFFICE_CRASH_AT", "FTC_OFFICE_CONFIG", "FTC_O365_GRAPH_URL",
                 "FTC_O365_AUTHORITY"):
        env.pop(name, None)
    if crash_at and crash_at.partition("@")[0] in SERVER_POINTS:
        assert graph is not None
        point, _, nth = crash_at.partition("@")
        graph.arm(point, int(nth or 1))
    elif crash_at:
        env["FTC_OFFICE_CRASH_AT"] = crash_at
    proc = subprocess.Popen([sys.executable, "-m", "ftc_office", *args], cwd=work, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    if graph is not None:
        graph.victim = proc.pid
    killed_by_us = False
    try:
        out, _ = proc.communicate(timeout=kill_after if kill_after is not None else timeout)
    except subprocess.TimeoutExpired:
        if kill_after is None:
            raise
        os.kill(proc.pid, signal.SIGKILL)
        killed_by_us = True
        out, _ = proc.communicate()
    finally:
        if graph is not None:
            graph.victim = None
            graph.armed = None
    killed = killed_by_us or proc.returncode == -signal.SIGKILL
    return proc.returncode, killed, out.decode("utf-8", "replace")


def run_args(backend: str) -> list[str]:
    args = ["run", "tracker.xlsx", "--as-of", AS_OF, "--no-dry-run",
            "--outbox-mode", "pickup", "--yes"]
    return args + (["--outbox", "outbox"] if backend == "outbox" else ["--backend", backend])


def prepare(base: Path, tracker: Path, backend: str, port: int | None,
            graph: FakeGraph | None = None, grace: float = O365_GRACE,
            config: str = "") -> Path:
    """A trial's folder; ``config``: more ftc-office.toml (e.g. a ``[run]`` table)."""
    base.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"crash-{backend}-", dir=base))
    shutil.copyfile(tracker, work / "tracker.xlsx")
    if backend == "smtp":
        (work / "ftc-office.toml").write_text(
            '[mail]\nsender = "ftc-team@microsoft.com"\n'
            f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
            'helo_domain = "localhost"\ntimeout = 10.0\n', encoding="utf-8")
    if backend == "o365":
        assert graph is not None
        (work / "ftc-office.toml").write_text(
            f'[delivery.o365]\nclient_id = "{O365_CLIENT}"\ngraph_url = "{graph.url}"\n'
            f"timeout = 10.0\nmax_per_minute = 100000\nsent_items_grace = {grace}\n",
            encoding="utf-8")
        (work / "cfg").mkdir()
        seed_token_cache(SecureFileTokenBackend(work / "cfg" / TOKEN_FILE), None,
                         client_id=O365_CLIENT, scopes=["Mail.ReadWrite", "Mail.Send",
                                                        "User.Read"],
                         expires_in=10 * 86400, access_token="campaign-access-token",
                         refresh_token="campaign-refresh-token")
    if config:
        toml = work / "ftc-office.toml"
        toml.write_text((toml.read_text(encoding="utf-8") if toml.is_file() else "") + config,
                        encoding="utf-8")
    return work


def inodes(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_ino for p in folder.glob("*.eml")} if folder.is_dir() else {}


# ---- reading results ---------------------------------------------------------------------
def outputs(path: Path) -> dict[tuple[str, str, str], Any]:
    """(tenant, workload, output header) → value in the final workbook."""
    wb = load_workbook(path)
    ws = wb["Tracker"]
    header_row, cols = 0, {}
    for r in range(1, 31):
        values = [c.value for c in ws[r]]
        if "Tenant ID" in values:
            header_row = r
            cols = {str(v): i + 1 for i, v in enumerate(values) if v is not None}
            break
    out = {}
    wl_col = cols.get("Workload") or cols.get("Service")
    for r in range(header_row + 1, ws.max_row + 1):
        tid = ws.cell(row=r, column=cols["Tenant ID"]).value
        if tid is None:
            continue
        wl = ws.cell(row=r, column=wl_col).value if wl_col else ""
        for f in FIELDS.values():
            if f.output and f.header in cols:
                out[(str(tid).casefold(), str(wl), f.header)] = ws.cell(
                    row=r, column=cols[f.header]).value
    return out


def readable(path: Path) -> bool:
    try:
        load_workbook(path).close()
        CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Tracker").to_python()
    except Exception:  # any failure to open counts
        return False
    return True


def lost_records(work: Path, went_out: set[str], cells: dict[tuple[str, str, str], Any]
                 ) -> list[str]:
    """Keys that went out but are not recorded as sent+written with their stamps in cells."""
    ledger = Ledger(work / "data" / "ledger.sqlite3")
    try:
        lost = []
        for key in sorted(went_out):
            e = ledger.get(key)
            if e is None or e.state != "sent" or e.written_at is None:
                lost.append(f"{key}: {e.state if e else 'no entry'}")
                continue
            for s in e.stamps:
                if s["field"] not in CHECKED:
                    continue
                want: Any = (dt.datetime.fromisoformat(s["value"]) if s["is_date"]
                             else s["value"])
                hits = [v for (t, w, h), v in cells.items()
                        if t == s["tenant_id"].casefold() and h == FIELDS[s["field"]].header
                        and (s["workload"] is None or w == s["workload"])]
                if not hits or any(v != want for v in hits):
                    lost.append(f"{key}: {s['field']} = {hits} != {want}")
        return lost
    finally:
        ledger.close()


def last_send_attempt(work: Path) -> float:
    """Time of the child's last o365 send attempt (its send log), 0 if none."""
    path = work / "data" / "o365_sends.sqlite"
    if not path.is_file():
        return 0.0
    db = sqlite3.connect(path)
    try:
        return float(db.execute("SELECT COALESCE(MAX(ts), 0) FROM sends").fetchone()[0])
    except sqlite3.OperationalError:
        return 0.0
    finally:
        db.close()


def mail_units(work: Path, keys: set[str]) -> set[str]:
    """What the sent keys covered: the key itself, but for a queue-move request each tenant
    it moved (after an interruption a queue's tenants may go out in two requests)."""
    ledger = Ledger(work / "data" / "ledger.sqlite3")
    try:
        out: set[str] = set()
        for key in keys:
            e = ledger.get(key)
            if e is not None and e.kind == "queue_move":
                out |= {f"queue_move:{t.casefold()}" for t in e.tenant_ids}
            else:
                out.add(key)
        return out
    finally:
        ledger.close()


def pending(work: Path, states: tuple[str, ...] = ("unknown", "sending")) -> list[str]:
    """Keys of the ledger entries in ``states``."""
    ledger = Ledger(work / "data" / "ledger.sqlite3")
    try:
        return [e.key for e in ledger.entries(states)]
    finally:
        ledger.close()


def resolve_unknowns(work: Path, received: set[str]) -> int:
    """Like a person after checking the mailbox: --sent if it arrived, else --resend."""
    keys = pending(work)
    for key in keys:
        action = "--sent" if key in received else "--resend"
        rc, _k, out = child(work, ["resolve", key, action])
        if rc != 0:
            raise RuntimeError(f"resolve failed: {out}")
    return len(keys)


# ---- trials ------------------------------------------------------------------------------
@dataclass
class Trial:
    backend: str
    how: str
    killed: bool
    reruns: int = 0
    resolved: int = 0
    grace_waits: int = 0
    duplicates: int = 0
    lost_records: int = 0
    lost_mail: int = 0
    unreadable: int = 0
    cells_differing: int = 0
    stray_tmp: int = 0
    stray_drafts: int = 0
    regrouped: int = 0
    sent_items_delay: float | None = None
    detail: list[str] = field(default_factory=list)
    seconds: float = 0.0


@dataclass
class Baseline:
    keys: set[str]
    cells: dict[tuple[str, str, str], Any]
    seconds: float
    units: set[str] = field(default_factory=set)


def baseline(base: Path, tracker: Path, backend: str, smtp: tuple[_Ctl, Sink] | None,
             config: str = "") -> Baseline:
    graph = KillingGraph(0.0) if backend == "o365" else None
    if graph is not None:
        graph.start()
    try:
        work = prepare(base, tracker, backend, smtp[0].port if smtp else None, graph,
                       config=config)
        if smtp:
            smtp[1].keys.clear()
        t0 = time.perf_counter()
        rc, _k, out = child(work, run_args(backend), graph=graph)
        took = time.perf_counter() - t0
        if rc != 0:
            raise RuntimeError(f"uninterrupted run failed ({rc}): {out[-2000:]}")
        if graph is not None:
            keys = set(graph.sent_keys())
            assert len(keys) == len(graph.sent_keys()) and not graph.drafts
        else:
            keys = (set(smtp[1].keys) if smtp
                    else {p.stem for p in (work / "outbox").glob("*.eml")})
        return Baseline(keys, outputs(work / "tracker.xlsx"), took, mail_units(work, keys))
    finally:
        if graph is not None:
            graph.stop()


def trial(base: Path, tracker: Path, backend: str, ref: Baseline,
          smtp: tuple[_Ctl, Sink] | None, crash_at: str | None = None,
          delay: float | None = None, sent_items_delay: float = 1.0,
          grace: float = O365_GRACE, clock: ManualClock | None = None,
          config: str = "") -> Trial:
    """One killed run and its reruns. o365: a fake Graph whose Sent Items copies appear
    ``sent_items_delay`` s after the send, and ``sent_items_grace = grace`` (keep it above
    the delay, as a real configuration must, or a late copy is sent again).

    ``clock``: None runs in real time; a :class:`ManualClock` makes the fake read it and the
    grace wait advance it (see :func:`pass_the_grace`): then ``grace`` must exceed the real
    time between a send and the next rerun's look-up (use minutes), and only
    ``sent_items_delay`` versus ``grace`` decides whether the copy is found after the wait."""
    graph = None
    if backend == "o365":
        graph = (KillingGraph(sent_items_delay) if clock is None
                 else KillingGraph(sent_items_delay, clock))
        graph.start()
    try:
        return _trial(base, tracker, backend, ref, smtp, crash_at, delay, graph, grace, clock,
                      config)
    finally:
        if graph is not None:
            graph.stop()


def age_send_log(work: Path, seconds: float) -> None:
    """Move every send attempt in the child's o365 send log ``seconds`` into the past: for
    the child's grace check (its wall clock minus the last attempt) the same as that much
    time passing. The child is not running (trials run it in turn)."""
    path = work / "data" / "o365_sends.sqlite"
    if not path.is_file():
        return
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute("UPDATE sends SET ts = ts - ?", (seconds,))
    finally:
        db.close()


def pass_the_grace(work: Path, grace: float, clock: ManualClock | None) -> None:
    """Let ``sent_items_grace`` pass since the child's last send attempt: in real time a
    sleep; with a manual clock, the clock (the fake Graph's Sent Items) and the child's send
    log both move ``grace`` + 1 s on, with no waiting."""
    if clock is None:
        time.sleep(max(0.0, last_send_attempt(work) + grace + 0.2 - time.time()))
        return
    clock.advance(grace + 1.0)
    age_send_log(work, grace + 1.0)


def _trial(base: Path, tracker: Path, backend: str, ref: Baseline,
           smtp: tuple[_Ctl, Sink] | None, crash_at: str | None, delay: float | None,
           graph: KillingGraph | None, grace: float, clock: ManualClock | None,
           config: str = "") -> Trial:
    work = prepare(base, tracker, backend, smtp[0].port if smtp else None, graph, grace,
                   config)
    sink = smtp[1] if smtp else None
    if sink:
        sink.keys.clear()
    t0 = time.perf_counter()
    how = crash_at or f"random {delay:.2f}s"
    _rc, killed, _out = child(work, run_args(backend), crash_at=crash_at, kill_after=delay,
                              graph=graph)
    res = Trial(backend, how, killed)
    if graph is not None:
        res.sent_items_delay = round(graph.sent_items_delay, 2)
    snaps = [inodes(work / "outbox")]
    rewritten: set[str] = set()
    waited = False
    for _ in range(MAX_RERUNS):
        if sink:
            res.resolved += resolve_unknowns(work, sink.settled())
        rc, _k, out = child(work, run_args(backend), graph=graph)
        res.reruns += 1
        snaps.append(inodes(work / "outbox"))
        before, after = snaps[-2], snaps[-1]
        rewritten |= {n for n in before if n in after and after[n] != before[n]}
        if rc == 0:
            break
        res.detail.append(f"rerun exit {rc}: {out.strip().splitlines()[-1][:200]}")
        if graph is not None and pending(work):
            if not waited:
                # the Sent Items copy may not be visible yet: wait out the grace, rerun
                pass_the_grace(work, grace, clock)
                res.grace_waits += 1
                waited = True
            else:  # still unknown after the grace: a person checks Sent Items
                res.resolved += resolve_unknowns(work, set(graph.sent_keys()))
    else:
        res.detail.append("did not finish cleanly after reruns")
    if sink:
        res.resolved += resolve_unknowns(work, sink.settled())
        counts = collections.Counter(sink.keys)
    elif graph is not None:
        res.resolved += resolve_unknowns(work, set(graph.sent_keys()))
        counts = collections.Counter(graph.sent_keys())
        res.stray_drafts = len(graph.drafts)
        res.detail.extend(f"left {state}: {k}" for state in ("drafted", "failed")
                          for k in pending(work, (state,)))
    if sink or graph is not None:
        went_out = set(counts)
        res.duplicates = sum(n - 1 for n in counts.values())
        res.detail.extend(f"sent {n} times: {k}" for k, n in counts.items() if n > 1)
    else:
        went_out = set(snaps[-1])
        went_out = {n.removesuffix(".eml") for n in went_out}
        res.duplicates = len(rewritten)
    final = work / "tracker.xlsx"
    if not readable(final):
        res.unreadable = 1
        res.detail.append("final tracker unreadable")
    else:
        cells = outputs(final)
        lost = lost_records(work, went_out, cells)
        res.lost_records = len(lost)
        res.detail.extend(lost[:5])
        diff = [k for k in set(cells) | set(ref.cells) if cells.get(k) != ref.cells.get(k)]
        res.cells_differing = len(diff)
        res.detail.extend(f"differs: {k}: {cells.get(k)!r} vs {ref.cells.get(k)!r}"
                          for k in sorted(diff)[:3])
    missing = ref.units - mail_units(work, went_out)
    res.lost_mail = len(missing)
    res.regrouped = len({k for k in went_out - ref.keys if k.startswith("queue_move.")})
    res.detail.extend(f"never sent: {k}" for k in sorted(missing)[:5])
    res.stray_tmp = len(list(work.glob(".*.tmp"))) + len(list((work / "outbox").glob(".*.tmp"))
                                                         if (work / "outbox").is_dir() else [])
    res.seconds = round(time.perf_counter() - t0, 2)
    shutil.rmtree(work, ignore_errors=True)
    return res


def points_for(backend: str) -> tuple[str, ...]:
    """The named kill points of a backend."""
    return O365_POINTS + SERVER_POINTS if backend == "o365" else POINTS


def campaign(tracker: Path, backends: list[str], nths: list[int], wb_nths: list[int],
             n_random: int, seed: int, base: Path, log: Any = None) -> dict[str, Any]:
    rng = random.Random(seed)
    delays = random.Random(seed + 1)  # Sent Items delays (o365), apart from the kill times
    smtp = start_smtp() if "smtp" in backends else None
    trials: list[Trial] = []
    try:
        for backend in backends:
            s = smtp if backend == "smtp" else None
            ref = baseline(base, tracker, backend, s)
            plan: list[tuple[str | None, float | None]] = [
                (f"{p}@{n}", None) for p in points_for(backend)
                for n in (wb_nths if p in WB_POINTS else nths)]
            # between the child's start (imports take ~0.5 s) and the end of a clean run
            plan += [(None, rng.uniform(0.3, max(0.4, 0.9 * ref.seconds)))
                     for _ in range(n_random)]
            for crash_at, delay in plan:
                t = trial(base, tracker, backend, ref, s, crash_at, delay,
                          sent_items_delay=delays.uniform(0.5, 2.0))
                trials.append(t)
                if log:
                    print(json.dumps(asdict(t), default=str), file=log, flush=True)
    finally:
        if smtp:
            smtp[0].stop()
    figures = {
        "points tried": len(trials),
        "kills": sum(t.killed for t in trials),
        "duplicates": sum(t.duplicates for t in trials),
        "lost records": sum(t.lost_records for t in trials),
        "lost mail": sum(t.lost_mail for t in trials),
        "unreadable trackers": sum(t.unreadable for t in trials),
        "cells differing from the uninterrupted run": sum(t.cells_differing for t in trials),
        "unknown entries resolved by hand": sum(t.resolved for t in trials),
        "waits for the Sent Items grace (o365)": sum(t.grace_waits for t in trials),
        "stray drafts left in Drafts (o365)": sum(t.stray_drafts for t in trials),
        "stray temp files": sum(t.stray_tmp for t in trials),
        "queue-move requests sent in another grouping": sum(t.regrouped for t in trials),
        "most reruns in a trial": max((t.reruns for t in trials), default=0),
    }
    return {"figures": figures, "trials": [asdict(t) for t in trials]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(
        "Crash campaign: SIGKILL `ftc-office run` at named points and at random moments, "
        "rerun it to completion, and count duplicates, lost records, lost mail and "
        "unreadable trackers."))
    ap.add_argument("--tracker", type=Path, default=ROOT / "samples" / "tracker.xlsx")
    ap.add_argument("--backends", default="outbox,smtp", help="outbox, smtp, o365")
    ap.add_argument("--nth", default="1,7,20",
                    help="visits of each message point (before/after intent, after response) "
                    "to kill at")
    ap.add_argument("--wb-nth", default="1,2,3",
                    help="visits of each write-back point to kill at (a run writes 2-4 times)")
    ap.add_argument("--random", type=int, default=10, help="random-moment kills per backend")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--json", type=Path, help="write figures and trials here")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="crash-campaign-") as tmp:
        result = campaign(a.tracker, a.backends.split(","), [int(x) for x in a.nth.split(",")],
                          [int(x) for x in a.wb_nth.split(",")], a.random, a.seed, Path(tmp),
                          log=sys.stderr)
    for k, v in result["figures"].items():
        print(f"{k:45} {v}")
    if a.json:
        a.json.write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    bad = ("duplicates", "lost records", "lost mail", "unreadable trackers")
    return 1 if any(result["figures"][k] for k in bad) else 0


if __name__ == "__main__":
    sys.exit(main())

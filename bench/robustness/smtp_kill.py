"""SMTP kill campaign: SIGKILL `ftc-office run --backend smtp` at random moments, rerun it to
completion, and count the kills that leave an entry for a person, duplicates and lost records.

    .venv/bin/python bench/robustness/smtp_kill.py [--kills 40] [--rows 300] [--seed S]
        [--out bench/robustness/smtp-kill-DATE.json]

A tracker of ``--rows`` rows is generated with bench/make_tracker.py. The SMTP server is
aiosmtpd on 127.0.0.1 in this process; it records the X-FTC-Message-Key of every message it
accepts (a message counts as received only at its final dot, RFC 5321 §4.1.1.4). One
uninterrupted run gives the reference: its duration T and the keys it sends. Each trial
works in a fresh folder (tracker copy, data folder, config), starts ``python -m ftc_office
run tracker.xlsx --as-of 2026-11-26 --backend smtp --no-dry-run --yes`` and kills it with
SIGKILL after a delay drawn uniformly from [0.3 s, 0.9 T]. Then:

- needs a person: after the first rerun, the ledger still holds an ``unknown``/``sending``
  entry (SMTP cannot be asked, so only ``resolve`` ends it). It is resolved the way a person
  would (``--sent`` if the server has it, else ``--resend``) and the run repeated;
- duplicates: a key the server accepted twice;
- lost records: a key the server accepted whose ledger entry is not ``sent`` with its
  stamps written, after the reruns;
- lost mail: a key of the reference run the server never accepted.

Kills that landed before the first message or after the last one count in the total (they
are moments of the run too); ``in_delivery`` says how many fell between the first and the
last message of the interrupted run.
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
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

from crashlib import Sink, start_smtp  # noqa: E402  (the harness shared with the tests)

AS_OF = "2026-11-26"
MAX_RERUNS = 6
REFERENCE_MESSAGES = [0]
RUN = ["run", "tracker.xlsx", "--as-of", AS_OF, "--backend", "smtp", "--no-dry-run", "--yes"]


@dataclass
class Trial:
    """One kill and its reruns."""

    delay: float
    killed: bool = False
    sent_before_kill: int = 0
    in_delivery: bool = False
    left_for_person: list[str] = field(default_factory=list)
    reruns: int = 0
    duplicates: list[str] = field(default_factory=list)
    lost_records: list[str] = field(default_factory=list)
    lost_mail: list[str] = field(default_factory=list)
    seconds: float = 0.0


def child(work: Path, args: list[str], kill_after: float | None = None) -> tuple[int, bool]:
    """``python -m ftc_office ARGS`` in ``work``; (exit code, killed by us)."""
    env = dict(os.environ, FTC_OFFICE_DATA_DIR=str(work / "data"),
               FTC_OFFICE_CONFIG_DIR=str(work / "cfg"))
    for name in ("FTC_OFFICE_CRASH_AT", "FTC_OFFICE_CONFIG"):
        env.pop(name, None)
    proc = subprocess.Popen([sys.executable, "-m", "ftc_office", *args], cwd=work, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return proc.wait(timeout=kill_after if kill_after is not None else 600), False
    except subprocess.TimeoutExpired:
        if kill_after is None:
            raise
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        return proc.returncode, True


def prepare(base: Path, tracker: Path, port: int) -> Path:
    """A fresh trial folder: tracker copy and an ftc-office.toml for the local server."""
    work = Path(tempfile.mkdtemp(prefix="smtp-kill-", dir=base))
    shutil.copyfile(tracker, work / "tracker.xlsx")
    (work / "ftc-office.toml").write_text(
        '[mail]\nsender = "ftc-team@microsoft.com"\n'
        f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
        'helo_domain = "localhost"\ntimeout = 10.0\n', encoding="utf-8")
    return work


def units(work: Path, keys: set[str]) -> set[str]:
    """``kind:tenant`` covered by the received ``keys`` (after an interruption a queue's
    tenants may be requested in two messages, so mail is compared per tenant)."""
    db = sqlite3.connect(f"file:{work / 'data' / 'ledger.sqlite3'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT key, kind, tenant_ids FROM jobs").fetchall()
    finally:
        db.close()
    return {f"{kind}:{t}" for key, kind, ids in rows if key in keys for t in json.loads(ids)}


def ledger_rows(work: Path) -> list[tuple[str, str, str | None]]:
    """(key, state, written_at) of every entry (read-only, as any other reader would)."""
    path = work / "data" / "ledger.sqlite3"
    if not path.exists():
        return []
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return list(db.execute("SELECT key, state, written_at FROM jobs"))
    finally:
        db.close()


def in_doubt(work: Path) -> list[str]:
    """Keys a person has to decide about: ``unknown`` (or still ``sending``)."""
    return [k for k, state, _w in ledger_rows(work) if state in ("unknown", "sending")]


def resolve_as_a_person(work: Path, received: set[str]) -> None:
    """``--sent`` if the server has it, else ``--resend``."""
    for key in in_doubt(work):
        child(work, ["resolve", key, "--sent" if key in received else "--resend"])


def trial(base: Path, tracker: Path, sink: Sink, port: int, delay: float,
          reference: set[str]) -> Trial:
    """``reference``: the ``kind:tenant`` units the uninterrupted run mailed."""
    """Kill one run after ``delay`` seconds, rerun to completion, count."""
    t = Trial(delay=round(delay, 3))
    started = time.monotonic()
    work = prepare(base, tracker, port)
    sink.keys.clear()
    _rc, t.killed = child(work, RUN, kill_after=delay)
    t.sent_before_kill = len(sink.keys)
    t.in_delivery = 0 < t.sent_before_kill < REFERENCE_MESSAGES[0]
    rc = 1
    for n in range(MAX_RERUNS):
        rc, _k = child(work, RUN)
        t.reruns = n + 1
        if n == 0:
            t.left_for_person = in_doubt(work)
        if t.left_for_person and in_doubt(work):
            resolve_as_a_person(work, set(sink.keys))
            continue
        if rc == 0:
            break
    counts = collections.Counter(sink.keys)
    t.duplicates = sorted(k for k, c in counts.items() if c > 1)
    state = {k: (s, w) for k, s, w in ledger_rows(work)}
    t.lost_records = sorted(k for k in counts
                            if state.get(k, ("?", None))[0] != "sent" or not state[k][1])
    t.lost_mail = sorted(reference - units(work, set(counts)))
    t.seconds = round(time.monotonic() - started, 2)
    shutil.rmtree(work, ignore_errors=True)
    return t


def main(argv: list[str] | None = None) -> int:
    """Run the campaign, print and write the JSON figures; 1 if a target is missed."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=40)
    ap.add_argument("--rows", type=int, default=300)
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--out", type=Path,
                    default=ROOT / "bench/robustness" / f"smtp-kill-{dt.date.today()}.json")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="smtp-kill-"))
    tracker = base / "tracker.xlsx"
    subprocess.run([sys.executable, str(ROOT / "bench/make_tracker.py"), str(args.rows),
                    str(tracker)], check=True, stdout=subprocess.DEVNULL)
    ctl, sink = start_smtp()
    try:
        work = prepare(base, tracker, ctl.port)
        started = time.monotonic()
        rc, _k = child(work, RUN)
        seconds = time.monotonic() - started
        reference = units(work, set(sink.keys))
        REFERENCE_MESSAGES[0] = len(sink.keys)
        print(f"reference run: exit {rc}, {len(sink.keys)} messages in {seconds:.1f} s")
        rng = random.Random(args.seed)
        trials = []
        for n in range(args.kills):
            t = trial(base, tracker, sink, ctl.port, rng.uniform(0.3, 0.9 * seconds),
                      reference)
            trials.append(t)
            print(f"kill {n + 1:2}/{args.kills} at {t.delay:5.2f} s: {t.sent_before_kill:3} "
                  f"sent before; person {len(t.left_for_person)}; duplicates "
                  f"{len(t.duplicates)}; lost records {len(t.lost_records)}; lost mail "
                  f"{len(t.lost_mail)}", flush=True)
    finally:
        ctl.stop()
        shutil.rmtree(base, ignore_errors=True)
    killed = [t for t in trials if t.killed]
    person = sum(1 for t in killed if t.left_for_person)
    summary = {
        "command": "python bench/robustness/smtp_kill.py " + " ".join(argv or sys.argv[1:]),
        "rows": args.rows, "reference_messages": REFERENCE_MESSAGES[0],
        "reference_seconds": round(seconds, 2), "kills": len(killed),
        "kills_in_delivery": sum(1 for t in killed if t.in_delivery),
        "kills_needing_a_person": person,
        "needing_a_person_pct": round(100 * person / max(1, len(killed)), 1),
        "duplicates": sum(len(t.duplicates) for t in trials),
        "lost_records": sum(len(t.lost_records) for t in trials),
        "lost_mail": sum(len(t.lost_mail) for t in trials),
        "trials": [asdict(t) for t in trials],
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({k: v for k, v in summary.items() if k != "trials"}, indent=2))
    ok = (summary["needing_a_person_pct"] < 5 and not summary["duplicates"]
          and not summary["lost_records"] and not summary["lost_mail"])
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

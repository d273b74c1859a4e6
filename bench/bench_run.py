"""`ftc-office run` over a large tracker with the outbox backend, from scratch.

    .venv/bin/python bench/bench_run.py [--rows 10000] [--runs 1] [--no-profile]

Makes the tracker with ``bench/make_tracker.py ROWS``, then in fresh folders (empty ledger,
empty outbox):
1. ``python -m ftc_office run tracker.xlsx --as-of 2026-11-26 --no-dry-run --yes --outbox
   outbox`` in a child process: wall time and peak memory (the child's ru_maxrss);
2. the same under cProfile: the share of the run spent in reading the tracker, composing
   (templates, Word attachments), building the MIME bytes and writing .eml files, the ledger,
   and write-back (cumulative times of the functions below; profiling inflates every share
   by roughly the same factor, so use them as proportions).
"""

from __future__ import annotations

import argparse
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["run", "tracker.xlsx", "--as-of", "2026-11-26", "--no-dry-run", "--yes",
        "--outbox", "outbox"]

# (label, file suffix, function name): cumulative time of these functions
PHASES = [
    ("reading (load_workspace: calamine + records)", "ftc_office/planning.py", "load_workspace"),
    ("planning (plan_workspace)", "ftc_office/planning.py", "plan_workspace"),
    ("composing (compose_all: templates + Word + xlsx)", "ftc_office/compose.py", "compose_all"),
    ("  of which Word attachments (render_docx)", "ftc_office/rendering/word.py", "render_docx"),
    ("delivering (outbox: MIME bytes + fsync'd .eml)", "ftc_office/backends/outbox.py",
     "deliver"),
    ("  of which MIME bytes (wire_bytes)", "ftc_office/backends/wire.py", "wire_bytes"),
    ("ledger: plan", "ftc_office/ledger.py", "plan"),
    ("ledger: transition", "ftc_office/ledger.py", "transition"),
    ("ledger: mark_written", "ftc_office/ledger.py", "mark_written"),
    ("ledger: unwritten", "ftc_office/ledger.py", "unwritten"),
    ("ledger: tenants_in", "ftc_office/ledger.py", "tenants_in"),
    ("write-back (write_back: read + patch + backup + replace)", "ftc_office/writeback.py",
     "write_back"),
]


def child(work: Path, extra: list[str]) -> tuple[float, int, int, str]:
    """Run the CLI in ``work``; (wall seconds, peak RSS in MiB, exit code, last line)."""
    env = dict(os.environ, FTC_OFFICE_DATA_DIR=str(work / "data"),
               FTC_OFFICE_CONFIG_DIR=str(work / "cfg"))
    env.pop("FTC_OFFICE_CONFIG", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *extra, "-m", "ftc_office", *ARGS], cwd=work,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert proc.stdout is not None
    out = proc.stdout.read()
    proc.stdout.close()
    _pid, status, usage = os.wait4(proc.pid, 0)  # this child's own rusage
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    rss = usage.ru_maxrss  # KiB on Linux
    lines = out.decode("utf-8", "replace").strip().splitlines()
    return wall, rss // 1024, proc.returncode, lines[-1] if lines else ""


def fresh(base: Path, tracker: Path, name: str) -> Path:
    work = base / name
    work.mkdir()
    shutil.copyfile(tracker, work / "tracker.xlsx")
    return work


def phases(prof: Path) -> list[tuple[str, float, int]]:
    stats = pstats.Stats(str(prof))
    table = stats.stats  # type: ignore[attr-defined]
    out = []
    for label, suffix, func in PHASES:
        cum, calls = 0.0, 0
        for (filename, _line, name), (_cc, nc, _tt, ct, _callers) in table.items():
            if name == func and filename.endswith(suffix):
                cum += ct
                calls += nc
        out.append((label, cum, calls))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=1, help="timed runs (each from scratch)")
    ap.add_argument("--no-profile", action="store_true")
    a = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-run-") as tmp:
        base = Path(tmp)
        tracker = base / "tracker.xlsx"
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_tracker.py"), str(a.rows),
                        str(tracker)], check=True, stdout=subprocess.DEVNULL)
        for i in range(a.runs):
            work = fresh(base, tracker, f"run{i}")
            wall, rss, rc, last = child(work, [])
            n_eml = len(list((work / "outbox").glob("*.eml")))
            print(f"run {i + 1}: {wall:.1f} s wall, peak RSS {rss} MiB, exit {rc}, "
                  f"{n_eml} .eml files — {last}")
            rerun_wall, _rss, rc2, last2 = child(work, [])
            print(f"  rerun (nothing to do): {rerun_wall:.1f} s, exit {rc2} — {last2}")
        if a.no_profile:
            return 0
        work = fresh(base, tracker, "profiled")
        prof = base / "run.prof"
        wall, _rss, _rc, _last = child(work, ["-m", "cProfile", "-o", str(prof)])
        total = pstats.Stats(str(prof)).total_tt  # type: ignore[attr-defined]
        print(f"profiled run: {wall:.1f} s wall, {total:.1f} s profiled")
        for label, cum, calls in phases(prof):
            print(f"  {label:60} {cum:7.1f} s  {100 * cum / total:5.1f} %  ({calls} calls)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Peak memory of `plan` and `run` against the tracker's size (issue 17).

    .venv/bin/python bench/bench_memory.py [--rows 1000,10000,50000] [--no-run-above N]

For each size: a tracker from ``bench/make_tracker.py``, then ``ftc-office plan`` and
``ftc-office run`` from scratch (empty ledger and outbox, pickup mode), each in a fresh
interpreter that reports its own peak RSS (``VmHWM`` from /proc/self/status, read at exit:
``ru_maxrss`` of a forked child can carry the parent's peak), or the sampled peak of it and
its compose-ahead workers together when larger (bench/treemem.py). Prints a Markdown table with
the wall time, the peak and the load average beside each figure.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from treemem import TreeMemory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = "2026-11-26"

WRAPPER = """
import atexit, runpy, sys
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            sys.stderr.write("\\nPEAK " + line.split()[1] + "\\n")
atexit.register(peak)
sys.argv = ["ftc-office", *sys.argv[1:]]
runpy.run_module("ftc_office", run_name="__main__")
"""


def child(args: list[str], cwd: Path) -> tuple[float, float]:
    """Run ftc-office ARGS in a fresh interpreter; (wall s, peak MB)."""
    env = dict(os.environ, FTC_OFFICE_DATA_DIR=str(cwd / "data"),
               FTC_OFFICE_CONFIG_DIR=str(cwd / "cfg"), PYTHONPATH=str(ROOT))
    env.pop("FTC_OFFICE_CONFIG", None)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", WRAPPER, *args], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    with TreeMemory(proc.pid) as tree:  # the run's compose-ahead workers count too
        _out, stderr = proc.communicate()
    wall = time.perf_counter() - t0
    if proc.returncode not in (0, 1):
        raise SystemExit(f"ftc-office {' '.join(args)} failed:\n{stderr[-2000:]}")
    kb = next(int(x.split()[1]) for x in reversed(stderr.splitlines())
              if x.startswith("PEAK "))
    return wall, max(kb / 1024, tree.peak_mb)


def main(argv: list[str] | None = None) -> int:
    """Measure and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="1000,10000,50000")
    ap.add_argument("--no-run-above", type=int, default=10**9,
                    help="measure only `plan` above this many rows")
    args = ap.parse_args(argv)
    print("| rows | command | wall s | peak RSS MB | load (1 min) |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
        for rows in (int(r) for r in args.rows.split(",")):
            work = Path(tmp) / str(rows)
            work.mkdir()
            subprocess.run([sys.executable, str(HERE / "make_tracker.py"), str(rows),
                            str(work / "tracker.xlsx")], check=True, capture_output=True)
            wall, mb = child(["plan", "tracker.xlsx", "--as-of", AS_OF], work)
            print(f"| {rows:,} | plan | {wall:.2f} | {mb:.0f} | {os.getloadavg()[0]:.1f} |",
                  flush=True)
            if rows > args.no_run_above:
                continue
            wall, mb = child(["run", "tracker.xlsx", "--as-of", AS_OF, "--no-dry-run",
                              "--yes", "--outbox", "outbox", "--outbox-mode", "pickup"], work)
            print(f"| {rows:,} | run | {wall:.2f} | {mb:.0f} | {os.getloadavg()[0]:.1f} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

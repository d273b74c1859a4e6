"""Benchmark: the dashboard (`ftc-office report --html`) for a 10,000-row tracker, against
`ftc-office plan --json` on the same file (the dashboard plans too: the difference is what
the dashboard itself costs: counting, charts, HTML).

Usage:  python bench/bench_dashboard.py [--rows 10000] [--runs 3]

Makes the tracker with bench/make_tracker.py (same rows and seed every time), then runs each
command ``--runs`` times, each in a fresh process (interpreter and imports included), and
prints the median wall times, their difference and the HTML file's size. It also times
the two parts inside one fresh process per run (``CHILD``): reading and planning, then
everything the dashboard adds (matplotlib's import, counting, charts, HTML, the write), one
after the other. Target: the dashboard's part under 3 s, the file under 1 MB.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
AS_OF = "2026-11-26"
CHILD = """
import datetime as dt, sys, time
from pathlib import Path
from ftc_office.config import load_settings
from ftc_office.planning import load_workspace, plan_workspace
from ftc_office.dashboard.model import build_dashboard
from ftc_office.dashboard.render import render_html
settings = load_settings(None)
as_of = dt.date.fromisoformat(sys.argv[2])
start = time.perf_counter()
plans = plan_workspace(load_workspace([Path(sys.argv[1])], settings), as_of)
planned, cpu = time.perf_counter(), time.process_time()
board = build_dashboard(plans, as_of, [sys.argv[1]], [], [])
Path(sys.argv[3]).write_text(render_html(board), "utf-8")
print(planned - start, time.perf_counter() - planned, time.process_time() - cpu)
"""


def timed(cmd: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one run of ``cmd`` (its output thrown away); fails if it fails."""
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          check=False)
    seconds = time.perf_counter() - start
    if done.returncode not in (0, 1):  # 1: the tracker's few invalid tenants
        raise SystemExit(f"{cmd[3]} failed: {done.stderr.decode()[-400:]}")
    return seconds


def main() -> int:
    """Run the benchmark and print the figures."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        tracker = folder / "tracker.xlsx"
        subprocess.run([sys.executable, str(HERE / "make_tracker.py"), str(args.rows),
                        str(tracker)], check=True, stdout=subprocess.DEVNULL)
        env = {**os.environ, "FTC_OFFICE_DATA_DIR": str(folder / "data")}
        env.pop("FTC_OFFICE_CONFIG", None)
        cli = [sys.executable, "-m", "ftc_office"]
        page = folder / "dashboard.html"
        plan_cmd = [*cli, "plan", str(tracker), "--as-of", AS_OF, "--json"]
        report_cmd = [*cli, "report", str(tracker), "--as-of", AS_OF, "--html", str(page)]
        timed(report_cmd, env)  # warm-up: matplotlib's font cache, the OS file cache
        plans, reports = [], []
        for _ in range(args.runs):
            plans.append(timed(plan_cmd, env))
            reports.append(timed(report_cmd, env))
        size = page.stat().st_size
        parts = [subprocess.run([sys.executable, "-c", CHILD, str(tracker), AS_OF,
                                 str(folder / "inner.html")], env=env, check=True,
                                capture_output=True, text=True).stdout.split()
                 for _ in range(args.runs)]
    plan_s, report_s = statistics.median(plans), statistics.median(reports)
    print(f"rows {args.rows}, runs {args.runs} (medians)")
    print(f"plan --json:   {plan_s:.2f} s  (min {min(plans):.2f})")
    print(f"report --html: {report_s:.2f} s  (min {min(reports):.2f})")
    print(f"dashboard beyond plan (the two commands): {report_s - plan_s:.2f} s")
    inner_plan = statistics.median(float(p[0]) for p in parts)
    inner_dash = statistics.median(float(p[1]) for p in parts)
    print(f"in one process: read + plan {inner_plan:.2f} s, then the dashboard "
          f"{inner_dash:.2f} s (max {max(float(p[1]) for p in parts):.2f}; target < 3 s)")
    cpu = statistics.median(float(p[2]) for p in parts)
    print(f"  the dashboard's CPU time in that process: {cpu:.2f} s (median)")
    print(f"HTML file: {size / 1024:.0f} KB (target < 1024 KB)")
    return 0 if inner_dash < 3 and size < 1024 * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())

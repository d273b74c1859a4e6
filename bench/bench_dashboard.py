"""Benchmark: the dashboard (`ftc-office report --html`) for a 10,000-row tracker, against
`ftc-office plan --json` on the same file (the dashboard plans too: the difference is what
the dashboard itself costs: counting, charts, HTML).

Usage:  python bench/bench_dashboard.py [--rows 10000] [--runs 3]

Makes the tracker with bench/make_tracker.py (same rows and seed every time), then runs each
command ``--runs`` times, each in a fresh process (interpreter and imports included), and
prints the median wall times, their difference and the HTML file's size. Target: the
difference under 3 s, the file under 1 MB.
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
    plan_s, report_s = statistics.median(plans), statistics.median(reports)
    print(f"rows {args.rows}, runs {args.runs} (medians)")
    print(f"plan --json:   {plan_s:.2f} s  (min {min(plans):.2f})")
    print(f"report --html: {report_s:.2f} s  (min {min(reports):.2f})")
    print(f"dashboard beyond plan: {report_s - plan_s:.2f} s (target < 3 s)")
    print(f"HTML file: {size / 1024:.0f} KB (target < 1024 KB)")
    return 0 if report_s - plan_s < 3 and size < 1024 * 1024 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Benchmark: `ftc-office plan` on a 10,000-row tracker (table and --json forms).

Usage:  python bench/bench_plan.py [--rows 10000] [--runs 5] [--out bench/README.md]

Generates the tracker with openpyxl (write-only, a few seconds; reuses
bench/make_tracker.py when present), then runs each form in a fresh subprocess ``--runs``
times and records wall time (median, min) and the child's peak RSS (ru_maxrss). With
``--out`` the figures are appended to that Markdown file under "plan on 10,000 rows".
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADERS = [
    "Tenant ID", "Customer", "Workload", "Seats", "Active Users", "No Technical Blockers",
    "Region", "FM", "Account Team", "Account Managed", "Customer Contacts", "Discussion Date",
    "Ready For Workloads", "RFA Form Demoed", "Queue Confirmed", "Next Steps", "ATU Sent",
    "Customer Email Sent", "Task 4058 Complete", "Queue Requested", "Target Queue",
    "Next Action Date", "FTOP Status", "Service Status", "FM Unassigned", "Engagement Note",
]
WORKLOADS = ["Exchange Online", "Teams", "SharePoint Online", "OneDrive"]
REGIONS = ["EMEA", "Americas", "APJ", "AMER", "Europe", "APAC"]


def generate(rows: int, out: Path) -> None:
    """A realistic tracker: 1–3 workloads per tenant, every playbook stage represented."""
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Tracker")
    ws.append(["FastTrack engagements — team tracker"])
    ws.append([])
    ws.append(HEADERS)
    n = t = 0
    day = dt.date(2026, 3, 2)
    while n < rows:
        t += 1
        k = 1 + t % 3
        seats = 200 + (t * 37) % 5000
        active = (t * 53) % 900
        stage = t % 6
        for w in range(min(k, rows - n)):
            ws.append([
                f"{t:08d}-0000-4000-8000-{t:012d}", f"Customer {t} Ltd", WORKLOADS[w], seats,
                active, "Yes" if t % 11 == 0 else "", REGIONS[t % len(REGIONS)],
                f"fm{t % 7}@microsoft.com",
                "" if t % 9 == 0 else f"atu{t % 13}@microsoft.com; csa{t % 5}@microsoft.com",
                "No" if t % 17 == 0 else "Yes", f"it{t}@contoso{t % 50}.com",
                day if stage >= 2 else None, "Intune" if t % 4 == 0 else "",
                "Yes" if stage >= 2 else "", day if stage >= 5 else None,
                "carry on with scenario notes", day if stage >= 1 else None,
                day if stage >= 3 else None, day if stage >= 4 else None,
                day if stage >= 4 else None, "", None, "", "", None, "",
            ])
            n += 1
    wb.save(out)


def make(rows: int, out: Path) -> None:
    helper = HERE / "make_tracker.py"
    if helper.exists():
        subprocess.run([sys.executable, str(helper), str(rows), str(out)], check=True)
    else:
        generate(rows, out)


def run(cmd: list[str], runs: int) -> tuple[float, float, float, float]:
    """(median wall s, min wall s, median CPU s, peak child RSS MB) over ``runs`` processes."""
    times, cpus, peaks = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        pid = os.fork()
        if pid == 0:  # child: exec the command with stdout discarded
            fd = os.open(os.devnull, os.O_WRONLY)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execv(cmd[0], cmd)
        _, status, usage = os.wait4(pid, 0)
        times.append(time.perf_counter() - start)
        cpus.append(usage.ru_utime + usage.ru_stime)
        peaks.append(usage.ru_maxrss / 1024)
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} failed with {status}")
    return statistics.median(times), min(times), statistics.median(cpus), max(peaks)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--out", type=Path, help="append the figures to this Markdown file")
    ap.add_argument("--note", default="", help="a line added under the figures")
    args = ap.parse_args()
    exe = str(Path(sys.executable).with_name("ftc-office"))
    with tempfile.TemporaryDirectory() as tmp:
        tracker = Path(tmp) / "tracker-10k.xlsx"
        t0 = time.perf_counter()
        make(args.rows, tracker)
        gen = time.perf_counter() - t0
        size = tracker.stat().st_size / 2**20
        forms = {
            "table": [exe, "plan", str(tracker), "--as-of", "2026-11-26"],
            "--json": [exe, "plan", str(tracker), "--as-of", "2026-11-26", "--json"],
        }
        results = {name: run(cmd, args.runs) for name, cmd in forms.items()}
    lines = [
        f"- rows: {args.rows} ({size:.1f} MB .xlsx, generated in {gen:.1f} s), "
        f"{args.runs} runs each",
    ]
    for name, (med, low, cpu, peak) in results.items():
        lines.append(f"- `plan` {name}: wall median {med:.2f} s, min {low:.2f} s; CPU median "
                     f"{cpu:.2f} s; peak RSS {peak:.0f} MB")
    load = os.getloadavg()[0]
    lines.append(f"- load average when done: {load:.1f} (other work on the machine inflates "
                 "wall time; CPU time is steadier)")
    print("\n".join(lines))
    if args.out:
        head = "" if args.out.exists() else "# Benchmarks\n"
        section = [
            head, "## plan on 10,000 rows", "",
            "Command: `.venv/bin/python bench/bench_plan.py --rows 10000 --runs 5 "
            "--out bench/README.md` (runs `ftc-office plan TRACKER --as-of 2026-11-26` "
            "and the same with `--json`, each in a fresh process).",
            f"Date: {dt.date.today().isoformat()}. Machine: {platform.machine()}, "
            f"{os.cpu_count()} cores, Python {platform.python_version()}, "
            f"{platform.system()}. Targets: under 1.5 s wall and under 200 MB.", "",
            *lines,
        ]
        if args.note:
            section += ["", args.note]
        with args.out.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(section) + "\n\n")


if __name__ == "__main__":
    main()

"""Benchmark write-back: XlsxPatcher versus an openpyxl load + edit + save round trip.

Generates a 10,000-row tracker (27 columns of text, numbers and dates in an Excel table,
the last three being empty output columns) with openpyxl in a temp folder, then, each in its
own subprocess, writes three columns on every row (text, date, text) and saves:

  (a) XlsxPatcher: add_columns (finds the existing headers) + set x 30,000 + save
  (b) openpyxl: load_workbook + the same 30,000 assignments + save

Wall time is measured inside the child around open..save; peak memory is the child's peak
resident set (VmHWM on Linux, else ru_maxrss: whole process, interpreter and imports
included). Run:

    .venv/bin/python bench/bench_writeback.py [--rows 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HEADERS = [
    "Tenant ID", "Tenant", "Region", "Country", "Segment", "Engagement", "FTM", "FTM email",
    "Customer contact", "Contact email", "Seats", "Active users", "Workload", "Stage",
    "Start date", "Target date", "Last activity", "Health", "Score", "Licences", "Partner",
    "Notes", "Owner", "Priority", "Status", "Sent on", "Mail note",
]
OUTPUT = ["Status", "Sent on", "Mail note"]


def make_tracker(path: Path, rows: int) -> None:
    """Write a realistic tracker with openpyxl: one sheet, one table over all columns."""
    import openpyxl
    from openpyxl.worksheet.table import Table, TableStyleInfo

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Tenants"
    ws.append(HEADERS)
    start = dt.date(2025, 1, 1)
    for i in range(rows):
        ws.append([
            f"{i:08x}-0000-4000-8000-{i:012x}", f"Contoso {i}", ["EMEA", "APJ", "Americas"][i % 3],
            "Germany", "Enterprise", f"ENG-{i:06d}", f"Alex {i % 50}", f"alex{i % 50}@contoso.com",
            f"Pat {i}", f"pat{i}@tenant{i}.example", 100 + i, 50 + i % 100, "Teams",
            ["Onboard", "Adopt", "Close"][i % 3], start + dt.timedelta(days=i % 365),
            start + dt.timedelta(days=i % 365 + 90), start + dt.timedelta(days=i % 30),
            "Green", round(i / 7, 2), 250 + i, "Fabrikam", f"note for row {i}", "Sam",
            i % 5, None, None, None,
        ])
    for row in ws.iter_rows(min_row=2, min_col=15, max_col=17):
        for cell in row:
            cell.number_format = "yyyy-mm-dd"
    last = openpyxl.utils.get_column_letter(len(HEADERS))
    table = Table(displayName="Tracker", ref=f"A1:{last}{rows + 1}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    wb.save(path)


def run_patcher(src: Path, dest: Path) -> None:
    """(a) Surgical write-back."""
    from ftc_office.xlsx.patch import XlsxPatcher

    p = XlsxPatcher(src)
    cols = p.add_columns("Tenants", 1, OUTPUT)
    s, d, n = (cols[h] for h in OUTPUT)
    when = dt.date(2026, 11, 26)
    for r in range(2, _rows(src) + 2):
        p.set("Tenants", f"{s}{r}", "Sent")
        p.set("Tenants", f"{d}{r}", when)
        p.set("Tenants", f"{n}{r}", f"mail #{r} & co")
    p.save(dest)


def run_openpyxl(src: Path, dest: Path) -> None:
    """(b) openpyxl round trip with the same edits."""
    import openpyxl

    wb = openpyxl.load_workbook(src)
    ws = wb["Tenants"]
    header = {c.value: c.column for c in ws[1]}
    s, d, n = (header[h] for h in OUTPUT)
    when = dt.date(2026, 11, 26)
    for r in range(2, ws.max_row + 1):
        ws.cell(r, s).value = "Sent"
        cell = ws.cell(r, d)
        cell.value = when
        cell.number_format = "yyyy-mm-dd"
        ws.cell(r, n).value = f"mail #{r} & co"
    wb.save(dest)


def _rows(src: Path) -> int:
    return int(src.stem.rpartition("-")[2])


def child(kind: str, src: Path, dest: Path) -> None:
    """Run one variant and print its timing and peak memory as JSON."""
    t0 = time.perf_counter()
    (run_patcher if kind == "patcher" else run_openpyxl)(src, dest)
    wall = time.perf_counter() - t0
    print(json.dumps({"wall": wall, "rss_mb": _peak_rss_mb()}))


def _peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux VmHWM, because ru_maxrss of an exec'd
    child starts from its parent's high-water mark at fork time."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    """Generate the tracker, time both variants in subprocesses, print a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child", nargs=3, metavar=("KIND", "SRC", "DEST"))
    args = ap.parse_args()
    if args.child:
        child(args.child[0], Path(args.child[1]), Path(args.child[2]))
        return
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / f"tracker-{args.rows}.xlsx"
        t0 = time.perf_counter()
        make_tracker(src, args.rows)
        print(f"tracker: {args.rows} rows x {len(HEADERS)} columns, "
              f"{src.stat().st_size / 2**20:.1f} MB, made in {time.perf_counter() - t0:.1f} s")
        results: dict[str, list[dict[str, float]]] = {"patcher": [], "openpyxl": []}
        for _ in range(args.repeat):
            for kind in results:
                dest = Path(tmp) / f"out-{kind}.xlsx"
                out = subprocess.run([sys.executable, __file__, "--child", kind, str(src),
                                      str(dest)], check=True, capture_output=True, text=True)
                results[kind].append(json.loads(out.stdout))
        _verify(dest.parent / "out-patcher.xlsx", args.rows)
    print(f"python {platform.python_version()}, {platform.machine()}, "
          f"{len(__import__('os').sched_getaffinity(0))} cores, median of {args.repeat}")
    print(f"{'variant':<10} {'wall s':>8} {'min-max':>11} {'peak RSS MB':>12}")
    med = {k: (statistics.median(r["wall"] for r in v), statistics.median(r["rss_mb"] for r in v))
           for k, v in results.items()}
    for kind, (wall, rss) in med.items():
        walls = [r["wall"] for r in results[kind]]
        spread = f"{min(walls):.2f}-{max(walls):.2f}"
        print(f"{kind:<10} {wall:>8.2f} {spread:>11} {rss:>12.0f}")
    print(f"patcher / openpyxl: time {med['patcher'][0] / med['openpyxl'][0]:.2f}, "
          f"memory {med['patcher'][1] / med['openpyxl'][1]:.2f}")


def _verify(path: Path, rows: int) -> None:
    from python_calamine import CalamineWorkbook

    data = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Tenants").to_python()
    assert len(data) == rows + 1, len(data)
    assert data[-1][-3:] == ["Sent", dt.date(2026, 11, 26), f"mail #{rows + 1} & co"], data[-1]


if __name__ == "__main__":
    main()

"""Where `plan`'s time goes, stage by stage, in one process (issue 17).

    .venv/bin/python bench/plan_stages.py TRACKER [--runs 3]

Runs the stages `ftc-office plan TRACKER --as-of 2026-11-26` runs, in its order, with
``time.perf_counter`` around each: the imports the command needs, the package checks and
python-calamine (`read_sheet`), the records (`build_records`), the validation that needs
the settings, the checks across tenants, the ledger's view, planning, and the table at 100
columns. Each run is a fresh interpreter (this script re-runs itself); the table gives the
median of each stage and the median total. The wall time of the whole command is
bench/compare.py's business; this says what is inside it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(tracker: Path) -> dict[str, float]:
    """The stages, timed in this process."""
    sys.path.insert(0, str(ROOT))
    out: dict[str, float] = {}
    t = time.perf_counter()
    from ftc_office import planning
    from ftc_office.cli.views import plan_table
    from ftc_office.config import load_settings
    from ftc_office.run.recorded import as_recorded
    from ftc_office.tracker import builder, reader
    from ftc_office.tracker.checks import cross_tenant_contact_problems, cross_tracker_problems

    settings = load_settings(None)
    out["imports and settings"] = time.perf_counter() - t

    def stage(name: str, fn: object, *args: object) -> object:
        t0 = time.perf_counter()
        result = fn(*args)  # type: ignore[operator]
        out[name] = time.perf_counter() - t0
        return result

    tr = settings.tracker
    read = stage("read_sheet (package checks + calamine + rows)", reader.read_sheet, tracker,
                 tr.sheet, tr.max_header_row, tr.headers)
    records = stage("build_records", lambda: builder.build_records(read, settings, True))
    stage("validation (settings)", lambda: setattr(records, "tenants", [
        planning._validated(t, settings) for t in records.tenants]))
    ws = planning.Workspace(routing=settings.routing)
    ws.trackers.append(records)
    stage("checks across tenants", lambda: (cross_tracker_problems(ws.trackers),
                                            cross_tenant_contact_problems(ws.trackers)))
    ws, _notes = stage("ledger's view (as_recorded)", as_recorded, ws, settings)
    plans = stage("planning", planning.plan_workspace, ws, dt.date(2026, 11, 26),
                  planning.PlanFilter())
    stage("table at 100 columns", plan_table, plans, 100, False)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tracker", type=Path)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(args.tracker.resolve())))
        return 0
    runs = [json.loads(subprocess.run(
        [sys.executable, __file__, str(args.tracker), "--child"], check=True,
        capture_output=True, text=True).stdout) for _ in range(args.runs)]
    print(f"| stage | median of {args.runs} runs |\n|---|---|")
    for name in runs[0]:
        print(f"| {name} | {statistics.median(r[name] for r in runs):.3f} s |")
    total = statistics.median(sum(r.values()) for r in runs)
    print(f"| **total (no interpreter start-up)** | **{total:.3f} s** |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Writes the corpus of bad trackers (issue 21): run once, the .xlsx files are committed.

    .venv/bin/python tests/data/bad_trackers/make.py [NAME ...]

Each tracker holds content an FM really types (or Excel really produces) that must never lead
to a wrong action; ``NAME.expected.json`` beside it says what check, plan and run must answer
(exact messages and exit codes; recorded from the answers of the fixed code and read one by
one), and tests/test_bad_trackers.py holds every tracker to it. The
workbooks are written by openpyxl through tests/builders.py, the same as every test tracker;
all are planned as of 2026-11-26 (the expected files say so).
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))  # tests/: builders

from builders import make_tracker, row  # noqa: E402
from openpyxl import load_workbook  # noqa: E402
from openpyxl.worksheet.table import Table, TableStyleInfo  # noqa: E402

D = dt.date
#: a tenant whose customer follow-up is due on 2026-11-26: ATU sent, discussion held
FOLLOWUP: dict[str, Any] = {"atu_sent": D(2026, 11, 2), "discussion_date": D(2026, 11, 20),
                            "rfa_demoed": "Yes"}


def followup(tid: str, **values: Any) -> dict[str, Any]:
    """A row whose next step is the customer follow-up, unless `values` say otherwise."""
    return row(tid, **{**FOLLOWUP, **values})


def no_id(**values: Any) -> dict[str, Any]:
    """A row with no Tenant ID (and no Customer: it continues the tenant above)."""
    r = row("", **values)
    del r["tenant_id"], r["customer"]
    return r


def _edit(path: Path, fn: Callable[[Any], None]) -> None:
    wb = load_workbook(path)
    fn(wb.active)
    wb.save(path)


def _merge_ids(ws: Any) -> None:
    ws.merge_cells("A2:A3")  # what a person does to "group" a tenant's rows


def _totals_table(ws: Any) -> None:
    # an Excel table with its totals row on (Table Design > Total Row): no "Total" label,
    # only the sums, as after a person cleared the label cell
    t = Table(displayName="Engagements", ref="A1:Z4", totalsRowCount=1)
    t.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(t)


TRACKERS: dict[str, tuple[list[dict[str, Any]], Callable[[Any], None] | None]] = {
    "discussion_after_as_of": ([followup("t-1", discussion_date=D(2026, 12, 5)),
                                followup("t-2")], None),
    "discussion_2062": ([followup("t-1", discussion_date=D(2062, 12, 5))], None),
    "discussion_1926": ([followup("t-1", discussion_date=D(1926, 12, 5))], None),
    "atu_sent_after_as_of": ([followup("t-1", atu_sent=D(2027, 1, 4))], None),
    "queue_confirmed_after_as_of": ([followup("t-1", customer_email_sent=D(2026, 11, 21),
                                              queue_requested=D(2026, 11, 23),
                                              queue_confirmed=D(2026, 12, 1))], None),
    "empty_tenant_id": ([row("t-1"), no_id(workload="Exchange"), row("t-2")], None),
    "merged_tenant_id": ([row("t-1"), row("t-1", workload="Exchange"), row("t-2")],
                         _merge_ids),
    "active_users_na": ([row("t-1", active_users="#N/A"), row("t-2")], None),
    "seats_div0": ([row("t-1", seats="#DIV/0!"), row("t-2")], None),
    "tenant_id_na": ([row("t-1"), row("#N/A", customer=None, workload="Exchange")], None),
    "uncalculated_formula": ([row("t-1", active_users="=D2/10"), row("t-2")], None),
    "gmail_fm": ([followup("t-1", fm_email="fm.one@gmail.com"), followup("t-2")], None),
    "gmail_account_team": ([row("t-1", account_team="ann@microsoft.com; ann.home@gmail.com"),
                            row("t-2")], None),
    "table_totals_row": ([row("t-1"), row("t-2"), {"seats": "=SUBTOTAL(109,D2:D3)",
                                                   "active_users": 300}], _totals_table),
    "labelled_total_row": ([row("t-1"), row("t-2"), {"customer": "Total", "seats": 2400,
                                                     "active_users": 300}], None),
    "total_in_tenant_id_column": ([row("t-1"), row("t-2"), {"tenant_id": "Total", "seats": 2400,
                                                            "active_users": 300}], None),
}


def main(names: list[str]) -> None:
    """Write the trackers of the corpus named (all when none is) next to this script."""
    for name, (rows, edit) in TRACKERS.items():
        if names and name not in names:
            continue
        path = make_tracker(HERE / f"{name}.xlsx", rows)
        if edit is not None:
            _edit(path, edit)
        print(path.relative_to(HERE.parent.parent.parent))


if __name__ == "__main__":
    main(sys.argv[1:])

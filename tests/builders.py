"""Builds real tracker workbooks for tests, with openpyxl (tests write their inputs inline)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.worksheet.table import Table, TableStyleInfo

from ftc_office.fields import FIELDS

DEFAULT_COLUMNS = (
    "tenant_id", "customer", "workload", "seats", "active_users", "no_blockers", "region",
    "fm_email", "account_team", "account_managed", "customer_contacts", "discussion_date",
    "next_workloads", "rfa_demoed", "queue_confirmed", "next_steps", "atu_sent",
    "customer_email_sent", "task_4058", "queue_requested", "target_queue", "next_action_date",
    "ftop_status", "service_status", "fm_unassigned", "engagement_note",
)


def row(tenant_id: str = "t-1", workload: str = "Teams", **values: Any) -> dict[str, Any]:
    """A valid, eligible, ATU-due row unless values say otherwise."""
    base: dict[str, Any] = {
        "tenant_id": tenant_id, "customer": f"Customer {tenant_id}", "workload": workload,
        "seats": 1200, "active_users": 150, "region": "EMEA",
        "fm_email": "fm.one@microsoft.com", "account_team": "ann@microsoft.com",
        "account_managed": "Yes", "customer_contacts": "it@contoso.com",
    }
    base.update(values)
    return base


def make_tracker(path: Path, rows: Sequence[dict[str, Any]], *, header_row: int = 1,
                 columns: Sequence[str] = DEFAULT_COLUMNS, headers: dict[str, str] | None = None,
                 table: bool = False, sheet: str = "Tracker", extra_sheets: Sequence[str] = (),
                 extra_columns: Sequence[str] = ()) -> Path:
    """Write a tracker: optional title rows, the header at ``header_row``, optional table."""
    wb = Workbook()
    for name in extra_sheets:
        wb.create_sheet(name, 0)["A1"] = "not a tracker"
    ws = wb[wb.sheetnames[-1]] if extra_sheets else wb.active
    assert ws is not None
    ws.title = sheet
    if header_row > 1:
        ws.cell(row=1, column=1, value="FastTrack engagements — team tracker")
    titles = [(headers or {}).get(c, FIELDS[c].header) for c in columns] + list(extra_columns)
    for c, title in enumerate(titles, 1):
        ws.cell(row=header_row, column=c, value=title)
    for r, values in enumerate(rows, header_row + 1):
        for c, name in enumerate(columns, 1):
            value = values.get(name)
            if value is not None:
                cell = ws.cell(row=r, column=c, value=value)
                if isinstance(value, dt.date):
                    cell.number_format = "yyyy-mm-dd"
        for c, name in enumerate(extra_columns, len(columns) + 1):
            ws.cell(row=r, column=c, value=f"extra {name}")
    if table:
        from openpyxl.utils import get_column_letter

        last = get_column_letter(len(titles))
        ref = f"A{header_row}:{last}{header_row + max(len(rows), 1)}"
        t = Table(displayName="Engagements", ref=ref)
        t.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
        ws.add_table(t)
    wb.save(path)
    return path

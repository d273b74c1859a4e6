"""The queue-move rows as a small .xlsx attachment (deterministic bytes)."""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.writer.excel import ExcelWriter

from ftc_office.rendering.word import strip_control
from ftc_office.xlsx.cells import col_letter
from ftc_office.xlsx.normalise import normalise_zip

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
COLUMNS = (("Tenant ID", "tenant_id", 38), ("Customer", "customer", 30),
           ("Target Queue", "queue", 24), ("FM", "fm", 30), ("Workloads", "workloads", 40),
           ("Disengaged", "disengaged", 12), ("Next Action Date", "next_action_date", 16))


def _safe(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # control characters are not allowed in a worksheet (openpyxl raises): drop them, as the
    # Word attachments do
    value = strip_control(value)
    # a text value must never become a formula in the assignment team's workbook
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def queue_rows_xlsx(rows: Sequence[dict[str, Any]], as_of: dt.date) -> bytes:
    """One sheet, one Excel table, the same rows as the message's HTML table."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Queue moves"
    fixed = dt.datetime(as_of.year, as_of.month, as_of.day)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "ftc-office"
    for c, (title, _key, width) in enumerate(COLUMNS, 1):
        cell = ws.cell(row=1, column=c, value=title)
        cell.font = Font(bold=True, color="FFFFFF")
        cell.fill = PatternFill("solid", fgColor="0F4A85")
        ws.column_dimensions[cell.column_letter].width = width
    for r, row in enumerate(rows, 2):
        for c, (_title, key, _w) in enumerate(COLUMNS, 1):
            cell = ws.cell(row=r, column=c, value=_safe(row[key]))
            if isinstance(row[key], dt.date):
                cell.number_format = "yyyy-mm-dd"
    last = col_letter(len(COLUMNS))
    table = Table(displayName="QueueMoves", ref=f"A1:{last}{max(len(rows), 1) + 1}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    # not wb.save(): openpyxl's save_workbook stamps "modified" with the current time, which
    # made the attachment (and the message's content hash) change on every run
    ExcelWriter(wb, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    return normalise_zip(buf.getvalue())

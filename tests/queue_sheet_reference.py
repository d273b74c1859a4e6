"""The queue-move workbook as openpyxl wrote it until the text writer replaced it.

Kept as the reference :mod:`ftc_office.compose.queue_xlsx` is held against (every part, byte
for byte, in ``tests/test_queue_xlsx.py``). What the sheet holds (columns, order, safe text,
widths, heights) comes from the production module, so a test that changes the columns
changes both; this file is the openpyxl serialisation of it.
"""

from __future__ import annotations

import copy
import datetime as dt
import io
import zipfile
from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook
from openpyxl.packaging.custom import StringProperty
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.writer.excel import ExcelWriter

from ftc_office.compose import queue_sheet
from ftc_office.xlsx.cells import col_letter
from ftc_office.xlsx.normalise import normalise_zip

KEY_PROPERTY = queue_sheet.KEY_PROPERTY
SHEET_TITLE = queue_sheet.SHEET_TITLE
MOVED_ON, MOVED_BY = queue_sheet.MOVED_ON, queue_sheet.MOVED_BY
FONT_NAME = queue_sheet.FONT_NAME
_HEADER_FILL = PatternFill("solid", fgColor="0F4A85")
_INPUT_FILL = PatternFill("solid", fgColor="FFF7D6")
_THIN = Side(style="thin", color="BFBFBF")
_WRAP = Alignment(wrap_text=True, vertical="top")


# what the sheet holds (sort order, text made safe, widths, row heights) is decided by the
# production module; this reference is the openpyxl serialisation of it
_safe, _width, _sorted = queue_sheet._safe, queue_sheet._width, queue_sheet._sorted


def _lines(row: dict[str, Any], ws: Any) -> int:
    widths = [ws.column_dimensions[col_letter(c)].width
              for c in range(1, len(queue_sheet.COLUMNS) + 1)]
    return queue_sheet._lines(row, widths)


def _date_validation(as_of: dt.date, last_row: int, column: str) -> DataValidation:
    dv = DataValidation(type="date", operator="between", allow_blank=True,
                        formula1=f"DATE({as_of.year},{as_of.month},{as_of.day})",
                        formula2="DATE(2099,12,31)", showErrorMessage=True,
                        showInputMessage=True, errorTitle="Moved On",
                        error=f"Enter the date the tenant was moved (YYYY-MM-DD), on or "
                              f"after {as_of.isoformat()}.",
                        promptTitle="Moved On", prompt="The date you moved the tenant.")
    dv.add(f"{column}2:{column}{last_row}")
    return dv


def _write_rows(ws: Any, ordered: list[dict[str, Any]]) -> None:
    """The data rows, from row 2: values, their formats, each row's height."""
    # a cell's format depends only on its column and whether it holds a date: the first
    # such cell is formatted attribute by attribute, the others copy its style indices
    # (openpyxl hashes a Font or Border on every assignment: 3 of the 8 s of 24 sheets)
    formatted: dict[tuple[int, bool], Any] = {}
    for r, row in enumerate(ordered, 2):
        for c, (_title, field, _cap) in enumerate(queue_sheet.COLUMNS, 1):
            value = row.get(field) if field else None
            cell = ws.cell(row=r, column=c, value=_safe(value))
            kind = (c, isinstance(value, dt.date))
            if kind in formatted:
                cell._style = copy.copy(formatted[kind])
                continue
            cell.font = Font(name=FONT_NAME, size=11)
            cell.alignment = _WRAP
            if field is None:
                cell.fill = _INPUT_FILL
                cell.border = Border(left=_THIN, right=_THIN, top=_THIN, bottom=_THIN)
            if kind[1] or (field is None and queue_sheet.COLUMNS[c - 1][0] == MOVED_ON):
                cell.number_format = "yyyy-mm-dd"
            formatted[kind] = cell._style
        ws.row_dimensions[r].height = 15.0 * _lines(row, ws)


def queue_rows_xlsx(rows: Sequence[dict[str, Any]], as_of: dt.date, key: str = "") -> bytes:
    """One sheet, one Excel table: the request's rows sorted by customer, plus the columns
    the assignment team fills. ``key`` (the request's ledger key) goes into a custom
    document property."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = SHEET_TITLE
    fixed = dt.datetime(as_of.year, as_of.month, as_of.day)
    wb.properties.created = fixed
    wb.properties.modified = fixed
    wb.properties.creator = "ftc-office"
    wb.properties.title = "Queue move request"
    if key:
        wb.custom_doc_props.append(StringProperty(name=KEY_PROPERTY, value=key))
    ordered = _sorted(rows)
    for c, (title, field, cap) in enumerate(queue_sheet.COLUMNS, 1):
        cell = ws.cell(row=1, column=c, value=title)
        cell.font = Font(name=FONT_NAME, size=11, bold=True, color="FFFFFF")
        cell.fill = _HEADER_FILL
        cell.alignment = _WRAP
        values = [r.get(field) for r in ordered] if field else []
        ws.column_dimensions[cell.column_letter].width = _width(title, values, cap)
    _write_rows(ws, ordered)
    last_row = max(len(ordered), 1) + 1
    titles = [t for t, _f, _w in queue_sheet.COLUMNS]
    if MOVED_ON in titles:
        ws.add_data_validation(_date_validation(as_of, last_row,
                                                col_letter(titles.index(MOVED_ON) + 1)))
    last_col = col_letter(len(queue_sheet.COLUMNS))
    table = Table(displayName="QueueMoves", ref=f"A1:{last_col}{last_row}")
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    ws.add_table(table)
    ws.freeze_panes = "A2"
    ws.print_title_rows = "1:1"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_options.gridLines = False
    buf = io.BytesIO()
    # not wb.save(): openpyxl's save_workbook stamps "modified" with the current time, which
    # made the attachment (and the message's content hash) change on every run
    ExcelWriter(wb, zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, allowZip64=True)).save()
    return normalise_zip(buf.getvalue())

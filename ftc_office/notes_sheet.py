"""The tracker's ``Notes`` sheet: the full note history, one appended row per recorded note.

The *Engagement Note* column of the tracker holds the latest note of a row; this sheet keeps
every note the toolkit recorded, with the columns `NOTES_HEADERS`. Write-back calls
`append_notes` with the jobs it projects; the sheet is created as the last sheet of the
workbook the first time (header row frozen), and rows are only ever appended.

Idempotent: a row is identified by (Ledger Key, Tenant ID, Workload). The existing rows are
read first and a note already there is never appended again, so a rerun, or a retry after a
crash between replacing the workbook and recording it in the ledger, adds nothing.

Name clash: a workbook may already have a sheet of its own called ``Notes``. A sheet is used
only when its first row starts with exactly our headers; otherwise ``FTC Notes`` is used (and
created if missing). When both names are taken by other sheets, the notes are not written and
a conflict says so; the ledger keeps them (``ftc-office history``).

Looks: a new sheet is an Excel table (``NOTES_TABLE_STYLE``, autoFilter) with a bold header,
and rows appended below it join the table. Every appended row has the date as a real date in
``yyyy-mm-dd`` and the note wrapped, also on a sheet an older version created (which keeps its
plain header: its headers are the same, so it is still recognised and appended to). Step is
the step's human name (`ftc_office.fields.STEP_NAMES`: "ATU sent", "Queue move requested").

Date is the as-of date of the run that recorded the step, the date every note starts with:
the date the step stamped in a done column (ATU Sent, Customer Email Sent...), else the
date the note text starts with, else the day the ledger last recorded the step. Customer comes
from the tracker row of the tenant, empty when the tenant is no longer in the tracker.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ftc_office.errors import Problem, WritebackError
from ftc_office.fields import (
    FIELDS,
    NOTES_HEADERS,
    NOTES_TABLE_STYLE,
    NOTES_WIDTHS,
    SHEET_NAMES,
    is_notes_header,
    step_name,
)
from ftc_office.ledger import Entry
from ftc_office.values import to_text
from ftc_office.xlsx.cells import UNSTORABLE_RE, CellValue, clip_cell_text, col_letter
from ftc_office.xlsx.patch import XlsxPatcher
from ftc_office.xlsx.styles import ISO_DATE


def _header_row(patcher: XlsxPatcher, sheet: str) -> list[Any]:
    values = patcher.row_values(sheet, 1)
    return [values.get(col_letter(i)) for i in range(1, len(NOTES_HEADERS) + 1)]


def choose_sheet(patcher: XlsxPatcher) -> tuple[str, bool] | None:
    """(sheet name, exists) for the notes, or None when every candidate name is taken by a
    sheet that is not ours (a chart sheet, or a worksheet with other headers)."""
    for name in SHEET_NAMES:
        if not patcher.has_sheet(name):
            return name, False
        real = next((n for n in patcher.sheet_names() if n.casefold() == name.casefold()), None)
        if real is not None and is_notes_header(_header_row(patcher, real)):
            return real, True
    return None


def _fold(value: Any) -> str:
    return to_text(value).strip().casefold() if value is not None else ""


def _key(ledger_key: Any, tenant: Any, workload: Any) -> tuple[str, str, str]:
    return _fold(ledger_key), _fold(tenant), _fold(workload)


_LEADING_DATE = re.compile(r"\s*(\d{4}-\d{2}-\d{2})\b")


def _note_date(entry: Entry, text: str) -> dt.date:
    """The as-of date of a note (see the module docstring)."""
    for s in entry.stamps:
        field = FIELDS.get(s.get("field", ""))
        if s.get("is_date") and field is not None and field.kind == "mark":
            try:
                return dt.date.fromisoformat(s["value"])
            except (TypeError, ValueError):
                break
    m = _LEADING_DATE.match(text)
    if m:
        try:
            return dt.date.fromisoformat(m.group(1))
        except ValueError:
            pass
    try:
        return dt.datetime.fromisoformat(entry.updated_at).astimezone().date()
    except ValueError:
        return dt.date.today()


def append_notes(patcher: XlsxPatcher, tracker: str, entries: Sequence[Entry],
                 customers: Mapping[str, str], conflicts: list[Problem]) -> int:
    """Append one Notes row per note of `entries` that concerns `tracker` and is not in the
    sheet yet; return how many rows were appended. `customers` maps case-folded tenant IDs
    to customer names."""
    rows: list[list[CellValue]] = []
    seen: set[tuple[str, str, str]] = set()
    for entry in entries:
        here = {s["tenant_id"].casefold() for s in entry.stamps if s["tracker"] == tracker}
        for tenant, workload, text in entry.notes:
            if not text or to_text(tenant).casefold() not in here:
                continue
            key = _key(entry.key, tenant, workload)
            if key in seen:
                continue
            seen.add(key)
            note = clip_cell_text(UNSTORABLE_RE.sub("\ufffd", text))
            rows.append([_note_date(entry, text), tenant,
                         customers.get(tenant.casefold()) or None, workload,
                         step_name(entry.kind), note, entry.key])
    if not rows:
        return 0
    chosen = choose_sheet(patcher)
    if chosen is None:
        conflicts.append(Problem(
            f"{tracker}, sheets {' and '.join(SHEET_NAMES)}",
            "both names are taken by sheets that are not ftc-office note sheets, so the note "
            "history was not appended", "rename one of them; the notes stay in the ledger "
            "('ftc-office history') and are appended by a later write-back of new notes"))
        return 0
    sheet, exists = chosen
    if exists:
        col = {h: col_letter(i) for i, h in enumerate(NOTES_HEADERS, start=1)}
        present = {_key(v.get(col["Ledger Key"]), v.get(col["Tenant ID"]), v.get(col["Workload"]))
                   for num, v in patcher.rows(sheet) if num > 1}
        rows = [r for r in rows if _key(r[6], r[1], r[3]) not in present]
        if not rows:
            return 0
    try:
        date, wrap = patcher.cell_format(date=ISO_DATE), patcher.cell_format(wrap=True)
        styles: list[int | None] = [date, None, None, None, None, wrap, None]
        if not exists:
            patcher.ensure_table_sheet(sheet, NOTES_HEADERS, NOTES_WIDTHS, styles,
                                       patcher.cell_format(bold=True), NOTES_TABLE_STYLE)
        patcher.append_rows(sheet, rows, styles)
    except WritebackError as exc:
        conflicts.append(exc.problem)
        return 0
    return len(rows)


__all__ = ["NOTES_HEADERS", "SHEET_NAMES", "append_notes", "choose_sheet", "is_notes_header"]

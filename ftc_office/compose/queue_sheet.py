"""The queue-move workbook attached to a queue-move request (deterministic bytes).

Made for the assignment team to work in: rows sorted by customer, the request's columns
then *Moved On* (a validated date) and *Moved By* for them to fill, one Excel table with a
frozen header, wrapped text, widths that fit the content, a font name on every cell,
landscape and one page wide when printed. The request's ledger key travels in the custom
document property ``FtcRequestKey`` so a returned copy is recognised
(:mod:`ftc_office.run.returned` reads it back).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ftc_office.compose.queue_xlsx import (
    DATE,
    INPUT,
    INPUT_DATE,
    KEY_PROPERTY,
    SHEET_TITLE,
    TEXT,
    CellValue,
    QueueBook,
    queue_book_xlsx,
)
from ftc_office.rendering.word import strip_control
from ftc_office.xlsx.cells import UNSTORABLE_RE, col_letter

__all__ = ["KEY_PROPERTY", "MOVED_BY", "MOVED_ON", "SHEET_TITLE", "XLSX_MIME", "queue_rows_xlsx"]

XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MOVED_ON, MOVED_BY = "Moved On", "Moved By"
FONT_NAME = "Calibri"  # every cell's font (queue_xlsx writes it)
#: (header, row key or None for a column the assignment team fills, maximum width)
COLUMNS: tuple[tuple[str, str | None, int], ...] = (
    ("Tenant ID", "tenant_id", 38), ("Customer", "customer", 32),
    ("Target Queue", "queue", 26), ("FM", "fm", 30), ("Workloads", "workloads", 36),
    ("Disengaged", "disengaged", 12), ("Next Action Date", "next_action_date", 12),
    (MOVED_ON, None, 12), (MOVED_BY, None, 24))


def _safe(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    # control characters, lone surrogates, U+FFFE and U+FFFF cannot be stored in a worksheet:
    # drop them, as the Word attachments do
    value = UNSTORABLE_RE.sub("", strip_control(value))
    # a text value must never become a formula in the assignment team's workbook
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def _width(title: str, values: list[Any], cap: int) -> float:
    """Fits the longest value (a date is 10 wide), at least the header plus its filter
    button, at most ``cap`` (longer text wraps)."""
    longest = max([len(v.isoformat()) if isinstance(v, dt.date) else len(str(v))
                   for v in values if v is not None] or [0])
    return float(min(max(longest + 2, len(title) + 4, 10), max(cap, len(title) + 4)))


def _lines(row: dict[str, Any], widths: Sequence[float]) -> int:
    """Lines a wrapped row needs (readers other than Excel do not size rows themselves)."""
    need = 1
    for (_title, field, _cap), width in zip(COLUMNS, widths, strict=True):
        text = str(row.get(field) or "") if field else ""
        room = int(width or 10) - 1
        lines, used = 1, 0
        for word in text.split():
            if used and used + 1 + len(word) > room:
                lines, used = lines + 1, 0
            used += len(word) + (1 if used else 0)
        need = max(need, lines)
    return need


def _sorted(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (str(r.get("customer") or "").casefold(),
                                       str(r.get("tenant_id") or "").casefold()))


def _cells(row: dict[str, Any]) -> list[tuple[CellValue, str]]:
    """A data row's cells: the value, and its look (by column, and whether it is a date)."""
    out: list[tuple[CellValue, str]] = []
    for title, field, _cap in COLUMNS:
        if field is None:
            out.append((None, INPUT_DATE if title == MOVED_ON else INPUT))
            continue
        value = row.get(field)
        out.append((_safe(value), DATE if isinstance(value, dt.date) else TEXT))
    return out


def queue_rows_xlsx(rows: Sequence[dict[str, Any]], as_of: dt.date, key: str = "") -> bytes:
    """One sheet, one Excel table: the request's rows sorted by customer, plus the columns
    the assignment team fills. ``key`` (the request's ledger key) goes into a custom
    document property."""
    ordered = _sorted(rows)
    titles = [t for t, _f, _c in COLUMNS]
    widths = [_width(title, [r.get(field) for r in ordered] if field else [], cap)
              for title, field, cap in COLUMNS]
    return queue_book_xlsx(QueueBook(
        titles=titles, rows=[_cells(r) for r in ordered],
        widths=widths, heights=[15.0 * _lines(r, widths) for r in ordered],
        validated=col_letter(titles.index(MOVED_ON) + 1) if MOVED_ON in titles else None,
        as_of=as_of, key=key))

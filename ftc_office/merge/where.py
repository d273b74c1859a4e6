"""``--where`` filters: which data rows a merge sends to.

``COLUMN=VALUE`` and ``COLUMN!=VALUE`` compare text ignoring case and surrounding spaces
(``COLUMN=`` is "empty", ``COLUMN!=`` "not empty"); ``COLUMN<DATE``, ``COLUMN<=DATE``,
``COLUMN>DATE`` and ``COLUMN>=DATE`` compare dates (``2026-12-01``, or ``today``). Every
filter must hold (they combine with "and"). An unknown column is an error naming the filter.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from ftc_office.errors import UsageError
from ftc_office.merge.data import DataRow, MergeData, MergeError

_FILTER = re.compile(r"^\s*(?P<col>[^=!<>]+?)\s*(?P<op>!=|<=|>=|=|<|>)\s*(?P<value>.*?)\s*$",
                     re.S)
DATE_OPS = ("<", "<=", ">", ">=")


@dataclass(frozen=True)
class Where:
    """One parsed ``--where`` filter."""

    text: str
    column: str
    op: str
    value: str
    date: dt.date | None = None


def parse_where(text: str, today: dt.date) -> Where:
    """Parse ``COLUMN=VALUE`` (or ``!=``, ``<``, ``<=``, ``>``, ``>=``)."""
    m = _FILTER.match(text)
    if not m:
        raise UsageError(f"--where {text!r}", "not a filter",
                         "write COLUMN=VALUE, COLUMN!=VALUE, COLUMN= (empty), COLUMN!= "
                         "(not empty), COLUMN<2026-12-01 or COLUMN>2026-12-01")
    col, op, value = m["col"], m["op"], m["value"]
    date = None
    if op in DATE_OPS:
        try:
            date = today if value.lower() == "today" else dt.date.fromisoformat(value)
        except ValueError:
            raise UsageError(f"--where {text!r}", f"{value!r} is not a date",
                             "write the date as YYYY-MM-DD (or today)") from None
    return Where(text, col, op, value, date)


def resolve(filters: list[Where], data: MergeData) -> list[tuple[Where, str]]:
    """Each filter with the header it names; an unknown column stops the merge."""
    out = []
    for f in filters:
        try:
            out.append((f, data.column(f.column, f"--where {f.text!r}: the column")))
        except MergeError as exc:
            raise UsageError(f"--where {f.text!r}", f"no column {f.column!r} in {data.path}, "
                             f"sheet {data.sheet}", exc.fix) from None
    return out


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.datetime.fromisoformat(str(value).strip()).date()
    except ValueError:
        return None


def matches(filters: list[tuple[Where, str]], data: MergeData, row: DataRow) -> bool:
    """Whether the row passes every filter. A value that is not a date under a date filter
    stops the merge, naming its cell."""
    for f, header in filters:
        value = row.values.get(header, "")
        if f.date is None:
            text = str(value).strip().casefold()
            if (text == f.value.strip().casefold()) != (f.op == "="):
                return False
            continue
        if value == "":
            return False
        day = _as_date(value)
        if day is None:
            raise MergeError(data.where(row.cells[header]), f"{value!r} is not a date, which "
                             f"--where {f.text!r} compares", "put a date in the cell or "
                             "drop the filter")
        ok = {"<": day < f.date, "<=": day <= f.date, ">": day > f.date,
              ">=": day >= f.date}[f.op]
        if not ok:
            return False
    return True

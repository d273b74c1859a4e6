"""The cells a write-back changed: every sheet of two workbooks compared value by value.

Used by the simulation: the real tracker against the copy the simulated run stamped, so
`preview` and the dry run list exactly the cells the real run would change (old → new),
including the Notes sheet's new rows and any added column.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from ftc_office.xlsx.cells import col_letter


@dataclass(frozen=True)
class CellChange:
    """One cell the run would change."""

    tracker: str
    sheet: str
    ref: str
    old: Any
    new: Any

    def __str__(self) -> str:
        return f"{self.sheet}!{self.ref}: {show(self.old)} → {show(self.new)}"


def show(value: Any) -> str:
    """A cell value as a person reads it: dates as YYYY-MM-DD, empty as (empty)."""
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _sheets(path: Path) -> dict[str, list[list[Any]]]:
    if not path.is_file():
        return {}
    wb = CalamineWorkbook.from_path(str(path))
    return {name: wb.get_sheet_by_name(name).to_python(skip_empty_area=False)
            for name in wb.sheet_names}


def changed_cells(before: Path, after: Path) -> list[CellChange]:
    """Every cell whose value differs between the two workbooks (sheet order, then rows)."""
    old, new = _sheets(before), _sheets(after)
    out: list[CellChange] = []
    for name, rows in new.items():
        was = old.get(name, [])
        for r in range(max(len(rows), len(was))):
            a = was[r] if r < len(was) else []
            b = rows[r] if r < len(rows) else []
            for c in range(max(len(a), len(b))):
                x = a[c] if c < len(a) else ""
                y = b[c] if c < len(b) else ""
                if x != y:
                    out.append(CellChange(str(before), name, f"{col_letter(c + 1)}{r + 1}", x, y))
    return out

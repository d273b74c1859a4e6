"""The data of a merge: the first sheet (or ``--sheet``) of a workbook, or a CSV file.

The header is the first row with any text; every non-empty row below it is one data row,
with each value's cell (``Sheet!B7``) kept for messages. Column headers become variable
names (``First Name`` → ``first_name``).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from ftc_office.errors import FtcError
from ftc_office.xlsx.cells import col_letter
from ftc_office.xlsx.limits import check_extent, check_package

TO_COLUMN_GUESSES = ("email", "e_mail", "email_address", "mail", "to")
RESERVED = ("row",)


class MergeError(FtcError):
    """The merge template or its data cannot be used (nothing is written or sent)."""


@dataclass(frozen=True)
class DataRow:
    """One data row: its sheet row number, values by header, and each value's cell."""

    number: int
    values: dict[str, Any]
    cells: dict[str, str]


@dataclass
class MergeData:
    """The rows of the data sheet, with their headers and variable names."""

    path: Path
    sheet: str
    headers: list[str]
    names: dict[str, str]  # header → variable name
    rows: list[DataRow]
    header_row: int = 1
    letters: dict[str, str] = field(default_factory=dict)  # header → column letter

    def where(self, cell: str) -> str:
        """``FILE, Sheet!CELL`` for messages."""
        return f"{self.path}, {self.sheet}!{cell}"

    def column(self, wanted: str | None, option: str = "--to-column") -> str:
        """The header named ``wanted`` (case and spacing ignored, or its variable name);
        without ``wanted``, the recipients column guessed from common names."""
        if wanted:
            key = identifier(wanted)
            for h in self.headers:
                if h.strip().casefold() == wanted.strip().casefold() or self.names[h] == key:
                    return h
            raise MergeError(f"{self.path}, sheet {self.sheet}", f"no column {wanted!r}",
                             f"{option} must be one of: " + ", ".join(map(repr, self.headers)))
        for guess in TO_COLUMN_GUESSES:
            for h in self.headers:
                if self.names[h] == guess:
                    return h
        raise MergeError(f"{self.path}, sheet {self.sheet}",
                         "no recipients column (looked for Email, E-mail, To)",
                         "name it with --to-column; the columns are: "
                         + ", ".join(map(repr, self.headers)))


def identifier(header: str) -> str:
    """``First Name`` → ``first_name``; ``Prénom`` → ``prenom``; ``2026 Goal`` → ``_2026_goal``."""
    text = unicodedata.normalize("NFKD", header)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    name = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    if name[:1].isdigit():
        name = "_" + name
    return name


def _cell_value(value: Any) -> Any:
    """Calamine values as templates want them: whole floats as ints, midnight as a date."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    if isinstance(value, str):
        return value.strip()
    return "" if value is None else value


def read_data(path: Path, sheet: str | None = None, header_row: int | None = None
              ) -> MergeData:
    """Read the data sheet: header on the first row with any text (or on ``header_row``,
    1-based, as a tracker's reader found it), then one row per message."""
    if path.suffix.lower() == ".csv":
        if sheet:
            raise MergeError(str(path), "a CSV file has no sheets", "leave out --sheet")
        grid, name = _read_csv(path), path.stem
    else:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            check_package(path)  # zip bombs, encrypted files, DTDs: as for trackers
        else:
            _exists(path)
        grid, name = _read_workbook(path, sheet)
    if header_row is not None and header_row <= len(grid):
        return _table(path, name, grid, header_row - 1)
    for r, values in enumerate(grid):
        if any(isinstance(v, str) and v.strip() for v in values):
            return _table(path, name, grid, r)
    raise MergeError(f"{path}, sheet {name}", "the sheet has no header row (no text at all)",
                     "put the column names on the first row, e.g. Email, First Name")


def _exists(path: Path) -> None:
    if not path.is_file():
        raise MergeError(str(path), "data file not found",
                         "check the path (quote it if it has spaces)")


def _read_csv(path: Path) -> list[list[Any]]:
    _exists(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MergeError(str(path), "the CSV file is not UTF-8 text",
                         "save it as 'CSV UTF-8' in Excel") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(r) for r in csv.reader(text.splitlines(), dialect)]


def _read_workbook(path: Path, sheet: str | None) -> tuple[list[list[Any]], str]:
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:
        raise MergeError(str(path), f"not a workbook python-calamine can read "
                         f"({type(exc).__name__})",
                         "give an .xlsx, .xlsm, .xls, .ods or .csv file") from None
    try:
        names = list(wb.sheet_names)
        name = sheet or names[0]
        if name not in names:
            raise MergeError(str(path), f"no sheet named {sheet!r}",
                             "--sheet must be one of: " + ", ".join(map(repr, names)))
        sh = wb.get_sheet_by_name(name)
        check_extent(sh.end, f"{path}, sheet {name}", MergeError)
        return sh.to_python(skip_empty_area=False), name
    except FtcError:
        raise
    except Exception as exc:
        raise MergeError(str(path), f"the workbook cannot be read ({type(exc).__name__}: "
                         f"{exc})", "open it in Excel and save it again") from None
    finally:
        wb.close()


def _table(path: Path, sheet: str, grid: list[list[Any]], header_r: int) -> MergeData:
    header = grid[header_r]
    cols: list[tuple[int, str]] = []
    names: dict[str, str] = {}
    seen: dict[str, str] = {}  # variable → cell of its first header
    for c, value in enumerate(header):
        text = str(_cell_value(value)).strip()
        if not text:
            continue
        cell = f"{col_letter(c + 1)}{header_r + 1}"
        var = identifier(text) or f"column_{col_letter(c + 1).lower()}"
        if var in RESERVED:
            raise MergeError(f"{path}, {sheet}!{cell}", f"the column name {text!r} is "
                             f"reserved (the variable '{var}' holds the whole row)",
                             "rename the column")
        if var in seen:
            raise MergeError(f"{path}, {sheet}!{cell}", f"column {text!r} has the same "
                             f"variable name '{var}' as the column at {seen[var]}",
                             "rename one of the two columns")
        seen[var] = cell
        cols.append((c, text))
        names[text] = var
    rows = []
    for r in range(header_r + 1, len(grid)):
        line = grid[r]
        values: dict[str, Any] = {}
        cells: dict[str, str] = {}
        for c, text in cols:
            values[text] = _cell_value(line[c]) if c < len(line) else ""
            cells[text] = f"{col_letter(c + 1)}{r + 1}"
        if any(v != "" for v in values.values()):
            rows.append(DataRow(r + 1, values, cells))
    return MergeData(path, sheet, [t for _c, t in cols], names, rows, header_r + 1,
                     {t: col_letter(c + 1) for c, t in cols})



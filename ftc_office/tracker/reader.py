"""Reading a tracker workbook into located rows: every value keeps its cell reference.

The file is checked before any parser sees it (extension, signature, zip sanity, no DTDs),
then read with python-calamine (fast, returns cached formula values). The sheet is the
configured one or the first whose header row has a Tenant ID column (the ``Notes`` sheet that
write-back keeps is skipped); the header row is the first of the top rows that holds one.
Anything that goes wrong while reading becomes one :class:`~ftc_office.errors.TrackerError`
naming the file — never a traceback.
"""

from __future__ import annotations

import functools
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from ftc_office.errors import TrackerError
from ftc_office.fields import FIELDS, header_index, is_notes_header, normalise_header

MAX_UNCOMPRESSED = 400 * 1024 * 1024  # bytes, all parts together
MAX_RATIO = 200  # a part that inflates more than this is treated as a zip bomb
# calamine holds a sheet as a dense grid (~32 bytes a cell) and cannot refuse one itself: a
# single stray cell at XFD1048576 makes it abort the process; one at Z1048576 cost 1.1 GB.
MAX_CELLS = 5_000_000
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
READABLE = (".xlsx", ".xlsm")


@dataclass(frozen=True)
class RawRow:
    """One data row: the sheet row number and each mapped field's (value, cell ref)."""

    number: int
    cells: dict[str, tuple[Any, str]]


@dataclass(frozen=True)
class SheetRead:
    """What was read from one tracker sheet."""

    path: Path
    sheet: str
    header_row: int
    columns: dict[str, int]  # field -> 0-based column index
    headers: dict[str, str]  # field -> header text as found
    last_column: int  # 0-based index of the last non-empty header cell
    rows: list[RawRow]

    def where(self, ref: str | None = None) -> str:
        """``FILE, Sheet!REF`` for messages."""
        return f"{self.path}, {self.sheet}!{ref}" if ref else f"{self.path}, sheet {self.sheet}"


@functools.lru_cache(maxsize=1024)
def column_letter(index: int) -> str:
    """0-based column index → Excel letters (0 → A, 26 → AA)."""
    letters = ""
    n = index + 1
    while n:
        n, rem = divmod(n - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def check_package(path: Path) -> None:
    """Refuse anything that is not a sane .xlsx/.xlsm package, with one clear message."""
    where = str(path)
    if not path.exists():
        raise TrackerError(where, "file not found", "check the path (quote it if it has spaces)")
    if path.is_dir():
        raise TrackerError(where, "this is a folder, not a workbook",
                           "give the .xlsx file, or a glob such as 'trackers/*.xlsx'")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise TrackerError(where, "old Excel 97-2003 (.xls) workbooks are not supported",
                           "open it in Excel and save it as .xlsx (File → Save As)")
    if suffix == ".csv":
        raise TrackerError(where, "CSV files are not trackers",
                           "keep the tracker as an .xlsx workbook (CSV loses types and sheets)")
    if suffix not in READABLE:
        raise TrackerError(where, f"'{suffix or path.name}' is not an Excel workbook",
                           "give an .xlsx or .xlsm file")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise TrackerError(where, f"cannot be opened ({exc.strerror or exc})",
                           "check that it exists and that you may read it") from None
    if head.startswith(OLE_MAGIC):
        raise TrackerError(where, "the workbook is password-protected (encrypted)",
                           "save an unprotected copy in Excel (File → Info → Protect Workbook)")
    if not head.startswith(b"PK"):
        raise TrackerError(where, "not a valid .xlsx file (not a zip package)",
                           "open it in Excel and save it again as .xlsx")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            names = {i.filename for i in infos}
            if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
                raise TrackerError(where, "the package has no workbook part",
                                   "open it in Excel and save it again as .xlsx")
            total = 0
            for info in infos:
                total += info.file_size
                if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(
                        info.compress_size, 1):
                    raise TrackerError(where, f"part {info.filename} inflates "
                                       f"{info.file_size // max(info.compress_size, 1)}x "
                                       "(a zip bomb?)", "do not process this file")
            if total > MAX_UNCOMPRESSED:
                raise TrackerError(where, f"the workbook unpacks to {total // 2**20} MB",
                                   "split the tracker; trackers are expected below 400 MB")
            for info in infos:
                if info.filename.endswith((".xml", ".rels")) and info.file_size:
                    with zf.open(info) as part:
                        start = part.read(2048)
                    if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                        raise TrackerError(where, f"part {info.filename} declares a DTD "
                                           "(Excel never writes one; an XML bomb?)",
                                           "do not process this file")
            for info in infos:
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    rows, cols = _part_extent(zf, info)
                    if rows * cols > MAX_CELLS:
                        raise TrackerError(where, f"sheet {_sheet_name(zf, info.filename)!r} "
                                           f"spans {rows} rows × {cols} columns",
                                           "delete the empty rows and columns below and right "
                                           "of the data (Ctrl+End shows the last used cell)")
    except TrackerError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, OSError, NotImplementedError…
        raise TrackerError(where, f"the workbook is damaged ({_kind(exc)})",
                           "open it in Excel (it may offer a repair) and save it again") from None


# ``r`` attributes of cells (letters + digits) and of rows far down (digits only).
# ``r`` attributes of cells (letters + digits) and rows (digits). The quick pass looks only at
# columns past Z and rows past 99,999, which a normal tracker barely has.
_CELL_REF = re.compile(rb'\sr="([A-Za-z]+)([0-9]+)"')
_ANY_ROW = re.compile(rb'\sr="[A-Za-z]*([0-9]+)"')
_WIDE_COL = re.compile(rb'\sr="([A-Za-z]{2,})[0-9]')
_FAR_ROW = re.compile(rb'\sr="[A-Za-z]*([0-9]{6,})"')


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters.upper():
        n = n * 26 + ch - 64
    return n


def _part_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """(rows, columns) that a worksheet part's references reach; an upper bound when it is
    far below MAX_CELLS, exact otherwise (streamed: ~5 ms per MB of sheet XML)."""
    rows, cols = _scan_part(zf, info, exact=False)
    if rows * cols <= MAX_CELLS:
        return rows, cols
    return _scan_part(zf, info, exact=True)


def _scan_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, exact: bool) -> tuple[int, int]:
    max_r, max_c = (0, 0) if exact else (99_999, 26)
    tail = b""
    with zf.open(info) as part:
        while True:
            chunk = part.read(1 << 20)
            data = tail + chunk
            cut = data.rfind(b"<") if chunk else len(data)
            body, tail = (data[:cut], data[cut:]) if cut > 0 else (data, b"")
            rows = (_ANY_ROW if exact else _FAR_ROW).findall(body)
            if rows:
                max_r = max(max_r, *map(int, rows))
            cols = {c for c, _ in _CELL_REF.findall(body)} if exact else set(
                _WIDE_COL.findall(body))
            if cols:
                max_c = max(max_c, *map(_column_number, cols))
            if not chunk:
                return max_r, max_c


def _sheet_name(zf: zipfile.ZipFile, part: str) -> str:
    """The sheet name of a worksheet part (best effort: the part name when not found)."""
    try:
        rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
        book = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    except Exception:
        return part
    target = part.removeprefix("xl/")
    for rel in re.findall(r"<(?:[\w.-]+:)?Relationship\b[^>]*>", rels):
        tgt = re.search(r'\bTarget="([^"]*)"', rel)
        rid = re.search(r'\bId="([^"]*)"', rel)
        if tgt and rid and tgt[1].lstrip("/").removeprefix("xl/") == target:
            for sheet in re.findall(r"<(?:[\w.-]+:)?sheet\b[^>]*>", book):
                name = re.search(r'\bname="([^"]*)"', sheet)
                if name and re.search(rf'\b(?:[\w.-]+:)?id="{re.escape(rid[1])}"', sheet):
                    return name[1]
    return part


def read_sheet(path: Path, sheet: str = "", max_header_row: int = 30,
               header_overrides: dict[str, str] | None = None) -> SheetRead:
    """Read the tracker sheet of ``path`` into located rows."""
    check_package(path)
    index = header_index(header_overrides or {})
    try:
        wb = CalamineWorkbook.from_path(str(path))
        try:
            names = list(wb.sheet_names)
            if sheet:
                if sheet not in names:
                    raise TrackerError(str(path), f"no sheet named {sheet!r}",
                                       f"use one of: {', '.join(names)} (tracker.sheet in the "
                                       "config or --sheet)")
                candidates = [sheet]
            else:
                candidates = names
            for name in candidates:
                grid = _grid(wb, name, path)
                if not sheet and grid and is_notes_header(grid[0]):
                    continue  # our own note history (Tenant ID column too), never the tracker
                found = _find_header(grid, index, max_header_row)
                if found is not None:
                    return _rows(path, name, grid, found, index)
                if sheet:
                    break
        finally:
            wb.close()
    except TrackerError:
        raise
    except Exception as exc:
        raise TrackerError(str(path), f"the workbook cannot be read ({_kind(exc)})",
                           "open it in Excel and save it again as .xlsx") from None
    tid = FIELDS["tenant_id"]
    raise TrackerError(str(path), f"no sheet has a '{tid.header}' column in its first "
                       f"{max_header_row} rows",
                       f"add a header cell '{tid.header}' (or {', '.join(tid.aliases)}), "
                       "or set tracker.headers.tenant_id in ftc-office.toml")


def _grid(wb: CalamineWorkbook, name: str, path: Path) -> list[list[Any]]:
    sh = wb.get_sheet_by_name(name)
    end = sh.end
    if end is not None and (end[0] + 1) * (end[1] + 1) > MAX_CELLS:
        raise TrackerError(f"{path}, sheet {name}",
                           f"the sheet spans {end[0] + 1} rows × {end[1] + 1} columns",
                           "delete the empty rows and columns below and right of the data")
    return sh.to_python(skip_empty_area=False)


def _find_header(grid: list[list[Any]], index: dict[str, str], limit: int
                 ) -> tuple[int, dict[str, int], dict[str, str], int] | None:
    for r, row in enumerate(grid[:limit]):
        mapped: dict[str, int] = {}
        texts: dict[str, str] = {}
        last = -1
        for c, value in enumerate(row):
            if value is None or value == "":
                continue
            last = c
            if not isinstance(value, str):
                continue
            name = index.get(normalise_header(value))
            if name and name not in mapped:
                mapped[name] = c
                texts[name] = value.strip()
        if "tenant_id" in mapped:
            return r, mapped, texts, last
    return None


def _rows(path: Path, sheet: str, grid: list[list[Any]],
          found: tuple[int, dict[str, int], dict[str, str], int],
          index: dict[str, str]) -> SheetRead:
    header_r, columns, texts, last = found
    header = grid[header_r]
    missing = [FIELDS[n] for n in FIELDS if FIELDS[n].required and n not in columns]
    where = f"{path}, {sheet}!{header_r + 1}:{header_r + 1}"
    dupes = _duplicate_headers(header, index, columns)
    if dupes:
        raise TrackerError(where, "duplicate columns: " + "; ".join(dupes),
                           "rename or delete one of each pair")
    if missing:
        names = ", ".join(f"'{f.header}'" for f in missing)
        raise TrackerError(where, f"required column{'s' if len(missing) > 1 else ''} "
                           f"missing: {names}",
                           "add the column to the header row (aliases are listed in the "
                           "README), or map it with [tracker.headers] in ftc-office.toml")
    letters = {name: column_letter(c) for name, c in columns.items()}
    rows = list(_data_rows(grid, header_r, columns, letters))
    return SheetRead(path, sheet, header_r + 1, columns, texts, last, rows)


def _duplicate_headers(header: list[Any], index: dict[str, str], columns: dict[str, int]
                       ) -> list[str]:
    out = []
    for c, value in enumerate(header):
        if isinstance(value, str):
            name = index.get(normalise_header(value))
            if name and columns.get(name) != c:
                first = columns[name]
                out.append(f"{column_letter(first)} and {column_letter(c)} are both "
                           f"'{FIELDS[name].header}'")
    return out


def _data_rows(grid: list[list[Any]], header_r: int, columns: dict[str, int],
               letters: dict[str, str]) -> Iterator[RawRow]:
    for r in range(header_r + 1, len(grid)):
        row = grid[r]
        cells: dict[str, tuple[Any, str]] = {}
        for name, c in columns.items():
            value = row[c] if c < len(row) else ""
            if isinstance(value, str):
                value = value.strip()
            if value is not None and value != "":
                cells[name] = (value, f"{letters[name]}{r + 1}")
        if cells:
            yield RawRow(r + 1, cells)


def _kind(exc: BaseException) -> str:
    """``BadZipFile``, ``zlib.error``: the exception's name, qualified when it is bare."""
    name = type(exc).__name__
    if name == "error":
        return f"{type(exc).__module__}.error"
    return name

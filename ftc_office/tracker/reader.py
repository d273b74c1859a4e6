"""Reading a tracker workbook into located rows: every value keeps its cell reference.

The file is checked before any parser sees it (`ftc_office.xlsx.limits.check_package`),
then read with python-calamine (fast, returns cached formula values). The sheet is the
configured one or the first whose header row has a Tenant ID column (the ``Notes`` sheet that
write-back keeps is skipped); the header row is the first of the top rows that holds one.
Totals rows are not data: an Excel table's totals row (``totalsRowCount``, labelled or not)
and a row labelled Total (without a Tenant ID, or with the label in its place) are skipped.
Anything that goes wrong while reading becomes one :class:`~ftc_office.errors.TrackerError`
naming the file — never a traceback.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from python_calamine import CalamineWorkbook

from ftc_office.errors import TrackerError, exception_kind
from ftc_office.fields import FIELDS, header_index, is_notes_header, normalise_header
from ftc_office.tracker.near import near_miss_headers, rename_fix, unmapped_outputs
from ftc_office.xlsx.cells import col_letter
from ftc_office.xlsx.limits import check_extent, check_package


@dataclass(frozen=True, slots=True)
class RawRow:
    """One data row: the sheet row number and each mapped field's value (text stripped; an
    empty cell has no entry), in FIELD_LIST order. A value's cell is
    ``SheetRead.ref(field, number)``."""

    number: int
    values: dict[str, Any]


@dataclass(frozen=True)
class SheetRead:
    """What was read from one tracker sheet."""

    path: Path
    sheet: str
    header_row: int
    columns: dict[str, int]  # field -> 0-based column index
    headers: dict[str, str]  # field -> header text as found
    rows: list[RawRow]
    #: cells the reader sees as blank that hold an Excel error ("#N/A") or an uncalculated
    #: formula (""), by reference
    errors: dict[str, str] = field(default_factory=dict)

    def where(self, ref: str | None = None) -> str:
        """``FILE, Sheet!REF`` for messages."""
        return f"{self.path}, {self.sheet}!{ref}" if ref else f"{self.path}, sheet {self.sheet}"

    def letter(self, name: str) -> str:
        """The column letter of a mapped field ("?" for a field without a column)."""
        c = self.columns.get(name)
        return col_letter(c + 1) if c is not None else "?"

    def ref(self, name: str, row: int) -> str:
        """The cell of a field in a sheet row (``B12``)."""
        return f"{self.letter(name)}{row}"


def read_sheet(path: Path, sheet: str = "", max_header_row: int = 30,
               header_overrides: dict[str, str] | None = None,
               keep: Collection[str] | None = None) -> SheetRead:
    """Read the tracker sheet of ``path`` into located rows; with ``keep``, a row holds only
    those fields (the write-back's: a 10,000-row sheet's other cells are not held).

    python-calamine reads the sheet in a thread (it lets go of the GIL: 0.3 s of a 10,000-row
    sheet) while this one reads what the package adds (`_SheetFacts`) for the sheet it will
    most likely be: the configured one, else the first. A read started by `read_ahead` with
    the same arguments is taken over."""
    overrides = header_overrides or {}
    index = header_index(overrides)
    key = _ahead_key(path, sheet, max_header_row, overrides)
    started = _AHEAD.pop(key, None)
    forget_ahead(path)  # one use; any other read of the file is stale
    if isinstance(started, BaseException):
        raise started
    if started is None:
        check_package(path)
    loading = started or _Loading(path, sheet, index, max_header_row)
    try:
        guess: _SheetFacts | BaseException = _SheetFacts.of(path, sheet or None)
    except Exception as exc:  # said only if calamine reads the sheet (its errors come first)
        guess = exc
    name, grid, found = loading.result()
    try:
        facts = guess if isinstance(guess, _SheetFacts) and guess.sheet == name else \
            _SheetFacts.of(path, name)
        if isinstance(facts, BaseException):
            raise facts
        return facts.applied(_rows(path, name, grid, found, index, overrides, keep))
    except TrackerError:
        raise
    except Exception as exc:
        raise _unreadable(path, exc) from None


#: reads `read_ahead` started, by what they read, until `read_sheet` takes them over
_AHEAD: dict[tuple[Any, ...], _Loading | BaseException] = {}


def read_ahead(path: Path, sheet: str = "", max_header_row: int = 30,
               header_overrides: dict[str, str] | None = None) -> None:
    """Start reading ``path``'s tracker sheet now, in the background, for a `read_sheet` with
    the same arguments to take over: `plan` starts it before it loads the playbook, whose
    imports (~0.04 s) then run while python-calamine reads. The package is checked first,
    here, as `read_sheet` checks it; what the check refuses, `read_sheet` raises."""
    overrides = header_overrides or {}
    key = _ahead_key(path, sheet, max_header_row, overrides)
    if key in _AHEAD:
        return
    try:
        check_package(path)
    except Exception as exc:  # raised where the read is asked for, in its order
        _AHEAD[key] = exc
        return
    _AHEAD[key] = _Loading(path, sheet, header_index(overrides), max_header_row)


def forget_ahead(path: Path) -> None:
    """Let go of the reads of ``path`` that `read_ahead` started and no `read_sheet` will
    take over (its thread ends on its own; what it read is dropped)."""
    for key in [k for k in _AHEAD if k[0] == Path(path)]:
        del _AHEAD[key]


def _ahead_key(path: Path, sheet: str, limit: int, overrides: dict[str, str]
               ) -> tuple[Any, ...]:
    """What a read reads: the file as it is now (a file changed since `read_ahead` is read
    again), the sheet and the header settings."""
    try:
        st = os.stat(path)
        version: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
    except OSError:
        version = None
    return Path(path), version, sheet, limit, tuple(sorted(overrides.items()))


def _unreadable(path: Path, exc: BaseException) -> TrackerError:
    return TrackerError(str(path), f"the workbook cannot be read ({exception_kind(exc)})",
                        "open it in Excel and save it again as .xlsx")


class _Loading:
    """python-calamine finding and reading the tracker sheet in a thread of its own (`_load`);
    `result` waits for it and raises what it raised."""

    def __init__(self, path: Path, sheet: str, index: dict[str, str], limit: int) -> None:
        import threading

        self._out: tuple[str, list[list[Any]], _Found] | BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(path, sheet, index, limit),
                                        name="ftc-office-read", daemon=True)
        self._thread.start()

    def _run(self, path: Path, sheet: str, index: dict[str, str], limit: int) -> None:
        try:
            self._out = _load(path, sheet, index, limit)
        except BaseException as exc:  # handed to the caller's thread
            self._out = exc

    def result(self) -> tuple[str, list[list[Any]], _Found]:
        self._thread.join()
        out = self._out
        if isinstance(out, BaseException) or out is None:
            raise out or RuntimeError("the reading thread ended without a result")
        return out


_Found = tuple[int, dict[str, int], dict[str, str]]


def _load(path: Path, sheet: str, index: dict[str, str], limit: int
          ) -> tuple[str, list[list[Any]], _Found]:
    """The tracker sheet's name, grid and header (`_find_header`), by python-calamine."""
    try:
        wb = CalamineWorkbook.from_path(str(path))
        try:
            names = list(wb.sheet_names)
            if sheet and sheet not in names:
                raise TrackerError(str(path), f"no sheet named {sheet!r}",
                                   f"use one of: {', '.join(names)} (tracker.sheet in the "
                                   "config or --sheet)")
            for name in [sheet] if sheet else names:
                grid = _grid(wb, name, path)
                if not sheet and grid and is_notes_header(grid[0]):
                    continue  # our own note history (Tenant ID column too), never the tracker
                found = _find_header(grid, index, limit)
                if found is not None:
                    return name, grid, found
        finally:
            wb.close()
    except TrackerError:
        raise
    except Exception as exc:
        raise _unreadable(path, exc) from None
    tid = FIELDS["tenant_id"]
    raise TrackerError(str(path), f"no sheet has a '{tid.header}' column in its first "
                       f"{limit} rows",
                       f"add a header cell '{tid.header}' (or {', '.join(tid.aliases)}), "
                       "or set tracker.headers.tenant_id in ftc-office.toml")


def _grid(wb: CalamineWorkbook, name: str, path: Path) -> list[list[Any]]:
    sh = wb.get_sheet_by_name(name)
    check_extent(sh.end, f"{path}, sheet {name}")
    return sh.to_python(skip_empty_area=False)


def _find_header(grid: list[list[Any]], index: dict[str, str], limit: int
                 ) -> tuple[int, dict[str, int], dict[str, str]] | None:
    for r, row in enumerate(grid[:limit]):
        mapped: dict[str, int] = {}
        texts: dict[str, str] = {}
        for c, value in enumerate(row):
            if not isinstance(value, str) or value == "":
                continue
            name = index.get(normalise_header(value))
            if name and name not in mapped:
                mapped[name] = c
                texts[name] = value.strip()
        if "tenant_id" in mapped:
            return r, mapped, texts
    return None


def _rows(path: Path, sheet: str, grid: list[list[Any]],
          found: tuple[int, dict[str, int], dict[str, str]],
          index: dict[str, str], overrides: dict[str, str],
          keep: Collection[str] | None = None) -> SheetRead:
    header_r, columns, texts = found
    header = grid[header_r]
    missing = [FIELDS[n] for n in FIELDS if FIELDS[n].required and n not in columns]
    where = f"{path}, {sheet}!{header_r + 1}:{header_r + 1}"
    dupes = _duplicate_headers(header, index, columns)
    if dupes:
        raise TrackerError(where, "duplicate columns: " + "; ".join(dupes),
                           "rename or delete one of each pair")
    near = near_miss_headers(header, header_r, index, overrides,
                             [f.name for f in missing] or unmapped_outputs(columns, overrides))
    if missing:
        names = ", ".join(f"'{f.header}'" for f in missing)
        raise TrackerError(where, f"required column{'s' if len(missing) > 1 else ''} "
                           f"missing: {names}" + "".join(f"; {n}" for n in near),
                           rename_fix(near) if near else "add the column to the header row "
                           "(aliases are listed in the README), or map it with "
                           "[tracker.headers] in ftc-office.toml")
    if near:
        raise TrackerError(f"{path}, {sheet}!{near[0].ref}" if len(near) == 1 else where,
                           "; ".join(map(str, near)) + ", an output column ftc-office writes "
                           "(a run would add a second one)", rename_fix(near, output=True))
    rows = list(_data_rows(grid, header_r, columns, keep))
    return SheetRead(path, sheet, header_r + 1, columns, texts, rows)


def _duplicate_headers(header: list[Any], index: dict[str, str], columns: dict[str, int]
                       ) -> list[str]:
    out = []
    for c, value in enumerate(header):
        if isinstance(value, str):
            name = index.get(normalise_header(value))
            if name and columns.get(name) != c:
                first = columns[name]
                out.append(f"{col_letter(first + 1)} and {col_letter(c + 1)} are both "
                           f"'{FIELDS[name].header}'")
    return out


def _data_rows(grid: list[list[Any]], header_r: int, columns: dict[str, int],
               keep: Collection[str] | None = None) -> Iterator[RawRow]:
    mapped = [(name, columns[name]) for name in FIELDS  # FIELD_LIST order
              if name in columns and (keep is None or name in keep or name == "tenant_id")]
    for r in range(header_r + 1, len(grid)):
        row = grid[r]
        width = len(row)
        values: dict[str, Any] = {}
        for name, c in mapped:
            value = row[c] if c < width else ""
            if type(value) is str:
                if value and (value[0].isspace() or value[-1].isspace()):
                    value = value.strip()
                if not value:
                    continue
            elif value is None or value == "":
                continue
            values[name] = value
        tid = values.get("tenant_id")
        if values and not ((tid is None or _is_total_label(tid)) and
                           any(map(_is_total_label, row))):
            yield RawRow(r + 1, values)


def _is_total_label(value: Any) -> bool:
    """Whether a cell labels a totals row (Total, Totals, Grand Total): such a row without a
    Tenant ID, or with the label in the Tenant ID column, is read as no tenant."""
    return isinstance(value, str) and value.strip().casefold() in ("total", "totals",
                                                                   "grand total")


_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\br="([A-Z]+)([0-9]+)"')
_VALUE = re.compile(rb"<v>([^<]*)</v>")
# what can make a cell an error or a formula: found with the literal-prefix search (a
# regex over every cell of a 10,000-row sheet took 1.2 s; this takes milliseconds)
_MARKS = (b't="e"', b"<f")


def _marked_cells(data: bytes) -> Iterator[re.Match[bytes]]:
    """The ``<c>`` elements (as `_CELL` matches, in document order, each once) that hold a
    ``t="e"`` or an ``<f``: each mark is found with ``bytes.find`` and its cell by looking
    back for the ``<c`` that opens it, so the sheet's other cells cost nothing."""
    cells: dict[int, re.Match[bytes]] = {}
    for mark in _MARKS:
        at = data.find(mark)
        while at != -1:
            m = _cell_at(data, at)
            if m is not None:
                cells[m.start()] = m
            at = data.find(mark, at + 1)
    for start in sorted(cells):
        yield cells[start]


def _cell_at(data: bytes, at: int) -> re.Match[bytes] | None:
    """The ``<c>`` element holding position `at`, or None (a mark outside any cell:
    conditional formats, data validations, a ``<family>`` in rich text)."""
    start = data.rfind(b"<c", 0, at + 1)
    while start != -1:
        m = _CELL.match(data, start)
        if m is not None:  # a cell (<col>, <cfRule>, <charset> do not match)
            return m if m.end() > at else None
        start = data.rfind(b"<c", 0, start)
    return None


@dataclass(frozen=True)
class _SheetFacts:
    """What the package says of a sheet that calamine does not: its tables' totals rows (a
    totals row is no tenant, labelled or not), and its error and uncalculated-formula cells
    (calamine reads both as blank) as (column letters, row, error text or None for a
    formula cell without a cached value)."""

    sheet: str
    totals: set[int]
    marked: list[tuple[bytes, int, str | None]]

    @classmethod
    def of(cls, path: Path, sheet: str | None) -> _SheetFacts:
        """The facts of `sheet` (None: the workbook's first sheet)."""
        from ftc_office.xlsx.tables import totals_rows
        from ftc_office.xlsx.workbook import WorkbookPackage
        pkg = WorkbookPackage(path)
        name = next(iter(pkg.sheet_parts), "") if sheet is None else sheet
        totals = totals_rows(pkg, name)
        part = pkg.zip.find(pkg.sheet_parts.get(name, ""))
        marked: list[tuple[bytes, int, str | None]] = []
        if part is None:
            return cls(name, totals, marked)
        with pkg.zip.open(part) as stream:  # 1 MB at a time: calamine reads beside it
            tail = b""
            while True:
                chunk = stream.read(1 << 20)
                data = tail + chunk
                cut = data.rfind(b"<row") if chunk else len(data)  # no cell spans rows
                body, tail = (data[:cut], data[cut:]) if cut > 0 else (b"", data)
                if any(mark in body for mark in _MARKS):
                    marked.extend(_marks_of(body))
                if not chunk:
                    return cls(name, totals, marked)

    def applied(self, read: SheetRead) -> SheetRead:
        """`read` without the totals rows, with the error cells of its columns below its
        header (a formula in an output column is the write-back's business: kept, reported
        there)."""
        totals = self.totals
        if totals:
            read = dataclasses.replace(read, rows=[r for r in read.rows
                                                   if r.number not in totals])
        letters = {col_letter(c + 1).encode() for c in read.columns.values()}
        outputs = {col_letter(c + 1).encode() for f, c in read.columns.items()
                   if f in FIELDS and FIELDS[f].output}
        errors: dict[str, str] = {}
        for col, row, error in self.marked:
            if col not in letters or row <= read.header_row or row in totals or (
                    error is None and col in outputs):
                continue
            errors[f"{col.decode()}{row}"] = error or ""
        return dataclasses.replace(read, errors=errors) if errors else read


def _marks_of(data: bytes) -> Iterator[tuple[bytes, int, str | None]]:
    """The error cells (their text) and formula cells without a cached value (None) of a
    run of whole rows, as (column letters, row, text or None)."""
    for m in _marked_cells(data):
        attrs, body = m.group(1), m.group(2) or b""
        ref = _REF.search(attrs)
        if ref is None:
            continue
        value = _VALUE.search(body)
        if b't="e"' in attrs and value:
            yield ref.group(1), int(ref.group(2)), value.group(1).decode()
        elif b"<f" in body and not (value and value.group(1)):
            yield ref.group(1), int(ref.group(2)), None

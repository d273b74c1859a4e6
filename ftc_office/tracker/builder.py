"""A tracker's located rows → typed records (`load_tracker`, `build_records`).

Rows are grouped by Tenant ID; tenant-level fields that disagree between rows are a problem
naming both cells. Problems are collected, never raised: a file reports all of them in one
pass. A sheet's `Layout` is worked out once (which fields have a column, their parsers and
letters); a `TenantBuilder` takes the tenant's rows one by one: each filled cell parsed once
per distinct value of its column, each tenant-level value checked against the rows before
it, each empty required cell (or error cell) a problem naming its cell. A row with every
required cell and a sheet without error cells skip their empty cells (the common case).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ftc_office.config import Settings
from ftc_office.console import collector_paused
from ftc_office.errors import Problem
from ftc_office.fields import FIELD_LIST, Field
from ftc_office.tracker.reader import RawRow, SheetRead, read_sheet
from ftc_office.tracker.records import (
    CONVERT,
    PARSERS,
    CellRefs,
    TenantRecord,
    TrackerRecords,
    WorkloadRecord,
    assemble,
    error_problem,
    record_values,
)
from ftc_office.values import ValueProblem, to_text

__all__ = ["Layout", "TenantBuilder", "build_records", "load_tracker", "tenant_record"]


def load_tracker(path: Path, settings: Settings) -> TrackerRecords:
    """Read and type one tracker (raises TrackerError only if it cannot be read at all)."""
    with collector_paused():
        return build_records(read_sheet(path, settings.tracker.sheet,
                                        settings.tracker.max_header_row,
                                        settings.tracker.headers), settings, consume=True)


def build_records(read: SheetRead, settings: Settings, consume: bool = False
                  ) -> TrackerRecords:
    """Group rows into tenants, parse typed values and collect every problem.

    The records' ``source`` is the sheet without its rows. With ``consume`` (`load_tracker`,
    which owns the read) ``read.rows`` is emptied and each tenant's rows are let go once its
    record is built, so a large tracker is never held twice, as rows and as records."""
    sheet = dataclasses.replace(read, rows=[])
    out = TrackerRecords(sheet)
    groups: dict[str, list[RawRow]] = {}
    display: dict[str, str] = {}
    orphans: dict[str, list[Problem]] = {}  # rows without an ID, by the tenant above them
    last: tuple[str, Any] | None = None  # the previous row's tenant key and customer
    for raw in read.rows:
        values = raw.values
        tid_value = values.get("tenant_id")
        if tid_value is None:
            first_ref = sheet.ref(next(iter(values)), raw.number)
            tid_ref = sheet.ref("tenant_id", raw.number)
            problem = error_problem(sheet, tid_ref) if tid_ref in sheet.errors else Problem(
                sheet.where(first_ref), f"row {raw.number} has data but no Tenant ID",
                f"fill {sheet.headers['tenant_id']} in row {raw.number}, or clear the row")
            customer = values.get("customer")
            if last is not None and customer in (None, last[1]):
                orphans.setdefault(last[0], []).append(problem)
            else:
                out.problems.append(problem)
            continue
        tid = to_text(tid_value)
        key = tid.casefold()
        display.setdefault(key, tid)
        groups.setdefault(key, []).append(raw)
        last = (key, values.get("customer"))
    layout = Layout(sheet)
    if consume:
        read.rows.clear()  # the rows now live in `groups` alone
    for key in list(groups):
        t = tenant_record(display[key], groups.pop(key), sheet, layout)
        if key in orphans:
            t = dataclasses.replace(t, problems=(*t.problems, *orphans[key]))
        out.tenants.append(t)
    return out


#: a `Layout` entry: (field, name, parser, column letter, workload level, whether an empty
#: cell needs a look, how the value becomes a workload record's argument, the column's parsed
#: values by cell value or None when parsing is cheaper than looking up)
_Entry = tuple[Field, str, Callable[[Any], Any], str, bool, bool, Callable[[Any], Any] | None,
               dict[tuple[type, Any], Any] | None]


class Layout:
    """Which fields a sheet has a column for, worked out once per sheet (`_Entry` each, in
    FIELD_LIST order, and by field name); a workload record's empty arguments (a tenant field
    without a column reads as nothing); the column letters of each level's fields (for
    `CellRefs`)."""

    def __init__(self, sheet: SheetRead) -> None:
        convert = CONVERT["workload"]
        self.present: list[_Entry] = [
            (f, f.name, PARSERS[f.kind], sheet.letter(f.name), f.level == "workload",
             f.required or bool(sheet.errors), convert.get(f.name),
             None if f.kind == "text" else {})
            for f in FIELD_LIST if f.name in sheet.columns]
        self.by_name = {e[1]: e for e in self.present}
        #: a workload record's arguments before its row's values: every field empty
        self.workload_defaults: dict[str, Any] = record_values(
            {f.name: None for f in FIELD_LIST if f.level == "workload"}, "workload")
        self.letters = {level: {e[1]: e[3] for e in self.present if e[4] == (level == "workload")}
                        for level in ("tenant", "workload")}
        self.required = {f.name for f in FIELD_LIST if f.required}
        #: whether a row with every required cell may skip its empty cells (`_cells`)
        self.quick = not sheet.errors
        #: by field name, for `TenantBuilder._add_filled`: (entry, workload level, whether
        #: a text cell is its own value — the reader strips text, so `to_text` changes
        #: nothing —, the column's memo)
        self.filled = {e[1]: (e, e[4], e[0].kind == "text", e[7]) for e in self.present}


class TenantBuilder:
    """Collects one tenant's values, cells and problems row by row."""

    def __init__(self, tid: str, sheet: SheetRead, layout: Layout, first_row: int) -> None:
        self.tid = tid
        self.sheet = sheet
        self.layout = layout
        self.problems: list[Problem] = []
        self.values: dict[str, Any] = {}
        #: the row of each held value (`CellRefs`; the first row when not here)
        self.rows: dict[str, int] = {}
        self.refs = CellRefs(layout.letters["tenant"], first_row, self.rows)
        #: the cell value each held value was parsed from without a problem: the tenant's
        #: next rows usually repeat it, and an equal cell (same type) changes nothing
        self.cells: dict[str, Any] = {}
        self.workloads: list[WorkloadRecord] = []
        self.seen_workloads: dict[str, int] = {}  # workload (casefolded) → its row

    def _empty(self, f: Field, ref: str) -> tuple[None, bool]:
        sheet = self.sheet
        if ref in sheet.errors:
            self.problems.append(error_problem(sheet, ref))
            return None, True
        if f.required:  # `Layout.present` holds only fields with a column
            self.problems.append(Problem(
                sheet.where(ref), f"{sheet.headers[f.name]} is empty",
                f"fill {sheet.headers[f.name]} for tenant {self.tid}"))
        return None, False

    def merge(self, f: Field, value: Any, row: int) -> None:
        """A tenant-level value: the first filled one wins; a different one is a problem."""
        held = self.values
        if f.name in held and not _same(held[f.name], value):
            self.problems.append(Problem(
                self.sheet.where(f"{self.refs.letters[f.name]}{row}"),
                f"{self.sheet.headers.get(f.name, f.header)} is {_show(value)} here but "
                f"{_show(held[f.name])} in {self.refs[f.name]} for the same tenant",
                "make the tenant's rows agree"))
        elif f.name not in held or (held[f.name] is None and value is not None):
            held[f.name] = value
            self.rows[f.name] = row

    def _cells(self, raw: RawRow) -> list[tuple[_Entry, Any]]:
        """The row's (layout entry, cell value) pairs to look at, in FIELD_LIST order: the
        filled cells alone when no empty cell can be a problem (every required cell filled,
        no error cell in the sheet: the common case), else every column, None when empty."""
        layout, cells = self.layout, raw.values
        if layout.quick and layout.required.issubset(cells):
            by_name = layout.by_name
            return [(by_name[name], cell) for name, cell in cells.items()]
        return [(e, cells.get(e[1])) for e in layout.present]

    def _parse(self, entry: _Entry, cell: Any, row: int) -> tuple[Any, bool, bool]:
        """(value, whether parsing failed, whether the value came without a problem); a
        column's values are parsed once each (`_Entry` memo; failures are not kept)."""
        name, parser, letter, memo = entry[1], entry[2], entry[3], entry[7]  # no *-unpacking:
        if memo is not None:  # it builds a list, per cell
            key = (cell.__class__, cell)
            hit = memo.get(key, memo)  # the memo itself: not there
            if hit is not memo:
                return hit, False, True
        try:
            value = parser(cell)
        except ValueProblem as exc:
            self.problems.append(Problem(self.sheet.where(f"{letter}{row}"), exc.what, exc.fix))
            return None, True, False
        if value == 0 and name == "seats" and type(value) is int:
            self.problems.append(Problem(self.sheet.where(f"{letter}{row}"), "Seats is 0",
                                         "type the tenant's licensed seats (a number above 0)"))
            return value, False, False
        if memo is not None:
            memo[key] = value
        return value, False, True

    def add_row(self, raw: RawRow) -> None:
        """Parse one row: its workload record, and its tenant-level values."""
        layout = self.layout
        if layout.quick and layout.required.issubset(raw.values):
            self._add_filled(raw)
            return
        number = raw.number
        w_args: dict[str, Any] = dict(self.layout.workload_defaults)
        held, held_cells = self.values, self.cells
        wname = ""
        for entry, cell in self._cells(raw):
            f, name, _parser, letter, workload, check_empty, convert, _memo = entry
            if cell is None:
                clean = False
                value, failed = self._empty(f, f"{letter}{number}") if check_empty else (
                    None, False)
            elif not workload and name in held_cells and type(held_cells[name]) is type(
                    cell) and held_cells[name] == cell:
                continue  # the cell the held value came from, again: nothing changes
            else:
                value, failed, clean = self._parse(entry, cell, number)
            if workload:
                if name == "workload" and value:
                    wname = to_text(value)
                w_args[name] = value if convert is None else convert(value)
            elif not failed:
                if name not in held:  # the first value (the common case: one row)
                    held[name] = value
                    if cell is not None:  # an empty cell's row is the tenant's first
                        self.rows[name] = number
                    if clean:
                        held_cells[name] = cell
                elif name != "tenant_id" and held[name] != value:  # IDs: grouped ignoring
                    self.merge(f, value, number)  # case; an equal value changes nothing
        self._add_workload(number, wname, w_args)

    def _add_filled(self, raw: RawRow) -> None:
        """`add_row` for the common row (`_cells`): only its filled cells, none of them an
        error cell, so no empty cell is a problem. The same steps, without their branches
        for empty cells (a 10,000-row sheet has ~100,000 filled cells)."""
        number, filled = raw.number, self.layout.filled
        w_args: dict[str, Any] = dict(self.layout.workload_defaults)
        held, held_cells = self.values, self.cells
        for name, cell in raw.values.items():
            entry, workload, text, memo = filled[name]
            kind = cell.__class__
            if not workload:
                if name in held_cells:
                    same = held_cells[name]
                    if same.__class__ is kind and same == cell:
                        continue  # the cell the held value came from, again
                if text and kind is str:
                    value, failed, clean = cell, False, True
                elif memo is not None and (value := memo.get((kind, cell), memo)) is not memo:
                    failed, clean = False, True  # parsed before (`_parse`'s memo)
                else:
                    value, failed, clean = self._parse(entry, cell, number)
                if failed:
                    continue
                if name not in held:  # the first value (the common case: one row)
                    held[name] = value
                    self.rows[name] = number
                    if clean:
                        held_cells[name] = cell
                elif name != "tenant_id" and held[name] != value:
                    self.merge(entry[0], value, number)
                continue
            if text and kind is str:
                value = cell
            elif memo is None or (value := memo.get((kind, cell), memo)) is memo:
                value = self._parse(entry, cell, number)[0]
            convert = entry[6]
            w_args[name] = value if convert is None else convert(value)
        wname = w_args.get("workload")
        self._add_workload(number, to_text(wname) if wname else "", w_args)

    def _add_workload(self, row: int, wname: str, args: dict[str, Any]) -> None:
        letters = self.layout.letters["workload"]
        refs = CellRefs(letters, row)
        if wname:
            key = wname.casefold()
            prior = self.seen_workloads.get(key)
            if prior is not None:
                where = f"{letters['workload']}{row}" if "workload" in letters else ""
                also = f"{letters['workload']}{prior}" if "workload" in letters else ""
                self.problems.append(Problem(
                    self.sheet.where(where),
                    f"workload {wname!r} appears twice for tenant {self.tid} (also {also})",
                    "delete or merge the duplicate row"))
            self.seen_workloads[key] = row
        self.workloads.append(assemble(WorkloadRecord, refs, args, row=row))

    def record(self) -> TenantRecord:
        """The typed tenant record (a tenant field with a column and no value anywhere is
        None, at the tenant's first row: `CellRefs`)."""
        return assemble(TenantRecord, self.refs, record_values(self.values, "tenant"),
                        tenant_id=self.tid, source=self.sheet, workloads=tuple(self.workloads),
                        problems=tuple(self.problems))


def tenant_record(tid: str, rows: list[RawRow], sheet: SheetRead, layout: Layout) -> TenantRecord:
    b = TenantBuilder(tid, sheet, layout, rows[0].number)
    for raw in rows:
        b.add_row(raw)
    return b.record()


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return sorted(map(str, a)) == sorted(map(str, b))
    if isinstance(a, str) and isinstance(b, str):
        return a.strip() == b.strip()
    return bool(a == b)


def _show(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, tuple):
        return "; ".join(map(str, value)) or "empty"
    if isinstance(value, dt.date):
        return value.isoformat()
    return repr(value) if isinstance(value, str) else str(value)

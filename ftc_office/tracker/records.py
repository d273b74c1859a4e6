"""Typed tenant and workload records built from a tracker's located rows.

Each record keeps the cell reference of every value, so every later message can point at the
cell to fix. Rows are grouped by Tenant ID; tenant-level fields that disagree between rows
are a problem naming both cells. Problems are collected, never raised: a file reports all of
them in one pass.

The records' value attributes are exactly the fields of ``fields.FIELD_LIST`` (one attribute
per field of the record's level, typed by the field's kind; a test holds them together), so
a misspelled field is an attribute error mypy reports. Region → queue routing is a rule of the
playbook: the record keeps the region as typed, and its cell.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc_office.addresses import Address
from ftc_office.config import Settings
from ftc_office.errors import Problem
from ftc_office.fields import FIELD_LIST, FIELDS, Field
from ftc_office.tracker.reader import RawRow, SheetRead, read_sheet
from ftc_office.values import (
    ValueProblem,
    to_address,
    to_addresses,
    to_bool,
    to_date,
    to_int,
    to_mark,
    to_service_status,
    to_text,
)
from ftc_office.xlsx.cells import col_letter

PARSERS: dict[str, Callable[[Any], Any]] = {
    "text": to_text,
    "int": to_int,
    "bool": to_bool,
    "date": to_date,
    "addresses": to_addresses,
    "address": to_address,
    "service_status": to_service_status,
    "mark": to_mark,
}

#: a "done" column: the date, or the text a person typed
Mark = dt.date | str

#: the text fields that name a record: always text (as read before: an empty cell reads as
#: "None", a missing column as ""); every other field is None when empty
LABELS = ("tenant_id", "customer", "workload")


_LEVEL_FIELDS = {level: frozenset(f.name for f in FIELD_LIST if f.level == level)
                 for level in ("tenant", "workload")}


def _check_refs(refs: Mapping[str, str], level: str) -> None:
    """Cell references are keyed by field names of the record's level (FIELD_LIST)."""
    if not _LEVEL_FIELDS[level].issuperset(refs):
        name = sorted(set(refs) - _LEVEL_FIELDS[level])[0]
        raise ValueError(f"{name!r} is not a {level}-level tracker field")


@dataclass(frozen=True)
class WorkloadRecord:
    """One (tenant, workload) row of a tracker: the workload-level fields, typed."""

    row: int
    refs: Mapping[str, str]
    workload: str = ""
    discussion_date: dt.date | None = None
    next_workloads: str | None = None
    rfa_demoed: bool | None = None
    next_steps: str | None = None
    customer_next_steps: str | None = None
    atu_sent: Mark | None = None
    atu_status: str | None = None
    customer_email_sent: Mark | None = None
    engagement_note: str | None = None

    def __post_init__(self) -> None:
        _check_refs(self.refs, "workload")

    @property
    def name(self) -> str:
        """The workload's name as typed (e.g. Exchange Online)."""
        return self.workload


@dataclass(frozen=True)
class TenantRecord:
    """A tenant: the tenant-level fields (typed), its workload rows, and every problem found.

    ``refs`` holds the cell of each tenant-level value (keyed by field name); ``where(field)``
    turns it into a location for a message.
    """

    tenant_id: str
    source: SheetRead
    refs: Mapping[str, str]
    workloads: tuple[WorkloadRecord, ...]
    problems: tuple[Problem, ...] = ()
    customer: str = ""
    seats: int | None = None
    active_users: int | None = None
    no_blockers: bool | None = None
    region: str | None = None
    fm_email: Address | None = None
    account_team: tuple[Address, ...] = ()
    account_managed: bool | None = None
    customer_contacts: tuple[Address, ...] = ()
    fm_name: str | None = None
    customer_contact_names: str | None = None
    queue_confirmed: dt.date | None = None
    service_status_next: str | None = None
    task_4058: Mark | None = None
    queue_requested: Mark | None = None
    target_queue: str | None = None
    next_action_date: dt.date | None = None
    ftop_status: str | None = None
    service_status: str | None = None
    fm_unassigned: Mark | None = None

    def __post_init__(self) -> None:
        _check_refs(self.refs, "tenant")

    @property
    def fm(self) -> Address | None:
        """The FM's address (the FM column)."""
        return self.fm_email

    def where(self, name: str) -> str:
        """Where a tenant-level field's value is (file, Sheet!CELL), or the tenant's first row
        when the field has no cell."""
        if FIELDS.get(name) is None:
            raise KeyError(f"{name!r} is not a tracker field")
        ref = self.refs.get(name)
        return self.source.where(ref) if ref else self.source.where(f"row {self.workloads[0].row}")


#: the value attributes of each record class, by level (they match FIELD_LIST)
RECORD_CLASSES: dict[str, type] = {"tenant": TenantRecord, "workload": WorkloadRecord}


#: per level, how each parsed value becomes a record attribute (tenant_id is positional)
_CONVERT: dict[str, dict[str, Callable[[Any], Any] | None]] = {
    level: {f.name: (str if f.name in LABELS else
                     (lambda v: v or ()) if f.kind == "addresses" else None)
            for f in FIELD_LIST if f.level == level and f.name != "tenant_id"}
    for level in ("tenant", "workload")}


def _record_values(values: dict[str, Any], level: str) -> dict[str, Any]:
    """Parsed values (None when empty) → the record's keyword arguments: addresses become ()
    and a label (LABELS) its text."""
    convert = _CONVERT[level]
    out: dict[str, Any] = {}
    for name, value in values.items():
        if name in convert:
            fn = convert[name]
            out[name] = value if fn is None else fn(value)
    return out


@dataclass
class TrackerRecords:
    """All tenants of one tracker, and problems that belong to no single tenant."""

    source: SheetRead
    tenants: list[TenantRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def all_problems(self) -> list[Problem]:
        """The tracker's own problems, then each tenant's."""
        out = list(self.problems)
        for t in self.tenants:
            out.extend(t.problems)
        return out


def load_tracker(path: Path, settings: Settings) -> TrackerRecords:
    """Read and type one tracker (raises TrackerError only if it cannot be read at all)."""
    return build_records(read_sheet(path, settings.tracker.sheet,
                                    settings.tracker.max_header_row, settings.tracker.headers),
                         settings, consume=True)


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
        tid_cell = raw.cells.get("tenant_id")
        if tid_cell is None:
            first_ref = next(iter(raw.cells.values()))[1]
            tid_ref = f"{_letter(sheet, 'tenant_id')}{raw.number}"
            problem = _error_problem(sheet, tid_ref) if tid_ref in sheet.errors else Problem(
                sheet.where(first_ref), f"row {raw.number} has data but no Tenant ID",
                f"fill {sheet.headers['tenant_id']} in row {raw.number}, or clear the row")
            customer = raw.cells.get("customer", (None, ""))[0]
            if last is not None and customer in (None, last[1]):
                orphans.setdefault(last[0], []).append(problem)
            else:
                out.problems.append(problem)
            continue
        tid = to_text(tid_cell[0])
        key = tid.casefold()
        display.setdefault(key, tid)
        groups.setdefault(key, []).append(raw)
        last = (key, raw.cells.get("customer", (None, ""))[0])
    layout = _Layout(sheet)
    if consume:
        read.rows.clear()  # the rows now live in `groups` alone
    for key in list(groups):
        t = _tenant(display[key], groups.pop(key), sheet, layout)
        if key in orphans:
            t = dataclasses.replace(t, problems=(*t.problems, *orphans[key]))
        out.tenants.append(t)
    return out


class _Layout:
    """Which fields a sheet has a column for, worked out once per sheet: (field, name,
    parser, column letter, workload level, whether an empty cell needs a look) in FIELD_LIST
    order, and the workload fields without a column (they read as None; a tenant field
    without one reads as nothing)."""

    def __init__(self, sheet: SheetRead) -> None:
        self.present = [(f, f.name, PARSERS[f.kind], _letter(sheet, f.name),
                         f.level == "workload", f.required or bool(sheet.errors))
                        for f in FIELD_LIST if f.name in sheet.columns]
        self.absent_workload: dict[str, None] = {
            f.name: None for f in FIELD_LIST
            if f.level == "workload" and f.name not in sheet.columns}


class _TenantBuilder:
    """Collects one tenant's values, cells and problems row by row."""

    def __init__(self, tid: str, sheet: SheetRead, layout: _Layout) -> None:
        self.tid = tid
        self.sheet = sheet
        self.layout = layout
        self.problems: list[Problem] = []
        self.values: dict[str, Any] = {}
        self.refs: dict[str, str] = {}
        self.workloads: list[WorkloadRecord] = []
        self.seen_workloads: dict[str, str] = {}

    def _empty(self, f: Field, ref: str) -> tuple[None, str, bool]:
        sheet = self.sheet
        if ref in sheet.errors:
            self.problems.append(_error_problem(sheet, ref))
            return None, ref, True
        if f.required:  # `_Layout.present` holds only fields with a column
            self.problems.append(Problem(
                sheet.where(ref), f"{sheet.headers[f.name]} is empty",
                f"fill {sheet.headers[f.name]} for tenant {self.tid}"))
        return None, ref, False

    def merge(self, f: Field, value: Any, ref: str) -> None:
        """A tenant-level value: the first filled one wins; a different one is a problem."""
        held = self.values
        if f.name in held and not _same(held[f.name], value):
            self.problems.append(Problem(
                self.sheet.where(ref),
                f"{self.sheet.headers.get(f.name, f.header)} is {_show(value)} here but "
                f"{_show(held[f.name])} in {self.refs[f.name]} for the same tenant",
                "make the tenant's rows agree"))
        elif f.name not in held or (held[f.name] is None and value is not None):
            held[f.name] = value
            self.refs[f.name] = ref

    def add_row(self, raw: RawRow) -> None:
        """Parse one row: its workload record, and its tenant-level values."""
        w_values: dict[str, Any] = dict(self.layout.absent_workload)
        w_refs: dict[str, str] = {}
        cells, number = raw.cells, str(raw.number)
        held = self.values
        for f, name, parser, letter, workload, check_empty in self.layout.present:
            cell = cells.get(name)
            if cell is None:
                if check_empty:  # a required cell, or a sheet with error cells
                    value, ref, failed = self._empty(f, letter + number)
                else:
                    value, ref, failed = None, letter + number, False
            else:
                ref = cell[1]
                try:
                    value, failed = parser(cell[0]), False
                except ValueProblem as exc:
                    self.problems.append(Problem(self.sheet.where(ref), exc.what, exc.fix))
                    value, failed = None, True
                if value == 0 and name == "seats" and type(value) is int:
                    self.problems.append(Problem(
                        self.sheet.where(ref), "Seats is 0",
                        "type the tenant's licensed seats (a number above 0)"))
            if workload:
                w_values[name] = value
                w_refs[name] = ref
            elif not failed:
                if name not in held:  # the first value (the common case: one row)
                    held[name] = value
                    self.refs[name] = ref
                elif name != "tenant_id" and held[name] != value:  # IDs: grouped ignoring
                    self.merge(f, value, ref)  # case; an equal value changes nothing
        wname = to_text(w_values["workload"] or "")
        if wname:
            prior = self.seen_workloads.get(wname.casefold())
            if prior:
                self.problems.append(Problem(
                    self.sheet.where(w_refs.get("workload", "")),
                    f"workload {wname!r} appears twice for tenant {self.tid} (also {prior})",
                    "delete or merge the duplicate row"))
            self.seen_workloads[wname.casefold()] = w_refs.get("workload", "")
        self.workloads.append(WorkloadRecord(raw.number, w_refs,
                                             **_record_values(w_values, "workload")))

    def record(self) -> TenantRecord:
        """The typed tenant record."""
        return TenantRecord(self.tid, self.sheet, self.refs, tuple(self.workloads),
                            tuple(self.problems), **_record_values(self.values, "tenant"))


def _tenant(tid: str, rows: list[RawRow], sheet: SheetRead, layout: _Layout) -> TenantRecord:
    b = _TenantBuilder(tid, sheet, layout)
    for raw in rows:
        b.add_row(raw)
    return b.record()


def _error_problem(sheet: SheetRead, ref: str) -> Problem:
    """A cell the reader saw as blank that holds an Excel error or an uncalculated formula."""
    error = sheet.errors[ref]
    return Problem(sheet.where(ref), *(
        (f"{ref} holds {error}", "fix the formula or type the value") if error else
        (f"{ref} is a formula Excel has not calculated", "open and save the workbook in Excel")))


def _letter(sheet: SheetRead, name: str) -> str:
    c = sheet.columns.get(name)
    return col_letter(c + 1) if c is not None else "?"


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


__all__ = ["FIELDS", "LABELS", "RECORD_CLASSES", "Mark", "TenantRecord", "TrackerRecords",
           "WorkloadRecord", "build_records", "load_tracker"]

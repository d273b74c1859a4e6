"""Typed tenant and workload records: what `tracker.builder` makes of a tracker's rows.

Each record keeps the cell reference of every value, so every later message can point at the
cell to fix (`CellRefs`: made when asked for). Problems found while building a record travel
with it.

The records' value attributes are exactly the fields of ``fields.FIELD_LIST`` (one attribute
per field of the record's level, typed by the field's kind; a test holds them together), so
a misspelled field is an attribute error mypy reports. Region → queue routing is a rule of the
playbook: the record keeps the region as typed, and its cell.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, TypeVar

from ftc_office.addresses import Address
from ftc_office.errors import Problem
from ftc_office.fields import FIELD_LIST, FIELDS
from ftc_office.tracker.reader import SheetRead
from ftc_office.values import (
    to_address,
    to_addresses,
    to_bool,
    to_date,
    to_int,
    to_mark,
    to_service_status,
    to_text,
)

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


class CellRefs(Mapping[str, str]):
    """A record's cell references, made when asked for: each field's column letter and the
    row of its value (`rows`, by field), else `row` (a workload's row, a tenant's first row).
    A 10,000-row tracker does not hold 150,000 reference strings."""

    __slots__ = ("letters", "row", "rows")

    def __init__(self, letters: dict[str, str], row: int, rows: dict[str, int] | None = None
                 ) -> None:
        self.letters = letters
        self.row = row
        self.rows = rows

    def __getitem__(self, name: str) -> str:
        row = self.rows.get(name, self.row) if self.rows else self.row
        return f"{self.letters[name]}{row}"

    def __iter__(self) -> Iterator[str]:
        return iter(self.letters)

    def __len__(self) -> int:
        return len(self.letters)

    def __repr__(self) -> str:
        return repr(dict(self))


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
        if type(self.refs) is not CellRefs:  # the builder's hold only the level's fields
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
        if type(self.refs) is not CellRefs:
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
CONVERT: dict[str, dict[str, Callable[[Any], Any] | None]] = {
    level: {f.name: (str if f.name in LABELS else
                     (lambda v: v or ()) if f.kind == "addresses" else None)
            for f in FIELD_LIST if f.level == level and f.name != "tenant_id"}
    for level in ("tenant", "workload")}


R = TypeVar("R", TenantRecord, WorkloadRecord)

#: per record class, every value attribute's default (`assemble`)
_DEFAULTS: dict[type, dict[str, Any]] = {
    cls: {f.name: f.default for f in fields(cls) if f.default is not MISSING}
    for cls in (TenantRecord, WorkloadRecord)}
#: per record class, its attributes in their order (`assemble`)
_ORDER: dict[type, tuple[str, ...]] = {cls: tuple(f.name for f in fields(cls))
                                       for cls in (TenantRecord, WorkloadRecord)}


def assemble(cls: type[R], refs: CellRefs, values: dict[str, Any], **first: Any) -> R:
    """A builder's record: ``cls(**first, refs=refs, **values)`` with the defaults for the
    attributes `values` lacks, made without the frozen dataclass's ``__init__`` (one
    ``object.__setattr__`` per attribute: 10,000 workload records took 48 ms, now 24 ms).
    The attributes go in in their declared order, so the instances keep sharing one key
    table (in any other order each holds a dict of its own: +3.4 MB per 10,000 workloads).
    `values` must be the level's parsed values (`record_values`); its refs are `CellRefs`,
    which ``__post_init__`` would not check either."""
    obj = object.__new__(cls)
    given = {**_DEFAULTS[cls], **first, "refs": refs, **values}
    attrs = obj.__dict__
    for name in _ORDER[cls]:
        attrs[name] = given[name]
    return obj


def record_values(values: dict[str, Any], level: str) -> dict[str, Any]:
    """Parsed values (None when empty) → the record's keyword arguments: addresses become ()
    and a label (LABELS) its text."""
    convert = CONVERT[level]
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


def error_problem(sheet: SheetRead, ref: str) -> Problem:
    """A cell the reader saw as blank that holds an Excel error or an uncalculated formula."""
    error = sheet.errors[ref]
    return Problem(sheet.where(ref), *(
        (f"{ref} holds {error}", "fix the formula or type the value") if error else
        (f"{ref} is a formula Excel has not calculated", "open and save the workbook in Excel")))


__all__ = ["FIELDS", "LABELS", "RECORD_CLASSES", "CellRefs", "Mark", "TenantRecord",
           "TrackerRecords", "WorkloadRecord", "assemble", "error_problem"]

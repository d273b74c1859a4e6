"""Typed tenant and workload records built from a tracker's located rows.

Each record keeps the cell reference of every value, so every later message can point at the
cell to fix. Rows are grouped by Tenant ID; tenant-level fields that disagree between rows
are a problem naming both cells. Problems are collected, never raised: a file reports all of
them in one pass.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc_office.addresses import Address
from ftc_office.config import Settings
from ftc_office.errors import Problem
from ftc_office.fields import FIELD_LIST, FIELDS
from ftc_office.fields import normalise_header as _norm
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


@dataclass(frozen=True)
class WorkloadRecord:
    """One (tenant, workload) row of a tracker."""

    row: int
    values: dict[str, Any]
    refs: dict[str, str]

    @property
    def name(self) -> str:
        return str(self.values.get("workload", ""))

    def get(self, name: str) -> Any:
        return self.values.get(name)


@dataclass(frozen=True)
class TenantRecord:
    """A tenant: tenant-level values, its workload rows, and every problem found."""

    tenant_id: str
    source: SheetRead
    values: dict[str, Any]
    refs: dict[str, str]
    workloads: tuple[WorkloadRecord, ...]
    problems: tuple[Problem, ...] = ()
    region: str | None = None
    queue: str | None = None

    @property
    def customer(self) -> str:
        return str(self.values.get("customer", ""))

    def get(self, name: str) -> Any:
        return self.values.get(name)

    @property
    def fm(self) -> Address | None:
        return self.values.get("fm_email")

    def where(self, name: str) -> str:
        ref = self.refs.get(name)
        return self.source.where(ref) if ref else self.source.where(f"row {self.workloads[0].row}")


@dataclass
class TrackerRecords:
    """All tenants of one tracker, and problems that belong to no single tenant."""

    source: SheetRead
    tenants: list[TenantRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    @property
    def all_problems(self) -> list[Problem]:
        out = list(self.problems)
        for t in self.tenants:
            out.extend(t.problems)
        return out


def load_tracker(path: Path, settings: Settings) -> TrackerRecords:
    """Read and type one tracker (raises TrackerError only if it cannot be read at all)."""
    sheet = read_sheet(path, settings.tracker.sheet, settings.tracker.max_header_row,
                       settings.tracker.headers)
    return build_records(sheet, settings)


def build_records(sheet: SheetRead, settings: Settings) -> TrackerRecords:
    """Group rows into tenants, parse typed values and collect every problem."""
    out = TrackerRecords(sheet)
    groups: dict[str, list[RawRow]] = {}
    display: dict[str, str] = {}
    for raw in sheet.rows:
        tid_cell = raw.cells.get("tenant_id")
        if tid_cell is None:
            first_ref = next(iter(raw.cells.values()))[1]
            out.problems.append(Problem(
                sheet.where(first_ref), f"row {raw.number} has data but no Tenant ID",
                f"fill {sheet.headers['tenant_id']} in row {raw.number}, or clear the row"))
            continue
        tid = to_text(tid_cell[0])
        key = tid.casefold()
        display.setdefault(key, tid)
        groups.setdefault(key, []).append(raw)
    region_index = {_norm(k): v for k, v in settings.routing.regions.items()}
    region_index.update({_norm(k): k for k in settings.routing.queues})
    for key, rows in groups.items():
        out.tenants.append(_tenant(display[key], rows, sheet, settings, region_index))
    return out


def _tenant(tid: str, rows: list[RawRow], sheet: SheetRead, settings: Settings,
            region_index: dict[str, str]) -> TenantRecord:
    problems: list[Problem] = []
    t_values: dict[str, Any] = {}
    t_refs: dict[str, str] = {}
    workloads: list[WorkloadRecord] = []
    seen_workloads: dict[str, str] = {}
    for raw in rows:
        w_values: dict[str, Any] = {}
        w_refs: dict[str, str] = {}
        for f in FIELD_LIST:
            cell = raw.cells.get(f.name)
            ref = cell[1] if cell else f"{_letter(sheet, f.name)}{raw.number}"
            failed = False
            if cell is None:
                value: Any = None
                if f.required and f.name in sheet.columns:
                    problems.append(Problem(sheet.where(ref), f"{sheet.headers[f.name]} is empty",
                                            f"fill {sheet.headers[f.name]} for tenant {tid}"))
            else:
                try:
                    value = PARSERS[f.kind](cell[0])
                except ValueProblem as exc:
                    problems.append(Problem(sheet.where(ref), exc.what, exc.fix))
                    value = None
                    ref = cell[1]
                    failed = True
            if f.name == "seats" and isinstance(value, int) and value == 0:
                problems.append(Problem(sheet.where(ref), "Seats is 0",
                                        "type the tenant's licensed seats (a number above 0)"))
            if f.level == "workload":
                w_values[f.name] = value
                if f.name in sheet.columns:
                    w_refs[f.name] = ref
                continue
            if f.name not in sheet.columns:
                continue
            if failed or (f.name == "tenant_id" and f.name in t_values):
                continue  # reported above / IDs are grouped ignoring case (GUIDs)
            if f.name in t_values and not _same(t_values[f.name], value):
                problems.append(Problem(
                    sheet.where(ref),
                    f"{sheet.headers.get(f.name, f.header)} is {_show(value)} here but "
                    f"{_show(t_values[f.name])} in {t_refs[f.name]} for the same tenant",
                    "make the tenant's rows agree"))
            elif f.name not in t_values or (t_values[f.name] is None and value is not None):
                t_values[f.name] = value
                t_refs[f.name] = ref
        wname = to_text(w_values.get("workload") or "")
        if wname:
            prior = seen_workloads.get(wname.casefold())
            if prior:
                problems.append(Problem(
                    sheet.where(w_refs.get("workload", "")),
                    f"workload {wname!r} appears twice for tenant {tid} (also {prior})",
                    "delete or merge the duplicate row"))
            seen_workloads[wname.casefold()] = w_refs.get("workload", "")
        workloads.append(WorkloadRecord(raw.number, w_values, w_refs))
    region = queue = None
    raw_region = t_values.get("region")
    if raw_region:
        region = region_index.get(_norm(str(raw_region)))
        if region is None:
            known = ", ".join(settings.routing.queues)
            problems.append(Problem(
                sheet.where(t_refs["region"]),
                f"region {raw_region!r} has no assignment queue",
                f"use one of {known}, or add the spelling to [routing.regions] in "
                "ftc-office.toml"))
        else:
            queue = settings.routing.queues[region]
    return TenantRecord(tid, sheet, t_values, t_refs, tuple(workloads), tuple(problems),
                        region, queue)


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


def cross_tracker_problems(trackers: Iterable[TrackerRecords]) -> list[Problem]:
    """A tenant that appears in two trackers is a problem for both."""
    first: dict[str, TenantRecord] = {}
    flagged: set[str] = set()
    problems: list[Problem] = []
    for tr in trackers:
        for t in tr.tenants:
            key = t.tenant_id.casefold()
            if key in first and first[key].source.path != t.source.path:
                other = first[key]
                problems.append(Problem(
                    t.where("tenant_id"),
                    f"tenant {t.tenant_id} also appears in {other.where('tenant_id')}",
                    "keep each tenant in one tracker only"))
                if key not in flagged:
                    flagged.add(key)
                    problems.append(Problem(
                        other.where("tenant_id"),
                        f"tenant {other.tenant_id} also appears in {t.where('tenant_id')}",
                        "keep each tenant in one tracker only"))
            first.setdefault(key, t)
    return problems


# Mail services shared by unrelated people: a domain here says nothing about whose contact
# an address is, so it never makes an address "another tenant's".
PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "icloud.com", "me.com", "aol.com", "gmx.com", "gmx.de", "web.de",
    "proton.me", "protonmail.com", "mail.com", "yandex.com", "qq.com", "163.com",
})


def _majority_domains(t: TenantRecord) -> set[str]:
    """The most frequent customer contact domain(s) of a tenant (all of them on a tie)."""
    counts: dict[str, int] = {}
    for a in t.get("customer_contacts") or ():
        counts[a.ascii_domain] = counts.get(a.ascii_domain, 0) + 1
    top = max(counts.values(), default=0)
    return {d for d, n in counts.items() if n == top}


def cross_tenant_contact_problems(trackers: Iterable[TrackerRecords]
                                  ) -> list[tuple[TenantRecord, Problem]]:
    """Customer contacts that belong to another customer of the workspace (a wrong-customer
    mail waiting to happen), each a problem naming the Customer Contacts cell.

    A domain belongs to the customer (by normalised Customer name) with strictly the most
    contacts at it, when it is also the majority contact domain of one of that customer's
    tenants. An address of tenant A at a domain that belongs to another customer B is a
    problem (A's cell holds B's contact) unless that domain is A's own single majority
    domain: then it is A's domain too (a partner serving both, one company under two names)
    — so a cell holding only another tenant's addresses is not detectable here. A tie
    belongs to nobody. Public mail domains (gmail.com, outlook.com, ...) say nothing about
    whose address it is and are left alone.
    """
    tenants = [t for tr in trackers for t in tr.tenants]
    counts: dict[str, dict[str, int]] = {}
    majority: dict[tuple[str, str], TenantRecord] = {}
    for t in tenants:
        name = _norm(t.customer)
        for a in t.get("customer_contacts") or ():
            per = counts.setdefault(a.ascii_domain, {})
            per[name] = per.get(name, 0) + 1
        top = _majority_domains(t)
        for d in top:  # named as the home: preferably a tenant with that domain alone
            cur = majority.get((d, name))
            if cur is None or (len(top) == 1 and len(_majority_domains(cur)) > 1):
                majority[(d, name)] = t
    owner: dict[str, TenantRecord] = {}
    for d, per in counts.items():
        ranked = sorted(per.items(), key=lambda kv: -kv[1])
        if d in PUBLIC_MAIL_DOMAINS or (len(ranked) > 1 and ranked[0][1] == ranked[1][1]):
            continue
        home = majority.get((d, ranked[0][0]))
        if home is not None:
            owner[d] = home
    out: list[tuple[TenantRecord, Problem]] = []
    for t in tenants:
        own = _majority_domains(t)
        for a in t.get("customer_contacts") or ():
            o = owner.get(a.ascii_domain)
            if own == {a.ascii_domain}:
                continue  # the tenant's one majority domain is its own (a partner, a shared one)
            if o is not None and _norm(o.customer) != _norm(t.customer):
                out.append((t, Problem(
                    t.where("customer_contacts"),
                    f"customer contact {a.email} belongs to tenant {o.tenant_id} "
                    f"({o.customer}, {o.where('customer_contacts')}), not to {t.customer}",
                    "put only this customer's own contacts in the cell (if both tenants are "
                    "one company, give them the same Customer name)")))
    return out


__all__ = ["FIELDS", "TenantRecord", "TrackerRecords", "WorkloadRecord", "build_records",
           "cross_tenant_contact_problems", "cross_tracker_problems", "load_tracker"]

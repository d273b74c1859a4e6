"""Loading many trackers and planning every tenant: what `check` and `plan` call.

A tracker that cannot be read
at all becomes one problem and the others are still planned. A tenant that appears in two
trackers gets a problem in both and is planned as ``invalid``; so does a tenant whose region
has no assignment queue (the playbook's routing, checked here so `check` lists it).
``apply_stamps`` lets a run re-plan in memory after a job without reading the workbook again.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc_office.config import RoutingSettings, Settings
from ftc_office.errors import Problem, TrackerError, UsageError
from ftc_office.fields import FIELDS
from ftc_office.jobs import Stamp
from ftc_office.paths import tracker_id
from ftc_office.playbook import TenantPlan, plan_tenant, routing_problem
from ftc_office.steps import Step
from ftc_office.tracker.builder import load_tracker
from ftc_office.tracker.checks import (
    audience_problems,
    cross_tenant_contact_problems,
    cross_tracker_problems,
)
from ftc_office.tracker.records import PARSERS, TenantRecord, TrackerRecords


@dataclass
class Workspace:
    """Every tracker of a run, as read, with the problems that stopped whole files, and the
    routing table its tenants are planned with."""

    trackers: list[TrackerRecords] = field(default_factory=list)
    file_problems: list[Problem] = field(default_factory=list)
    routing: RoutingSettings = field(default_factory=RoutingSettings)

    @property
    def problems(self) -> list[Problem]:
        """Every problem: unreadable files and rows of no tenant first, then each tenant's."""
        out = list(self.file_problems)
        for tr in self.trackers:
            for t in tr.tenants:
                out.extend(t.problems)
        return out


def load_workspace(paths: Iterable[Path], settings: Settings) -> Workspace:
    """Read every tracker; unreadable ones become problems; mark cross-tracker duplicates."""
    ws = Workspace(routing=settings.routing)
    for path in paths:
        try:
            tr = load_tracker(path, settings)
        except TrackerError as exc:
            ws.file_problems.append(exc.problem)
            continue
        tr.tenants = [_validated(t, settings) for t in tr.tenants]
        ws.file_problems.extend(tr.problems)  # rows of no tenant stop plan and run too
        ws.trackers.append(tr)
    dupes = cross_tracker_problems(ws.trackers)
    if dupes:
        by_where = {p.where: p for p in dupes}
        for tr in ws.trackers:
            tr.tenants = [
                dataclasses.replace(t, problems=(*t.problems, by_where[t.where("tenant_id")]))
                if t.where("tenant_id") in by_where else t
                for t in tr.tenants
            ]
    wrong = cross_tenant_contact_problems(ws.trackers)
    if wrong:
        extra: dict[int, list[Problem]] = {}
        for t, p in wrong:
            extra.setdefault(id(t), []).append(p)
        for tr in ws.trackers:
            tr.tenants = [dataclasses.replace(t, problems=(*t.problems, *extra[id(t)]))
                          if id(t) in extra else t for t in tr.tenants]
    return ws


def _validated(t: TenantRecord, settings: Settings) -> TenantRecord:
    """The tenant with the problems that need the settings after those found reading: a
    region with no queue, an address outside the internal domains where only internal people
    belong. One validation for check, plan, preview and run (the dates, which need the as-of
    date, are added when planning)."""
    found = [p for p in (routing_problem(t, settings.routing),) if p is not None]
    found += audience_problems(t, settings.mail.internal_domains)
    return dataclasses.replace(t, problems=(*t.problems, *found)) if found else t


def apply_stamps(ws: Workspace, stamps: Iterable[Stamp]) -> Workspace:
    """A new workspace whose records carry the stamped output values, as write-back would
    leave them in the workbooks: re-planning it gives the next step without reading again.

    A stamp names its tracker (``paths.tracker_id`` of the file), its tenant (any case), and
    one workload (any case) or None for every row of the tenant. Stamps that match no record
    are ignored (write-back reports those).
    """
    by_tenant: dict[tuple[str, str], list[Stamp]] = {}
    for s in stamps:
        by_tenant.setdefault((s.tracker, s.tenant_id.casefold()), []).append(s)
    trackers = []
    for tr in ws.trackers:
        tid = tracker_id(tr.source.path)
        tenants = [_stamped(t, by_tenant.get((tid, t.tenant_id.casefold()), []))
                   for t in tr.tenants]
        trackers.append(dataclasses.replace(tr, tenants=tenants, problems=list(tr.problems)))
    return Workspace(trackers, list(ws.file_problems), ws.routing)


def _stamped(t: TenantRecord, stamps: list[Stamp]) -> TenantRecord:
    """One tenant with its stamps applied (tenant-level fields, or workload rows)."""
    if not stamps:
        return t
    tenant_values: dict[str, Any] = {}
    changes: dict[int, dict[str, Any]] = {}  # workload row -> its stamped fields (last wins)
    for s in stamps:
        field = FIELDS[s.field]
        # the value as a fresh read of the stamped cell would type it
        value = PARSERS[field.kind](s.value) if s.value not in (None, "") else None
        if field.level == "tenant":
            tenant_values[s.field] = value
            continue
        for i, w in enumerate(t.workloads):
            if s.workload is None or w.name.casefold() == s.workload.casefold():
                changes.setdefault(i, {})[s.field] = value
    workloads = tuple(dataclasses.replace(w, **changes[i]) if i in changes else w
                      for i, w in enumerate(t.workloads))
    return dataclasses.replace(t, workloads=workloads, **tenant_values)


@dataclass(frozen=True)
class PlanFilter:
    """Narrow a plan to some tenants."""

    tenant: str | None = None
    step: Step | None = None
    fm: str | None = None

    def keep(self, plan: TenantPlan) -> bool:
        t = plan.tenant
        if self.tenant and t.tenant_id.casefold() != self.tenant.casefold():
            return False
        if self.step and plan.step != self.step:
            return False
        if self.fm:
            fm = t.fm
            if fm is None or fm.email.casefold() != self.fm.casefold():
                return False
        return True


def require_tenant(tenant: str | None, found: bool) -> None:
    """The one "no such tenant" answer (exit code 2), when a --tenant matched nothing."""
    if tenant and not found:
        raise UsageError(f"--tenant {tenant}", "no such tenant in the trackers",
                         "check the Tenant ID (run 'ftc-office plan' without --tenant)")


def plan_workspace(ws: Workspace, as_of: dt.date, flt: PlanFilter | None = None
                   ) -> list[TenantPlan]:
    """Plan every tenant of every tracker, in tracker and row order."""
    flt = flt or PlanFilter()
    plans = [plan_tenant(t, as_of, ws.routing) for tr in ws.trackers for t in tr.tenants]
    return [p for p in plans if flt.keep(p)]


def plan_to_json(plan: TenantPlan) -> dict[str, object]:
    """The docs/DOMAIN.md JSON shape of one tenant's plan."""
    t = plan.tenant
    fm = t.fm
    return {
        "tenant_id": t.tenant_id,
        "customer": t.customer,
        "tracker": str(t.source.path),
        "fm": fm.email if fm else None,
        "region": plan.region,
        "eligible": plan.eligible,
        "milestone": plan.milestone.reason if plan.milestone else None,
        "next_step": str(plan.step),
        "workloads": [w.name for w in t.workloads],
        "actions": [
            {"action": str(a.kind), "workload": a.workload.name if a.workload else None,
             **({"detail": a.detail} if a.detail else {})}
            for a in plan.actions
        ],
        "target_queue": plan.queue,
        "next_action_date": plan.next_action_date.isoformat() if plan.next_action_date else None,
        "problems": [str(p) for p in plan.problems],
    }

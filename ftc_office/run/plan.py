"""Plan: read the trackers once and decide each tenant's next step; note what was found.

The run reads every tracker here, once; later passes re-plan from these records plus the
stamps the run recorded (`ftc_office.planning.apply_stamps`), never from a second read.
What the ledger finished but the workbook does not show yet — a crashed run's steps, another
copy's sends, stamps a restored older version lacks — is planned as written
(`pending_stamps`), so `plan` and `run` never show a finished step as due again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc_office.config import Settings
from ftc_office.fields import FIELDS
from ftc_office.jobs import Stamp
from ftc_office.ledger import Entry, Ledger
from ftc_office.ledger.entry import stamp_for
from ftc_office.paths import tracker_id
from ftc_office.planning import (
    PlanFilter,
    Workspace,
    apply_stamps,
    load_workspace,
)
from ftc_office.playbook import TenantPlan, plan_tenant
from ftc_office.run.report import Outcome, RunOptions, RunReport, TenantOutcome
from ftc_office.steps import Step
from ftc_office.tracker.records import TenantRecord


def read(paths: Sequence[Path], settings: Settings, report: RunReport) -> Workspace:
    """Every tracker's records; a tracker that cannot be read becomes a report error."""
    ws = load_workspace(paths, settings)
    for p in ws.file_problems:
        if str(p) not in report.errors:
            report.errors.append(str(p))
    return ws


@dataclass
class Pending:
    """The stamps to plan as written, and per tracker (its path) how many of them are stamps
    written to that copy before that its cells lack now (a restored older version)."""

    stamps: list[Stamp] = field(default_factory=list)
    restored: dict[Path, int] = field(default_factory=dict)

    def notices(self) -> list[str]:
        """One line per restored tracker."""
        return [restored_notice(p, n) for p, n in self.restored.items()]


def restored_notice(tracker: Path | str, n: int) -> str:
    """What plan and run say about a restored copy."""
    return (f"{tracker}: restored tracker: {n} stamp{'' if n == 1 else 's'} re-applied "
            "from the ledger")


def pending_stamps(ledger: Ledger, ws: Workspace) -> Pending:
    """For each tracker read, the stamps of its finished jobs the workbook does not show:
    every stamp of a job not yet written to this copy (a crashed run's, steps a person
    finished — `resolve --sent`, `mark-sent`, `confirm-queue` — or sent through another copy
    of the tracker), and the stamps of jobs written to it before whose cells are empty now
    (an older version restored). The run plans as if they were written, and writes them
    with its own at the end."""
    out = Pending()
    for tr in ws.trackers:
        path = tr.source.path
        copy = tracker_id(path)
        uid = ledger.identities.get(copy)
        entries, written = ledger.of_tracker(copy, uid)
        tenants = {t.tenant_id.casefold(): t for t in tr.tenants}
        for e in entries:
            for s in _stamps_here(e, copy, uid):
                if e.key in written:
                    t = tenants.get(s.tenant_id.casefold())
                    if t is None or not _missing(t, s):
                        continue
                    out.restored[path] = out.restored.get(path, 0) + 1
                out.stamps.append(s)
    return out


def _stamps_here(e: Entry, copy: str, uid: str | None) -> list[Stamp]:
    """The entry's stamps for this tracker, named by this copy."""
    return [Stamp(copy, s["tenant_id"], s["workload"], s["field"],
                  dt.date.fromisoformat(s["value"]) if s.get("is_date") else s["value"])
            for s in e.stamps if stamp_for(s, copy, uid)]


def _missing(t: TenantRecord, s: Stamp) -> bool:
    """Whether the record's cell for this stamp is empty (any of them, for a stamp of every
    workload of the tenant)."""
    def empty(value: Any) -> bool:
        return value is None or value == "" or value == ()

    if FIELDS[s.field].level == "tenant":
        return empty(getattr(t, s.field, None))
    return any(empty(getattr(w, s.field, None)) for w in t.workloads
               if s.workload is None or w.name.casefold() == s.workload.casefold())


class Planner:
    """The run's plans pass after pass, from memory: the stamps finished since the last pass
    are applied on top of the last workspace (each stamp once: applying A then B is applying
    A + B, the last stamp of a cell wins either way), and a tenant whose record they left as
    it was keeps its plan (a record is immutable; its plan depends on it, the date and the
    routing only). A 10,000-row run re-planned every tenant from the first read each pass."""

    def __init__(self, ws: Workspace, options: RunOptions) -> None:
        self.ws, self.options = ws, options
        self.applied = 0  # how many of the run's finished stamps `ws` carries
        self._plans: dict[int, TenantPlan] = {}  # id(record) -> its plan (record kept alive)

    def advance(self, finished: Sequence[Stamp]) -> None:
        """Carry the stamps finished since the last call (``finished`` only grows)."""
        if len(finished) > self.applied:
            self.ws = apply_stamps(self.ws, finished[self.applied:])
        self.applied = len(finished)

    def plan(self) -> list[TenantPlan]:
        """Each tenant's next step as of the run's date, narrowed by --tenant / --fm: what
        `plan_workspace` gives for the current workspace."""
        as_of, routing = self.options.as_of, self.ws.routing
        flt = PlanFilter(tenant=self.options.tenant, fm=self.options.fm)
        plans: list[TenantPlan] = []
        for tr in self.ws.trackers:
            for t in tr.tenants:
                p = self._plans.get(id(t))  # an id in it is a live record's: no reuse
                plans.append(p if p is not None else plan_tenant(t, as_of, routing))
        self._plans = {id(p.tenant): p for p in plans}
        return [p for p in plans if flt.keep(p)]


def note_outcomes(report: RunReport, plans: Sequence[TenantPlan]) -> None:
    """An outcome per tenant the first time the run meets it (its step before the run)."""
    for p in plans:
        t = p.tenant
        key = t.tenant_id.casefold()
        if key in report.tenants:
            continue
        out = TenantOutcome(t.tenant_id, t.customer, str(t.source.path),
                            t.fm.email if t.fm else "", p.region or "", str(p.step))
        if p.step == Step.INVALID:
            out.status = Outcome.SKIPPED
            out.problems = [str(x) for x in p.problems]
        elif p.step == Step.CLOSED:
            out.status = Outcome.DONE
        report.tenants[key] = out


def note_steps_after(report: RunReport, plans: Sequence[TenantPlan]) -> None:
    """Each tenant's next step once the run is over."""
    for p in plans:
        out = report.outcome(p.tenant.tenant_id)
        if out:
            out.step_after = str(p.step)

"""Plan: read the trackers once and decide each tenant's next step; note what was found.

The run reads every tracker here, once; later passes re-plan from these records plus the
stamps the run recorded (`ftc_office.planning.apply_stamps`), never from a second read.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from ftc_office.config import Settings
from ftc_office.jobs import Stamp
from ftc_office.ledger import Ledger
from ftc_office.planning import PlanFilter, Workspace, load_workspace, plan_workspace
from ftc_office.playbook import Step, TenantPlan
from ftc_office.run.report import Outcome, RunOptions, RunReport, TenantOutcome


def read(paths: Sequence[Path], settings: Settings, report: RunReport) -> Workspace:
    """Every tracker's records; a tracker that cannot be read becomes a report error."""
    ws = load_workspace(paths, settings)
    for p in ws.file_problems:
        if str(p) not in report.errors:
            report.errors.append(str(p))
    return ws


def pending_stamps(ledger: Ledger) -> list[Stamp]:
    """The stamps of finished jobs not yet written to their trackers (a crashed run's, or
    steps a person finished: `resolve --sent`, `mark-sent`, `confirm-queue`): the run plans
    as if they were written, and writes them with its own at the end."""
    out = []
    for e in ledger.unwritten():
        for s in e.stamps:
            value = dt.date.fromisoformat(s["value"]) if s.get("is_date") else s["value"]
            out.append(Stamp(s["tracker"], s["tenant_id"], s["workload"], s["field"], value))
    return out


def plan(ws: Workspace, options: RunOptions) -> list[TenantPlan]:
    """Each tenant's next step as of the run's date, narrowed by --tenant / --fm."""
    return plan_workspace(ws, options.as_of, PlanFilter(tenant=options.tenant, fm=options.fm))


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

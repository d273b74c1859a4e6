"""Template context: the values a template may use, built from typed records.

Templates see plain dicts, lists, strings, numbers and dates — never our objects — so the
sandbox has nothing to reach through, and the variables are documented in one place (the
README's template section lists them). Rule results (milestone, region, queue, next action
date) come from the tenant's plan, never recomputed here.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ftc_office.playbook import TenantPlan, atu_note_reason, next_action_date
from ftc_office.tracker.records import WorkloadRecord


def person_name(email: str) -> str:
    """``alex.wilber@microsoft.com`` → ``Alex Wilber`` (a greeting, not an identity)."""
    local = email.split("@", 1)[0]
    parts = [p for p in local.replace("_", ".").replace("-", ".").split(".") if p]
    return " ".join(p.capitalize() for p in parts) or email


def workload_context(w: WorkloadRecord) -> dict[str, Any]:
    """One workload row as template values."""
    nxt = w.next_workloads or ""
    return {
        "name": w.name,
        "discussion_date": w.discussion_date,
        "next_workloads": nxt,
        "next_workload_list": [p.strip() for p in nxt.replace(";", ",").split(",") if p.strip()],
        "rfa_demoed": bool(w.rfa_demoed),
        "next_steps": w.next_steps or "",
        "atu_sent": w.atu_sent,
        "customer_email_sent": w.customer_email_sent,
    }


def tenant_context(plan: TenantPlan) -> dict[str, Any]:
    """The tenant-level template values (plus its workloads), with the plan's rule results."""
    t = plan.tenant
    ms = plan.milestone
    fm = t.fm.email if t.fm else ""
    return {
        "id": t.tenant_id,
        "customer": t.customer,
        "region": plan.region or "",
        "queue": plan.queue or "",
        "seats": t.seats,
        "active_users": t.active_users,
        "no_blockers": bool(t.no_blockers),
        "account_team": [a.email for a in t.account_team],
        "account_team_names": [person_name(a.email) for a in t.account_team],
        "account_managed": t.account_managed,
        "customer_contacts": [a.email for a in t.customer_contacts],
        "fm": fm,
        "fm_name": person_name(fm) if fm else "",
        "milestone": {"eligible": ms.eligible, "reason": ms.reason} if ms else None,
        "atu_note_reason": atu_note_reason(t) or "",
        "workloads": [workload_context(w) for w in t.workloads],
        "service_status": t.service_status_next or "",
    }


def plan_next_action_date(plan: TenantPlan, as_of: dt.date) -> dt.date:
    """The next action date the run writes: the plan's (disengagement); for other steps'
    messages the documented template variable keeps the playbook's date for ``as_of``."""
    return plan.next_action_date or next_action_date(as_of)


def message_context(plan: TenantPlan, as_of: dt.date, workload: WorkloadRecord | None,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a per-tenant or per-workload template gets."""
    ctx: dict[str, Any] = {
        "tenant": tenant_context(plan),
        "workload": workload_context(workload) if workload else None,
        "as_of": as_of,
        "next_action_date": plan_next_action_date(plan, as_of),
    }
    if extra:
        ctx.update(extra)
    return ctx

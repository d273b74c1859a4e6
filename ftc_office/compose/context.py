"""Template context: the values a template may use, built from typed records.

Templates see plain dicts, lists, strings, numbers and dates — never our objects — so the
sandbox has nothing to reach through, and the variables are documented in one place (the
README's template section lists them).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ftc_office.playbook import Milestone, atu_note_reason, milestone, next_action_date
from ftc_office.tracker.records import TenantRecord, WorkloadRecord


def person_name(email: str) -> str:
    """``alex.wilber@microsoft.com`` → ``Alex Wilber`` (a greeting, not an identity)."""
    local = email.split("@", 1)[0]
    parts = [p for p in local.replace("_", ".").replace("-", ".").split(".") if p]
    return " ".join(p.capitalize() for p in parts) or email


def workload_context(w: WorkloadRecord) -> dict[str, Any]:
    """One workload row as template values."""
    nxt = w.get("next_workloads") or ""
    return {
        "name": w.name,
        "discussion_date": w.get("discussion_date"),
        "next_workloads": nxt,
        "next_workload_list": [p.strip() for p in nxt.replace(";", ",").split(",") if p.strip()],
        "rfa_demoed": bool(w.get("rfa_demoed")),
        "next_steps": w.get("next_steps") or "",
        "atu_sent": w.get("atu_sent"),
        "customer_email_sent": w.get("customer_email_sent"),
    }


def tenant_context(t: TenantRecord, as_of: dt.date) -> dict[str, Any]:
    """The tenant-level template values (plus its workloads)."""
    ms: Milestone = milestone(t.get("seats"), t.get("active_users"), t.get("no_blockers"))
    fm = t.fm.email if t.fm else ""
    return {
        "id": t.tenant_id,
        "customer": t.customer,
        "region": t.region or "",
        "queue": t.queue or "",
        "seats": t.get("seats"),
        "active_users": t.get("active_users"),
        "no_blockers": bool(t.get("no_blockers")),
        "account_team": [a.email for a in t.get("account_team") or ()],
        "account_team_names": [person_name(a.email) for a in t.get("account_team") or ()],
        "account_managed": t.get("account_managed"),
        "customer_contacts": [a.email for a in t.get("customer_contacts") or ()],
        "fm": fm,
        "fm_name": person_name(fm) if fm else "",
        "milestone": {"eligible": ms.eligible, "reason": ms.reason},
        "atu_note_reason": atu_note_reason(t) or "",
        "workloads": [workload_context(w) for w in t.workloads],
        "service_status": t.get("service_status_next") or "",
    }


def message_context(t: TenantRecord, as_of: dt.date, workload: WorkloadRecord | None,
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a per-tenant or per-workload template gets."""
    ctx: dict[str, Any] = {
        "tenant": tenant_context(t, as_of),
        "workload": workload_context(workload) if workload else None,
        "as_of": as_of,
        "next_action_date": next_action_date(as_of),
    }
    if extra:
        ctx.update(extra)
    return ctx

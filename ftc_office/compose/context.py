"""Template context: the values a template may use, built from typed records.

Templates see plain dicts, lists, strings, numbers and dates — never our objects — so the
sandbox has nothing to reach through, and the variables are documented in one place (the
README's template section lists them). Rule results (milestone, region, queue, next action
date) come from the tenant's plan, never recomputed here.

Every variable is either customer-safe or internal (:data:`INTERNAL`). A customer message's
context leaves the internal ones out entirely, and :mod:`ftc_office.compose.audience` refuses
a customer template that names one, so internal notes and programme figures cannot reach a
customer even through an overridden template.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from ftc_office.names import TenantPeople, greeting
from ftc_office.playbook import TenantPlan, atu_note_reason, next_action_date
from ftc_office.tracker.records import WorkloadRecord

#: tenant variables only internal messages (and notes) may use
INTERNAL_TENANT = frozenset({
    "seats", "active_users", "no_blockers", "milestone", "atu_note_reason", "account_team",
    "account_team_names", "account_managed", "queue", "service_status"})
#: workload variables only internal messages (and notes) may use: Next Steps is where the FM
#: lists the customer's concerns for the Engagement Management note
INTERNAL_WORKLOAD = frozenset({"next_steps"})
#: every internal name; a customer template may not name any of them
INTERNAL = INTERNAL_TENANT | INTERNAL_WORKLOAD


def workload_context(w: WorkloadRecord, customer: bool = False) -> dict[str, Any]:
    """One workload row as template values (internal ones left out for a customer)."""
    nxt = w.next_workloads or ""
    ctx = {
        "name": w.name,
        "discussion_date": w.discussion_date,
        "next_workloads": nxt,
        "next_workload_list": [p.strip() for p in nxt.replace(";", ",").split(",") if p.strip()],
        "rfa_demoed": bool(w.rfa_demoed),
        "next_steps": w.next_steps or "",
        "customer_next_steps": w.customer_next_steps or "",
        "atu_sent": w.atu_sent,
        "customer_email_sent": w.customer_email_sent,
    }
    return {k: v for k, v in ctx.items() if k not in INTERNAL_WORKLOAD} if customer else ctx


def tenant_context(plan: TenantPlan, people: TenantPeople, customer: bool = False
                   ) -> dict[str, Any]:
    """The tenant-level template values (plus its workloads), with the plan's rule results
    and the names we know (never guessed from addresses)."""
    t = plan.tenant
    ms = plan.milestone
    fm = people.fm
    ctx = {
        "id": t.tenant_id,
        "customer": t.customer,
        "region": plan.region or "",
        "queue": plan.queue or "",
        "seats": t.seats,
        "active_users": t.active_users,
        "no_blockers": bool(t.no_blockers),
        "account_team": [a.email for a in people.account_team],
        "account_team_names": [a.name for a in people.account_team if a.name],
        "account_managed": t.account_managed,
        "customer_contacts": [a.email for a in people.customer_contacts],
        "customer_contact_names": [a.name for a in people.customer_contacts if a.name],
        "fm": fm.email if fm else "",
        "fm_name": fm.name if fm else "",
        "milestone": {"eligible": ms.eligible, "reason": ms.reason} if ms else None,
        "atu_note_reason": atu_note_reason(t) or "",
        "workloads": [workload_context(w, customer) for w in t.workloads],
        "service_status": t.service_status_next or "",
    }
    return {k: v for k, v in ctx.items() if k not in INTERNAL_TENANT} if customer else ctx


def plan_next_action_date(plan: TenantPlan, as_of: dt.date) -> dt.date:
    """The next action date the run writes: the plan's (disengagement); for other steps'
    messages the documented template variable keeps the playbook's date for ``as_of``."""
    return plan.next_action_date or next_action_date(as_of)


def message_context(plan: TenantPlan, as_of: dt.date, workloads: Sequence[WorkloadRecord],
                    people: TenantPeople, audience: str = "internal",
                    extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything a per-tenant or per-workload template gets. ``workloads`` are the ones the
    message covers (``workload`` is the first, for templates written for one); a customer
    message gets customer-safe values only."""
    customer = audience == "customer"
    recipients = people.customer_contacts if customer else people.account_team
    fm = people.fm
    ctx: dict[str, Any] = {
        "tenant": tenant_context(plan, people, customer),
        "workload": workload_context(workloads[0], customer) if workloads else None,
        "covered": [workload_context(w, customer) for w in workloads],
        "as_of": as_of,
        "next_action_date": plan_next_action_date(plan, as_of),
        "greeting": greeting(recipients),
        "sender_name": fm.name if fm else "",
        "sender": fm.email if fm else "",
    }
    if extra:
        ctx.update(extra)
    return ctx

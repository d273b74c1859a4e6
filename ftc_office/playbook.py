"""The playbook as pure rules: (records, as-of date) → decisions. No I/O here.

DOMAIN.md is the source: the enablement milestone, queue routing, the next action date
(12/31 of the following year) and exactly one next step per tenant, with the concrete
actions that are due now (a tenant may have several, e.g. one ATU message per workload).
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from ftc_office.errors import Problem
from ftc_office.tracker.records import TenantRecord, WorkloadRecord


class Step(enum.StrEnum):
    """The plan vocabulary (DOMAIN.md "The plan")."""

    INVALID = "invalid"
    NOT_ELIGIBLE = "not_eligible"
    SEND_ATU = "send_atu"
    AWAIT_DISCUSSION = "await_discussion"
    SEND_CUSTOMER_FOLLOWUP = "send_customer_followup"
    REQUEST_QUEUE_MOVE = "request_queue_move"
    AWAIT_QUEUE_CONFIRMATION = "await_queue_confirmation"
    UNASSIGN_FM = "unassign_fm"
    CLOSED = "closed"


class ActionKind(enum.StrEnum):
    """Something the toolkit does for a tenant in a run."""

    ATU = "atu"
    ATU_NOTE = "atu_note"
    CUSTOMER_FOLLOWUP = "customer_followup"
    DISENGAGE = "disengage"
    UNASSIGN_FM = "unassign_fm"


@dataclass(frozen=True)
class Milestone:
    """Whether the enablement milestone is reached, and why (with the numbers)."""

    eligible: bool
    reason: str


@dataclass(frozen=True)
class Action:
    """One due action; ``workload`` is set for per-workload actions."""

    kind: ActionKind
    workload: WorkloadRecord | None = None
    detail: str = ""


@dataclass(frozen=True)
class TenantPlan:
    """The plan for one tenant on one as-of date."""

    tenant: TenantRecord
    step: Step
    milestone: Milestone | None
    actions: tuple[Action, ...]
    next_action_date: dt.date | None
    problems: tuple[Problem, ...]

    @property
    def eligible(self) -> bool | None:
        return None if self.milestone is None else self.milestone.eligible


def milestone(seats: int | None, active: int | None, no_blockers: bool | None) -> Milestone:
    """DOMAIN.md rule 1, with the branch and the numbers in the reason."""
    if seats is not None and active is not None:
        if seats >= 1000 and active >= 100:
            return Milestone(True, f"{active} active users ≥ 100 with {seats} seats (≥ 1000)")
        if seats < 1000 and active * 10 >= seats:
            return Milestone(True, f"{active} active users ≥ 10% of {seats} seats (< 1000)")
    if no_blockers:
        return Milestone(True, "customer confirmed no technical blockers")
    if seats is None:
        return Milestone(False, "seats unknown")
    if active is None:
        return Milestone(False, f"active users unknown ({seats} seats)")
    if seats >= 1000:
        return Milestone(False, f"{active} active users < 100 with {seats} seats (≥ 1000)")
    needed = -(-seats // 10)
    return Milestone(False, f"{active} active users < 10% of {seats} seats (needs {needed})")


def next_action_date(as_of: dt.date) -> dt.date:
    """12/31 of the year after the run's date."""
    return dt.date(as_of.year + 1, 12, 31)


def atu_note_reason(tenant: TenantRecord) -> str | None:
    """Why the ATU mail is replaced by a note, or None when it should be sent."""
    team = tenant.get("account_team") or ()
    managed = tenant.get("account_managed")
    if not team and managed is False:
        return "the Microsoft account team is not known and the account is not managed"
    if not team:
        return "the Microsoft account team is not known"
    if managed is False:
        return "the account is not managed"
    return None


def plan_tenant(tenant: TenantRecord, as_of: dt.date) -> TenantPlan:
    """Exactly one next step for a tenant, and the actions due now."""
    if tenant.problems:
        return TenantPlan(tenant, Step.INVALID, None, (), None, tenant.problems)
    ms = milestone(tenant.get("seats"), tenant.get("active_users"), tenant.get("no_blockers"))
    wls = tenant.workloads
    started = any(w.get("atu_sent") for w in wls)
    if not ms.eligible and not started:
        return TenantPlan(tenant, Step.NOT_ELIGIBLE, ms, (), None, ())
    if tenant.get("fm_unassigned"):
        return TenantPlan(tenant, Step.CLOSED, ms, (), None, ())
    nad = next_action_date(as_of)
    if tenant.get("queue_requested"):
        if tenant.get("queue_confirmed"):
            return TenantPlan(tenant, Step.UNASSIGN_FM, ms,
                              (Action(ActionKind.UNASSIGN_FM),), None, ())
        return TenantPlan(tenant, Step.AWAIT_QUEUE_CONFIRMATION, ms, (), None, ())
    actions: list[Action] = []
    note_reason = atu_note_reason(tenant)
    for w in wls:
        if not w.get("atu_sent"):
            if note_reason:
                actions.append(Action(ActionKind.ATU_NOTE, w, note_reason))
            else:
                actions.append(Action(ActionKind.ATU, w))
    for w in wls:
        if w.get("atu_sent") and w.get("discussion_date") and not w.get("customer_email_sent"):
            actions.append(Action(ActionKind.CUSTOMER_FOLLOWUP, w))
    if actions:
        step = (Step.SEND_ATU if actions[0].kind in (ActionKind.ATU, ActionKind.ATU_NOTE)
                else Step.SEND_CUSTOMER_FOLLOWUP)
        return TenantPlan(tenant, step, ms, tuple(actions), None, ())
    if all(w.get("customer_email_sent") for w in wls):
        return TenantPlan(tenant, Step.REQUEST_QUEUE_MOVE, ms,
                          (Action(ActionKind.DISENGAGE, detail=tenant.queue or ""),), nad, ())
    return TenantPlan(tenant, Step.AWAIT_DISCUSSION, ms, (), None, ())

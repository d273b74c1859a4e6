"""The playbook as pure rules: (records, routing table, as-of date) → decisions. No I/O here.

docs/DOMAIN.md is the source: the enablement milestone, queue routing (region as typed → region →
assignment queue, through the config's table), the next action date (12/31 of the following
year) and exactly one next step per tenant, with the concrete actions that are due now (a
tenant may have several, e.g. one ATU message per workload). Later stages read these results
from the plan; they never recompute them.
"""

from __future__ import annotations

import datetime as dt
import enum
import functools
from dataclasses import dataclass
from typing import Any

from ftc_office.config import RoutingSettings
from ftc_office.errors import Problem
from ftc_office.fields import normalise_header as _norm
from ftc_office.steps import Step
from ftc_office.tracker.checks import implausible_dates
from ftc_office.tracker.records import TenantRecord, WorkloadRecord


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
class Route:
    """Where a tenant's region sends it: the region's canonical name and its queue."""

    region: str
    queue: str


@dataclass(frozen=True)
class TenantPlan:
    """The plan for one tenant on one as-of date.

    ``region`` and ``queue`` are the routing of the tenant's region (None when the region is
    empty or unknown); ``next_action_date`` is set for the disengagement step.
    """

    tenant: TenantRecord
    step: Step
    milestone: Milestone | None
    actions: tuple[Action, ...]
    next_action_date: dt.date | None
    problems: tuple[Problem, ...]
    region: str | None = None
    queue: str | None = None

    @property
    def eligible(self) -> bool | None:
        return None if self.milestone is None else self.milestone.eligible


def milestone(seats: int | None, active: int | None, no_blockers: bool | None) -> Milestone:
    """docs/DOMAIN.md rule 1, with the branch and the numbers in the reason."""
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


def route(region: str | None, routing: RoutingSettings) -> Route | None:
    """docs/DOMAIN.md rule 6: a region as typed (any spelling in the routing table, or a queue's
    region name) → its region and queue; None when empty or unknown (never a default)."""
    if not region:
        return None
    name = _index_for(routing).get(_norm(str(region)))
    return None if name is None else Route(name, routing.queues[name])


#: the last routing table asked about: (the settings object, copies of its two tables, its
#: index) — `plan` asks three times per tenant with the same table; building the cache key
#: of `_route_index` each time cost more than the look-up
_LAST: list[Any] = [None, None, None, {}]


def _index_for(routing: RoutingSettings) -> dict[str, str]:
    """`_route_index` of this table, checked against the table as it is now (a table changed
    in place gets a new index)."""
    last, regions, queues, index = _LAST
    if last is routing and regions == routing.regions and queues == routing.queues:
        return index
    fresh = _route_index(tuple(routing.regions.items()), tuple(routing.queues))
    _LAST[:] = [routing, dict(routing.regions), dict(routing.queues), fresh]
    return fresh


@functools.lru_cache(maxsize=16)
def _route_index(regions: tuple[tuple[str, str], ...], queues: tuple[str, ...]
                 ) -> dict[str, str]:
    """Normalised spelling → region name, built once per routing table (keyed by its content,
    so a changed table gets its own index), not once per tenant."""
    index = {_norm(k): v for k, v in regions}
    index.update({_norm(k): k for k in queues})
    return index


def routing_problem(tenant: TenantRecord, routing: RoutingSettings) -> Problem | None:
    """The problem of a filled region that has no assignment queue, at the Region cell."""
    if not tenant.region or route(tenant.region, routing) is not None:
        return None
    known = ", ".join(routing.queues)
    return Problem(tenant.where("region"),
                   f"region {tenant.region!r} has no assignment queue",
                   f"use one of {known}, or add the spelling to [routing.regions] in "
                   "ftc-office.toml")


def atu_note_reason(tenant: TenantRecord) -> str | None:
    """Why the ATU mail is replaced by a note, or None when it should be sent."""
    team = tenant.account_team
    managed = tenant.account_managed
    if not team and managed is False:
        return "the Microsoft account team is not known and the account is not managed"
    if not team:
        return "the Microsoft account team is not known"
    if managed is False:
        return "the account is not managed"
    return None


#: how the atu_note step's stamp in ATU Status begins ("No ATU (2026-11-26): the Microsoft
#: account team is not known"); compared ignoring case and edge spaces
NO_ATU = "No ATU"
NO_ATU_PREFIX = NO_ATU.casefold()


def atu_done(w: WorkloadRecord) -> bool:
    """Whether a workload's ATU step is done: ATU Sent has a value (a date; or text, as older
    versions wrote the no-ATU reason there), or ATU Status holds a no-ATU reason."""
    if w.atu_sent:
        return True
    return (w.atu_status or "").strip().casefold().startswith(NO_ATU_PREFIX)


def plan_tenant(tenant: TenantRecord, as_of: dt.date,
                routing: RoutingSettings | None = None) -> TenantPlan:
    """Exactly one next step for a tenant, and the actions due now (routing defaults to the
    config's default table)."""
    routing = routing or RoutingSettings()
    found = route(tenant.region, routing)
    region, queue = (found.region, found.queue) if found else (None, None)
    problems = tenant.problems
    unrouted = routing_problem(tenant, routing)
    if unrouted is not None and unrouted not in problems:
        problems = (*problems, unrouted)  # a record not loaded through planning.load_workspace
    problems = (*problems, *implausible_dates(tenant, as_of))
    if problems:
        return TenantPlan(tenant, Step.INVALID, None, (), None, problems, region, queue)
    step, ms, actions, nad = _decide(tenant, as_of, queue)
    return TenantPlan(tenant, step, ms, actions, nad, (), region, queue)


def _decide(tenant: TenantRecord, as_of: dt.date, queue: str | None
            ) -> tuple[Step, Milestone, tuple[Action, ...], dt.date | None]:
    """The next step of a valid tenant: step, milestone, due actions, next action date."""
    ms = milestone(tenant.seats, tenant.active_users, tenant.no_blockers)
    wls = tenant.workloads
    if not ms.eligible and not any(atu_done(w) for w in wls):
        return Step.NOT_ELIGIBLE, ms, (), None
    if tenant.fm_unassigned:
        return Step.CLOSED, ms, (), None
    if tenant.queue_requested:
        if tenant.queue_confirmed:
            return Step.UNASSIGN_FM, ms, (Action(ActionKind.UNASSIGN_FM),), None
        return Step.AWAIT_QUEUE_CONFIRMATION, ms, (), None
    actions: list[Action] = []
    note_reason = atu_note_reason(tenant)
    for w in wls:
        if not atu_done(w):
            if note_reason:
                actions.append(Action(ActionKind.ATU_NOTE, w, note_reason))
            else:
                actions.append(Action(ActionKind.ATU, w))
    for w in wls:
        if atu_done(w) and w.discussion_date and not w.customer_email_sent:
            actions.append(Action(ActionKind.CUSTOMER_FOLLOWUP, w))
    if actions:
        step = (Step.SEND_ATU if actions[0].kind in (ActionKind.ATU, ActionKind.ATU_NOTE)
                else Step.SEND_CUSTOMER_FOLLOWUP)
        return step, ms, tuple(actions), None
    if all(w.customer_email_sent for w in wls):
        return (Step.REQUEST_QUEUE_MOVE, ms,
                (Action(ActionKind.DISENGAGE, detail=queue or ""),), next_action_date(as_of))
    return Step.AWAIT_DISCUSSION, ms, (), None

"""Counting plans: the one computation behind `plan`'s counts, the run's summary and the
dashboard (three views of the same numbers).

``tally`` groups anything and counts a label per group; ``plan_counts`` is the team's plans
counted per step, for the team, per FM and per region, with the same labels `plan --json`
gives (``fm`` and ``region``; ``-`` where empty).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ftc_office.playbook import TenantPlan
from ftc_office.steps import Step

T = TypeVar("T")

#: the playbook in order, from not eligible to closed; invalid apart (it needs a person)
FUNNEL: tuple[Step, ...] = (
    Step.NOT_ELIGIBLE, Step.SEND_ATU, Step.AWAIT_DISCUSSION, Step.SEND_CUSTOMER_FOLLOWUP,
    Step.REQUEST_QUEUE_MOVE, Step.AWAIT_QUEUE_CONFIRMATION, Step.UNASSIGN_FM, Step.CLOSED,
)
NONE_LABEL = "-"


def tally(items: Iterable[T], group: Callable[[T], str | None],
          label: Callable[[T], str]) -> dict[str, Counter[str]]:
    """Per group (``-`` for an empty one), how many items carry each label."""
    out: dict[str, Counter[str]] = {}
    for item in items:
        out.setdefault(group(item) or NONE_LABEL, Counter())[label(item)] += 1
    return out


def plan_fm(plan: TenantPlan) -> str:
    """The FM label of a plan, as `plan --json` gives it (``-`` when empty)."""
    fm = plan.tenant.fm
    return fm.email if fm else NONE_LABEL


def plan_region(plan: TenantPlan) -> str:
    """The routed region of a plan, as `plan --json` gives it (``-`` when empty/unknown)."""
    return plan.region or NONE_LABEL


@dataclass(frozen=True)
class PlanCounts:
    """Tenants per step for the team, per FM and per region (step values as keys)."""

    team: Counter[str]
    by_fm: dict[str, Counter[str]]
    by_region: dict[str, Counter[str]]

    @property
    def total(self) -> int:
        """How many tenants were counted."""
        return sum(self.team.values())


def team_counts(plans: Sequence[TenantPlan]) -> Counter[str]:
    """The plans per step, all together (the team's)."""
    return Counter(str(p.step) for p in plans)


def plan_counts(plans: Sequence[TenantPlan]) -> PlanCounts:
    """Count the plans per step: the team's, each FM's and each region's."""
    def step(p: TenantPlan) -> str:
        return str(p.step)

    return PlanCounts(team_counts(plans), dict(sorted(tally(plans, plan_fm, step).items())),
                      dict(sorted(tally(plans, plan_region, step).items())))


def ordered_steps(counts: Counter[str]) -> list[tuple[Step, int]]:
    """The non-zero counts in playbook order (invalid first, as `Step` lists it)."""
    return [(s, counts[s]) for s in Step if counts[s]]

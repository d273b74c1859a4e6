"""The dashboard's numbers: funnel, regions, who waits longest, what needs a person, next
action dates, and what the ledger recorded lately. Pure data; no HTML, no charts.

Counts per step come from ``ftc_office.tally.plan_counts``, so they are the numbers of
`plan --json` and of the run's summary. Long lists are cut (``LIST_LIMIT``) with the number
left out said, so a 10,000-row tracker still gives a small page.
"""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ftc_office.jobs import State
from ftc_office.ledger import Entry
from ftc_office.playbook import TenantPlan
from ftc_office.steps import Step
from ftc_office.tally import NONE_LABEL, PlanCounts, plan_counts, plan_fm
from ftc_office.tracker.records import Mark, TenantRecord

LIST_LIMIT = 25
INVALID_LIMIT = 100
LEDGER_DAYS = 7
#: the ledger columns, in the order shown; ``sending`` counts as ``unknown`` (in doubt)
LEDGER_STATES = ("sent", "drafted", "scheduled", "unknown", "failed", "refused")
#: the three clocks of the waiting steps
CLOCKS = ("atu", "followup", "queue")
CLOCK_TITLES = {
    "atu": "Awaiting the discussion — days since the ATU",
    "followup": "Awaiting the next workload's discussion — days since the last follow-up",
    "queue": "Awaiting queue confirmation — days since the queue request",
}
NOT_IN_TRACKERS = "(not in these trackers)"
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True)
class Waiting:
    """A tenant at a waiting step, and since when (None when the date cannot be read)."""

    tenant_id: str
    customer: str
    fm: str
    tracker: str
    since: dt.date | None
    days: int | None


@dataclass(frozen=True)
class Invalid:
    """An invalid tenant and its first problem (where, what, fix)."""

    tenant_id: str
    customer: str
    fm: str
    where: str
    what: str
    fix: str
    more: int


@dataclass
class Shortlist:
    """The first rows of a longer list, and how many were left out."""

    rows: list[Any] = field(default_factory=list)
    left_out: int = 0


@dataclass
class Dashboard:
    """Everything the page shows."""

    as_of: dt.date
    trackers: list[str]
    file_problems: list[str]
    counts: PlanCounts
    waiting: dict[str, Shortlist]
    invalid: Shortlist
    next_actions: list[tuple[str, int]]
    ledger_since: dt.date
    ledger: dict[str, Counter[str]] | None  # None: no ledger was read
    ledger_total: Counter[str]  # each entry once (a queue move for two FMs counts once)



def mark_date(mark: Mark | None) -> dt.date | None:
    """The date of a 'done' cell: the date itself, or the ISO date in a text such as
    ``No ATU (2026-11-26): …``; None when there is none."""
    if isinstance(mark, dt.date):
        return mark
    found = _ISO.search(mark or "")
    if found is None:
        return None
    try:
        return dt.date.fromisoformat(found.group())
    except ValueError:
        return None


def waiting_clock(t: TenantRecord, step: Step) -> tuple[str, dt.date | None] | None:
    """Which clock a tenant's wait runs on, and since when; None when it is not waiting."""
    if step == Step.AWAIT_QUEUE_CONFIRMATION:
        return "queue", mark_date(t.queue_requested)
    if step != Step.AWAIT_DISCUSSION:
        return None
    followed = [d for w in t.workloads if (d := mark_date(w.customer_email_sent))]
    if followed:
        return "followup", max(followed)
    sent = [d for w in t.workloads if not w.discussion_date and (d := mark_date(w.atu_sent))]
    return "atu", min(sent) if sent else None


def waiting_lists(plans: Iterable[TenantPlan], as_of: dt.date) -> dict[str, Shortlist]:
    """Per clock, the tenants waiting longest first (an unreadable date last)."""
    found: dict[str, list[Waiting]] = {c: [] for c in CLOCKS}
    for p in plans:
        clock = waiting_clock(p.tenant, p.step)
        if clock is None:
            continue
        name, since = clock
        days = (as_of - since).days if since else None
        found[name].append(Waiting(p.tenant.tenant_id, p.tenant.customer, plan_fm(p),
                                   str(p.tenant.source.path), since, days))
    out = {}
    for name, rows in found.items():
        rows.sort(key=lambda w: (w.days is None, -(w.days or 0), w.customer))
        out[name] = Shortlist(rows[:LIST_LIMIT], max(0, len(rows) - LIST_LIMIT))
    return out


def invalid_list(plans: Iterable[TenantPlan]) -> Shortlist:
    """Invalid tenants with their first problem, in tracker and row order."""
    rows = [Invalid(p.tenant.tenant_id, p.tenant.customer, plan_fm(p), p.problems[0].where,
                    p.problems[0].what, p.problems[0].fix, len(p.problems) - 1)
            for p in plans if p.step == Step.INVALID and p.problems]
    return Shortlist(rows[:INVALID_LIMIT], max(0, len(rows) - INVALID_LIMIT))


def next_actions(plans: Iterable[TenantPlan]) -> list[tuple[str, int]]:
    """Tenants per month of their Next Action Date (the tracker's, else the one the plan
    would stamp), months in order."""
    months: Counter[str] = Counter()
    for p in plans:
        date = p.tenant.next_action_date or p.next_action_date
        if date is not None and p.step != Step.INVALID:
            months[date.strftime("%Y-%m")] += 1
    return sorted(months.items())


def ledger_by_fm(entries: Iterable[Entry], plans: Sequence[TenantPlan], since: dt.date
                 ) -> tuple[dict[str, Counter[str]], Counter[str]]:
    """Messages per FM and state updated on or after ``since``, and the team's. A queue move
    for several FMs' tenants counts once for each FM (once for the team); tenants in no
    given tracker are counted apart."""
    fm_of = {p.tenant.tenant_id.casefold(): plan_fm(p) for p in plans}
    out: dict[str, Counter[str]] = {}
    team: Counter[str] = Counter()
    for e in entries:
        state = State.UNKNOWN if e.state == State.SENDING else e.state
        if state not in LEDGER_STATES or e.updated_at[:10] < since.isoformat():
            continue
        team[state] += 1
        fms = {fm_of.get(t.casefold(), NOT_IN_TRACKERS) for t in e.tenant_ids}
        for fm in fms or {NOT_IN_TRACKERS}:
            out.setdefault(fm, Counter())[state] += 1
    return dict(sorted(out.items())), team


def build_dashboard(plans: Sequence[TenantPlan], as_of: dt.date, trackers: Sequence[str],
                    file_problems: Sequence[str] = (),
                    entries: Iterable[Entry] | None = None) -> Dashboard:
    """The dashboard's numbers for planned tenants (and ledger entries, when given)."""
    since = as_of - dt.timedelta(days=LEDGER_DAYS - 1)
    ledger, total = (None, Counter[str]()) if entries is None else ledger_by_fm(
        entries, plans, since)
    return Dashboard(
        as_of=as_of, trackers=list(trackers), file_problems=list(file_problems),
        counts=plan_counts(plans), waiting=waiting_lists(plans, as_of),
        invalid=invalid_list(plans), next_actions=next_actions(plans), ledger_since=since,
        ledger=ledger, ledger_total=total)


__all__ = ["CLOCK_TITLES", "LEDGER_STATES", "NONE_LABEL", "Dashboard", "build_dashboard"]

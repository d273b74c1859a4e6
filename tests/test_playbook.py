"""The playbook rules (DOMAIN.md "The rules" and "The plan"), through real tracker workbooks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from builders import make_tracker, row
from hypothesis import given
from hypothesis import strategies as st

from ftc_office.config import Settings
from ftc_office.playbook import (
    ActionKind,
    TenantPlan,
    milestone,
    next_action_date,
    plan_tenant,
)
from ftc_office.steps import Step
from ftc_office.tracker.builder import load_tracker

AS_OF = dt.date(2026, 11, 26)
DAY = dt.date(2026, 6, 1)


def plan_rows(tmp_path: Path, rows: list[dict[str, Any]], as_of: dt.date = AS_OF
              ) -> dict[str, TenantPlan]:
    """Write the rows as a tracker, read it back and plan every tenant."""
    path = make_tracker(tmp_path / "tracker.xlsx", rows)
    records = load_tracker(path, Settings())
    return {t.tenant_id: plan_tenant(t, as_of) for t in records.tenants}


def plan_one(tmp_path: Path, *rows: dict[str, Any]) -> TenantPlan:
    plans = plan_rows(tmp_path, list(rows))
    assert len(plans) == 1
    return next(iter(plans.values()))


# --- rule 1: the enablement milestone ---------------------------------------------------

@pytest.mark.parametrize(("seats", "active", "eligible"), [
    (1000, 100, True),    # ≥ 1000 seats: 100 active users
    (1000, 99, False),
    (5000, 100, True),    # the ≥ 1000 rule is a flat 100, not 10 %
    (999, 100, True),     # < 1000 seats: 100 * 10 >= 999
    (999, 99, False),     # 990 < 999
    (999, 1000, True),
    (500, 50, True),
    (500, 49, False),
    (10, 1, True),
    (11, 1, False),       # 10 < 11: exact integer compare, no rounding down to 1
    (1, 1, True),
    (500, 0, False),
    (1200, 0, False),
])
def test_milestone_boundaries(seats: int, active: int, eligible: bool) -> None:
    ms = milestone(seats, active, None)
    assert ms.eligible is eligible
    assert str(seats) in ms.reason and str(active) in ms.reason


@pytest.mark.parametrize(("seats", "active", "expected"), [
    (1000, 100, "100 active users ≥ 100 with 1000 seats (≥ 1000)"),
    (1000, 99, "99 active users < 100 with 1000 seats (≥ 1000)"),
    (999, 100, "100 active users ≥ 10% of 999 seats (< 1000)"),
    (999, 99, "99 active users < 10% of 999 seats (needs 100)"),
    (500, 49, "49 active users < 10% of 500 seats (needs 50)"),
])
def test_milestone_reason_text(seats: int, active: int, expected: str) -> None:
    assert milestone(seats, active, None).reason == expected


@pytest.mark.parametrize(("seats", "active"), [(1000, 0), (500, 49), (None, None), (800, None)])
def test_no_blockers_yes_makes_any_tenant_eligible(seats: int | None, active: int | None) -> None:
    ms = milestone(seats, active, True)
    assert ms.eligible
    assert ms.reason == "customer confirmed no technical blockers"


def test_no_blockers_no_does_not_help() -> None:
    assert not milestone(500, 49, False).eligible


def test_unknown_active_users_is_not_eligible_and_says_so() -> None:
    ms = milestone(800, None, None)
    assert not ms.eligible
    assert ms.reason == "active users unknown (800 seats)"


def test_milestone_through_a_workbook(tmp_path: Path) -> None:
    plans = plan_rows(tmp_path, [
        row("big-yes", seats=1000, active_users=100),
        row("big-no", seats=1000, active_users=99),
        row("small-yes", seats=999, active_users=100),
        row("small-no", seats=999, active_users=99),
        row("half-yes", seats=500, active_users=50),
        row("half-no", seats=500, active_users=49),
        row("zero", seats=500, active_users=0),
        row("unknown", seats=500, active_users=None),
        row("confirmed", seats=500, active_users=3, no_blockers="Yes"),
        row("unknown-confirmed", seats=500, active_users=None, no_blockers="y"),
    ])
    steps = {tid: p.step for tid, p in plans.items()}
    assert steps == {
        "big-yes": Step.SEND_ATU, "big-no": Step.NOT_ELIGIBLE,
        "small-yes": Step.SEND_ATU, "small-no": Step.NOT_ELIGIBLE,
        "half-yes": Step.SEND_ATU, "half-no": Step.NOT_ELIGIBLE,
        "zero": Step.NOT_ELIGIBLE, "unknown": Step.NOT_ELIGIBLE,
        "confirmed": Step.SEND_ATU, "unknown-confirmed": Step.SEND_ATU,
    }
    assert plans["half-no"].milestone is not None
    assert plans["half-no"].milestone.reason == "49 active users < 10% of 500 seats (needs 50)"
    assert plans["half-no"].eligible is False
    assert plans["unknown"].milestone is not None
    assert plans["unknown"].milestone.reason == "active users unknown (500 seats)"
    assert plans["big-yes"].eligible is True
    assert plans["big-yes"].actions[0].kind is ActionKind.ATU


# --- the next step, for every step of the vocabulary ----------------------------------

def test_invalid_tenant_has_no_milestone_and_lists_its_problems(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row("t-1", seats="lots"))
    assert p.step is Step.INVALID
    assert p.eligible is None and p.milestone is None
    assert p.actions == () and p.next_action_date is None
    assert [str(x) for x in p.problems] == [
        f"{tmp_path / 'tracker.xlsx'}, Tracker!D2: 'lots' is not a whole number — "
        "type digits only, e.g. 1200"]


def test_not_eligible(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row(seats=2000, active_users=10))
    assert p.step is Step.NOT_ELIGIBLE
    assert p.actions == ()


def test_send_atu_to_a_known_account_team_one_action_per_workload(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row("t-1", "Teams"), row("t-1", "Exchange Online"))
    assert p.step is Step.SEND_ATU
    assert [(a.kind, a.workload.name if a.workload else None) for a in p.actions] == [
        (ActionKind.ATU, "Teams"), (ActionKind.ATU, "Exchange Online")]
    assert p.next_action_date is None


@pytest.mark.parametrize(("team", "managed", "why"), [
    ("", "Yes", "the Microsoft account team is not known"),
    ("", None, "the Microsoft account team is not known"),
    ("ann@microsoft.com", "No", "the account is not managed"),
    ("", "No", "the Microsoft account team is not known and the account is not managed"),
])
def test_send_atu_becomes_a_note_without_an_account_team(
        tmp_path: Path, team: str, managed: str | None, why: str) -> None:
    p = plan_one(tmp_path, row(account_team=team or None, account_managed=managed))
    assert p.step is Step.SEND_ATU
    assert [(a.kind, a.detail) for a in p.actions] == [(ActionKind.ATU_NOTE, why)]


def test_await_discussion_after_the_atu(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row(atu_sent=DAY))
    assert p.step is Step.AWAIT_DISCUSSION
    assert p.actions == ()


def test_send_customer_followup_once_the_discussion_is_recorded(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row(atu_sent=DAY, discussion_date=DAY, rfa_demoed="Yes"))
    assert p.step is Step.SEND_CUSTOMER_FOLLOWUP
    assert [(a.kind, a.workload.name if a.workload else None) for a in p.actions] == [
        (ActionKind.CUSTOMER_FOLLOWUP, "Teams")]


def test_request_queue_move_when_every_workload_is_followed_up(tmp_path: Path) -> None:
    done: dict[str, Any] = {"atu_sent": DAY, "discussion_date": DAY, "customer_email_sent": DAY}
    p = plan_one(tmp_path, row("t-1", "Teams", **done), row("t-1", "SharePoint Online", **done))
    assert p.step is Step.REQUEST_QUEUE_MOVE
    assert [(a.kind, a.detail) for a in p.actions] == [
        (ActionKind.DISENGAGE, "FTCQ Inactive EMEA")]
    assert p.next_action_date == dt.date(2027, 12, 31)


@pytest.mark.parametrize(("region", "queue"), [
    ("Americas", "FTCQ Inactive Americas"), ("LATAM", "FTCQ Inactive Americas"),
    ("APAC", "FTCQ Inactive APJ"), ("Europe", "FTCQ Inactive EMEA"),
])
def test_request_queue_move_names_the_regions_queue(tmp_path: Path, region: str, queue: str
                                                    ) -> None:
    p = plan_one(tmp_path, row(region=region, atu_sent=DAY, discussion_date=DAY,
                               customer_email_sent=DAY))
    assert p.step is Step.REQUEST_QUEUE_MOVE
    assert p.actions[0].detail == queue


def test_unknown_region_stops_the_tenant_without_a_default_queue(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row(region="Mars", atu_sent=DAY, discussion_date=DAY,
                               customer_email_sent=DAY))
    assert p.step is Step.INVALID
    assert p.queue is None and p.region is None
    assert "region 'Mars' has no assignment queue" in str(p.problems[0])


def test_await_queue_confirmation(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row(atu_sent=DAY, discussion_date=DAY, customer_email_sent=DAY,
                               task_4058=DAY, queue_requested=DAY))
    assert p.step is Step.AWAIT_QUEUE_CONFIRMATION
    assert p.actions == () and p.next_action_date is None


def test_unassign_fm_once_the_queue_is_confirmed(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row(atu_sent=DAY, discussion_date=DAY, customer_email_sent=DAY,
                               task_4058=DAY, queue_requested=DAY, queue_confirmed=DAY))
    assert p.step is Step.UNASSIGN_FM
    assert [a.kind for a in p.actions] == [ActionKind.UNASSIGN_FM]


def test_closed_after_the_fm_is_unassigned(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row(atu_sent=DAY, discussion_date=DAY, customer_email_sent=DAY,
                               task_4058=DAY, queue_requested=DAY, queue_confirmed=DAY,
                               fm_unassigned=DAY))
    assert p.step is Step.CLOSED
    assert p.actions == ()


def test_a_started_engagement_goes_on_when_usage_drops(tmp_path: Path) -> None:
    p = plan_one(tmp_path, row(seats=2000, active_users=5, atu_sent=DAY))
    assert p.eligible is False
    assert p.step is Step.AWAIT_DISCUSSION


# --- rule 5: the FM disengages only once the last service is complete -------------------

def test_three_workloads_two_followed_up_is_not_a_queue_move(tmp_path: Path) -> None:
    done: dict[str, Any] = {"atu_sent": DAY, "discussion_date": DAY, "customer_email_sent": DAY}
    p = plan_one(tmp_path, row("t-1", "Teams", **done), row("t-1", "Exchange Online", **done),
                 row("t-1", "SharePoint Online", atu_sent=DAY))
    assert p.step is Step.AWAIT_DISCUSSION
    assert p.next_action_date is None


def test_three_workloads_last_discussion_recorded_is_its_followup(tmp_path: Path) -> None:
    done: dict[str, Any] = {"atu_sent": DAY, "discussion_date": DAY, "customer_email_sent": DAY}
    p = plan_one(tmp_path, row("t-1", "Teams", **done), row("t-1", "Exchange Online", **done),
                 row("t-1", "SharePoint Online", atu_sent=DAY, discussion_date=DAY))
    assert p.step is Step.SEND_CUSTOMER_FOLLOWUP
    assert [a.workload.name for a in p.actions if a.workload] == ["SharePoint Online"]


def test_a_new_workload_row_reopens_the_atu_step(tmp_path: Path) -> None:
    done: dict[str, Any] = {"atu_sent": DAY, "discussion_date": DAY, "customer_email_sent": DAY}
    p = plan_one(tmp_path, row("t-1", "Teams", **done), row("t-1", "Exchange Online"))
    assert p.step is Step.SEND_ATU
    assert [a.workload.name for a in p.actions if a.workload] == ["Exchange Online"]


# --- rule 5: the next action date ------------------------------------------------------

@pytest.mark.parametrize(("as_of", "expected"), [
    (dt.date(2026, 1, 1), dt.date(2027, 12, 31)),
    (dt.date(2026, 12, 31), dt.date(2027, 12, 31)),
    (dt.date(2028, 2, 29), dt.date(2029, 12, 31)),
])
def test_next_action_date_examples(as_of: dt.date, expected: dt.date) -> None:
    assert next_action_date(as_of) == expected


@given(st.dates(max_value=dt.date(9998, 12, 31)))
def test_next_action_date_is_dec_31_of_the_following_year(d: dt.date) -> None:
    nad = next_action_date(d)
    assert nad == dt.date(d.year + 1, 12, 31)
    assert nad > d
    assert (nad.month, nad.day) == (12, 31)


def test_the_plan_uses_the_as_of_date(tmp_path: Path) -> None:
    done: dict[str, Any] = {"atu_sent": DAY, "discussion_date": DAY, "customer_email_sent": DAY}
    plans = plan_rows(tmp_path, [row(**done)], as_of=dt.date(2030, 12, 31))
    assert plans["t-1"].next_action_date == dt.date(2031, 12, 31)

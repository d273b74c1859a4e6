"""Typed records: their fields are FIELD_LIST's; routing and rule results live in the plan;
stamps re-applied in memory move a tenant along without reading the workbook again."""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from pathlib import Path
from typing import Any

import pytest
from builders import make_tracker, row

import ftc_office.tracker.builder as builder_mod
import ftc_office.tracker.reader as reader_mod
import ftc_office.tracker.records as records_mod
from ftc_office.addresses import Address
from ftc_office.compose.composer import Composer, compose_all
from ftc_office.config import RoutingSettings, Settings
from ftc_office.fields import FIELD_LIST, FIELDS
from ftc_office.jobs import Stamp
from ftc_office.paths import tracker_id
from ftc_office.planning import Workspace, apply_stamps, load_workspace, plan_workspace
from ftc_office.playbook import Route, TenantPlan, plan_tenant, route
from ftc_office.steps import Step
from ftc_office.tracker.records import LABELS, RECORD_CLASSES, Mark, TenantRecord, WorkloadRecord

AS_OF = dt.date(2026, 11, 26)
DAY = dt.date(2026, 6, 1)

#: the attribute type each field kind implies (a label is always text)
KIND_TYPES: dict[str, Any] = {
    "text": str | None, "int": int | None, "bool": bool | None, "date": dt.date | None,
    "addresses": tuple[Address, ...], "address": Address | None,
    "service_status": str | None, "mark": Mark | None,
}
#: record attributes that are not tracker fields
NOT_FIELDS = {"tenant": {"source", "refs", "workloads", "problems"}, "workload": {"row", "refs"}}


def expected_type(name: str) -> Any:
    f = FIELDS[name]
    return str if name in LABELS else KIND_TYPES[f.kind]


@pytest.mark.parametrize("level", ["tenant", "workload"])
def test_record_fields_are_exactly_the_field_list(level: str) -> None:
    cls = RECORD_CLASSES[level]
    hints = typing.get_type_hints(cls, vars(records_mod))
    attrs = {f.name for f in dataclasses.fields(cls)} - NOT_FIELDS[level]
    assert attrs == {f.name for f in FIELD_LIST if f.level == level}
    for name in attrs:
        assert hints[name] == expected_type(name), name


def test_records_have_no_string_keyed_values() -> None:
    for cls in (TenantRecord, WorkloadRecord):
        assert not hasattr(cls, "get") and "values" not in {f.name for f in
                                                            dataclasses.fields(cls)}


def test_refs_are_keyed_by_field_names_of_the_level() -> None:
    with pytest.raises(ValueError, match="'sets' is not a workload-level"):
        WorkloadRecord(2, {"sets": "D2"})
    with pytest.raises(ValueError, match="'workload' is not a tenant-level"):
        records_mod.TenantRecord("t", None, {"workload": "C2"}, ())  # type: ignore[arg-type]


def load(tmp_path: Path, *rows: dict[str, Any]) -> Workspace:
    return load_workspace([make_tracker(tmp_path / "tracker.xlsx", list(rows))], Settings())


def test_an_empty_region_is_none_and_only_the_empty_cell_problem(tmp_path: Path) -> None:
    ws = load(tmp_path, row(region=None))
    assert ws.trackers[0].tenants[0].region is None
    assert [str(p).split(": ", 1)[1] for p in ws.problems] == [
        "Region is empty — fill Region for tenant t-1"]


def test_typed_values_and_their_cells(tmp_path: Path) -> None:
    ws = load(tmp_path, row(account_team="ann@microsoft.com; bob@microsoft.com",
                            discussion_date=DAY, account_managed=None))
    t = ws.trackers[0].tenants[0]
    assert (t.seats, t.active_users, t.region, t.account_managed) == (1200, 150, "EMEA", None)
    assert [a.email for a in t.account_team] == ["ann@microsoft.com", "bob@microsoft.com"]
    assert t.workloads[0].discussion_date == DAY and t.workloads[0].name == "Teams"
    assert t.refs["seats"] == "D2" and t.where("seats").endswith("Tracker!D2")
    with pytest.raises(KeyError):
        t.where("sets")


# ---- routing: a playbook rule, carried by the plan ------------------------------------------

@pytest.mark.parametrize(("typed", "region"), [
    ("EMEA", "EMEA"), ("europe", "EMEA"), ("AMER", "Americas"), ("north america", "Americas"),
    ("APAC", "APJ"), ("Asia-Pacific", "APJ"), ("apj", "APJ"),
])
def test_route_accepts_the_usual_spellings(typed: str, region: str) -> None:
    assert route(typed, RoutingSettings()) == Route(region, f"FTCQ Inactive {region}")


@pytest.mark.parametrize("typed", [None, "", "Mars"])
def test_route_never_falls_back_to_a_default_queue(typed: str | None) -> None:
    assert route(typed, RoutingSettings()) is None


def test_the_plan_carries_region_and_queue_the_record_the_region_as_typed(tmp_path: Path
                                                                          ) -> None:
    ws = load(tmp_path, row("t-1", region="amer"), row("t-2", region="APAC", seats=None))
    plans = {p.tenant.tenant_id: p for p in plan_workspace(ws, AS_OF)}
    assert plans["t-1"].tenant.region == "amer"
    assert (plans["t-1"].region, plans["t-1"].queue) == ("Americas", "FTCQ Inactive Americas")
    # an invalid tenant still shows where it would go (as plan --json always did)
    assert plans["t-2"].step is Step.INVALID
    assert (plans["t-2"].region, plans["t-2"].queue) == ("APJ", "FTCQ Inactive APJ")


def test_an_unknown_region_is_listed_by_check_once_and_stops_the_tenant(tmp_path: Path) -> None:
    ws = load(tmp_path, row(region="Mars", seats="lots"))
    probs = [str(p) for p in ws.problems]
    assert [p.split(": ", 1)[1] for p in probs] == [
        "'lots' is not a whole number — type digits only, e.g. 1200",
        "region 'Mars' has no assignment queue — use one of Americas, APJ, EMEA, or add the "
        "spelling to [routing.regions] in ftc-office.toml"]
    assert probs[1].split(": ", 1)[0].endswith("Tracker!G2")
    (plan,) = plan_workspace(ws, AS_OF)
    assert plan.step is Step.INVALID and [str(p) for p in plan.problems] == probs
    assert plan.queue is None


def test_a_record_planned_directly_still_gets_the_routing_problem(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row(region="Mars")])
    t = builder_mod.load_tracker(path, Settings()).tenants[0]
    assert t.problems == ()
    plan = plan_tenant(t, AS_OF)
    assert plan.step is Step.INVALID and "region 'Mars'" in str(plan.problems[0])


def test_the_routing_table_comes_from_the_config(tmp_path: Path) -> None:
    routing = RoutingSettings(queues={"EMEA": "Q-Europe"}, regions={"Mars": "EMEA"})
    t = builder_mod.load_tracker(make_tracker(tmp_path / "t.xlsx", [row(region="mars")]),
                                 Settings()).tenants[0]
    plan = plan_tenant(t, AS_OF, routing)
    assert (plan.region, plan.queue) == ("EMEA", "Q-Europe")


# ---- compose reads the plan -------------------------------------------------------------

def test_compose_uses_the_plans_queue_and_next_action_date(tmp_path: Path) -> None:
    ws = load(tmp_path, row(atu_sent=DAY, discussion_date=DAY, customer_email_sent=DAY))
    (plan,) = plan_workspace(ws, AS_OF)
    assert plan.step is Step.REQUEST_QUEUE_MOVE
    assert plan.next_action_date == dt.date(2027, 12, 31)
    odd = dataclasses.replace(plan, queue="Q-Plan", next_action_date=dt.date(2030, 1, 2))
    (job,) = compose_all(Composer(Settings(), AS_OF), [odd]).jobs
    stamps = {s.field: s.value for s in job.stamps}
    assert stamps["target_queue"] == "Q-Plan"
    assert stamps["next_action_date"] == dt.date(2030, 1, 2)
    assert job.message is not None and "Q-Plan" in job.message.subject


def test_the_atu_message_names_the_plans_queue_and_milestone(tmp_path: Path) -> None:
    (plan,) = plan_workspace(load(tmp_path, row()), AS_OF)
    assert plan.milestone is not None
    odd = dataclasses.replace(plan, queue="Q-Plan",
                              milestone=dataclasses.replace(plan.milestone, reason="R-Plan"))
    (job,) = compose_all(Composer(Settings(), AS_OF), [odd]).jobs
    assert job.message is not None
    assert "Q-Plan" in job.message.text and "R-Plan" in job.message.text


# ---- apply_stamps: re-planning in memory --------------------------------------------------

def _no_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: Any, **_k: Any) -> None:
        raise AssertionError("the workbook was read again")
    monkeypatch.setattr(reader_mod, "read_sheet", refuse)
    monkeypatch.setattr(builder_mod, "read_sheet", refuse)


def _step(ws: Workspace, tid: str = "t-1") -> TenantPlan:
    return next(p for p in plan_workspace(ws, AS_OF) if p.tenant.tenant_id == tid)


def test_the_last_followups_stamps_make_the_tenant_due_for_the_queue_move(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ws = load(tmp_path,
              row("t-1", "Teams", atu_sent=DAY, discussion_date=DAY, customer_email_sent=DAY),
              row("t-1", "Exchange Online", atu_sent=DAY, discussion_date=DAY),
              row("t-2", "Teams"))
    composer = Composer(Settings(), AS_OF)
    before = _step(ws)
    assert before.step is Step.SEND_CUSTOMER_FOLLOWUP
    _no_reading(monkeypatch)
    (job,) = compose_all(composer, [before], queue_moves=False).jobs
    after = apply_stamps(ws, job.stamps)
    moved = _step(after)
    assert moved.step is Step.REQUEST_QUEUE_MOVE
    assert moved.tenant.workloads[1].customer_email_sent == AS_OF
    assert moved.next_action_date == dt.date(2027, 12, 31)
    # the input workspace is untouched, and other tenants are the same records
    assert _step(ws).step is Step.SEND_CUSTOMER_FOLLOWUP
    assert after.trackers[0].tenants[1] is ws.trackers[0].tenants[1]
    # the queue move's stamps (every row of the tenant) then wait for the confirmation
    (move,) = compose_all(composer, [moved], tenant_steps=False).jobs
    waiting = _step(apply_stamps(after, move.stamps))
    assert waiting.step is Step.AWAIT_QUEUE_CONFIRMATION
    assert waiting.tenant.next_action_date == moved.next_action_date
    assert waiting.tenant.target_queue == "FTCQ Inactive EMEA"


def test_stamps_match_tracker_tenant_and_workload_ignoring_case(tmp_path: Path) -> None:
    ws = load(tmp_path, row("T-1", "Teams"), row("T-1", "Exchange Online"))
    path = ws.trackers[0].source.path
    stamps = [Stamp(tracker_id(path), "t-1", "TEAMS", "atu_sent", AS_OF),
              Stamp(tracker_id(path), "t-1", None, "engagement_note", "note"),
              Stamp(tracker_id(tmp_path / "other.xlsx"), "t-1", None, "atu_sent", AS_OF)]
    t = apply_stamps(ws, stamps).trackers[0].tenants[0]
    assert [w.atu_sent for w in t.workloads] == [AS_OF, None]
    assert [w.engagement_note for w in t.workloads] == ["note", "note"]

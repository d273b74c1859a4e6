"""The run's passes re-plan from memory (`run.plan.Planner`): the same plans as planning the
first read with every finished stamp applied, and a tenant no stamp changed keeps its plan."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ftc_office.config import Settings
from ftc_office.jobs import Stamp
from ftc_office.paths import tracker_id
from ftc_office.planning import PlanFilter, apply_stamps, load_workspace, plan_workspace
from ftc_office.run.plan import Planner
from ftc_office.run.report import RunOptions

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx"
AS_OF = dt.date(2026, 11, 26)


def _stamps(ws: object, tracker: str) -> list[list[Stamp]]:
    """Three batches: tenant-level and workload stamps, a later one overriding an earlier."""
    tenants = [t for tr in ws.trackers for t in tr.tenants]  # type: ignore[attr-defined]
    a, b, c = tenants[0], tenants[1], tenants[2]
    wl = b.workloads[0].name
    return [
        [Stamp(tracker, a.tenant_id, None, "atu_sent", AS_OF),
         Stamp(tracker, b.tenant_id.upper(), wl.upper(), "atu_sent", AS_OF)],
        [Stamp(tracker, b.tenant_id, wl, "atu_sent", ""),  # cleared again: the last wins
         Stamp(tracker, c.tenant_id, None, "ftop_status", "Disengaged")],
        [],
        [Stamp(tracker, a.tenant_id, None, "next_action_date", dt.date(2027, 12, 31))],
    ]


def test_passes_plan_as_the_first_read_with_every_stamp_applied(tmp_path: Path) -> None:
    path = tmp_path / "tracker.xlsx"
    path.write_bytes(SAMPLE.read_bytes())
    base = load_workspace([path], Settings())
    options = RunOptions(as_of=AS_OF)
    planner = Planner(base, options)
    finished: list[Stamp] = []
    before = planner.plan()
    for batch in _stamps(base, tracker_id(path)):
        finished.extend(batch)
        planner.advance(finished)
        now = planner.plan()
        expected = plan_workspace(apply_stamps(base, finished), AS_OF, PlanFilter())
        assert now == expected
        changed = {s.tenant_id.casefold() for s in batch}
        for old, new in zip(before, now, strict=True):
            if old.tenant.tenant_id.casefold() not in changed:
                assert new is old  # not planned again
        before = now
    assert len(before) > 20


def test_the_filter_narrows_the_plans(tmp_path: Path) -> None:
    base = load_workspace([SAMPLE], Settings())
    first = next(t for tr in base.trackers for t in tr.tenants)
    plans = Planner(base, RunOptions(as_of=AS_OF, tenant=first.tenant_id)).plan()
    assert [p.tenant.tenant_id for p in plans] == [first.tenant_id]


def test_decoded_stamps_share_their_repeated_strings() -> None:
    """A ledger entry's stamps hold one string per tracker, tenant, workload and field (the
    write-back holds every entry of a tracker), equal to what was stored."""
    import json

    from ftc_office.ledger.core import to_entry

    stamp = {"tracker": "/data/team/" + "tracker.xlsx", "tenant_id": "t-" + "1",
             "workload": "Teams", "field": "atu_sent", "value": "2026-11-26", "is_date": True,
             "uid": None}
    row = {"key": "k", "kind": "atu", "tenant_ids": "[]", "trackers": "[]", "content_hash": "h",
           "state": "sent", "summary": "", "recipients": "[]", "notes": "[]",
           "stamps": json.dumps([stamp, {**stamp, "workload": "Intune"}]),
           "created_at": "2026-11-26", "updated_at": "2026-11-26", "tracker_ids": "[]",
           "backend": None, "provider_id": None, "error": None, "subject": None,
           "attempts": 0, "written_at": None}
    a, b = to_entry(row), to_entry(row)
    assert a.stamps[0] == stamp
    for key in ("tracker", "tenant_id", "field"):
        assert a.stamps[0][key] is a.stamps[1][key] is b.stamps[0][key]

"""Re-plan without re-reading: apply the stamps this run recorded to the records in memory.

The tracker is read once to plan; after a pass, the stamps of the jobs it finished are
applied here (the same typed values a fresh read would give), so a step they unlock (a
last follow-up makes disengagement due) is planned in the same run. Write-back reads the
workbook again, fresh, at the end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any

from ftc_office.fields import FIELDS
from ftc_office.jobs import Stamp
from ftc_office.paths import tracker_id
from ftc_office.planning import Workspace
from ftc_office.tracker.records import PARSERS, TenantRecord


def apply_stamps(ws: Workspace, stamps: Iterable[Stamp]) -> Workspace:
    """A new workspace whose records carry ``stamps``; ``ws`` itself is left unchanged."""
    by_tenant: dict[tuple[str, str], list[Stamp]] = {}
    for s in stamps:
        by_tenant.setdefault((s.tracker, s.tenant_id.casefold()), []).append(s)
    trackers = []
    for tr in ws.trackers:
        key = tracker_id(tr.source.path)
        tenants = [_stamped(t, by_tenant.get((key, t.tenant_id.casefold()), []))
                   for t in tr.tenants]
        trackers.append(dataclasses.replace(tr, tenants=tenants))
    return Workspace(trackers, list(ws.file_problems))


def _stamped(t: TenantRecord, stamps: list[Stamp]) -> TenantRecord:
    if not stamps:
        return t
    values = dict(t.values)
    rows = {id(w): dict(w.values) for w in t.workloads}
    for s in stamps:
        field = FIELDS[s.field]
        value = _typed(field.kind, s.value)
        if field.level == "tenant":
            values[s.field] = value
            continue
        for w in t.workloads:
            if s.workload is None or w.name.casefold() == s.workload.casefold():
                rows[id(w)][s.field] = value
    workloads = tuple(dataclasses.replace(w, values=rows[id(w)]) for w in t.workloads)
    return dataclasses.replace(t, values=values, workloads=workloads)


def _typed(kind: str, value: Any) -> Any:
    """The value as the reader types it (a stamp is what the cell will hold)."""
    return PARSERS[kind](value) if value not in (None, "") else None

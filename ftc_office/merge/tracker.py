"""A merge over a tracker, narrowed by the playbook's plan (``--step``, ``--fm``).

``ftc-office merge --template mailing --data tracker.xlsx --step await_discussion`` mails
every customer the plan puts at that step today. The tracker is read and planned exactly as
``plan`` does (ftc_office.planning); then a data row is **one per tenant the plan keeps**:
the tenant's first workload row (its topmost row in the sheet), with every column of that
row as a variable, as for any merge. The tenant's other workload rows are not rows of the
merge. Its key is the tenant (the *Tenant ID* column, unless ``--key-column`` says
otherwise), so a tenant is mailed once per mailing, whichever of its rows is first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path

from ftc_office.config import Settings
from ftc_office.errors import UsageError
from ftc_office.merge.data import MergeData, MergeError, identifier, read_data
from ftc_office.planning import PlanFilter, load_workspace, plan_workspace
from ftc_office.steps import Step

TENANT_COLUMN = "Tenant ID"


def parse_step(text: str) -> Step:
    """A step of the plan (``await_discussion``; spaces and dashes as underscores)."""
    name = text.strip().casefold().replace("-", "_").replace(" ", "_")
    try:
        return Step(name)
    except ValueError:
        raise UsageError(f"--step {text!r}", "no such step", "give one of: "
                         + ", ".join(s.value for s in Step)) from None


def planned_rows(path: Path, settings: Settings, as_of: dt.date, step: Step | None,
                 fm: str | None) -> MergeData:
    """The tracker's rows, one per tenant the plan puts at ``step`` (and FM ``fm``)."""
    ws = load_workspace([path], settings)
    if ws.file_problems or not ws.trackers:
        first = ws.file_problems[0] if ws.file_problems else None
        raise MergeError(first.where if first else str(path),
                         first.what if first else "no tracker sheet found",
                         "--step and --fm need a tracker ('ftc-office check' says more)")
    source = ws.trackers[0].tenants[0].source if ws.trackers[0].tenants else None
    if source is None:
        raise MergeError(str(path), "the tracker has no tenants", "check the file")
    plans = plan_workspace(ws, as_of, PlanFilter(step=step, fm=fm))
    first_rows = {min(w.row for w in p.tenant.workloads) for p in plans
                  if p.tenant.workloads}
    data = read_data(path, source.sheet, source.header_row)
    rows = [r for r in data.rows if r.number in first_rows]
    return dataclasses.replace(data, rows=rows)


def tenant_column(data: MergeData) -> str | None:
    """The data's *Tenant ID* column (the key of a merge over a tracker), if any."""
    name = identifier(TENANT_COLUMN)
    return next((h for h in data.headers if data.names[h] == name), None)

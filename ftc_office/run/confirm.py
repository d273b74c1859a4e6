"""The assignment team's confirmation of a queue move, recorded and stamped."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from ftc_office.config import Settings
from ftc_office.errors import LedgerError
from ftc_office.jobs import Job, JobKind, Stamp, confirm_queue_key
from ftc_office.ledger import Ledger
from ftc_office.paths import tracker_id
from ftc_office.planning import load_workspace, require_tenant
from ftc_office.writeback import WritebackResult, write_back


def confirm_queue(paths: Sequence[Path], settings: Settings, ledger: Ledger, tenant: str,
                  date: dt.date, force: bool = False, *, data: Path | None = None
                  ) -> list[WritebackResult]:
    """Record the assignment team's confirmation (Queue Confirmed) for one tenant."""
    ws = load_workspace(paths, settings)
    found = [t for tr in ws.trackers for t in tr.tenants
             if t.tenant_id.casefold() == tenant.casefold()]
    require_tenant(tenant, bool(found))
    t = found[0]
    if not t.queue_requested:
        raise LedgerError(t.where("tenant_id"), "no queue move was requested for this tenant yet",
                          "run 'ftc-office run' first; confirm after the assignment team moved it")
    stamp = Stamp(tracker_id(t.source.path), t.tenant_id, None, "queue_confirmed", date)
    job = Job(confirm_queue_key(t.tenant_id, date), JobKind.CONFIRM_QUEUE, (t.tenant_id,), None,
              (stamp,), (), f"queue move confirmed on {date.isoformat()}")
    if ledger.plan(job, "none") == "planned":
        ledger.transition(job.key, "done")
    return [write_back(t.source.path, ledger, settings, force=force, data=data)]

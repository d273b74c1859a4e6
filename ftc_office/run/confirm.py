"""The assignment team's confirmation of a queue move, recorded and stamped.

Typed (``confirm-queue --tenant``), read from returned workbooks (``--from``) or from their
replies (``--from-mailbox``): every confirmation becomes a ``confirm_queue`` ledger entry
whose event says where it came from, and a *Queue Confirmed* stamp in every tracker holding
the tenant. All confirmations are checked first; with any problem nothing is applied.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from ftc_office.config import Settings
from ftc_office.errors import LedgerError, Problem
from ftc_office.jobs import Job, JobKind, Stamp, State, confirm_queue_key
from ftc_office.ledger import Ledger
from ftc_office.paths import tracker_id
from ftc_office.planning import load_workspace, require_tenant
from ftc_office.run.returned import Confirmation, ConfirmationProblems
from ftc_office.tracker.records import TenantRecord
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
    typed = Confirmation(t.tenant_id, date, "typed", f"--tenant {tenant}")
    return apply_confirmations(paths, settings, ledger, [typed], force, data=data)


def _earliest(confirmations: Sequence[Confirmation]) -> list[Confirmation]:
    """One confirmation per tenant: the earliest date (two returned copies may differ)."""
    best: dict[str, Confirmation] = {}
    for c in confirmations:
        k = c.tenant_id.casefold()
        if k not in best or c.date < best[k].date:
            best[k] = c
    return list(best.values())


def _records(paths: Sequence[Path], settings: Settings, confirmations: Sequence[Confirmation]
             ) -> dict[str, list[TenantRecord]]:
    """Every tracker row of each confirmed tenant; a tenant in none is a problem."""
    ws = load_workspace(paths, settings)
    by_id: dict[str, list[TenantRecord]] = {}
    for tr in ws.trackers:
        for t in tr.tenants:
            by_id.setdefault(t.tenant_id.casefold(), []).append(t)
    problems = [Problem(c.where, f"tenant {c.tenant_id} is in none of the trackers given",
                        "add the tracker that holds it to the command")
                for c in confirmations if c.tenant_id.casefold() not in by_id]
    problems = [*ws.file_problems, *problems]
    if problems:
        raise ConfirmationProblems(problems)
    return by_id


def apply_confirmations(paths: Sequence[Path], settings: Settings, ledger: Ledger,
                        confirmations: Sequence[Confirmation], force: bool = False, *,
                        data: Path | None = None) -> list[WritebackResult]:
    """Check every confirmation, then record each (skipping tenants already confirmed) and
    stamp Queue Confirmed into every tracker holding the tenant. Raises
    ConfirmationProblems (nothing recorded, nothing written) when any is wrong."""
    wanted = _earliest(confirmations)
    by_id = _records(paths, settings, wanted)
    done = ledger.tenants_in(JobKind.CONFIRM_QUEUE, (State.DONE,))
    touched: dict[str, Path] = {}
    for c in wanted:
        for t in by_id[c.tenant_id.casefold()]:
            touched.setdefault(tracker_id(t.source.path), t.source.path)
        if c.source != "typed" and c.tenant_id.casefold() in done:
            continue  # a re-imported workbook or reply: confirmed already
        unique = tuple(dict.fromkeys(
            Stamp(tracker_id(t.source.path), t.tenant_id, None, "queue_confirmed", c.date)
            for t in by_id[c.tenant_id.casefold()]))
        job = Job(confirm_queue_key(c.tenant_id, c.date), JobKind.CONFIRM_QUEUE,
                  (c.tenant_id,), None, unique, (),
                  f"queue move confirmed on {c.date.isoformat()} ({c.source})")
        if ledger.plan(job, "none") == State.PLANNED:
            ledger.transition(job.key, State.DONE, source=c.source, where=c.where,
                              by=c.by or None, request=c.request or None)
    return [write_back(p, ledger, settings, force=force, data=data)
            for p in touched.values()]

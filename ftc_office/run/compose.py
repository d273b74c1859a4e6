"""Compose: the due jobs of a pass, one tenant's at a time, or every queue move at once.

Only the current tenant's messages are held in memory, however large the tracker, and the
few a compose-ahead worker has ready (:mod:`ftc_office.run.ahead`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

from ftc_office.compose.composer import Composer, Composition, queue_move_batch
from ftc_office.config import Settings
from ftc_office.jobs import Job, JobKind, State
from ftc_office.ledger import Ledger
from ftc_office.playbook import TenantPlan
from ftc_office.run.ahead import tenant_batches
from ftc_office.run.report import RunOptions, RunReport
from ftc_office.steps import Step

# a queue move recorded in any of these states is not requested again
MOVE_RECORDED = (State.SENT, State.SENDING, State.UNKNOWN, State.DRAFTED, State.PLANNED,
                 State.DONE)


class JobSource:
    """Turns plans into jobs; composition failures become failed tenants in the report."""

    def __init__(self, settings: Settings, options: RunOptions, ledger: Ledger,
                 report: RunReport, wire: bool = False) -> None:
        self.settings = settings
        self.wire = wire  # workers write each message's MIME but its Date ahead (wire.prepare)
        self.opt = options
        self.ledger = ledger
        self.report = report
        self.composer = Composer(settings, options.as_of)

    def due(self, plans: Sequence[TenantPlan], moves: bool) -> tuple[int, Iterator[list[Job]]]:
        """(how many tenants the pass has something due for, its job batches): tenant steps
        or queue moves. Progress counts tenants, whatever the number of their messages."""
        eligible = [p for p in plans if p.step != Step.INVALID]
        total = sum(1 for p in eligible
                    if p.actions and (p.step == Step.REQUEST_QUEUE_MOVE) == moves)
        return total, self._batches(eligible, moves)

    def _batches(self, eligible: list[TenantPlan], moves: bool) -> Iterator[list[Job]]:
        if moves:
            moved = self.ledger.tenants_in(JobKind.QUEUE_MOVE, MOVE_RECORDED)
            due = [p for p in eligible if p.tenant.tenant_id.casefold() not in moved]
            per_tenant = (self.opt.per_tenant
                          or self.settings.mail.queue_move_grouping == "per-tenant")
            batches: Iterable[Composition] = [queue_move_batch(self.composer, due, per_tenant)]
        else:
            batches = tenant_batches(self.composer, eligible, self.wire)
        for comp in batches:
            for tenant, problem in comp.failures:
                self.report.fail((tenant.tenant_id,), str(problem))
            yield [j for j in comp.jobs if self.opt.kinds is None or j.kind in self.opt.kinds]

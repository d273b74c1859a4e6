"""The loop: reconcile → write back → plan → compose → ledger → deliver → ledger → write back.

Data flows one way. The ledger commits the intent before every network call; anything left
ambiguous by a crash is reconciled through the backend's look-up at the next start, before
anything new is sent. A tenant that fails does not stop the others. A rerun does nothing
that is already done.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path

from ftc_office.backends.base import Backend
from ftc_office.compose.composer import Composer, Composition, queue_move_batch, tenant_batches
from ftc_office.config import Settings
from ftc_office.errors import FtcError, LedgerError
from ftc_office.jobs import Job, State
from ftc_office.ledger import Ledger
from ftc_office.planning import PlanFilter, load_workspace, plan_workspace
from ftc_office.playbook import Step, TenantPlan
from ftc_office.run.deliver import Deliverer, refused_problem
from ftc_office.run.reconcile import reconcile
from ftc_office.run.report import RunOptions, RunReport, TenantOutcome
from ftc_office.writeback import write_back

MAIL_KINDS = ("atu", "customer_followup", "queue_move")
MAX_PASSES = 4


class Runner:
    """Executes a run over some trackers with one backend and one ledger."""

    def __init__(self, settings: Settings, ledger: Ledger, backend: Backend,
                 options: RunOptions,
                 progress: Callable[[int, int, str], None] | None = None,
                 confirm: Callable[[int], bool] | None = None) -> None:
        self.settings = settings
        self.ledger = ledger
        self.backend = backend
        self.opt = options
        # progress(done, total, what): called before each job of a pass is carried out
        self.progress = progress or (lambda _done, _total, _what: None)
        self.confirm = confirm
        self.confirmed = confirm is None
        self.report = RunReport(options.as_of, options.dry_run, backend.name)
        self.composer = Composer(settings, options.as_of)
        self.deliverer = Deliverer(ledger, backend, self.report, options.limit)
        self._pass_total = 0  # jobs expected in the current pass (for progress)
        self._pass_done = 0

    # ---- phases ----------------------------------------------------------------------
    def reconcile(self) -> None:
        """Resolve every entry left in doubt before sending anything."""
        reconcile(self.ledger, self.backend, self.report)

    def project(self, paths: Sequence[Path]) -> None:
        """Write every finished but unwritten job onto its tracker."""
        for p in paths:
            try:
                wb = write_back(p, self.ledger, self.settings, force=self.opt.force)
            except FtcError as exc:
                self.report.errors.append(str(exc))
                continue
            if wb.cells or wb.jobs or wb.conflicts:
                self.report.writebacks.append(wb)
            # a cell left alone (someone else's value, a formula) is told to the person
            self.report.errors.extend(f"not written: {c}" for c in wb.conflicts)

    def run(self, paths: Sequence[Path]) -> RunReport:
        """The whole run; several passes so a step that unlocks the next runs it too."""
        if not self.opt.dry_run:
            self.reconcile()
            self.project(paths)
        seen: set[str] = set()
        # Tenant steps first, repeated while one unlocks the next (a last follow-up makes
        # disengagement due); then the queue moves once, so each queue gets one message.
        for moves in (False, True):
            for _ in range(MAX_PASSES):
                ws = load_workspace(paths, self.settings)
                for p in ws.file_problems:
                    if str(p) not in self.report.errors:
                        self.report.errors.append(str(p))
                plans = plan_workspace(ws, self.opt.as_of,
                                       PlanFilter(tenant=self.opt.tenant, fm=self.opt.fm))
                self._outcomes(plans)
                # compose and carry out one tenant at a time: memory stays flat however
                # large the tracker (only the current tenant's messages are held)
                fresh_any = False
                self._pass_done = 0
                for batch in self._job_batches(plans, moves):
                    fresh = [j for j in batch if j.key not in seen]
                    if not fresh:
                        continue
                    fresh_any = True
                    seen.update(j.key for j in fresh)
                    self._execute(fresh)
                if not fresh_any:
                    break
                if not self.opt.dry_run:
                    self.project(paths)
                if self.opt.dry_run or self.report.limited or moves:
                    break
        if not self.opt.dry_run:
            ws = load_workspace(paths, self.settings)
            final = plan_workspace(ws, self.opt.as_of,
                                   PlanFilter(tenant=self.opt.tenant, fm=self.opt.fm))
            for plan in final:
                out = self.report.tenants.get(plan.tenant.tenant_id.casefold())
                if out:
                    out.step_after = str(plan.step)
        return self.report

    # ---- pieces ----------------------------------------------------------------------
    def _outcomes(self, plans: Sequence[TenantPlan]) -> None:
        for p in plans:
            t = p.tenant
            key = t.tenant_id.casefold()
            if key in self.report.tenants:
                continue
            out = TenantOutcome(t.tenant_id, t.customer, str(t.source.path),
                                t.fm.email if t.fm else "", t.region or "", str(p.step))
            if p.step == Step.INVALID:
                out.status = "skipped"
                out.problems = [str(x) for x in p.problems]
            elif p.step == Step.CLOSED:
                out.status = "done"
            self.report.tenants[key] = out

    def _job_batches(self, plans: Sequence[TenantPlan], moves: bool) -> Iterator[list[Job]]:
        """The due jobs, one tenant's at a time (or all queue moves at once, grouped)."""
        eligible = [p for p in plans if p.step != Step.INVALID]
        if moves:
            moved = self.ledger.tenants_in("queue_move", ("sent", "sending", "unknown",
                                                          "drafted", "planned", "done"))
            # a tenant whose queue move is already recorded is not requested again
            due = [p for p in eligible if p.tenant.tenant_id.casefold() not in moved]
            per_tenant = (self.opt.per_tenant
                          or self.settings.mail.queue_move_grouping == "per-tenant")
            batches: Iterable[Composition] = [queue_move_batch(self.composer, due, per_tenant)]
        else:
            batches = tenant_batches(self.composer, eligible)
        self._pass_total = sum(len(p.actions) for p in eligible if
                               (p.step == Step.REQUEST_QUEUE_MOVE) == moves)
        for comp in batches:
            for tenant, problem in comp.failures:
                self.report.fail((tenant.tenant_id,), str(problem))
            yield self._kinds(comp.jobs)

    def _kinds(self, jobs: list[Job]) -> list[Job]:
        if self.opt.kinds is None:
            return jobs
        return [j for j in jobs if j.kind in self.opt.kinds]

    def _execute(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            if not self.opt.dry_run:
                self._pass_done += 1
                self.progress(min(self._pass_done, self._pass_total), self._pass_total,
                              job.summary)
            if self.opt.dry_run:
                self.report.say(job, ("would send " if job.message else "would ") + job.summary)
                if job.message is None:
                    self.report.notes += 1  # the summary says "would send N message(s)"
                else:
                    self.report.sent += 1
                continue
            try:
                state = self.ledger.plan(job, self.backend.name)
            except LedgerError as exc:
                self.report.fail(job.tenant_ids, str(exc))
                continue
            if state in ("sent", "done", "skipped", "drafted"):
                continue  # already done: write-back projects it
            if state == State.REFUSED:  # never retried by a run: a person releases it
                if job.key not in self.report.refused:
                    self.report.refused.append(job.key)
                entry = self.ledger.get(job.key)
                self.report.fail(job.tenant_ids,
                                 refused_problem(job.key, entry.error if entry else None))
                continue
            if state in ("sending", "unknown"):
                self.report.fail(job.tenant_ids, f"message {job.key} may have been sent (state "
                                 f"{state}) — run again in a few minutes: each run asks the "
                                 "provider again (Outlook's Sent Items copy can lag); if it "
                                 "stays unknown (always for SMTP), check Sent Items and run "
                                 f"'ftc-office resolve {job.key} --sent' or '--resend'")
                continue
            if job.message is None:
                self.ledger.transition(job.key, "done")
                self.report.notes += 1
                self.report.say(job, "done: " + job.summary)
                self.report.mark_done(job)
                continue
            if not self.deliverer.can_send(job):
                continue
            if not self.confirmed:
                assert self.confirm is not None
                if not self.confirm(self._pass_total):
                    raise KeyboardInterrupt
                self.confirmed = True
            self.deliverer.deliver(job)

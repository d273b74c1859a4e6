"""Carry out jobs: the intent in the ledger, the confirmation, then delivery or the note.

A run (or its simulation, for preview and the dry run) records each job's intent, skips what
the ledger already finished, refuses what may have gone out already, asks once before the
first real send, and hands messages to the Deliverer. The stamps of every finished job are
kept, so the runner can re-plan from memory.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ftc_office.backends.base import Backend
from ftc_office.errors import LedgerError
from ftc_office.jobs import Job, Stamp, State
from ftc_office.ledger import Ledger
from ftc_office.run import narrate
from ftc_office.run.deliver import Deliverer
from ftc_office.run.report import RunOptions, RunReport

Progress = Callable[[int, int, str], None]
Confirm = Callable[[int], bool]
Observe = Callable[[Job], None]
FINISHED = (State.SENT, State.DONE)


class Executor:
    """Carries out the jobs of each pass with one ledger and one backend."""

    def __init__(self, ledger: Ledger, backend: Backend, report: RunReport,
                 options: RunOptions, progress: Progress | None = None,
                 confirm: Confirm | None = None, observe: Observe | None = None) -> None:
        self.ledger = ledger
        # observe(job): each job about to be carried out (the simulation lists them)
        self.observe = observe or (lambda _job: None)
        self.report = report
        self.deliverer = Deliverer(ledger, backend, report, options.limit)
        # progress(done, total, what): called before each job of a pass is carried out
        self.progress = progress or (lambda _done, _total, _what: None)
        self.confirm = confirm  # None: no question (confirmed already, or nothing to ask)
        self.finished: list[Stamp] = []  # stamps of every job finished during this run
        self.total = 0
        self.units: set[str] = set()  # what progress counts: tenants (a merge's messages)

    def start_pass(self, total: int) -> None:
        """A new pass of ``total`` due tenants begins (for progress; a merge counts its
        messages, which name no tenant)."""
        self.total, self.units = total, set()

    def execute(self, jobs: Sequence[Job]) -> None:
        """Carry out ``jobs`` in order; stops at once when the person declined."""
        for job in jobs:
            if self.report.declined:
                return
            for warning in job.warnings:
                self.report.say(job, warning, check=True)
            self.units.update(t.casefold() for t in job.tenant_ids or (job.key,))
            self.progress(min(len(self.units), self.total), self.total, job.summary)
            self._carry_out(job)

    def _carry_out(self, job: Job) -> None:
        try:
            state = self.ledger.plan(job, self.deliverer.backend.name)
        except LedgerError as exc:
            self.report.fail(job.tenant_ids, str(exc))
            return
        if state in (State.SENT, State.DONE, State.SKIPPED, State.DRAFTED):
            if state in FINISHED:
                self.finished.extend(job.stamps)  # done before; write-back projects it
            return
        if state == State.REFUSED:  # never retried by a run: a person releases it
            self._refused(job)
            return
        if state in (State.SENDING, State.UNKNOWN):
            self.report.fail(job.tenant_ids, narrate.in_doubt(job, state,
                                                             self.deliverer.backend.name))
            return
        self.observe(job)
        if job.message is None:
            self.ledger.transition(job.key, State.DONE)
            self.finished.extend(job.stamps)
            self.report.notes += 1
            self.report.say(job, narrate.done(job, self.report.dry_run))
            self.report.mark_done(job)
            return
        if not self.deliverer.can_send(job) or not self._confirmed(job):
            return
        if self.deliverer.deliver(job) in FINISHED:
            self.finished.extend(job.stamps)

    def _refused(self, job: Job) -> None:
        """A key the provider refused earlier: reported with its reason, not sent again."""
        if job.key not in self.report.refused:
            self.report.refused.append(job.key)
        entry = self.ledger.get(job.key)
        self.report.fail(job.tenant_ids, narrate.refused(job.key, entry.error if entry else None))

    def _confirmed(self, job: Job) -> bool:
        """Ask once, before the first real send; a "no" ends the run's sending."""
        if self.confirm is None:
            return True
        if self.confirm(self.total):
            self.confirm = None
            return True
        self.report.declined = True
        self.report.say(job, narrate.declined(job))
        return False

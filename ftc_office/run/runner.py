"""The loop: reconcile → plan → compose → deliver → record, read top to bottom in `Runner.run`.

Data flows one way. The ledger commits the intent before every network call; anything left
ambiguous by a crash is reconciled through the backend's look-up at the next start, before
anything new is sent. Each tracker is read once to plan and once, fresh, to write back, and
saved once. A tenant that fails does not stop the others. A rerun does nothing that is
already done.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from ftc_office.backends.base import Backend
from ftc_office.config import Settings
from ftc_office.ledger import Ledger
from ftc_office.paths import tracker_id
from ftc_office.planning import apply_stamps
from ftc_office.playbook import TenantPlan
from ftc_office.run.compose import JobSource
from ftc_office.run.execute import Confirm, Executor, Observe, Progress
from ftc_office.run.plan import Planner, note_outcomes, note_steps_after, pending_stamps, read
from ftc_office.run.reconcile import reconcile
from ftc_office.run.record import write_trackers
from ftc_office.run.report import RunOptions, RunReport

MAX_PASSES = 4


class Runner:
    """Executes a run over some trackers with one backend and one ledger."""

    def __init__(self, settings: Settings, ledger: Ledger, backend: Backend,
                 options: RunOptions, progress: Progress | None = None,
                 confirm: Confirm | None = None, data: Path | None = None,
                 observe: Observe | None = None) -> None:
        if options.dry_run:  # one way to rehearse: the run itself, on copies
            raise ValueError("a dry run is a simulation: use ftc_office.run.simulate")
        self.settings = settings
        self.ledger = ledger
        self.opt = options
        self.data = data  # the data folder (workbook backups); None: the default one
        self.report = RunReport(options.as_of, options.simulate, backend.name)
        # a backend that hands over MIME (outbox, SMTP) gets messages a compose-ahead
        # worker wrote already, but for their Date header
        self.jobs = JobSource(settings, options, ledger, self.report,
                              wire=getattr(backend, "hands_over_mime", False))
        self.executor = Executor(ledger, backend, self.report, options, progress, confirm,
                                 observe)
        self.backend = backend
        self.restore: set[Path] = set()  # trackers whose restored stamps the run re-applies

    def run(self, paths: Sequence[Path]) -> RunReport:
        """The whole run; several passes so a step that unlocks the next runs it too."""
        if not self.opt.simulate:  # a simulation never asks the provider
            reconcile(self.ledger, self.backend, self.report)
        self._send(paths)  # its records and plans are let go before the write-back reads
        self._record(paths)
        return self.report

    def _send(self, paths: Sequence[Path]) -> None:
        """Read, plan and carry out every pass."""
        # what was finished but never written (a crash, `resolve --sent`, `mark-sent`) is
        # planned as written and written with this run's steps at the end: one write-back
        # and so are the stamps a restored copy lacks (re-applied by the write-back)
        ws = read(self._one_copy_each(paths), self.settings, self.report)
        pending = pending_stamps(self.ledger, ws)
        self.restore = set(pending.restored)
        planner = Planner(apply_stamps(ws, pending.stamps), self.opt)
        seen: set[str] = set()
        # Tenant steps first, repeated while one unlocks the next (a last follow-up makes
        # disengagement due); then the queue moves once, so each queue gets one message.
        for moves in (False, True):
            for _ in range(MAX_PASSES):
                plans = planner.plan()
                note_outcomes(self.report, plans)
                if not self._pass(plans, moves, seen):
                    break
                planner.advance(self.executor.finished)  # re-plan from memory
                if self.report.limited or self.report.declined or moves:
                    break
        planner.advance(self.executor.finished)
        note_steps_after(self.report, planner.plan())

    def _one_copy_each(self, paths: Sequence[Path]) -> list[Path]:
        """The trackers to plan: synced copies of one workbook (one travelling ID, say a
        lead's run over two FMs' copies) are one tracker, planned once from the first copy
        given; the write-back stamps every copy."""
        first: dict[str, Path] = {}
        out = []
        for p in paths:
            uid = self.ledger.identities.get(tracker_id(p))
            if uid is not None and uid in first:
                self.report.notices.append(f"{p}: a copy of {first[uid]} (the same workbook, "
                                           "FtcOfficeTrackerId): planned once, both stamped")
                continue
            if uid is not None:
                first[uid] = p
            out.append(p)
        return out

    def _pass(self, plans: Sequence[TenantPlan], moves: bool, seen: set[str]) -> bool:
        """Compose and carry out one pass, one tenant at a time; False if nothing was new."""
        total, batches = self.jobs.due(plans, moves)
        self.executor.start_pass(total)
        fresh_any = False
        for batch in batches:
            fresh = [j for j in batch if j.key not in seen]
            if not fresh:
                continue
            fresh_any = True
            seen.update(j.key for j in fresh)
            self.executor.execute(fresh)
            if self.report.declined:
                break
        return fresh_any

    def _record(self, paths: Sequence[Path]) -> None:
        finished = {s.tracker for s in self.executor.finished}  # the trackers stamped now
        write_trackers(paths, self.ledger, self.settings, self.report, force=self.opt.force,
                       data=self.data, restore=self.restore,
                       stamped=[p for p in paths if tracker_id(p) in finished])

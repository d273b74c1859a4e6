"""The loop: reconcile → write back → plan → compose → ledger → deliver → ledger → write back.

Data flows one way. The ledger commits the intent before every network call; anything left
ambiguous by a crash is reconciled through the backend's look-up at the next start, before
anything new is sent. A tenant that fails does not stop the others. A rerun does nothing
that is already done.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ftc_office.addresses import AddressError, parse_address
from ftc_office.backends.base import Backend, DeliveryResult, Status
from ftc_office.compose.composer import Composer, Composition, queue_move_batch, tenant_batches
from ftc_office.config import Settings
from ftc_office.errors import DeliveryError, FtcError, LedgerError
from ftc_office.faults import crashpoint
from ftc_office.jobs import Job, JobKind, Stamp, confirm_queue_key
from ftc_office.ledger import Entry, Ledger
from ftc_office.message import OutgoingMessage
from ftc_office.paths import data_dir, tracker_id
from ftc_office.planning import PlanFilter, load_workspace, plan_workspace
from ftc_office.playbook import Step, TenantPlan
from ftc_office.writeback import WritebackResult, write_back

MAIL_KINDS = ("atu", "customer_followup", "queue_move")
MAX_PASSES = 4


@dataclass
class TenantOutcome:
    """What a run did for one tenant."""

    tenant_id: str
    customer: str
    tracker: str
    fm: str
    region: str
    step_before: str
    step_after: str = ""
    status: str = "waiting"  # done | waiting | skipped | failed
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    """Everything a run did, for the summary, the JSON report and the exit code."""

    as_of: dt.date
    dry_run: bool
    backend: str
    tenants: dict[str, TenantOutcome] = field(default_factory=dict)
    sent: int = 0
    notes: int = 0
    unknown: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    writebacks: list[WritebackResult] = field(default_factory=list)
    limited: bool = False

    @property
    def failed(self) -> bool:
        return bool(self.errors) or any(t.status == "failed" for t in self.tenants.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(), "dry_run": self.dry_run, "backend": self.backend,
            "messages_sent": self.sent, "notes_recorded": self.notes,
            "unknown": self.unknown, "errors": self.errors, "limited": self.limited,
            "writebacks": [dataclasses.asdict(w) | {"conflicts": [str(c) for c in w.conflicts]}
                           for w in self.writebacks],
            "tenants": [dataclasses.asdict(t) for t in self.tenants.values()],
        }


@dataclass
class RunOptions:
    """What the person asked for."""

    as_of: dt.date
    dry_run: bool = True
    limit: int | None = None
    tenant: str | None = None
    fm: str | None = None
    per_tenant: bool = False
    kinds: tuple[str, ...] | None = None  # None = every step; MAIL_KINDS for `send`
    force: bool = False


class _Stub(OutgoingMessage):
    """A message rebuilt from the ledger, enough for a backend's look-up (key, Message-ID)."""

    _hash: str = ""

    @property
    def content_hash(self) -> str:
        return self._hash


def stub_message(entry: Entry) -> OutgoingMessage:
    """The key, recipients and Message-ID of a recorded message, for reconciliation."""
    to = []
    for r in entry.recipients or []:
        try:
            to.append(parse_address(r))
        except AddressError:
            continue
    stub = _Stub(key=entry.key, kind=entry.kind, audience="internal",
                 to=tuple(to) or (parse_address("nobody@example.com"),),
                 subject=entry.subject or entry.key, text="", html="")
    object.__setattr__(stub, "_hash", entry.content_hash)
    return stub


def lock_trackers(paths: Sequence[Path], stack: ExitStack) -> None:
    """One lock per tracker (in the local data folder), taken in a fixed order."""
    folder = data_dir() / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    for p in sorted({str(x.resolve()) for x in paths}):
        digest = hashlib.sha256(p.casefold().encode()).hexdigest()[:16]
        lock = FileLock(str(folder / f"{digest}.lock"), timeout=0)
        try:
            stack.enter_context(lock)
        except Timeout:
            raise LedgerError(p, "another ftc-office run is working on this tracker",
                              "wait for it to finish, then run again") from None


@contextmanager
def locked_ledger(paths: Sequence[Path]) -> Iterator[Ledger]:
    """The ledger, opened while holding the run lock of every tracker in ``paths``."""
    with ExitStack() as stack:
        lock_trackers(paths, stack)
        ledger = Ledger.open()
        stack.callback(ledger.close)
        yield ledger


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
        self.budget = options.limit
        self.stopped: str | None = None
        self._pass_total = 0  # jobs expected in the current pass (for progress)
        self._pass_done = 0

    # ---- phases ----------------------------------------------------------------------
    def reconcile(self) -> None:
        """Resolve every ``sending``/``unknown``/``drafted`` entry before sending anything."""
        for entry in self.ledger.entries(("sending", "unknown", "drafted")):
            stub = stub_message(entry)
            try:
                found = self.backend.lookup(stub, entry.provider_id)
                withdraw = getattr(self.backend, "withdraw", None)
                if (found == Status.DRAFTED and entry.state in ("sending", "unknown")
                        and withdraw is not None):
                    # interrupted between the draft and its send: in send mode the unsent
                    # draft is deleted and the message goes out afresh below
                    found = withdraw(stub, entry.provider_id)
            except FtcError as exc:
                self.report.errors.append(str(exc))
                continue
            if found == Status.SENT:
                self.ledger.transition(entry.key, "sent", event="reconciled_sent")
            elif found == Status.DRAFTED:
                if entry.state != "drafted":
                    self.ledger.transition(entry.key, "drafted", event="reconciled_drafted")
            elif found is None:
                self.ledger.transition(entry.key, "failed", error="not found at the provider "
                                       "after an interruption; safe to send again",
                                       event="reconciled_not_sent")
            else:
                if entry.state != "unknown":
                    self.ledger.transition(entry.key, "unknown", event="reconciled_unknown")
                self.report.unknown.append(entry.key)

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
                self._fail_tenant(tenant.tenant_id, str(problem))
            yield self._kinds(comp.jobs)

    def _kinds(self, jobs: list[Job]) -> list[Job]:
        if self.opt.kinds is None:
            return jobs
        return [j for j in jobs if j.kind in self.opt.kinds]

    def _fail_tenant(self, tenant_id: str, problem: str) -> None:
        out = self.report.tenants.get(tenant_id.casefold())
        if out:
            out.status = "failed"
            if problem not in out.problems:  # a later pass may meet the same problem again
                out.problems.append(problem)
        elif problem not in self.report.errors:
            self.report.errors.append(problem)

    def _say(self, job: Job, text: str) -> None:
        for tid in job.tenant_ids:
            out = self.report.tenants.get(tid.casefold())
            if out:
                out.actions.append(text)

    def _execute(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            if not self.opt.dry_run:
                self._pass_done += 1
                self.progress(min(self._pass_done, self._pass_total), self._pass_total,
                              job.summary)
            if self.opt.dry_run:
                self._say(job, ("would send " if job.message else "would ") + job.summary)
                if job.message is None:
                    self.report.notes += 1  # the summary says "would send N message(s)"
                else:
                    self.report.sent += 1
                continue
            try:
                state = self.ledger.plan(job, self.backend.name)
            except LedgerError as exc:
                for tid in job.tenant_ids:
                    self._fail_tenant(tid, str(exc))
                continue
            if state in ("sent", "done", "skipped", "drafted"):
                continue  # already done: write-back projects it
            if state in ("sending", "unknown"):
                for tid in job.tenant_ids:
                    self._fail_tenant(tid, f"message {job.key} may have been sent (state "
                                      f"{state}) — run again in a few minutes: each run asks "
                                      "the provider again (Outlook's Sent Items copy can lag); "
                                      "if it stays unknown (always for SMTP), check Sent Items "
                                      f"and run 'ftc-office resolve {job.key} --sent' or "
                                      "'--resend'")
                continue
            if job.message is None:
                self.ledger.transition(job.key, "done")
                self.report.notes += 1
                self._say(job, "done: " + job.summary)
                self._mark_done(job)
                continue
            if self.stopped:
                self._say(job, f"not sent (delivery stopped: {self.stopped}): {job.summary}")
                continue
            if self.budget is not None and self.budget <= 0:
                self.report.limited = True
                self._say(job, f"not sent (--limit reached): {job.summary}")
                continue
            if not self.confirmed:
                assert self.confirm is not None
                if not self.confirm(self._pass_total):
                    raise KeyboardInterrupt
                self.confirmed = True
            self._deliver(job)

    def _deliver(self, job: Job) -> None:
        assert job.message is not None
        key = job.key
        crashpoint("before_intent")
        self.ledger.transition(key, "sending")  # the intent, durable before the call
        crashpoint("after_intent")
        try:
            result = self.backend.deliver(job.message, lambda pid: self._prepared(key, pid))
        except FtcError as exc:
            # raised before the provider accepted anything (oversize message, sign-in needed,
            # daily recipient limit): nothing went out, so "failed" is true
            self.ledger.transition(key, "failed", error=str(exc))
            for tid in job.tenant_ids:
                self._fail_tenant(tid, str(exc))
            if isinstance(exc, DeliveryError):
                self.stopped = str(exc)  # a batch-level problem: stop sending, keep the rest
            return
        crashpoint("after_response")  # delivered, result not yet recorded
        self._record(job, result)

    def _prepared(self, key: str, provider_id: str) -> None:
        self.ledger.record_prepared(key, provider_id)
        crashpoint("after_prepared")  # the draft exists and is recorded, not yet sent

    def _record(self, job: Job, result: DeliveryResult) -> None:
        key = job.key
        if self.budget is not None:
            self.budget -= 1
        if result.status == Status.SENT:
            self.ledger.transition(key, "sent", provider_id=result.provider_id,
                                   refused=list(result.refused))
            self.report.sent += 1
            self._say(job, ("sent " if self.backend.name != "outbox" else "wrote ") + job.summary)
            self._mark_done(job)
        elif result.status == Status.DRAFTED:
            self.ledger.transition(key, "drafted", provider_id=result.provider_id)
            self._say(job, f"drafted in Outlook (send it from Drafts): {job.summary}")
        elif result.status == Status.UNKNOWN:
            self.ledger.transition(key, "unknown", provider_id=result.provider_id,
                                   error=result.error)
            self.report.unknown.append(key)
            for tid in job.tenant_ids:
                self._fail_tenant(tid, f"{key}: delivery outcome unknown ({result.error}) — "
                                  "it will be checked at the next run before any resend")
        else:
            self.ledger.transition(key, "failed", provider_id=result.provider_id,
                                   error=f"{result.status}: {result.error}")
            for tid in job.tenant_ids:
                self._fail_tenant(tid, f"{key}: {result.status} — {result.error}")

    def _mark_done(self, job: Job) -> None:
        for tid in job.tenant_ids:
            out = self.report.tenants.get(tid.casefold())
            if out and out.status == "waiting":
                out.status = "done"


def confirm_queue(paths: Sequence[Path], settings: Settings, ledger: Ledger, tenant: str,
                  date: dt.date, force: bool = False) -> list[WritebackResult]:
    """Record the assignment team's confirmation (Queue Confirmed) for one tenant."""
    ws = load_workspace(paths, settings)
    found = [t for tr in ws.trackers for t in tr.tenants
             if t.tenant_id.casefold() == tenant.casefold()]
    if not found:
        raise LedgerError(f"--tenant {tenant}", "no such tenant in the trackers",
                          "check the Tenant ID with 'ftc-office plan'")
    t = found[0]
    if not t.get("queue_requested"):
        raise LedgerError(t.where("tenant_id"), "no queue move was requested for this tenant yet",
                          "run 'ftc-office run' first; confirm after the assignment team moved it")
    stamp = Stamp(tracker_id(t.source.path), t.tenant_id, None, "queue_confirmed", date)
    job = Job(confirm_queue_key(t.tenant_id, date), JobKind.CONFIRM_QUEUE,
              (t.tenant_id,), None, (stamp,), (), f"queue move confirmed on {date.isoformat()}")
    if ledger.plan(job, "none") == "planned":
        ledger.transition(job.key, "done")
    return [write_back(t.source.path, ledger, settings, force=force)]

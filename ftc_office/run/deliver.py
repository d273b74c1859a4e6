"""Deliver: one message through the backend, the intent committed before the call and the
result after it. The only place that moves a message job through sending → result.

A permanent refusal by the provider (``FAILED_PERMANENT``) becomes ``refused``: reported,
never retried by a later run, released only by ``ftc-office resolve KEY --resend``/``--skip``.
A temporary failure becomes ``failed`` and is retried by the next run."""

from __future__ import annotations

from ftc_office.backends.base import Backend, DeliveryResult, Status
from ftc_office.errors import DeliveryError, FtcError, LedgerError
from ftc_office.faults import crashpoint
from ftc_office.jobs import Job, State
from ftc_office.ledger import Ledger
from ftc_office.run import narrate
from ftc_office.run.report import RunReport


class Deliverer:
    """Sends jobs' messages with one backend, records every outcome in the ledger."""

    def __init__(self, ledger: Ledger, backend: Backend, report: RunReport,
                 limit: int | None) -> None:
        self.ledger = ledger
        self.backend = backend
        self.report = report
        self.budget = limit
        self.stopped: str | None = None  # a batch-level problem: nothing more is sent

    def can_send(self, job: Job) -> bool:
        """False (and said so) when delivery stopped or --limit is reached."""
        if self.stopped:
            self.report.say(job, f"not sent (delivery stopped: {self.stopped}): {job.summary}")
            return False
        if self.budget is not None and self.budget <= 0:
            self.report.limited = True
            self.report.say(job, f"not sent (--limit reached): {job.summary}")
            return False
        return True

    def deliver(self, job: Job) -> State:
        """Send one job's message: intent, call, result — each committed; returns the state
        recorded for it."""
        assert job.message is not None
        key = job.key
        crashpoint("before_intent")
        try:
            self.ledger.transition(key, State.SENDING)  # the intent (a claim), durable first
        except LedgerError as exc:  # another run holds or finished the key: not sent here
            self.report.fail(job.tenant_ids, str(exc))
            return State.SENDING
        crashpoint("after_intent")
        try:
            result = self.backend.deliver(job.message, lambda pid: self._prepared(key, pid))
        except FtcError as exc:
            # raised before the provider accepted anything (oversize message, sign-in needed,
            # daily recipient limit): nothing went out, so "failed" is true
            self.ledger.transition(key, State.FAILED, error=str(exc))
            self.report.fail(job.tenant_ids, str(exc))
            if isinstance(exc, DeliveryError):
                self.stopped = str(exc)  # a batch-level problem: stop sending, keep the rest
            return State.FAILED
        crashpoint("after_response")  # delivered, result not yet recorded
        return self._record(job, result)

    def _prepared(self, key: str, provider_id: str) -> None:
        self.ledger.record_prepared(key, provider_id)
        crashpoint("after_prepared")  # the draft exists and is recorded, not yet sent

    def _record(self, job: Job, result: DeliveryResult) -> State:
        key = job.key
        if self.budget is not None:
            self.budget -= 1
        if result.status == Status.SENT:
            self.ledger.transition(key, State.SENT, provider_id=result.provider_id,
                                   refused=list(result.refused))
            self.report.sent += 1
            self.report.say(job, narrate.delivered(job, self.backend.name,
                                                   self.report.dry_run))
            self.report.mark_done(job)
            return State.SENT
        elif result.status == Status.DRAFTED:
            self.ledger.transition(key, State.DRAFTED, provider_id=result.provider_id)
            self.report.drafted += 1
            self.report.say(job, narrate.drafted(job, self.backend.name,
                                                 self.report.dry_run))
            return State.DRAFTED
        elif result.status == Status.UNKNOWN:
            self.ledger.transition(key, State.UNKNOWN, provider_id=result.provider_id,
                                   error=result.error)
            self.report.unknown.append(key)
            self.report.fail(job.tenant_ids,
                             narrate.unknown(job, result.error, self.backend.name))
            return State.UNKNOWN
        elif result.status == Status.FAILED_PERMANENT:
            self.ledger.transition(key, State.REFUSED, provider_id=result.provider_id,
                                   error=result.error, refused=list(result.refused))
            self.report.refused.append(key)
            self.report.fail(job.tenant_ids, narrate.refused(key, result.error))
            return State.REFUSED
        else:
            self.ledger.transition(key, State.FAILED, provider_id=result.provider_id,
                                   error=f"{result.status}: {result.error}")
            self.report.fail(job.tenant_ids, f"{key}: {result.status} — {result.error}")
            return State.FAILED

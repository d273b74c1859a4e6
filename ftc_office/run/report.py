"""What a run was asked to do and what it did: options, per-tenant outcomes, the report.

The report is the run's only output besides the ledger and the workbook: the summary, the
JSON report and the exit code are all read from it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import enum
from dataclasses import dataclass, field
from typing import Any

from ftc_office.jobs import Job
from ftc_office.writeback import WritebackResult


class Outcome(enum.StrEnum):
    """Where a tenant stands after a run (the summary's columns, in this order)."""

    DONE = "done"
    WAITING = "waiting"
    SKIPPED = "skipped"
    FAILED = "failed"


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
    status: Outcome = Outcome.WAITING
    actions: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Event:
    """One thing a run did (or would do) for one job, said once however many tenants it
    covers: the summary groups these by kind (a queue move is one line, not one per tenant).
    ``check`` marks a warning the FM should look at."""

    kind: str
    tenant_ids: tuple[str, ...]
    customers: tuple[str, ...]
    text: str
    check: bool = False


@dataclass
class RunOptions:
    """What the person asked for."""

    as_of: dt.date
    dry_run: bool = True
    limit: int | None = None
    tenant: str | None = None
    fm: str | None = None
    per_tenant: bool = False
    kinds: tuple[str, ...] | None = None  # None = every step; the mail kinds for `send`
    force: bool = False
    # a simulated run (preview, dry run): carried out on copies, worded as "would"
    simulate: bool = False


@dataclass
class RunReport:
    """Everything a run did, for the summary, the JSON report and the exit code."""

    as_of: dt.date
    dry_run: bool
    backend: str
    tenants: dict[str, TenantOutcome] = field(default_factory=dict)
    sent: int = 0
    drafted: int = 0  # written as drafts for a person to send: not sent
    notes: int = 0
    unknown: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    writebacks: list[WritebackResult] = field(default_factory=list)
    limited: bool = False
    declined: bool = False  # the person said no at the confirmation: nothing was sent
    outbox: str | None = None  # the folder the outbox backend wrote to (not in the JSON)
    outbox_mode: str | None = None  # "drafts" or "pickup" for an outbox run
    notices: list[str] = field(default_factory=list)  # warnings that change no exit code
    changes: list[Any] = field(default_factory=list)  # a dry run's cell changes (CellChange)
    events: list[Event] = field(default_factory=list)  # what was done, once per job

    @property
    def invalid(self) -> int:
        """Tenants skipped as invalid: each has a problem in the tracker to fix."""
        return sum(1 for t in self.tenants.values() if t.status == Outcome.SKIPPED)

    @property
    def went_wrong(self) -> bool:
        """An error, or a tenant that failed (invalid tenants aside)."""
        return bool(self.errors) or any(t.status == Outcome.FAILED
                                        for t in self.tenants.values())

    @property
    def failed(self) -> bool:
        """Whether the exit code is 1: an error, an invalid tenant, or a tenant that failed
        (the README's "1 when problems are found")."""
        return self.went_wrong or bool(self.invalid)

    def to_json(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(), "dry_run": self.dry_run, "backend": self.backend,
            "messages_sent": self.sent, "messages_drafted": self.drafted,
            "notes_recorded": self.notes,
            "unknown": self.unknown, "refused": self.refused, "errors": self.errors,
            "limited": self.limited, "declined": self.declined, "notices": self.notices,
            "cell_changes": [{"tracker": c.tracker, "cell": f"{c.sheet}!{c.ref}",
                              "old": c.old, "new": c.new} for c in self.changes],
            "writebacks": [dataclasses.asdict(w) | {"conflicts": [str(c) for c in w.conflicts]}
                           for w in self.writebacks],
            "tenants": [dataclasses.asdict(t) for t in self.tenants.values()],
        }

    # ---- bookkeeping used by the phases ------------------------------------------------
    def outcome(self, tenant_id: str) -> TenantOutcome | None:
        """The outcome of a tenant met by this run (IDs compare ignoring case)."""
        return self.tenants.get(tenant_id.casefold())

    def fail(self, tenant_ids: tuple[str, ...] | list[str], problem: str) -> None:
        """Mark tenants failed with a problem (said once, however often a pass meets it)."""
        for tid in tenant_ids:
            out = self.outcome(tid)
            if out:
                out.status = Outcome.FAILED
                if problem not in out.problems:
                    out.problems.append(problem)
            elif problem not in self.errors:
                self.errors.append(problem)

    def say(self, job: Job, text: str, check: bool = False) -> None:
        """Record what was done for a job: once as an event (the summary's line) and as an
        action of each of its tenants (the JSON report); ``check`` for a warning."""
        customers = []
        for tid in job.tenant_ids:
            out = self.outcome(tid)
            if out:
                out.actions.append(f"check: {text}" if check else text)
                customers.append(out.customer)
        self.events.append(Event(str(job.kind), job.tenant_ids, tuple(customers), text, check))

    def mark_done(self, job: Job) -> None:
        """The job's tenants that were still waiting are done."""
        for tid in job.tenant_ids:
            out = self.outcome(tid)
            if out and out.status == Outcome.WAITING:
                out.status = Outcome.DONE

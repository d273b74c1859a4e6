"""Deliver a merge: the playbook's ledger, backends and Executor, row by row.

Before anything is sent: every row problem is known (``compose``), a row whose message
changed since it was sent is refused naming its row, and a workbook open in Excel is
refused. Then, as for ``run``: entries a crash left in doubt are looked up at the provider,
each message's intent is committed before the call and its result after it, so a rerun after
a crash, a Ctrl-C or a full success sends nothing twice. Finally each row's outcome is
projected onto the status column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from ftc_office.backends.base import Backend
from ftc_office.backends.registry import make_backend
from ftc_office.config import Settings
from ftc_office.errors import Problem, UsageError
from ftc_office.jobs import COMMITTED, FINISHED, IN_DOUBT, Job, State
from ftc_office.ledger import Ledger
from ftc_office.merge import schedule
from ftc_office.merge.compose import MergeResult
from ftc_office.merge.data import MergeData
from ftc_office.merge.status import (
    DEFAULT_COLUMN,
    StatusWrite,
    check_writable,
    status_text,
    write_status,
)
from ftc_office.run.execute import Confirm, Executor, Progress
from ftc_office.run.locks import locked_ledger
from ftc_office.run.reconcile import find, record
from ftc_office.run.report import RunOptions, RunReport


@dataclass(frozen=True)
class SendRequest:
    """How to deliver a merge (the options of ``ftc-office merge``)."""

    backend: str | None = None  # None: delivery.backend from the config
    dry_run: bool = True
    yes: bool = False
    limit: int | None = None
    outbox: Path | None = None
    outbox_mode: Literal["drafts", "pickup"] | None = None  # None: delivery.outbox_mode
    data_dir: Path | None = None
    status_column: str = DEFAULT_COLUMN
    force: bool = False  # write the status even if Excel's owner file exists
    write_status: bool = True  # False for --test-to: the rows' status is not theirs
    send_at: dt.datetime | None = None  # --send-at (aware)
    now: dt.datetime | None = None  # the clock (default: the system's)


@dataclass
class SendReport:
    """What a merge delivery did (or, in a dry run, would do)."""

    backend: str
    dry_run: bool
    due: int = 0  # messages not yet delivered (a dry run: would be sent)
    sent: int = 0
    drafted: int = 0
    already: int = 0  # delivered by an earlier run: nothing to do
    failed: list[str] = field(default_factory=list)
    refused: list[Problem] = field(default_factory=list)  # changed since sent
    limited: bool = False
    declined: bool = False
    status: StatusWrite | None = None
    scheduled: int = 0  # held for a later time (in the ledger, or by Exchange)
    confirmed: int = 0  # held by Exchange earlier, now seen in Sent Items
    send_at: dt.datetime | None = None

    @property
    def ok(self) -> bool:
        """Exit code 0: nothing failed, nothing refused."""
        return not (self.failed or self.refused)


def deliver(result: MergeResult, data: MergeData, settings: Settings, request: SendRequest,
            *, progress: Progress | None = None, confirm: Confirm | None = None
            ) -> SendReport:
    """Send (or rehearse) the merge's messages through the ledger; write the status."""
    folder = request.data_dir or settings.data_folder()
    if request.outbox_mode:
        settings = replace(settings, delivery=replace(settings.delivery,
                                                      outbox_mode=request.outbox_mode))
    backend = make_backend(settings, request.backend, request.outbox, folder)
    times = _times(result, request)
    report = SendReport(backend.name, request.dry_run, send_at=request.send_at)
    if not request.dry_run:
        check_writable(data.path, request.force)
    ask = None if request.yes or backend.name == "outbox" else (confirm or _nobody(backend))
    now = request.now or dt.datetime.now(dt.UTC)
    with locked_ledger([data.path], folder, settings) as ledger:
        jobs = _unchanged(result, data, ledger, report, times, backend.name)
        schedule.check(times, result.send_cells, now, jobs, ledger)
        if request.dry_run:
            _rehearse(jobs, ledger, report)
            return report
        if backend.name not in schedule.HELD_BY_PROVIDER:
            later = [j for j in jobs if (t := times.get(j.key)) is not None and t > now]
            report.scheduled = schedule.hold(later, ledger, backend.name, times)
            jobs = [j for j in jobs if j not in later]
            if not jobs:
                report.status = _status(result, data, ledger, request, folder, times)
                return report
        backend.open()
        todo: list[Job] = []
        try:
            _reconcile(ledger, backend, jobs, report, times, now)
            todo = _execute(jobs, ledger, backend, request, report, progress, ask)
        finally:
            _outcomes(todo, result, data, ledger, report, times, now)
            backend.close()
            report.status = _status(result, data, ledger, request, folder, times)
    return report


def _times(result: MergeResult, request: SendRequest) -> dict[str, dt.datetime]:
    """Key → when to send: the row's Send At cell, else ``--send-at`` (a request's own
    ``send_at`` fills the rows that have no time)."""
    times = dict(result.send_at)
    if request.send_at is not None:
        for job in result.jobs:
            times.setdefault(job.key, request.send_at)
    return times


def _unchanged(result: MergeResult, data: MergeData, ledger: Ledger, report: SendReport,
               times: dict[str, dt.datetime], backend: str) -> list[Job]:
    """The jobs whose row was not delivered with other content; the others are refused.
    Through a provider that holds messages, a row's time marks it for deferred delivery."""
    out = []
    jobs = result.jobs
    if backend in schedule.HELD_BY_PROVIDER:
        jobs = schedule.deferred(jobs, times)
    for job in jobs:
        entry = ledger.get(job.key)
        if entry and entry.state in COMMITTED and entry.content_hash != job.content_hash:
            row = result.rows[job.key]
            report.refused.append(Problem(
                f"{data.path}, {data.sheet} row {row.number}",
                f"this row's message was {entry.state} on {entry.updated_at[:10]} and has "
                "changed since (template, row or its time edited); nothing was sent for it",
                f"if the new version must go out, run 'ftc-office resolve {job.key} --resend'"))
            continue
        out.append(job)
    return out


def _rehearse(jobs: list[Job], ledger: Ledger, report: SendReport) -> None:
    for job in jobs:
        entry = ledger.get(job.key)
        if entry and entry.state in (*FINISHED, State.DRAFTED):
            report.already += 1
        else:
            report.due += 1


def _reconcile(ledger: Ledger, backend: Backend, jobs: list[Job], report: SendReport,
               times: dict[str, dt.datetime], now: dt.datetime) -> None:
    """Ask the provider about this merge's entries a crash left in doubt; confirm the
    messages Exchange held whose time has passed (through Sent Items)."""
    keys = {j.key for j in jobs}
    if backend.name in schedule.HELD_BY_PROVIDER and any(t <= now for t in times.values()):
        report.confirmed = schedule.confirm(ledger, backend, keys, now)
    scratch = RunReport(dt.date.today(), False, backend.name)
    for entry in ledger.entries(IN_DOUBT):
        if entry.key in keys:
            record(ledger, entry, find(backend, entry), scratch)
    report.failed.extend(scratch.errors)


def _execute(jobs: list[Job], ledger: Ledger, backend: Backend, request: SendRequest,
             report: SendReport, progress: Progress | None, ask: Confirm | None) -> list[Job]:
    """Hand the jobs not yet delivered to the run's Executor; return them."""
    before = {j.key: (e.state if (e := ledger.get(j.key)) else None) for j in jobs}
    done = (*FINISHED, State.DRAFTED)
    report.already = sum(1 for s in before.values() if s in done)
    run_report = RunReport(dt.date.today(), False, backend.name)
    executor = Executor(ledger, backend, run_report,
                        RunOptions(dt.date.today(), dry_run=False, limit=request.limit),
                        progress, ask)
    todo = [j for j in jobs if before[j.key] not in done]
    report.due = len(todo)
    executor.start_pass(len(todo))
    try:
        executor.execute(todo)
    finally:
        report.limited, report.declined = run_report.limited, run_report.declined
        report.failed.extend(run_report.errors)
        if executor.deliverer.stopped:
            report.failed.append(f"delivery stopped: {executor.deliverer.stopped}")
    return todo


def _outcomes(todo: list[Job], result: MergeResult, data: MergeData, ledger: Ledger,
              report: SendReport, times: dict[str, dt.datetime], now: dt.datetime) -> None:
    """Count what went out (a message Exchange holds is noted with its time); name the
    row of every message that did not."""
    held = _note_held(result, ledger, times, now)
    for job in todo:
        entry = ledger.get(job.key)
        state = entry.state if entry else None
        if job.key in held:
            report.scheduled += 1
            continue
        report.sent += state == State.SENT
        report.drafted += state == State.DRAFTED
        if entry is not None and state in (State.FAILED, State.REFUSED, *IN_DOUBT) \
                and state != State.DRAFTED:
            row = result.rows[job.key]
            fix = ("fix the cause and run the merge again" if state == State.FAILED else
                   f"check it, then 'ftc-office resolve {job.key} --sent/--resend/--skip'")
            report.failed.append(str(Problem(
                f"{data.path}, {data.sheet} row {row.number}",
                f"{state}: {entry.error or 'outcome unknown'}", fix)))


def _note_held(result: MergeResult, ledger: Ledger, times: dict[str, dt.datetime],
               now: dt.datetime) -> set[str]:
    """Record the time of every message the provider holds (this run's, and one a crash
    left sent but not noted); return their keys."""
    if not any(t > now for t in times.values()):
        return set()
    known = schedule.recorded(ledger)
    out = set()
    for job in result.jobs:
        when = times.get(job.key)
        entry = ledger.get(job.key) if when is not None and when > now else None
        if when and entry and entry.state == State.SENT and (
                entry.backend in schedule.HELD_BY_PROVIDER):
            schedule.note(ledger, job.key, when, known)
            out.add(job.key)
    return out


def _status(result: MergeResult, data: MergeData, ledger: Ledger, request: SendRequest,
            folder: Path, times: dict[str, dt.datetime]) -> StatusWrite | None:
    """Project this merge's ledger entries onto the status column."""
    texts = {}
    now = request.now or dt.datetime.now(dt.UTC)
    for key in result.rows:
        entry = ledger.get(key)
        text = status_text(entry) if entry else None
        when = times.get(key)
        held = entry is not None and entry.backend in schedule.HELD_BY_PROVIDER
        if entry and when and when > now and (entry.state == State.PLANNED or (
                held and entry.state == State.SENT)):  # in the ledger, or held by Exchange
            text = schedule.label(when)
        elif entry and when and held and entry.state == State.SENT:  # sent by Exchange then
            text = f"Sent {when.astimezone():{schedule.FORMAT}}"
        if text:
            texts[key] = text
    if not texts or not request.write_status:
        return None
    ledger.sync()  # the status column is never ahead of what a power cut could take back
    return write_status(data.path, data.sheet, result.key_of, texts, request.status_column,
                        folder, request.force, data.header_row)


def _nobody(backend: Backend) -> Callable[[int], bool]:
    def refuse(n: int) -> bool:
        raise UsageError("--no-dry-run", f"{n} message(s) would go out through "
                         f"{backend.name} and nobody can confirm",
                         "add --yes to confirm in scripts")
    return refuse

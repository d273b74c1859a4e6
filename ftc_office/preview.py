"""Preview: the run, simulated — every message it would send as an .eml file, and an
index.html to review them with the cells it would change.

Sends nothing and writes nothing but the output folder. The .eml files are the files the
outbox would write in the real run (same names, same bytes but the Date), so Outlook opens
them as they will arrive.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from email.utils import format_datetime
from pathlib import Path

from ftc_office.atomic import atomic_write_bytes
from ftc_office.backends.wire import wire_bytes
from ftc_office.config import Settings
from ftc_office.errors import UsageError
from ftc_office.filenames import safe_filename
from ftc_office.jobs import Job
from ftc_office.planning import load_workspace, require_tenant
from ftc_office.review import build_review, render_review
from ftc_office.run.cells import CellChange
from ftc_office.run.report import Outcome, RunOptions, RunReport
from ftc_office.run.simulate import simulate
from ftc_office.steps import Step


@dataclass(frozen=True)
class PreviewResult:
    """What `preview_trackers` wrote: the index, counts, and what could not be composed."""

    index: Path
    messages: int
    notes: int  # note-only steps (no message)
    failures: list[str]
    invalid: int  # tenants skipped as invalid
    warnings: list[str] = field(default_factory=list)  # what the FM should look at first
    changes: list[CellChange] = field(default_factory=list)  # the cells the run would change


def preview_trackers(paths: Sequence[Path], settings: Settings, as_of: dt.date, out: Path,
                     *, tenant: str | None = None, per_tenant: bool = False,
                     backend: str | None = None, data: Path | None = None) -> PreviewResult:
    """Carry out the run on copies (ftc_office.run.simulate) and keep what it would send in
    ``out``: each message as the .eml file the outbox would write (same name, same bytes),
    its attachments, and the review page ``index.html`` (ftc_office.review) with every job,
    its warnings and the cells the run would change.

    Sends and records nothing; the steps the run unlocks (disengagement after a last
    follow-up) are in it, because it is the run.
    """
    require_files(paths)
    name = (backend or settings.delivery.backend).strip().lower()
    options = RunOptions(as_of=as_of, dry_run=False, tenant=tenant, per_tenant=per_tenant)
    with simulate(paths, settings, options, name, outbox=out, data=data) as sim:
        report, jobs, changes = sim.report, sim.jobs, sim.changes
    require_tenant(tenant, bool(report.tenants))
    rows = tenant_rows(paths, settings, changes)
    review = build_review(report, jobs, changes, rows, out)
    index = render_review(review, out)
    failures = [f"{t.customer} ({t.tenant_id}): {p}" for t in report.tenants.values()
                if t.status == Outcome.FAILED for p in t.problems] + list(report.errors)
    invalid = sum(1 for t in report.tenants.values() if t.step_before == str(Step.INVALID))
    n_mail = sum(1 for j in jobs if j.message)
    return PreviewResult(index, n_mail, len(jobs) - n_mail, failures, invalid,
                         [f"{_who(report, j)}: {w}" for j in jobs for w in j.warnings],
                         changes)


def _who(report: RunReport, job: Job) -> str:
    """The customers a job is for, by name and ID."""
    names = []
    for tid in job.tenant_ids:
        out = report.outcome(tid)
        names.append(f"{out.customer} ({tid})" if out else tid)
    return ", ".join(names)


def tenant_rows(paths: Sequence[Path], settings: Settings, changes: Sequence[CellChange]
                ) -> dict[tuple[str, int], str]:
    """(sheet, row) → tenant ID: the trackers' rows, and the Notes rows the run adds (their
    Tenant ID cell, column B)."""
    out: dict[tuple[str, int], str] = {}
    for tr in load_workspace(paths, settings).trackers:
        for t in tr.tenants:
            for w in t.workloads:
                out[(tr.source.sheet, w.row)] = t.tenant_id
    for c in changes:
        if c.ref.startswith("B") and c.ref[1:].isdigit() and c.new and (c.sheet, int(c.ref[1:])) \
                not in out:
            out[(c.sheet, int(c.ref[1:]))] = str(c.new)
    return out


def require_files(paths: Sequence[Path]) -> None:
    """Every tracker exists (a UsageError naming the first missing one)."""
    for p in paths:
        if not p.is_file():
            raise UsageError(str(p), "file not found", "check the path")


def eml_name(job: Job) -> str:
    """The file name of a job's .eml file: the one the outbox gives the message."""
    return safe_filename(job.key)


def write_eml(job: Job, folder: Path, when: dt.datetime) -> Path | None:
    """Write one job's message (if it has one) as an .eml file to look at; returns its path.

    Whole or not at all, but not fsynced: such a file is written again by the next preview
    (the outbox backend, which delivers, writes durably)."""
    if job.message is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / eml_name(job)
    data = wire_bytes(job.message, format_datetime(when))  # the bytes a backend would send
    atomic_write_bytes(path, data, durable=False)
    return path

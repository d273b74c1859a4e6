"""Preview: the run, simulated — every message it would send as an .eml file, and an
index.html to review them with the cells it would change.

Sends nothing and writes nothing but the output folder. The .eml files are the files the
outbox would write in the real run (same names, same bytes but the Date), so Outlook opens
them as they will arrive.
"""

from __future__ import annotations

import datetime as dt
import html
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
from ftc_office.playbook import Step
from ftc_office.review import build_review, render_review
from ftc_office.run.cells import CellChange
from ftc_office.run.report import Outcome, RunOptions, RunReport
from ftc_office.run.simulate import simulate


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
    """Write one job's message (if it has one) as an .eml file; returns its path."""
    if job.message is None:
        return None
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / eml_name(job)
    data = wire_bytes(job.message, format_datetime(when))  # the bytes a backend would send
    atomic_write_bytes(path, data)
    return path


@dataclass(frozen=True)
class IndexEntry:
    """What index.html lists for one job (the message itself is not kept in memory)."""

    kind: str
    tenants: str
    subject: str | None
    to: str
    cc: str
    summary: str
    file: str | None
    warnings: tuple[str, ...] = ()


class Previewer:
    """Writes each job's .eml as it comes and remembers one line of index per job."""

    def __init__(self, folder: Path, when: dt.datetime | None = None) -> None:
        self.folder = folder
        self.when = when or dt.datetime.now(dt.UTC)
        self.entries: list[IndexEntry] = []

    def add(self, job: Job) -> Path | None:
        """Write the job's .eml (if it has one) and note its index line."""
        path = write_eml(job, self.folder, self.when)
        self.entries.append(index_entry(job, path))
        return path

    def finish(self, failures: Sequence[str], as_of: dt.date,
               changes: Sequence[str] = ()) -> Path:
        """Write index.html for every job added; returns its path."""
        return write_index(self.entries, self.folder, failures, as_of, changes)


def index_entry(job: Job, path: Path | None) -> IndexEntry:
    """The index line of one job (its message's file, if any)."""
    m = job.message
    return IndexEntry(job.kind, ", ".join(job.tenant_ids), m.subject if m else None,
                      ", ".join(a.email for a in m.to) if m else "",
                      ", ".join(a.email for a in m.cc) if m else "", job.summary,
                      path.name if path else None, job.warnings)


def write_index(entries: Sequence[IndexEntry], folder: Path, failures: Sequence[str],
                as_of: dt.date, changes: Sequence[str] = ()) -> Path:
    """index.html: one line per job with a link, recipients and subject; failures on top."""
    esc = html.escape
    rows = []
    for e in entries:
        link = (f'<a href="{esc(e.file)}">{esc(e.subject or "")}</a>' if e.file
                else "(note only)")
        rows.append(f"<tr><td>{esc(e.kind)}</td><td>{esc(e.tenants)}</td>"
                    f"<td>{link}</td><td>{esc(e.to)}</td><td>{esc(e.cc)}</td>"
                    f"<td>{esc(e.summary)}"
                    + "".join(f'<br><span class="bad">check: {esc(w)}</span>'
                              for w in e.warnings) + "</td></tr>")
    problems = "".join(f"<li>{esc(f)}</li>" for f in failures)
    page = f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>ftc-office preview {as_of.isoformat()}</title>
<style>body{{font-family:Segoe UI,Arial,sans-serif;font-size:10pt}}
table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:left}}
th{{background:#0f4a85;color:#fff}}.bad{{color:#a00}}</style></head><body>
<h1>Preview as of {as_of.isoformat()}: {len(entries)} job(s)</h1>
{f'<h2 class="bad">Not composed ({len(failures)})</h2><ul class="bad">{problems}</ul>'
 if failures else ''}
<table><tr><th>Kind</th><th>Tenant</th><th>Message</th><th>To</th><th>Cc</th><th>What</th></tr>
{''.join(rows)}
</table>
<h2>Cells the run will change ({len(changes)})</h2>
<ul>{''.join(f"<li>{esc(c)}</li>" for c in changes)}</ul>
</body></html>
"""
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return index

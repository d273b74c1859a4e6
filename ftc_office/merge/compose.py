"""Rows → messages: one job per data row, keyed by the row's identity, never its position.

Every problem a row has (a bad or external address, a missing or oversized attachment, an
empty or duplicate key) is found here, before anything is sent, and names its cell. A
template error stops the whole merge (it would fail on every row).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import mimetypes
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import css_inline

from ftc_office.addresses import LINE_BREAKS, Address, domain_allowed, parse_address_list
from ftc_office.errors import MessageError, Problem, TemplateError
from ftc_office.jobs import Job, JobKind, merge_key
from ftc_office.merge import schedule
from ftc_office.merge.data import DataRow, MergeData, identifier
from ftc_office.merge.template import (
    BODY_HTML,
    BODY_MD,
    BODY_TEXT,
    SUBJECT,
    MergeTemplate,
    markdown_html,
)
from ftc_office.merge.text import html_to_text, text_to_html
from ftc_office.merge.where import Where, matches, resolve
from ftc_office.message import Attachment, OutgoingMessage
from ftc_office.rendering.word import DOCX_MIME, render_docx

MAX_ATTACH_MB = 25.0  # per message: what Outlook, Exchange Online and Gmail accept
_PATHS = ("\n", ";")


@dataclass(frozen=True)
class MergeOptions:
    """Which columns say what, and the checks every row must pass."""

    to_column: str | None = None
    cc_column: str | None = None
    bcc_column: str | None = None
    key_column: str | None = None  # default: the recipients column
    attach_column: str | None = None
    campaign: str | None = None  # default: the template folder's name
    internal: tuple[str, ...] | None = None  # allowed domains (--internal)
    where: tuple[Where, ...] = ()
    sender: Address | None = None
    today: dt.date | None = None
    max_attach_mb: float = MAX_ATTACH_MB
    status_column: str = "Merge Status"  # ours: a row holding nothing else is no row
    send_at: dt.datetime | None = None  # --send-at (aware): rows without their own time
    send_at_column: str | None = None  # default: a column headed "Send At", if any


@dataclass
class MergeResult:
    """The messages of a merge and the rows that could not become one (and why)."""

    jobs: list[Job] = field(default_factory=list)
    failures: list[Problem] = field(default_factory=list)
    rows: dict[str, DataRow] = field(default_factory=dict)  # ledger key → its row
    filtered: int = 0  # rows left out by --where
    campaign: str = ""
    key_header: str = ""
    files: dict[Path, Attachment] = field(default_factory=dict)  # read once, shared by rows
    send_at: dict[str, dt.datetime] = field(default_factory=dict)  # key → when to send
    send_cells: dict[str, str] = field(default_factory=dict)  # key → its Send At cell

    def key_of(self, data: MergeData, row: DataRow) -> str | None:
        """The ledger key of a row of a fresh read of the data (None: no key)."""
        if self.key_header not in data.headers:
            return None
        identity = str(row.values.get(self.key_header, "")).strip()
        return merge_key(self.campaign, identity) if identity else None


@dataclass(frozen=True)
class _Columns:
    to: str
    cc: str | None
    bcc: str | None
    key: str
    attach: str | None
    send_at: str | None


def row_context(data: MergeData, row: DataRow, today: dt.date) -> dict[str, Any]:
    """Template values for one row: each column by variable name, ``row`` by header."""
    ctx: dict[str, Any] = {data.names[h]: v for h, v in row.values.items()}
    ctx["row"] = dict(row.values)
    ctx.setdefault("today", today)
    return ctx


def merge(template: MergeTemplate, data: MergeData, options: MergeOptions | str | None = None,
          sender: Address | None = None, today: dt.date | None = None) -> MergeResult:
    """One message per data row that passes ``--where``. A row with a problem is listed
    and gets no message; two rows with the same key are one problem naming both cells."""
    opt = (options if isinstance(options, MergeOptions)
           else MergeOptions(to_column=options, sender=sender, today=today))
    to = data.column(opt.to_column)
    cols = _Columns(to, _opt_col(data, opt.cc_column, "--cc-column"),
                    _opt_col(data, opt.bcc_column, "--bcc-column"),
                    data.column(opt.key_column, "--key-column") if opt.key_column else to,
                    _opt_col(data, opt.attach_column, "--attach-column"),
                    _send_at_col(data, opt.send_at_column))
    filters = resolve(list(opt.where), data)
    campaign = opt.campaign or template.folder.resolve().name
    out = MergeResult(campaign=campaign, key_header=cols.key)
    first: dict[str, str] = {}  # key → cell of the first row with it
    for row in data.rows:
        if all(v == "" for h, v in row.values.items() if h != opt.status_column):
            continue  # only a status left from an earlier run: the row was cleared
        if not matches(filters, data, row):
            out.filtered += 1
            continue
        identity = str(row.values[cols.key]).strip()
        cell = data.where(row.cells[cols.key])
        if not identity and cols.key != cols.to:
            out.failures.append(Problem(cell, "the key column is empty",
                                        f"fill it: {cols.key!r} identifies the row"))
            continue
        key = merge_key(campaign, identity)  # empty: the row has no recipient (reported)
        if identity and key in first:
            out.failures.append(Problem(cell, f"the same key {identity!r} as {first[key]}",
                                        f"make {cols.key!r} unique (or choose another "
                                        "--key-column)"))
            out.jobs = [j for j in out.jobs if j.key != key]
            out.rows.pop(key, None)
            continue
        first[key] = cell
        job = _row_job(template, data, row, cols, opt, key, out)
        if job is not None:
            out.jobs.append(job)
            out.rows[key] = row
    return out


def _opt_col(data: MergeData, wanted: str | None, option: str) -> str | None:
    return data.column(wanted, option) if wanted else None


def _send_at_col(data: MergeData, wanted: str | None) -> str | None:
    """--send-at-column, else a column headed "Send At" (any case), else none."""
    if wanted:
        return data.column(wanted, "--send-at-column")
    name = identifier(schedule.COLUMN)
    return next((h for h in data.headers if data.names[h] == name), None)


def _send_time(data: MergeData, row: DataRow, header: str | None, opt: MergeOptions,
               problems: list[Problem]) -> tuple[dt.datetime | None, str | None]:
    """The row's time to send: its Send At cell (with the cell), else --send-at."""
    if header is None:
        return opt.send_at, None
    cell = data.where(row.cells[header])
    when = schedule.cell_time(row.values[header], cell)
    if isinstance(when, Problem):
        problems.append(when)
        return None, None
    return (when, cell) if when is not None else (opt.send_at, None)


def _addresses(data: MergeData, row: DataRow, header: str | None, opt: MergeOptions,
               problems: list[Problem], required: bool) -> tuple[Address, ...]:
    """The address list in one cell; its problems named by the cell."""
    if header is None:
        return ()
    cell = data.where(row.cells[header])
    found, bad = parse_address_list(str(row.values[header]))
    if bad or (required and not found):
        problems.append(Problem(cell, "; ".join(bad) or "no recipient address",
                                "put one or more addresses separated by ';' in the cell"))
    if opt.internal is not None:
        outside = [a.email for a in found if not domain_allowed(a, opt.internal)]
        if outside:
            problems.append(Problem(cell, f"{', '.join(outside)} outside "
                                    f"mail.internal_domains ({', '.join(opt.internal)})",
                                    "--internal allows only those domains: remove the "
                                    "address or leave out --internal"))
    return tuple(found)


def _attachments(data: MergeData, row: DataRow, header: str | None, opt: MergeOptions,
                 problems: list[Problem], cache: dict[Path, Attachment]) -> list[Attachment]:
    """The files named in the attachments cell, relative to the data file's folder."""
    if header is None or not str(row.values[header]).strip():
        return []
    cell = data.where(row.cells[header])
    text = str(row.values[header])
    for sep in _PATHS[1:]:
        text = text.replace(sep, _PATHS[0])
    out = []
    for name in (p.strip() for p in text.split(_PATHS[0])):
        if not name:
            continue
        path = Path(name) if Path(name).is_absolute() else data.path.parent / name
        if not path.is_file():
            problems.append(Problem(cell, f"attachment {name!r} not found ({path})",
                                    "correct the path (relative to the data file's folder)"))
            continue
        if path not in cache:  # the same file on many rows is read (and held) once
            mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
            cache[path] = Attachment(path.name, path.read_bytes(), mime)
        out.append(cache[path])
    total = sum(len(a.content) for a in out)
    if total > opt.max_attach_mb * 1024 * 1024:
        problems.append(Problem(cell, f"the attachments are {total / 1048576:.1f} MB, over "
                                f"the {opt.max_attach_mb:g} MB a message may carry",
                                "share large files by link instead"))
    return out


def _row_job(template: MergeTemplate, data: MergeData, row: DataRow, cols: _Columns,
             opt: MergeOptions, key: str, out: MergeResult) -> Job | None:
    """The job for one row, or None with its problems added to ``out.failures``."""
    failures = out.failures
    problems: list[Problem] = []
    to = _addresses(data, row, cols.to, opt, problems, required=True)
    cc = _addresses(data, row, cols.cc, opt, problems, required=False)
    bcc = _addresses(data, row, cols.bcc, opt, problems, required=False)
    files = _attachments(data, row, cols.attach, opt, problems, out.files)
    when, when_cell = _send_time(data, row, cols.send_at, opt, problems)
    if problems:
        failures.extend(problems)
        return None
    who = f"row {row.number} of {data.path.name}"
    ctx = row_context(data, row, opt.today or dt.date.today())
    subject, text, html_body = _render(template, ctx, who)
    if template.word is not None:
        files.append(Attachment(template.word.name, render_docx(template.word, ctx, who),
                                DOCX_MIME))
    try:
        msg = OutgoingMessage(key=key, kind="merge", audience="merge", to=to, cc=cc, bcc=bcc,
                              sender=opt.sender, subject=subject, text=text, html=html_body,
                              attachments=tuple(files), origin=data.where(row.cells[cols.to]))
    except MessageError as exc:
        failures.append(exc.problem)
        return None
    recipients = ", ".join(a.email for a in to)
    if when is not None:
        out.send_at[key] = when
        if when_cell:
            out.send_cells[key] = when_cell
    return Job(key, JobKind.MERGE, (), msg, (), (),
               f"{data.sheet} row {row.number} → {recipients}")


def _render(template: MergeTemplate, ctx: dict[str, Any], who: str) -> tuple[str, str, str]:
    """Subject, text and HTML of one row (the missing body derived from the other)."""
    subject = template.render(SUBJECT, ctx, who).strip()
    if LINE_BREAKS.search(subject):
        raise TemplateError(str(template.folder / SUBJECT),
                            f"the subject renders to several lines for {who}",
                            "keep the subject template on one line")
    if template.has_md:
        source = template.render(BODY_MD, ctx, who)
        return subject, source, css_inline.inline(markdown_html(source, subject))
    html_body = template.render(BODY_HTML, ctx, who) if template.has_html else None
    text = template.render(BODY_TEXT, ctx, who) if template.has_text else None
    if text is None:
        text = html_to_text(html_body or "")
    html_body = css_inline.inline(html_body if html_body is not None
                                  else text_to_html(text, subject))
    return subject, text, html_body


def as_test(result: MergeResult, to: Address, count: int, stamp: str) -> MergeResult:
    """The first ``count`` messages sent to ``to`` only (no Cc, no Bcc), "[TEST]" before the
    subject, under their own ledger keys (``mergetest.STAMP.…``): a test never counts as the
    row's real message."""
    out = MergeResult(campaign=result.campaign, key_header=result.key_header)
    for job in result.jobs[:count]:  # a test goes now: no Send At
        msg = job.message
        assert msg is not None
        key = f"mergetest.{stamp}.{job.key.removeprefix('merge.')}"
        test = dataclasses.replace(msg, key=key, to=(to,), cc=(), bcc=(),
                                   subject=f"[TEST] {msg.subject}"[:255])
        out.jobs.append(dataclasses.replace(job, key=key, message=test,
                                            summary=f"test of {job.summary} → {to.email}"))
        out.rows[key] = result.rows[job.key]
    return out

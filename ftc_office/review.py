"""The review page: what the run will do, laid out for the person who decides to send.

`preview --out DIR` writes ``DIR/index.html``: static, offline (no server, no network, no
script but an inline filter), readable on a phone. Counts per kind at the top, then *Needs
attention* (problems, invalid tenants, warnings), then one section per FM and, inside, one
per customer in tracker order — each message rendered inline (a sandboxed frame of its
HTML) with From/To/Cc, subject, attachments (saved beside the page) and warnings, the note
steps, and the cells the run will change (old → new). Queue-move requests, one message for
several tenants, have their own section.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import jinja2

from ftc_office.filenames import attachment_filename, safe_filename
from ftc_office.jobs import Job, JobKind
from ftc_office.run.cells import CellChange
from ftc_office.run.report import Outcome, RunReport

#: Gmail clips a message whose HTML passes about 102 KB; warn before that
MAX_HTML = 100 * 1024
KIND_LABELS = {
    "atu": "Emails to account teams", "customer_followup": "Customer follow-ups",
    "queue_move": "Queue-move messages", "atu_note": "Notes only (no ATU)",
    "unassign_fm": "Notes only (FM unassigned)",
}


@dataclass
class Item:
    """One job as the page shows it."""

    kind: str
    label: str
    summary: str
    subject: str = ""
    sender: str = ""
    to: str = ""
    cc: str = ""
    html: str = ""
    eml: str = ""
    attachments: list[tuple[str, str]] = field(default_factory=list)  # (name, href)
    warnings: list[str] = field(default_factory=list)
    tenants: list[str] = field(default_factory=list)


@dataclass
class Customer:
    """One tenant's section."""

    tenant_id: str
    customer: str
    fm: str
    tracker: str
    step: str
    status: str
    items: list[Item] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def search(self) -> str:
        """What the filter box matches: names, IDs, addresses, subjects."""
        parts = [self.tenant_id, self.customer, self.fm, self.step]
        parts += [f"{i.subject} {i.to} {i.cc} {i.kind}" for i in self.items]
        return " ".join(parts).casefold()


def item_of(job: Job, folder: Path) -> Item:
    """A job's page item; its attachments are saved under ``folder/attachments``."""
    m = job.message
    item = Item(job.kind, KIND_LABELS.get(job.kind, job.kind), job.summary,
                warnings=list(job.warnings), tenants=list(job.tenant_ids))
    if m is None:
        return item
    item.subject, item.html = m.subject, m.html
    item.sender = m.sender.header if m.sender else "(the signed-in mailbox)"
    item.to = ", ".join(a.header for a in m.to)
    item.cc = ", ".join(a.header for a in m.cc)
    item.eml = safe_filename(job.key)
    stem = safe_filename(job.key).removesuffix(".eml")
    for att in m.attachments:
        target = folder / "attachments" / stem / attachment_filename(att.filename)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(att.content)
        item.attachments.append((att.filename, target.relative_to(folder).as_posix()))
    if len(m.html.encode()) > MAX_HTML:
        item.warnings.append(f"the HTML is {len(m.html.encode()) // 1024} KB: Gmail clips "
                             "messages over about 102 KB")
    return item


@dataclass
class Review:
    """Everything the page shows."""

    as_of: dt.date
    customers: list[Customer]
    moves: list[Item]
    attention: list[str]
    counts: dict[str, int]
    other_changes: list[str] = field(default_factory=list)  # headers, Notes sheet set-up
    title: str = ""  # default: "What the run will do on DATE"
    command: str = "ftc-office run --no-dry-run"  # what sends it


def build_review(report: RunReport, jobs: Sequence[Job], changes: Sequence[CellChange],
                 tenant_of_row: dict[tuple[str, int], str], folder: Path) -> Review:
    """Lay the simulated run out by FM and customer (tracker order)."""
    customers: dict[str, Customer] = {}
    for out in report.tenants.values():
        customers[out.tenant_id.casefold()] = Customer(
            out.tenant_id, out.customer, out.fm, out.tracker, out.step_before, out.status,
            problems=list(out.problems))
    moves: list[Item] = []
    for job in jobs:
        item = item_of(job, folder)
        if job.kind == JobKind.QUEUE_MOVE:
            moves.append(item)
        for tid in job.tenant_ids:
            c = customers.get(tid.casefold())
            if c and job.kind != JobKind.QUEUE_MOVE:
                c.items.append(item)
    other: list[str] = []
    for ch in changes:
        row = int("".join(d for d in ch.ref if d.isdigit()))
        owner = customers.get(tenant_of_row.get((ch.sheet, row), "").casefold())
        (owner.changes if owner else other).append(str(ch))
    attention = [f"{c.customer} ({c.tenant_id}): {p}" for c in customers.values()
                 for p in c.problems]
    attention += list(report.errors)
    attention += [f"{c.customer} ({c.tenant_id}): {w}" for c in customers.values()
                  for i in c.items for w in i.warnings]
    attention += [f"queue move: {w}" for i in moves for w in i.warnings]
    shown = [c for c in customers.values() if c.items or c.changes or c.problems]
    counts = _counts(jobs, moves, customers.values())
    counts["Cells to change"] = len(changes)
    return Review(report.as_of, shown, moves, attention, counts, other)


def _counts(jobs: Sequence[Job], moves: list[Item], customers: Iterable[Customer]
            ) -> dict[str, int]:
    """Messages and notes per kind, queue-move tenants, invalid and failed tenants."""
    per_kind = {label: 0 for label in KIND_LABELS.values()}
    for job in jobs:
        label = KIND_LABELS.get(job.kind, job.kind)
        per_kind[label] = per_kind.get(label, 0) + 1
    everyone = list(customers)
    out: dict[str, int] = {}
    for label, n in per_kind.items():
        out[label] = n
        if label == KIND_LABELS["queue_move"]:
            out["Queue-move tenants"] = sum(len(i.tenants) for i in moves)
    out["Invalid tenants"] = sum(1 for c in everyone if c.step == "invalid")
    out["Failed tenants"] = sum(1 for c in everyone if c.status == Outcome.FAILED)
    return out


def render_review(review: Review, folder: Path) -> Path:
    """Write ``folder/index.html``."""
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    source = resources.files("ftc_office").joinpath("review_page.html").read_text("utf-8")
    by_fm: dict[str, list[Customer]] = {}
    for c in review.customers:
        by_fm.setdefault(c.fm or "(no FM)", []).append(c)
    page = env.from_string(source).render(review=review, by_fm=by_fm)
    folder.mkdir(parents=True, exist_ok=True)
    index = folder / "index.html"
    index.write_text(page, encoding="utf-8")
    return index

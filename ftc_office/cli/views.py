"""Plain-text presentation: tables and summaries for the terminal. No decisions here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ftc_office.cli.textable import Column
from ftc_office.playbook import TenantPlan
from ftc_office.steps import Step
from ftc_office.tally import ordered_steps, tally, team_counts

if TYPE_CHECKING:
    from ftc_office.preview import PreviewResult
    from ftc_office.run.report import Event, RunReport, TenantOutcome


ACTION_LABELS = {"atu": "ATU", "atu_note": "note (no ATU)", "customer_followup": "follow-up",
                 "disengage": "queue move", "unassign_fm": "unassign the FM"}


def _next(p: TenantPlan) -> str:
    """What happens next for a tenant, in a few words (the plan table's last column)."""
    if p.step == Step.INVALID:
        first = p.problems[0] if p.problems else None  # where and what: `check` has the fix
        return f"{first.where.rsplit('!', 1)[-1]}: {first.what}" if first else "invalid"
    if p.actions:
        by_kind: dict[str, list[str]] = {}
        for a in p.actions:
            by_kind.setdefault(ACTION_LABELS.get(str(a.kind), str(a.kind)), []).append(
                a.workload.name if a.workload else "")
        parts = [f"{k}: {', '.join(w for w in ws if w)}".rstrip(": ")
                 for k, ws in by_kind.items()]
        text = "; ".join(parts)
        return f"{text} to {p.queue}" if p.step == Step.REQUEST_QUEUE_MOVE and p.queue \
            else text
    if p.step == Step.AWAIT_QUEUE_CONFIRMATION:
        return f"waiting for the move to {p.queue or 'its queue'}"
    return p.milestone.reason if p.milestone else "-"


PLAN_COLUMNS = (("Tenant ID", True, True), ("Customer", False, False),
                ("Workloads", False, False), ("FM", True, False), ("Region", True, False),
                ("Queue", False, True), ("Next", False, False))  # (header, no_wrap, wide only)


def plan_table(plans: Sequence[TenantPlan], width: int = 100, wide: bool = False) -> str:
    """The readable `plan` output: a section per step in playbook order, fitted to
    ``width`` columns (Tenant ID and Queue with ``wide``); plain text, no colour.

    Laid out by `textable` (rich's layout, without rich's cost per cell); a section it
    cannot lay out (text that is not plain ASCII) is rendered by rich itself."""
    from ftc_office.cli.textable import Column, lay_out

    columns = [Column(h, no_wrap) for h, no_wrap, only_wide in PLAN_COLUMNS
               if wide or not only_wide]
    lines: list[str] = []
    by_step: dict[Step, list[list[str]]] = {step: [] for step in Step}
    for p in plans:
        by_step[p.step].append(_plan_row(p, wide))
    for step, rows in by_step.items():
        if not rows:
            continue
        title = f"{step} ({len(rows)})"
        lines.extend(lay_out(title, columns, rows, width) or
                     _rich_table(title, columns, rows, width))
    return "\n".join(line.rstrip() for line in "\n".join(lines).rstrip("\n").splitlines())


def _plan_row(p: TenantPlan, wide: bool) -> list[str]:
    t = p.tenant
    cells = [t.customer, ", ".join(w.name for w in t.workloads),
             t.fm.email.split("@")[0] if t.fm else "-", p.region or "-"]
    if wide:
        cells = [t.tenant_id, *cells, p.queue or "-"]
    return [*cells, _next(p)]


def _rich_table(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
                width: int) -> list[str]:
    """One section rendered by rich (the reference `textable` reproduces)."""
    import io

    from rich.console import Console
    from rich.table import Table

    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False,
                      highlight=False, markup=False, emoji=False)
    tbl = Table(title=title, title_justify="left", box=None, pad_edge=False,
                header_style="", title_style="")
    for col in columns:
        tbl.add_column(col.header, no_wrap=col.no_wrap)
    for row in rows:
        tbl.add_row(*row)
    console.print(tbl)
    console.print()
    return out.getvalue().split("\n")[:-1]


def step_counts(plans: Sequence[TenantPlan]) -> str:
    """``send_atu 12 · await_discussion 3 …`` in playbook order."""
    return " · ".join(f"{s} {n}" for s, n in ordered_steps(team_counts(plans)))


SECTIONS = (("atu", "Emails to account teams"), ("customer_followup", "Customer follow-ups"),
            ("queue_move", "Queue moves"))


def _section(report: RunReport, kind: str | None) -> list[Event]:
    """The events of one kind (None: the note-only steps), warnings aside."""
    mail = {k for k, _ in SECTIONS}
    return [e for e in report.events if not e.check
            and (e.kind == kind if kind else e.kind not in mail)]


def action_lines(report: RunReport) -> list[str]:
    """What the run did, grouped by action: each message and note once, with its customers."""
    lines: list[str] = []
    for kind, title in (*SECTIONS, (None, "Notes only")):
        events = _section(report, kind)
        if not events:
            continue
        if kind == "queue_move":
            tenants = len({t.casefold() for e in events for t in e.tenant_ids})
            lines.append(f"{title}: {len(events)} message(s), {tenants} tenant(s)")
            for e in events:
                lines.append(f"  {e.text}")
                lines.append(f"      {', '.join(e.customers)}")
        else:
            lines.append(f"{title} ({len(events)})")
            lines.extend(f"  {', '.join(e.customers)}: {e.text}" for e in events)
    return lines


def attention_lines(report: RunReport) -> list[str]:
    """Needs attention: invalid tenants (first problem), failures, unknowns, warnings."""
    from ftc_office.run.report import Outcome  # not imported by `plan`, which shows a table

    items = [f"  {t.customer}: invalid — {t.problems[0]}" for t in report.tenants.values()
             if t.status == Outcome.SKIPPED and t.problems]
    items += [f"  {t.customer}: failed — {p}" for t in report.tenants.values()
              if t.status == Outcome.FAILED for p in t.problems]
    items += [f"  unknown: {u}" for u in report.unknown]
    items += [f"  {', '.join(e.customers)}: check: {e.text}" for e in report.events if e.check]
    return [f"Needs attention ({len(items)})", *items] if items else []


def _status(t: TenantOutcome) -> str:
    """A tenant's label in the counts: closed before the run is "closed", not "done"."""
    return "closed" if t.step_before == "closed" else str(t.status)


def _counts(report: RunReport) -> list[str]:
    """Tenants per step, region and FM, by what the run did for them."""
    order = ("done", "waiting", "closed", "skipped", "failed")
    lines = []
    for label, keyf in (("step", lambda t: t.step_before), ("region", lambda t: t.region),
                        ("FM", lambda t: t.fm)):
        buckets = tally(report.tenants.values(), keyf, _status)
        lines.append(f"by {label}:")
        for name in sorted(buckets):
            c = buckets[name]
            lines.append(f"  {name:32} " + "  ".join(f"{s} {c[s]}" for s in order if c[s]))
    return lines


def nothing_due(report: RunReport) -> str | None:
    """"Nothing due on DATE: N waiting, M closed" when the run had nothing to do."""
    from ftc_office.run.report import Outcome

    if report.events or report.errors or any(t.status in (Outcome.DONE, Outcome.FAILED)
                                             and t.step_before != "closed"
                                             for t in report.tenants.values()):
        return None
    ts = report.tenants.values()
    waiting = sum(1 for t in ts if t.status == Outcome.WAITING)
    closed = sum(1 for t in ts if t.step_before == "closed")
    return f"Nothing due on {report.as_of.isoformat()}: {waiting} waiting, {closed} closed"


def run_summary(report: RunReport) -> str:
    """What was done grouped by action, the counts, what needs attention, then the totals
    (or one line when nothing was due)."""
    idle = nothing_due(report)
    lines = [idle] if idle else action_lines(report)
    if report.tenants and not idle:
        lines.extend(_counts(report))
    lines.extend(attention_lines(report))
    verb = "would send" if report.dry_run else "sent"
    drafts = (f"{'would write' if report.dry_run else 'wrote'} {report.drafted} draft(s) "
              "(not sent); " if report.drafted else "")
    lines.append(f"{len(report.tenants)} tenant(s); {verb} {report.sent} message(s); {drafts}"
                 f"{report.notes} note-only step(s); {len(report.unknown)} unknown; "
                 + (f"{len(report.refused)} refused; " if report.refused else "")
                 + (f"{report.invalid} invalid tenant(s); " if report.invalid else "")
                 + f"{len(report.errors)} error(s)"
                 + ("; --limit reached" if report.limited else ""))
    lines.extend(f"refused: {key} — not retried; fix the cause, then run 'ftc-office "
                 f"resolve {key} --resend' (or '--skip')" for key in report.refused)
    if report.declined:
        lines.append("nothing sent: you declined — run the same command again to send "
                     "(add --yes to skip the question)")
    lines.extend(f"error: {e}" for e in report.errors)
    return "\n".join(lines)


def run_notices(report: RunReport, report_path: Path | None) -> Iterator[str]:
    """The lines for stderr after a run's summary: where things went, what was written."""
    yield from (f"warning: {n}" for n in report.notices)
    if report_path:
        yield f"{report_path}: report written"
    if report.outbox is not None and not report.dry_run and report.drafted:
        yield (f"{report.drafted} draft(s) in {report.outbox}: nothing was sent. Open each "
               "in Outlook and press Send, then run 'ftc-office mark-sent TRACKER' to stamp "
               "the sent dates")
    if report.outbox is not None and not report.dry_run and report.sent:
        yield f"messages are in {report.outbox}"
    for wb in [] if report.dry_run else report.writebacks:  # one line per tracker
        yield (f"{wb.tracker}: {wb.cells} cell(s) written"
               + (f", columns added: {', '.join(wb.added_columns)}" if wb.added_columns
                  else "") + (f"; backup {wb.backup}" if wb.backup else ""))
    if report.dry_run:
        per: dict[str, int] = {}
        for c in report.changes:
            per[c.tracker] = per.get(c.tracker, 0) + 1
        added = {wb.tracker: wb.added_columns for wb in report.writebacks}
        for tracker, n in per.items():
            cols = added.get(tracker)
            yield (f"{tracker}: the run would change {n} cell(s)"
                   + (f", columns added: {', '.join(cols)}" if cols else ""))
        yield ("dry run: nothing was sent or written; the lines above are what the run does "
               "(steps it unlocks included) — add --no-dry-run to do it")


def preview_notices(result: PreviewResult) -> Iterator[str]:
    """What `preview` tells on stderr: each failure, invalid tenants, where the index is."""
    yield from (f"error: {f}" for f in result.failures)
    yield from (f"check: {w}" for w in result.warnings)
    if result.invalid:
        yield (f"{result.invalid} tenant(s) skipped as invalid: 'ftc-office check' lists every "
               "problem with its cell")
    attention = len(result.failures) + result.invalid + len(result.warnings)
    yield (f"{result.index}: {result.messages} message(s) and {result.notes} note-only step(s) "
           f"previewed; {attention} need attention — open the page to review")

"""Plain-text presentation: tables and summaries for the terminal. No decisions here."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ftc_office.playbook import TenantPlan
from ftc_office.run.report import Outcome
from ftc_office.tally import ordered_steps, plan_counts, tally

if TYPE_CHECKING:
    from ftc_office.preview import PreviewResult
    from ftc_office.run.report import RunReport, TenantOutcome


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[int]) -> str:
    """A fixed-width text table; cells longer than their column are cut with '…'."""
    def cut(text: str, width: int) -> str:
        text = " ".join(text.split())
        return text if len(text) <= width else text[: width - 1] + "…"

    real = [min(w, max([len(h)] + [len(" ".join(r[i].split())) for r in rows]))
            for i, (h, w) in enumerate(zip(headers, widths, strict=True))]
    lines = ["  ".join(cut(h, w).ljust(w) for h, w in zip(headers, real, strict=True)).rstrip(),
             "  ".join("-" * w for w in real)]
    for r in rows:
        lines.append("  ".join(cut(c, w).ljust(w) for c, w in zip(r, real, strict=True)).rstrip())
    return "\n".join(lines)


def plan_table(plans: Sequence[TenantPlan]) -> str:
    """The readable `plan` output: one line per tenant."""
    rows = []
    for p in plans:
        t = p.tenant
        rows.append([
            t.tenant_id, t.customer, ", ".join(w.name for w in t.workloads),
            str(p.step), p.queue or "-",
            p.milestone.reason if p.milestone else f"{len(p.problems)} problem(s)",
        ])
    return table(["TENANT ID", "CUSTOMER", "WORKLOADS", "NEXT STEP", "QUEUE", "MILESTONE"],
                 rows, [36, 28, 34, 24, 22, 60])


def step_counts(plans: Sequence[TenantPlan]) -> str:
    """``send_atu 12 · await_discussion 3 …`` in playbook order."""
    return " · ".join(f"{s} {n}" for s, n in ordered_steps(plan_counts(plans).team))


def run_summary(report: RunReport) -> str:
    """Per tenant what happened, then counts per step, per region and per FM."""
    lines = []
    for t in report.tenants.values():
        if not t.actions and not t.problems and t.status != Outcome.FAILED:
            continue
        lines.append(f"{t.customer} ({t.tenant_id}) [{t.step_before}]")
        lines.extend(f"    {a}" for a in t.actions)
        lines.extend(f"    problem: {p}" for p in t.problems)
    order = tuple(Outcome)

    def group(label: str, keyf: Callable[[TenantOutcome], str]) -> list[str]:
        buckets = tally(report.tenants.values(), keyf, lambda t: t.status)
        out = [f"by {label}:"]
        for name in sorted(buckets):
            c = buckets[name]
            out.append(f"  {name:32} " + "  ".join(f"{s} {c[s]}" for s in order if c[s]))
        return out

    if report.tenants:
        lines.append("")
        lines.extend(group("step", lambda t: t.step_before))
        lines.extend(group("region", lambda t: t.region))
        lines.extend(group("FM", lambda t: t.fm))
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
    for wb in report.writebacks:
        yield (f"{wb.tracker}: {wb.cells} cell(s) written"
               + (f", columns added: {', '.join(wb.added_columns)}" if wb.added_columns
                  else "") + (f"; backup {wb.backup}" if wb.backup else ""))
    if report.dry_run:
        per: dict[str, int] = {}
        for c in report.changes:
            per[c.tracker] = per.get(c.tracker, 0) + 1
        for tracker, n in per.items():
            yield f"{tracker}: the run would change {n} cell(s)"
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

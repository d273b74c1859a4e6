"""Plain-text presentation: tables and summaries for the terminal. No decisions here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from ftc_office.playbook import Step, TenantPlan


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
            str(p.step), t.queue or "-",
            p.milestone.reason if p.milestone else f"{len(p.problems)} problem(s)",
        ])
    return table(["TENANT ID", "CUSTOMER", "WORKLOADS", "NEXT STEP", "QUEUE", "MILESTONE"],
                 rows, [36, 28, 34, 24, 22, 60])


def step_counts(plans: Sequence[TenantPlan]) -> str:
    """``send_atu 12 · await_discussion 3 …`` in playbook order."""
    counts = Counter(p.step for p in plans)
    return " · ".join(f"{s} {counts[s]}" for s in Step if counts[s])

"""The dashboard's charts, drawn by matplotlib as inline SVG (text stays text, so the page
is small and its labels are searchable). matplotlib is imported here only, on first use, so
`plan` and `check` never pay for it.

Colours are the Okabe–Ito palette (readable with every common colour-vision deficiency);
every bar also carries its number, so nothing is told by colour alone. Each SVG gets
``role="img"``, an ``aria-label`` and a ``<title>``: its text alternative (the table beside
it has every number).
"""

from __future__ import annotations

import html
import io
import re
import threading
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ftc_office.steps import Step

#: Okabe–Ito colours per kind of step
GROUP_COLOURS = {
    "not eligible": "#999999",
    "due now": "#0072B2",
    "waiting": "#E69F00",
    "closed": "#009E73",
    "invalid": "#D55E00",
}
STEP_GROUP = {
    Step.NOT_ELIGIBLE: "not eligible",
    Step.SEND_ATU: "due now", Step.SEND_CUSTOMER_FOLLOWUP: "due now",
    Step.REQUEST_QUEUE_MOVE: "due now", Step.UNASSIGN_FM: "due now",
    Step.AWAIT_DISCUSSION: "waiting", Step.AWAIT_QUEUE_CONFIRMATION: "waiting",
    Step.CLOSED: "closed", Step.INVALID: "invalid",
}
STEP_LABELS = {
    Step.NOT_ELIGIBLE: "not eligible", Step.SEND_ATU: "send ATU",
    Step.AWAIT_DISCUSSION: "awaiting discussion",
    Step.SEND_CUSTOMER_FOLLOWUP: "send follow-up", Step.REQUEST_QUEUE_MOVE: "request queue move",
    Step.AWAIT_QUEUE_CONFIRMATION: "awaiting confirmation", Step.UNASSIGN_FM: "unassign FM",
    Step.CLOSED: "closed", Step.INVALID: "invalid",
}
TEXT = "#222222"
#: an id, or a reference to one, in matplotlib's SVG (prefixed per chart: ids are page-wide)
_ID_REF = re.compile(r'(\bid="|url\(#|href="#)([^")]+)')
_MPL: Any = None


def _figure(width: float, height: float) -> Any:
    """A new matplotlib figure in our style (matplotlib imported once, lazily, without
    pyplot: no GUI backend is looked for, and the import is a third shorter)."""
    global _MPL
    if _MPL is None:
        import matplotlib
        from matplotlib.figure import Figure

        matplotlib.rcParams.update({
            "svg.fonttype": "none", "font.family": "sans-serif", "font.size": 11,
            "font.sans-serif": ["Segoe UI", "Helvetica", "Arial", "DejaVu Sans"],
            "axes.spines.top": False, "axes.spines.right": False,
            "axes.edgecolor": "#888888", "text.color": TEXT, "axes.labelcolor": TEXT,
            "xtick.color": TEXT, "ytick.color": TEXT,
        })
        _MPL = (matplotlib, Figure)
    return _MPL[1](figsize=(width, height), layout="constrained")


def preload() -> threading.Thread:
    """Start importing matplotlib in a background thread (it takes a second or two) while
    the caller reads the trackers; joining the thread is optional (imports are locked)."""
    thread = threading.Thread(target=_figure_class, name="preload-matplotlib", daemon=True)
    thread.start()
    return thread


def _figure_class() -> None:
    """Import matplotlib's figure and SVG backend modules (what the charts need)."""
    import matplotlib.backends.backend_svg
    import matplotlib.figure  # noqa: F401


def _whole(axis: Any) -> None:
    """Ticks at whole numbers only (tenants are counted, never 2.5)."""
    from matplotlib.ticker import MaxNLocator

    axis.set_major_locator(MaxNLocator(integer=True))


def _svg(fig: Any, name: str, label: str) -> str:
    """The figure as an inline ``<svg>`` with its text alternative; ids made unique per
    chart (several charts share one page) and stable (the same data gives the same bytes)."""
    buf = io.StringIO()
    with _MPL[0].rc_context({"svg.hashsalt": name}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    text = re.sub(r"<metadata>.*?</metadata>", "", text, count=1, flags=re.S)
    text = _ID_REF.sub(lambda m: f"{m.group(1)}{name}-{m.group(2)}", text)
    head, rest = text[:text.index(">")], text[text.index(">"):]
    width = re.search(r'\swidth="([^"]*)"', head)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head, count=2)
    safe = html.escape(label, quote=True)
    native = f' style="max-width:{width.group(1)}"' if width else ""
    return (head.replace("<svg", f'<svg role="img" aria-label="{safe}" class="chart"{native}', 1)
            + rest.replace(">", f"><title>{safe}</title>", 1))


def funnel_chart(team: Counter[str], steps: Sequence[Step]) -> str:
    """One bar per step, playbook order top to bottom, the count at the end of each bar."""
    values = [team[s] for s in steps]
    fig = _figure(4.8, 0.32 * len(steps) + 1.0)
    ax = fig.subplots()
    ys = range(len(steps))
    ax.barh(ys, values, color=[GROUP_COLOURS[STEP_GROUP[s]] for s in steps], height=0.7)
    ax.set_yticks(list(ys), [STEP_LABELS[s] for s in steps])
    ax.invert_yaxis()
    for y, v in zip(ys, values, strict=True):
        ax.text(v, y, f" {v}", va="center", fontsize=10)
    ax.set_xlabel("tenants")
    _whole(ax.xaxis)
    ax.margins(x=0.08)
    _legend(ax, {STEP_GROUP[s] for s in steps})
    label = "Tenants per step: " + ", ".join(
        f"{STEP_LABELS[s]} {v}" for s, v in zip(steps, values, strict=True))
    return _svg(fig, "funnel", label)


def stacked_chart(name: str, rows: dict[str, Counter[str]], what: str) -> str:
    """One stacked bar per row (FM or region): its tenants by kind of step."""
    labels = list(rows)
    groups = list(GROUP_COLOURS)
    sums = {g: [sum(n for s, n in rows[r].items() if STEP_GROUP[Step(s)] == g)
                for r in labels] for g in groups}
    fig = _figure(4.8, 0.4 * len(labels) + 1.1)
    ax = fig.subplots()
    left = [0] * len(labels)
    short = [r.split("@")[0] for r in labels]  # an FM's name; the table has the address
    shown = short if len(set(short)) == len(short) else labels
    for g in groups:
        ax.barh(shown, sums[g], left=left, color=GROUP_COLOURS[g], height=0.65, label=g)
        left = [a + b for a, b in zip(left, sums[g], strict=True)]
    for y, total in enumerate(left):
        ax.text(total, y, f" {total}", va="center", fontsize=10)
    ax.invert_yaxis()
    ax.set_xlabel("tenants")
    _whole(ax.xaxis)
    ax.margins(x=0.08)
    _legend(ax, {g for g in groups if any(sums[g])})
    label = f"Tenants per {what} by kind of step: " + "; ".join(
        f"{r}: " + ", ".join(f"{g} {sums[g][i]}" for g in groups if sums[g][i])
        for i, r in enumerate(labels))
    return _svg(fig, name, label)


def months_chart(months: Sequence[tuple[str, int]]) -> str:
    """Tenants per month of their Next Action Date."""
    fig = _figure(4.8, 2.4)
    ax = fig.subplots()
    xs = [m for m, _ in months]
    values = [n for _, n in months]
    ax.bar(xs, values, color="#56B4E9", edgecolor="#0072B2", width=0.6)
    for x, v in zip(xs, values, strict=True):
        ax.text(x, v, str(v), ha="center", va="bottom", fontsize=10)
    ax.set_ylabel("tenants")
    _whole(ax.yaxis)
    ax.margins(y=0.15)
    if len(xs) > 8:
        ax.tick_params(axis="x", labelrotation=45)
    label = "Next action dates per month: " + ", ".join(f"{m} {n}" for m, n in months)
    return _svg(fig, "months", label)


def _legend(ax: Any, shown: set[str]) -> None:
    """The kinds of step shown, in a fixed order, above the axes (in the figure's layout)."""
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=g) for g, c in GROUP_COLOURS.items() if g in shown]
    ax.figure.legend(handles=handles, loc="outside upper left", ncol=min(3, len(handles)),
                     frameon=False, fontsize=10, handlelength=1.0, columnspacing=1.0)

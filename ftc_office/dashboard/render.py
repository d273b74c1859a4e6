"""The dashboard as one self-contained HTML file: CSS inline, charts as inline SVG, no
script, and a Content-Security-Policy that lets nothing load from anywhere (the page works
offline, and a viewer's browser makes no request for it).

``write_dashboard`` is the library entry point: trackers in, HTML file out; `report --html`
and `run --dashboard` call it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import jinja2

from ftc_office.atomic import atomic_write_bytes
from ftc_office.config import Settings
from ftc_office.dashboard.model import (
    CLOCK_TITLES,
    LEDGER_STATES,
    Dashboard,
    build_dashboard,
)
from ftc_office.errors import UsageError
from ftc_office.ledger import Ledger
from ftc_office.planning import load_workspace, plan_workspace
from ftc_office.steps import Step
from ftc_office.tally import FUNNEL

TEMPLATE = "dashboard.html.j2"
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
#: the matrix columns: the funnel in playbook order, then invalid
COLUMNS: tuple[Step, ...] = (*FUNNEL, Step.INVALID)


def _environment() -> jinja2.Environment:
    """Our own template (not a user's): autoescaped, strict about undefined names."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).parent), autoescape=True,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


def render_html(board: Dashboard, generated: str = "") -> str:
    """The page for a dashboard's numbers (charts drawn here)."""
    from ftc_office.dashboard import charts

    counts = board.counts
    context: dict[str, Any] = {
        "b": board, "csp": CSP, "columns": COLUMNS, "labels": charts.STEP_LABELS,
        "groups": charts.STEP_GROUP, "colours": charts.GROUP_COLOURS,
        "clock_titles": CLOCK_TITLES, "ledger_states": LEDGER_STATES,
        "generated": generated,
        "kpi": {g: sum(n for s, n in counts.team.items() if charts.STEP_GROUP[Step(s)] == g)
                for g in charts.GROUP_COLOURS},
        "funnel_svg": charts.funnel_chart(counts.team, COLUMNS),
        "fm_svg": charts.stacked_chart("fm", counts.by_fm, "FM") if counts.by_fm else "",
        "region_svg": (charts.stacked_chart("region", counts.by_region, "region")
                       if counts.by_region else ""),
        "months_svg": charts.months_chart(board.next_actions) if board.next_actions else "",
    }
    return _environment().get_template(TEMPLATE).render(context)


def dashboard_for(paths: Sequence[Path], settings: Settings, as_of: dt.date,
                  ledger_dir: Path | None = None) -> Dashboard:
    """Read and plan the trackers, read the ledger (if there is one), count."""
    ws = load_workspace(paths, settings)
    plans = plan_workspace(ws, as_of)
    folder = ledger_dir or settings.data_folder()
    entries = None
    if (folder / "ledger.sqlite3").exists():
        with Ledger.open(folder) as ledger:
            entries = ledger.entries()
    return build_dashboard(plans, as_of, [str(p) for p in paths],
                           [str(p) for p in ws.file_problems], entries)


def write_dashboard(paths: Sequence[Path], settings: Settings, as_of: dt.date, out: Path,
                    ledger_dir: Path | None = None) -> Dashboard:
    """Write the dashboard for the trackers to ``out`` (atomically); return its numbers."""
    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(str(out), "the dashboard is an HTML file",
                         "give a file name ending in .html, e.g. --html team.html")
    from ftc_office.dashboard import charts

    loading = charts.preload()  # overlaps the import with reading the trackers
    board = dashboard_for(paths, settings, as_of, ledger_dir)
    loading.join()
    stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    page = render_html(board, stamp).encode("utf-8")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out, page)
    except OSError as exc:
        raise UsageError(str(out), f"the dashboard cannot be written ({exc.strerror})",
                         "give a file in a folder you can write to") from None
    return board

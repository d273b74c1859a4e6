"""`report`: the team lead's HTML dashboard over one or many trackers."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ftc_office.cli.boundary import boundary, settings_of
from ftc_office.cli.options import as_of_option, parse_as_of, trackers_argument


@click.command()
@trackers_argument
@as_of_option
@click.option("--html", "html", type=click.Path(dir_okay=False), required=True,
              metavar="FILE.html", help="Where to write the dashboard.")
@click.pass_context
@boundary
def report(ctx: click.Context, trackers: tuple[str, ...], as_of: str | None, html: str) -> None:
    """Write an HTML dashboard of the team's engagements (one self-contained file).

    The funnel per FM and region, who waits longest at each step, invalid tenants with
    their cell, next action dates by month, and what the ledger recorded in the last 7
    days. The counts are those of `plan --json`. Opens offline; prints well.

    \b
    Example:
      ftc-office report "team/*.xlsx" --html week48.html --as-of 2026-11-26
    """
    from ftc_office.dashboard.render import write_dashboard
    from ftc_office.tracker.locate import expand_paths

    out = Path(html)
    board = write_dashboard(expand_paths(trackers), settings_of(ctx), parse_as_of(as_of), out)
    for p in board.file_problems:
        click.echo(f"error: {p}", err=True)
    click.echo(f"{out}: dashboard of {board.counts.total} tenant(s) as of "
               f"{board.as_of.isoformat()} written — open it in a browser", err=True)
    sys.exit(1 if board.file_problems else 0)


def _html_name(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    """Refuse a dashboard name that is not .html before the run starts, not after it."""
    if value and Path(value).suffix.lower() not in (".html", ".htm"):
        raise click.BadParameter(f"{value}: the dashboard is an HTML file — give a file name "
                                 "ending in .html, e.g. --dashboard team.html")
    return value


dashboard_option = click.option(
    "--dashboard", "dashboard", type=click.Path(dir_okay=False), metavar="FILE.html",
    callback=_html_name, help="After the run, write the HTML dashboard (as `report --html`).")


def dashboard_after_run(ctx: click.Context, dashboard: str | None,
                        options: dict[str, Any]) -> None:
    """`run --dashboard FILE`: the dashboard of the trackers as the run left them."""
    if not dashboard:
        return
    from ftc_office.dashboard.render import write_dashboard
    from ftc_office.tracker.locate import expand_paths

    board = write_dashboard(expand_paths(options["trackers"]), settings_of(ctx),
                            parse_as_of(options["as_of"]), Path(dashboard))
    click.echo(f"{dashboard}: dashboard of {board.counts.total} tenant(s) written", err=True)

"""`report`: the team lead's HTML dashboard over one or many trackers."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ftc_office.cli.boundary import boundary, settings_of
from ftc_office.cli.options import as_of_option, parse_as_of, trackers_argument
from ftc_office.planning import expand_paths


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

    out = Path(html)
    board = write_dashboard(expand_paths(trackers), settings_of(ctx), parse_as_of(as_of), out)
    for p in board.file_problems:
        click.echo(f"error: {p}", err=True)
    click.echo(f"{out}: dashboard of {board.counts.total} tenant(s) as of "
               f"{board.as_of.isoformat()} written — open it in a browser", err=True)
    sys.exit(1 if board.file_problems else 0)

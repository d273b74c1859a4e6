"""`mark-sent`: the FM says the drafts went out; their sent dates are stamped now."""

from __future__ import annotations

import sys

import click

from ftc_office.cli.boundary import boundary, settings_of
from ftc_office.cli.options import force_option, trackers_argument


@click.command("mark-sent")
@trackers_argument
@click.option("--tenant", metavar="ID", help="Only this tenant's drafts.")
@click.option("--key", metavar="KEY", help="Only this message (a key from 'ftc-office status').")
@force_option
@click.pass_context
@boundary
def mark_sent_cmd(ctx: click.Context, trackers: tuple[str, ...], tenant: str | None,
                  key: str | None, force: bool) -> None:
    """Record that you sent the drafts, and stamp their sent dates in the tracker.

    The outbox writes drafts by default (delivery.outbox_mode = "drafts"): .eml files that
    open in Outlook as unsent messages. Nothing counts as sent until you say so: after you
    have sent them from Outlook, run this for the tracker (or one --tenant, or one --key).

    \b
    Examples:
      ftc-office mark-sent tracker.xlsx
      ftc-office mark-sent tracker.xlsx --tenant 6f1c...-...
    """
    from ftc_office.run.marksent import mark_sent
    from ftc_office.tracker.locate import expand_paths

    settings = settings_of(ctx)
    paths = expand_paths(list(trackers))
    result = mark_sent(paths, settings, tenant=tenant, key=key, force=force)
    for e in result.marked:
        click.echo(f"marked sent: {e.summary} [{e.key}]")
    for wb in result.writebacks:
        for c in wb.conflicts:
            click.echo(f"conflict: {c}", err=True)
        click.echo(f"{wb.tracker}: {wb.cells} cell(s) written"
                   + (f"; backup {wb.backup}" if wb.backup else ""), err=True)
    if not result.marked:
        click.echo("no drafts to mark: 'ftc-office status' lists what is drafted", err=True)
    sys.exit(1 if any(wb.conflicts for wb in result.writebacks) else 0)

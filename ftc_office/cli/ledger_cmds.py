"""Commands over the ledger: `writeback`, `confirm-queue`, `status`, `resolve`, `history`.

Each opens the ledger in the data folder (``FTC_OFFICE_DATA_DIR``, else ``paths.data_dir``
from the config, else the per-user folder).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from ftc_office.cli.boundary import boundary, settings_of
from ftc_office.cli.options import force_option, parse_as_of
from ftc_office.errors import UsageError


@click.command()
@click.argument("tracker", type=click.Path(dir_okay=False))
@force_option
@click.pass_context
@boundary
def writeback(ctx: click.Context, tracker: str, force: bool) -> None:
    """Stamp everything the ledger recorded as done into the tracker (safe to re-run).

    \b
    Example:
      ftc-office writeback tracker.xlsx
    """
    from ftc_office.run.locks import locked_ledger
    from ftc_office.writeback import write_back

    settings = settings_of(ctx)
    path, data = Path(tracker), settings.data_folder()
    with locked_ledger([path], data, settings) as ledger:
        wb = write_back(path, ledger, settings, force=force, data=data)
    for c in wb.conflicts:
        click.echo(f"conflict: {c}", err=True)
    click.echo(f"{tracker}: {wb.cells} cell(s) written for {wb.jobs} recorded step(s)"
               + (f"; backup {wb.backup}" if wb.backup else ""))
    sys.exit(1 if wb.conflicts else 0)


@click.command("confirm-queue")
@click.argument("tracker", type=click.Path(dir_okay=False))
@click.option("--tenant", metavar="ID", required=True, help="The tenant whose move is confirmed.")
@click.option("--date", "date", metavar="YYYY-MM-DD", help="Confirmation date (default: today).")
@force_option
@click.pass_context
@boundary
def confirm_queue_cmd(ctx: click.Context, tracker: str, tenant: str, date: str | None,
                      force: bool) -> None:
    """Record that the assignment team moved a tenant (fills Queue Confirmed).

    \b
    Example:
      ftc-office confirm-queue tracker.xlsx --tenant 6f1c...-...
    """
    from ftc_office.run.confirm import confirm_queue
    from ftc_office.run.locks import locked_ledger

    settings = settings_of(ctx)
    path, data, when = Path(tracker), settings.data_folder(), parse_as_of(date)
    with locked_ledger([path], data, settings) as ledger:
        results = confirm_queue([path], settings, ledger, tenant, when, force, data=data)
    cells = sum(r.cells for r in results)
    click.echo(f"{tracker}: queue move of {tenant} confirmed on {when.isoformat()} "
               f"({cells} cell(s) written) — the next run unassigns the FM")


@click.command()
@click.pass_context
@boundary
def status(ctx: click.Context) -> None:
    """Counts of ledger entries per state, and every message a person has to decide about:
    unknown outcomes, failures, and messages the provider refused (with its reason).

    \b
    Example:
      ftc-office status
    """
    from ftc_office.jobs import NEEDS_PERSON, State
    from ftc_office.ledger import Ledger

    with Ledger.open(settings_of(ctx).data_folder(), settings_of(ctx)) as ledger:
        counts = ledger.counts()
        click.echo(f"ledger {ledger.path}")
        for state in (State.PLANNED, State.SENDING, State.SENT, State.DRAFTED, State.DONE,
                      State.FAILED, State.REFUSED, State.UNKNOWN, State.SKIPPED):
            if counts.get(state):
                click.echo(f"  {state:8} {counts[state]}")
        if not counts:
            click.echo("  (empty)")
        attention = ledger.entries(tuple(NEEDS_PERSON))
    for e in attention:
        click.echo(f"{e.state}: {e.key} to {', '.join(e.recipients)} at {e.updated_at}"
                   + (f" — {e.error}" if e.error else ""))
    if any(e.state in (State.SENDING, State.UNKNOWN) for e in attention):
        click.echo("ledger: an outcome is unknown — check Sent Items (or a recipient), then "
                   "run: ftc-office resolve KEY --sent | --resend | --skip", err=True)
    if any(e.state == State.REFUSED for e in attention):
        click.echo("ledger: the provider refused a message (reason above); it is never "
                   "retried by itself — fix the cause, then run: ftc-office resolve KEY "
                   "--resend (or --skip)", err=True)


@click.command()
@click.argument("key")
@click.option("--sent", "action", flag_value="sent", help="It did go out: record it as sent.")
@click.option("--resend", "action", flag_value="resend",
              help="It did not (or was refused and the cause is fixed): send it again.")
@click.option("--skip", "action", flag_value="skip", help="Never send it.")
@click.pass_context
@boundary
def resolve(ctx: click.Context, key: str, action: str | None) -> None:
    """Decide about a message whose outcome is unknown (after checking Sent Items), or
    release one the provider refused (--resend after fixing the cause, or --skip).

    \b
    Example:
      ftc-office resolve atu.6f1c...teams.1a2b3c --sent
    """
    from ftc_office.ledger import Ledger

    if not action:
        raise UsageError("resolve", "say what happened", "add --sent, --resend or --skip")
    with Ledger.open(settings_of(ctx).data_folder(), settings_of(ctx)) as ledger:
        before = ledger.resolve(key, action)
    click.echo(f"{key}: {before.state} → {action}")


@click.command()
@click.option("--tenant", metavar="ID", help="Only this tenant's events.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
@boundary
def history(ctx: click.Context, tenant: str | None, as_json: bool) -> None:
    """The ledger's event log: every transition and every workbook write.

    \b
    Example:
      ftc-office history --tenant 6f1c...
    """
    from ftc_office.ledger import Ledger

    ledger = Ledger.open(settings_of(ctx).data_folder(), settings_of(ctx))
    try:
        events = ledger.events(tenant)
    finally:
        ledger.close()
    if as_json:
        click.echo(json.dumps(events, indent=2, default=str))
        return
    for e in events:
        detail = {k: v for k, v in e["detail"].items() if v not in (None, [], "")}
        click.echo(f"{e['at']}  {e['event']:20} {e['key'] or ''}  "
                   + " ".join(f"{k}={v}" for k, v in detail.items()))

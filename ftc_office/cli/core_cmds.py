"""The core commands: init, check, plan, preview (loaded on demand by `ftc_office.cli.main`)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ftc_office.cli.boundary import boundary, read_first_ahead, settings_of, tracker_paths
from ftc_office.cli.options import as_of_option, parse_as_of, trackers_argument
from ftc_office.config import CONFIG_NAME
from ftc_office.console import collector_paused, json_text, leave_quickly
from ftc_office.errors import UsageError
from ftc_office.steps import Step


@click.command()
@click.option("--path", "path", type=click.Path(dir_okay=False), default=CONFIG_NAME,
              show_default=True, help="Where to write the starter config.")
@boundary
def init(path: str) -> None:
    """Write a commented starter config (never overwrites an existing file).

    \b
    Example:
      ftc-office init && notepad ftc-office.toml
    """
    target = Path(path)
    if target.exists():
        raise UsageError(str(target), "already exists; nothing was written",
                         "edit it, or give another --path")
    from importlib import resources  # `init` alone: 17 ms of every other command's start

    text = resources.files("ftc_office").joinpath("starter_config.toml").read_text("utf-8")
    target.write_text(text, encoding="utf-8")
    click.echo(f"{target}: starter config written — edit mail.internal_domains and "
               "mail.assignment_team first", err=True)


@click.command()
@trackers_argument
@as_of_option
@click.pass_context
@boundary
def check(ctx: click.Context, trackers: tuple[str, ...], as_of: str | None) -> None:
    """Validate trackers and list every problem with its file, sheet and cell.

    Exit code 0 when every tracker is clean, 1 when any problem was found.

    \b
    Example:
      ftc-office check "trackers/*.xlsx"
    """
    ctx.with_resource(collector_paused())  # reads and prints: no cycles worth collecting
    settings = settings_of(ctx)
    date = parse_as_of(as_of)
    paths = read_first_ahead(tracker_paths(trackers), settings)
    from ftc_office.planning import load_workspace  # imported while the first is read
    from ftc_office.tracker.checks import implausible_dates

    ws = load_workspace(paths, settings)
    problems = ws.problems + [p for tr in ws.trackers for t in tr.tenants
                              for p in implausible_dates(t, date)]
    for p in problems:
        click.echo(str(p))
    n_tenants = sum(len(tr.tenants) for tr in ws.trackers)
    n_files = len(ws.trackers) + len(ws.file_problems)
    summary = (f"{n_files} tracker(s), {n_tenants} tenant(s): "
               f"{len(problems)} problem(s)" if problems else
               f"{n_files} tracker(s), {n_tenants} tenant(s): no problems")
    click.echo(summary, err=True)
    leave_quickly()
    sys.exit(1 if problems else 0)


@click.command()
@trackers_argument
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tenant (a list).")
@click.option("--tenant", metavar="ID", help="Only this tenant.")
@click.option("--step", type=click.Choice([s.value for s in Step]),
              help="Only tenants at this step.")
@click.option("--fm", metavar="EMAIL", help="Only this FM's tenants.")
@click.option("--wide", is_flag=True, help="Add the Tenant ID and Queue columns.")
@click.pass_context
@boundary
def plan(ctx: click.Context, trackers: tuple[str, ...], as_of: str | None, as_json: bool,
         tenant: str | None, step: str | None, fm: str | None, wide: bool) -> None:
    """Show each tenant's one next playbook step (nothing is sent or written).

    Steps: not_eligible, send_atu, await_discussion, send_customer_followup,
    request_queue_move, await_queue_confirmation, unassign_fm, closed, invalid.

    \b
    Examples:
      ftc-office plan samples/tracker.xlsx --as-of 2026-11-26
      ftc-office plan "trackers/*.xlsx" --step send_atu --json > due.json
    """
    ctx.with_resource(collector_paused())  # reads and prints: no cycles worth collecting
    settings = settings_of(ctx)
    date = parse_as_of(as_of)
    paths = read_first_ahead(tracker_paths(trackers), settings)
    from ftc_office.cli.views import plan_table, step_counts  # imported while it is read
    from ftc_office.planning import (
        PlanFilter,
        load_workspace,
        plan_to_json,
        plan_workspace,
        require_tenant,
    )
    from ftc_office.run.recorded import as_recorded

    ws, notes = as_recorded(load_workspace(paths, settings), settings)
    flt = PlanFilter(tenant=tenant, step=Step(step) if step else None, fm=fm)
    plans = plan_workspace(ws, date, flt)
    for p in ws.file_problems:
        click.echo(f"error: {p}", err=True)
    for line in notes:
        click.echo(f"note: {line}", err=True)
    if as_json:
        click.echo(json_text([plan_to_json(p) for p in plans], indent=2))
    else:
        import shutil  # the terminal's width; COLUMNS or 100 when piped

        if plans:
            click.echo(plan_table(plans, shutil.get_terminal_size((100, 20)).columns, wide))
        click.echo(f"{len(plans)} tenant(s) as of {date.isoformat()}: {step_counts(plans)}",
                   err=True)
        invalid = sum(1 for p in plans if p.step == Step.INVALID)
        if invalid:
            click.echo(f"{invalid} tenant(s) invalid: 'ftc-office check' lists every problem "
                       "with its cell", err=True)
    require_tenant(tenant, bool(plans))
    leave_quickly()
    sys.exit(1 if ws.file_problems else 0)


@click.command()
@trackers_argument
@as_of_option
@click.option("--tenant", metavar="ID", help="Only this tenant.")
@click.option("--out", "out", type=click.Path(file_okay=False), default="ftc-office-out/preview",
              show_default=True, help="Folder for the .eml files and the review page index.html.")
@click.option("--per-tenant", is_flag=True, help="One queue-move message per tenant.")
@click.pass_context
@boundary
def preview(ctx: click.Context, trackers: tuple[str, ...], as_of: str | None,
            tenant: str | None, out: str, per_tenant: bool) -> None:
    """Show exactly what the run would do: its messages and a review page (sends nothing).

    The run is carried out on copies (steps it unlocks included): every message it would
    send is written as the .eml file the outbox would write, with its attachments, and
    index.html shows them per FM and customer with the cells the run would change and what
    needs attention. Open index.html in a browser, or an .eml in Outlook. Exit code 1 when
    some tenant could not be composed (listed).

    \b
    Example:
      ftc-office preview samples/tracker.xlsx --as-of 2026-11-26 --out preview
    """
    from ftc_office.cli.views import preview_notices
    from ftc_office.preview import preview_trackers

    result = preview_trackers(tracker_paths(trackers), settings_of(ctx), parse_as_of(as_of),
                              Path(out), tenant=tenant, per_tenant=per_tenant)
    for line in preview_notices(result):
        click.echo(line, err=True)
    sys.exit(1 if result.failures else 0)

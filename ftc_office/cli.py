"""Command-line interface: parse, call the library, format. Errors become exit codes here.

Exit codes: 0 all good; 1 problems found or some tenants failed; 2 bad usage or config;
130 interrupted (Ctrl-C). Human messages go to stderr, data (tables, JSON) to stdout.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import sys
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import click

from ftc_office import __version__
from ftc_office.compose import Composer, compose_all
from ftc_office.config import CONFIG_NAME, Settings, load_settings
from ftc_office.errors import FtcError, UsageError
from ftc_office.planning import (
    PlanFilter,
    expand_paths,
    load_workspace,
    plan_to_json,
    plan_workspace,
)
from ftc_office.playbook import Step
from ftc_office.preview import write_eml, write_index
from ftc_office.views import plan_table, step_counts

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def boundary(func: F) -> F:
    """The one place where our errors become messages and exit codes — never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except FtcError as exc:
            _fail(str(exc), exc.exit_code)
        except KeyboardInterrupt:
            click.echo("\ninterrupted: nothing half-done is kept; run the same command again "
                       "to continue", err=True)
            sys.exit(130)
        except (SystemExit, click.exceptions.Exit, click.ClickException):
            raise
        except Exception as exc:
            if os.environ.get("FTC_OFFICE_DEBUG"):
                raise
            _fail(f"internal error {type(exc).__name__}: {exc} — this is a bug in ftc-office; "
                  "rerun with FTC_OFFICE_DEBUG=1 for details and report it", 3)
        return None

    return wrapper  # type: ignore[return-value]


def settings_of(ctx: click.Context) -> Settings:
    """The project settings, loaded once per command from --config / env / ./ftc-office.toml."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config"))
    settings: Settings = obj["settings"]
    return settings


def parse_as_of(value: str | None) -> dt.date:
    """--as-of YYYY-MM-DD, default today (local calendar date)."""
    if not value:
        return dt.date.today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise UsageError(f"--as-of {value}", "not a date",
                         "give the date as YYYY-MM-DD, e.g. --as-of 2026-11-26") from None


as_of_option = click.option("--as-of", "as_of", metavar="YYYY-MM-DD",
                            help="Plan as if today were this date (default: today).")
trackers_argument = click.argument("trackers", nargs=-1, required=True, metavar="TRACKER...")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config", type=click.Path(dir_okay=False), envvar="FTC_OFFICE_CONFIG",
              help=f"Project config file (default: ./{CONFIG_NAME} if present).")
@click.version_option(__version__, prog_name="ftc-office")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Close FastTrack enablement engagements from a tracker workbook.

    Reads the team's tracker (.xlsx), decides each tenant's next playbook step, renders the
    ATU, customer follow-up and queue-move messages, sends them (to .eml files by default,
    or SMTP, or Outlook), and writes the status back into the workbook.

    \b
    Start here:
      ftc-office check samples/tracker.xlsx
      ftc-office plan samples/tracker.xlsx --as-of 2026-11-26
    """
    ctx.ensure_object(dict)["config"] = config


@cli.command()
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
    text = resources.files("ftc_office").joinpath("starter_config.toml").read_text("utf-8")
    target.write_text(text, encoding="utf-8")
    click.echo(f"{target}: starter config written — edit mail.internal_domains and "
               "mail.assignment_team first", err=True)


@cli.command()
@trackers_argument
@click.pass_context
@boundary
def check(ctx: click.Context, trackers: tuple[str, ...]) -> None:
    """Validate trackers and list every problem with its file, sheet and cell.

    Exit code 0 when every tracker is clean, 1 when any problem was found.

    \b
    Example:
      ftc-office check "trackers/*.xlsx"
    """
    settings = settings_of(ctx)
    ws = load_workspace(expand_paths(trackers), settings)
    problems = ws.problems
    for p in problems:
        click.echo(str(p))
    n_tenants = sum(len(tr.tenants) for tr in ws.trackers)
    n_files = len(ws.trackers) + len(ws.file_problems)
    summary = (f"{n_files} tracker(s), {n_tenants} tenant(s): "
               f"{len(problems)} problem(s)" if problems else
               f"{n_files} tracker(s), {n_tenants} tenant(s): no problems")
    click.echo(summary, err=True)
    sys.exit(1 if problems else 0)


@cli.command()
@trackers_argument
@as_of_option
@click.option("--json", "as_json", is_flag=True, help="One JSON object per tenant (a list).")
@click.option("--tenant", metavar="ID", help="Only this tenant.")
@click.option("--step", type=click.Choice([s.value for s in Step]),
              help="Only tenants at this step.")
@click.option("--fm", metavar="EMAIL", help="Only this FM's tenants.")
@click.pass_context
@boundary
def plan(ctx: click.Context, trackers: tuple[str, ...], as_of: str | None, as_json: bool,
         tenant: str | None, step: str | None, fm: str | None) -> None:
    """Show each tenant's one next playbook step (nothing is sent or written).

    Steps: not_eligible, send_atu, await_discussion, send_customer_followup,
    request_queue_move, await_queue_confirmation, unassign_fm, closed, invalid.

    \b
    Examples:
      ftc-office plan samples/tracker.xlsx --as-of 2026-11-26
      ftc-office plan "trackers/*.xlsx" --step send_atu --json > due.json
    """
    settings = settings_of(ctx)
    date = parse_as_of(as_of)
    ws = load_workspace(expand_paths(trackers), settings)
    flt = PlanFilter(tenant=tenant, step=Step(step) if step else None, fm=fm)
    plans = plan_workspace(ws, date, flt)
    for p in ws.file_problems:
        click.echo(f"error: {p}", err=True)
    if as_json:
        click.echo(json.dumps([plan_to_json(p) for p in plans], indent=2, ensure_ascii=False))
    else:
        click.echo(plan_table(plans))
        click.echo(f"{len(plans)} tenant(s) as of {date.isoformat()}: {step_counts(plans)}",
                   err=True)
    if tenant and not plans:
        raise UsageError(f"--tenant {tenant}", "no such tenant in the trackers",
                         "check the Tenant ID (run 'ftc-office plan' without --tenant)")
    sys.exit(1 if ws.file_problems else 0)


@cli.command()
@trackers_argument
@as_of_option
@click.option("--tenant", metavar="ID", help="Only this tenant.")
@click.option("--out", "out", type=click.Path(file_okay=False), default="ftc-office-out/preview",
              show_default=True, help="Folder for the .eml files and index.html.")
@click.option("--per-tenant", is_flag=True, help="One queue-move message per tenant.")
@click.pass_context
@boundary
def preview(ctx: click.Context, trackers: tuple[str, ...], as_of: str | None,
            tenant: str | None, out: str, per_tenant: bool) -> None:
    """Render every message that is due, as .eml files plus an index.html (sends nothing).

    Open index.html in a browser, or the .eml files in Outlook, to review exactly what
    would be sent. Exit code 1 when some tenant could not be composed (listed).

    \b
    Example:
      ftc-office preview samples/tracker.xlsx --as-of 2026-11-26 --out preview
    """
    settings = settings_of(ctx)
    date = parse_as_of(as_of)
    ws = load_workspace(expand_paths(trackers), settings)
    plans = plan_workspace(ws, date, PlanFilter(tenant=tenant))
    composer = Composer(settings, date)
    comp = compose_all(composer, plans, per_tenant or
                       settings.mail.queue_move_grouping == "per-tenant")
    folder = Path(out)
    now = dt.datetime.now(dt.UTC)
    paths = {job.key: write_eml(job, folder, now) for job in comp.jobs}
    failures = [str(p) for _t, p in comp.failures] + [str(p) for p in ws.file_problems]
    index = write_index(comp.jobs, paths, folder, failures, date)
    for f in failures:
        click.echo(f"error: {f}", err=True)
    n_mail = sum(1 for j in comp.jobs if j.message)
    click.echo(f"{index}: {n_mail} message(s) and {len(comp.jobs) - n_mail} note-only step(s) "
               f"previewed; {len(failures)} problem(s) — open the index to review", err=True)
    sys.exit(1 if failures else 0)


def main() -> None:
    """Console entry point."""
    cli(prog_name="ftc-office")

"""Command-line interface: parse, call the library, format. Errors become exit codes here.

Exit codes: 0 all good; 1 problems found or some tenants failed; 2 bad usage or config;
130 interrupted (Ctrl-C). Human messages go to stderr, data (tables, JSON) to stdout.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import os
import shutil
import sys
from collections.abc import Callable
from contextlib import ExitStack
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar

import click

from ftc_office import __version__
from ftc_office.cli.auth import auth
from ftc_office.cli.boundary import boundary, settings_of
from ftc_office.cli.merge import merge
from ftc_office.cli.views import plan_table, run_summary, step_counts
from ftc_office.config import CONFIG_NAME
from ftc_office.errors import UsageError
from ftc_office.planning import (
    PlanFilter,
    expand_paths,
    load_workspace,
    plan_to_json,
    plan_workspace,
)
from ftc_office.playbook import Step

F = TypeVar("F", bound=Callable[..., Any])


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
      ftc-office demo                      the whole job on a copy of the sample
      ftc-office init                      a commented ftc-office.toml to edit
      ftc-office check tracker.xlsx        every problem, with its cell
      ftc-office plan tracker.xlsx         each tenant's next step
      ftc-office run tracker.xlsx          what would happen (add --no-dry-run to do it)

    Every command has --help with an example. Exit codes: 0 all good, 1 problems or failed
    tenants, 2 bad usage or config, 130 interrupted.
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
        invalid = sum(1 for p in plans if p.step == Step.INVALID)
        if invalid:
            click.echo(f"{invalid} tenant(s) invalid: 'ftc-office check' lists every problem "
                       "with its cell", err=True)
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
    from ftc_office.compose.composer import Composer, queue_move_batch, tenant_batches
    from ftc_office.preview import Previewer

    settings = settings_of(ctx)
    date = parse_as_of(as_of)
    ws = load_workspace(expand_paths(trackers), settings)
    plans = plan_workspace(ws, date, PlanFilter(tenant=tenant))
    if tenant and not plans:
        raise UsageError(f"--tenant {tenant}", "no such tenant in the trackers",
                         "check the Tenant ID (run 'ftc-office plan' without --tenant)")
    composer = Composer(settings, date)
    previewer = Previewer(Path(out))
    problems: list[str] = []
    batches = tenant_batches(composer, plans)
    moves = [queue_move_batch(composer, plans, per_tenant or
                              settings.mail.queue_move_grouping == "per-tenant")]
    for comp in itertools.chain(batches, moves):  # moves composed after the tenant steps
        problems.extend(str(prob) for _t, prob in comp.failures)
        for job in comp.jobs:
            previewer.add(job)
    failures = problems + [str(p) for p in ws.file_problems]
    index = previewer.finish(failures, date)
    for f in failures:
        click.echo(f"error: {f}", err=True)
    invalid = sum(1 for p in plans if p.step == Step.INVALID)
    if invalid:
        click.echo(f"{invalid} tenant(s) skipped as invalid: 'ftc-office check' lists every "
                   "problem with its cell", err=True)
    n_mail = sum(1 for e in previewer.entries if e.file)
    click.echo(f"{index}: {n_mail} message(s) and {len(previewer.entries) - n_mail} note-only "
               "step(s) "
               f"previewed; {len(failures)} problem(s) — open the index to review", err=True)
    sys.exit(1 if failures else 0)


def _run_common(ctx: click.Context, trackers: tuple[str, ...], as_of: str | None,
                backend: str | None, dry_run: bool, limit: int | None, tenant: str | None,
                fm: str | None, yes: bool, per_tenant: bool, outbox: str | None,
                report_path: str | None, force: bool, kinds: tuple[str, ...] | None) -> None:
    from ftc_office.backends.registry import make_backend
    from ftc_office.run.locks import locked_ledger
    from ftc_office.run.report import RunOptions
    from ftc_office.run.runner import Runner

    settings = settings_of(ctx)
    paths = expand_paths(trackers)
    options = RunOptions(as_of=parse_as_of(as_of), dry_run=dry_run, limit=limit, tenant=tenant,
                         fm=fm, per_tenant=per_tenant, kinds=kinds, force=force)
    chosen = make_backend(settings, backend, Path(outbox) if outbox else None)

    def confirm(n: int) -> bool:
        if yes or chosen.name == "outbox":
            return True
        if not sys.stdin.isatty():
            raise UsageError("--no-dry-run", f"{n} due step(s) would send messages through "
                             f"{chosen.name} and nobody can confirm",
                             "add --yes to confirm in scripts")
        return click.confirm(f"{n} due step(s) in this pass: send their messages through "
                             f"{chosen.name} now?", err=True)

    with ExitStack() as stack:
        ledger = stack.enter_context(locked_ledger(paths))
        if not dry_run:
            chosen.open()
            stack.callback(chosen.close)
        live = not dry_run and sys.stderr.isatty()

        def progress(done: int, total: int, what: str) -> None:
            # one updating line on a terminal; the summary at the end says it all otherwise
            if live:
                width = shutil.get_terminal_size((100, 20)).columns - 1
                line = f"[{done:>{len(str(total))}}/{total}] {what}"
                click.echo("\r" + line[:width].ljust(width), err=True, nl=done == total)

        runner = Runner(settings, ledger, chosen, options, progress=progress, confirm=confirm)
        report = runner.run(paths)
    if tenant and not report.tenants:
        raise UsageError(f"--tenant {tenant}", "no such tenant in the trackers",
                         "check the Tenant ID (run 'ftc-office plan' without --tenant)")
    click.echo(run_summary(report))
    if report_path:
        Path(report_path).write_text(json.dumps(report.to_json(), indent=2, default=str),
                                     encoding="utf-8")
        click.echo(f"{report_path}: report written", err=True)
    if chosen.name == "outbox" and not dry_run and report.sent:
        click.echo(f"messages are in {getattr(chosen, 'folder', '')}", err=True)
    for wb in report.writebacks:
        click.echo(f"{wb.tracker}: {wb.cells} cell(s) written"
                   + (f", columns added: {', '.join(wb.added_columns)}" if wb.added_columns
                      else "") + (f"; backup {wb.backup}" if wb.backup else ""), err=True)
    if dry_run:
        click.echo("dry run: nothing was sent or written — add --no-dry-run to do it (a step "
                   "these unlock, such as disengagement after a last follow-up, then runs in "
                   "the same run)", err=True)
    sys.exit(1 if report.failed else 0)


def run_options(func: F) -> F:
    """The options shared by `run` and `send`."""
    for option in reversed([
        trackers_argument, as_of_option,
        click.option("--backend", type=click.Choice(["outbox", "smtp", "o365"]),
                     help="Delivery backend (default: delivery.backend, i.e. outbox)."),
        click.option("--dry-run/--no-dry-run", default=True, show_default=True,
                     help="Dry run says what would happen; --no-dry-run does it."),
        click.option("--limit", type=click.IntRange(min=0), metavar="N",
                     help="Send at most N messages in this run."),
        click.option("--tenant", metavar="ID", help="Only this tenant."),
        click.option("--fm", metavar="EMAIL", help="Only this FM's tenants."),
        click.option("--yes", "-y", is_flag=True, help="Do not ask before the first real send."),
        click.option("--per-tenant", is_flag=True,
                     help="One queue-move message per tenant instead of one per queue."),
        click.option("--outbox", type=click.Path(file_okay=False),
                     help="Folder for .eml files (outbox backend)."),
        click.option("--report", "report_path", type=click.Path(dir_okay=False),
                     metavar="FILE.json", help="Write every tenant's outcome as JSON."),
        click.option("--force", is_flag=True,
                     help="Write even if Excel's owner file (~$name.xlsx) says it is open."),
    ]):
        func = option(func)
    return func


@cli.command()
@run_options
@click.pass_context
@boundary
def run(ctx: click.Context, **kw: Any) -> None:
    """Move every tenant along the playbook: the main job.

    In playbook order, for every due tenant: the ATU message (or the no-account-team
    note), the customer follow-up per workload once the discussion is recorded,
    disengagement (task 4058, note, FTOP status, Next Action Date = 12/31 of next year,
    the queue-move request grouped per queue) once the last workload is followed up, and
    the FM unassignment once the queue move is confirmed. Each step is recorded in the
    ledger and stamped into the tracker. A rerun does nothing that is already done.

    Dry run by default. Exit code 0 all good, 1 some tenants failed, 2 bad usage.

    \b
    Examples:
      ftc-office run samples/tracker.xlsx --as-of 2026-11-26
      ftc-office run "team/*.xlsx" --no-dry-run --report run.json
      ftc-office run tracker.xlsx --backend o365 --no-dry-run --limit 5
    """
    _run_common(ctx, kinds=None, **kw)


@cli.command()
@run_options
@click.pass_context
@boundary
def send(ctx: click.Context, **kw: Any) -> None:
    """Send the mail steps that are due (ATU, customer follow-up, queue move) and nothing else.

    Like `run`, without the note-only steps (no-account-team notes, FM unassignment).

    \b
    Example:
      ftc-office send tracker.xlsx --backend smtp --no-dry-run --limit 1
    """
    from ftc_office.run.runner import MAIL_KINDS

    _run_common(ctx, kinds=MAIL_KINDS, **kw)


@cli.command()
@click.argument("tracker", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Write even if Excel's owner file says it is open.")
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
    path = Path(tracker)
    with locked_ledger([path]) as ledger:
        wb = write_back(path, ledger, settings, force=force)
    for c in wb.conflicts:
        click.echo(f"conflict: {c}", err=True)
    click.echo(f"{tracker}: {wb.cells} cell(s) written for {wb.jobs} recorded step(s)"
               + (f"; backup {wb.backup}" if wb.backup else ""))
    sys.exit(1 if wb.conflicts else 0)


@cli.command("confirm-queue")
@click.argument("tracker", type=click.Path(dir_okay=False))
@click.option("--tenant", metavar="ID", required=True, help="The tenant whose move is confirmed.")
@click.option("--date", "date", metavar="YYYY-MM-DD", help="Confirmation date (default: today).")
@click.option("--force", is_flag=True, help="Write even if Excel's owner file says it is open.")
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
    path = Path(tracker)
    when = parse_as_of(date)
    with locked_ledger([path]) as ledger:
        results = confirm_queue([path], settings, ledger, tenant, when, force)
    cells = sum(r.cells for r in results)
    click.echo(f"{tracker}: queue move of {tenant} confirmed on {when.isoformat()} "
               f"({cells} cell(s) written) — the next run unassigns the FM")


@cli.command()
@click.option("--out", "out", type=click.Path(file_okay=False), default="ftc-office-demo",
              show_default=True, help="Folder for the copy, the messages and the report.")
@click.pass_context
@boundary
def demo(ctx: click.Context, out: str) -> None:
    """Run the whole job on a copy of the bundled sample tracker (no account needed).

    Copies the sample into OUT, runs every due step as of 2026-11-26 with the outbox backend
    (.eml files), stamps the copy, and prints where everything is. The ledger of the demo
    lives in OUT too, so the demo never touches your own ledger.

    \b
    Example:
      ftc-office demo --out C:\\Temp\\ftc-demo
    """
    from ftc_office.mailers import builtin_root

    folder = Path(out)
    tracker = folder / "tracker.xlsx"
    if tracker.exists():
        raise UsageError(str(tracker), "a demo already ran here",
                         "delete the folder or give another --out")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(builtin_root() / "samples" / "tracker.xlsx", tracker)
    os.environ["FTC_OFFICE_DATA_DIR"] = str((folder / "data").resolve())
    outbox = folder / "outbox"
    report = folder / "report.json"
    click.echo(f"copied the sample to {tracker}", err=True)
    try:
        _run_common(ctx, (str(tracker),), "2026-11-26", "outbox", False, None, None, None,
                    True, False, str(outbox), str(report), False, None)
    except SystemExit as exc:
        click.echo(f"\nmessages: {outbox}{os.sep}*.eml (open them in Outlook)\n"
                   f"workbook: {tracker} (open it in Excel: new columns at the right end)\n"
                   f"report:   {report}\n"
                   f"preview:  ftc-office preview {tracker} --as-of 2026-11-26", err=True)
        raise exc


@cli.command()
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

    with Ledger.open() as ledger:
        counts = ledger.counts()
        click.echo(f"ledger {ledger.path}")
        for state in State:
            if counts.get(state):
                click.echo(f"  {state:8} {counts[state]}")
        if not counts:
            click.echo("  (empty)")
        attention = ledger.entries(NEEDS_PERSON)
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


@cli.command()
@click.argument("key")
@click.option("--sent", "action", flag_value="sent", help="It did go out: record it as sent.")
@click.option("--resend", "action", flag_value="resend",
              help="It did not (or was refused and the cause is fixed): send it again.")
@click.option("--skip", "action", flag_value="skip", help="Never send it.")
@boundary
def resolve(key: str, action: str | None) -> None:
    """Decide about a message whose outcome is unknown (after checking Sent Items), or
    release one the provider refused (--resend after fixing the cause, or --skip).

    \b
    Example:
      ftc-office resolve atu.6f1c...teams.1a2b3c --sent
    """
    from ftc_office.ledger import Ledger

    if not action:
        raise UsageError("resolve", "say what happened", "add --sent, --resend or --skip")
    with Ledger.open() as ledger:
        before = ledger.resolve(key, action)
    click.echo(f"{key}: {before.state} → {action}")


@cli.command()
@click.option("--tenant", metavar="ID", help="Only this tenant's events.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@boundary
def history(tenant: str | None, as_json: bool) -> None:
    """The ledger's event log: every transition and every workbook write.

    \b
    Example:
      ftc-office history --tenant 6f1c...
    """
    from ftc_office.ledger import Ledger

    ledger = Ledger.open()
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


cli.add_command(auth)
cli.add_command(merge)


def main() -> None:
    """Console entry point."""
    cli(prog_name="ftc-office")

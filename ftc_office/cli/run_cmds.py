"""`run`, `send` and `demo`: a few lines each over `ftc_office.run.api.run`."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ftc_office.cli.boundary import boundary, read_first_ahead, settings_of
from ftc_office.cli.options import as_of_option, parse_as_of, trackers_argument
from ftc_office.cli.progress import progress_bar
from ftc_office.cli.report_cmd import dashboard_after_run, dashboard_option
from ftc_office.errors import UsageError

if TYPE_CHECKING:  # run.api loads the composer (openpyxl, docxtpl) only when a command runs
    from ftc_office.run.api import RunRequest
    from ftc_office.run.report import RunReport

F = TypeVar("F", bound=Callable[..., Any])
DEMO_DATE = "2026-11-26"


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
        click.option("--outbox-mode", type=click.Choice(["drafts", "pickup"]),
                     help="Outbox: 'drafts' (default) writes unsent drafts you send from "
                     "Outlook, recorded as drafted until `mark-sent`; 'pickup' is a mail "
                     "server's pickup folder (counts as sent)."),
        click.option("--report", "report_path", type=click.Path(dir_okay=False),
                     metavar="FILE.json", help="Write every tenant's outcome as JSON."),
        click.option("--force", is_flag=True,
                     help="Write even if Excel's owner file (~$name.xlsx) says it is open."),
        click.option("--test-to", metavar="ADDRESS",
                     help="Send a copy of every message the run would send (or --limit N "
                     "of them) to ADDRESS only, subject '[TEST] …', no Cc; nothing is "
                     "recorded or stamped. ADDRESS must be internal."),
    ]):
        func = option(func)
    return func


@contextlib.contextmanager
def first_read_ahead(ctx: click.Context, kw: dict[str, Any]) -> Iterator[None]:
    """A real run (`run`, `send`) starts reading its first tracker before it loads the run's
    machinery, whose imports then overlap python-calamine's read (`read_first_ahead`); a dry
    run reads copies and a test send reads nothing here. The read is let go at the end if the
    run never took it over (a tracker refused as open in Excel)."""
    first: list[Path] = []
    if not kw["dry_run"] and not kw.get("test_to"):
        from ftc_office.tracker.locate import expand_paths

        first = read_first_ahead(expand_paths(list(kw["trackers"])), settings_of(ctx))[:1]
    try:
        yield
    finally:
        if first:
            from ftc_office.tracker.reader import forget_ahead

            forget_ahead(first[0])


def request_of(trackers: tuple[str, ...], as_of: str | None, outbox: str | None,
               report_path: str | None, test_to: str | None = None, **kw: Any
               ) -> tuple[RunRequest, str | None]:
    """The library request for the command line's options, and the --test-to address."""
    from ftc_office.run.api import RunRequest

    return RunRequest(trackers, parse_as_of(as_of), outbox=Path(outbox) if outbox else None,
                      report_path=Path(report_path) if report_path else None, **kw), test_to


def perform_test(ctx: click.Context, request: RunRequest, address: str) -> bool:
    """``--test-to``: send the test copies, say so; True if any failed."""
    from ftc_office.run.api import run_test

    result = run_test(request, address, settings_of(ctx))
    for line in result.lines:
        click.echo(line)
    for err in result.errors:
        click.echo(f"error: {err}", err=True)
    click.echo(f"{len(result.lines)} test message(s) to {result.address}; nothing was "
               "recorded in the ledger and nothing was stamped — the real run still sends "
               "everything", err=True)
    return result.failed


def perform(ctx: click.Context, request: RunRequest) -> RunReport:
    """Run the request with a terminal's progress bar and confirmation; print the outcome."""
    from ftc_office.run.api import run

    settings = settings_of(ctx)
    backend = request.backend or settings.delivery.backend
    bar = progress_bar() if not request.dry_run and sys.stderr.isatty() else None

    def confirm(n: int) -> bool:
        if bar:
            bar.pause()  # the question on a line of its own, not under the bar
        answer = click.confirm(f"{n} tenant(s) due in this pass: send their messages "
                               f"through {backend} now?", err=True)
        if bar:
            bar.resume()
        return answer

    try:
        report = run(request, settings, progress=bar.update if bar else None,
                     confirm=confirm if interactive() else None)
    finally:
        if bar:
            bar.pause()  # transient: the bar leaves no line behind
    from ftc_office.cli.views import run_notices, run_summary

    click.echo(run_summary(report))
    for line in run_notices(report, request.report_path):
        click.echo(line, err=True)
    return report


def interactive() -> bool:
    """Whether someone at a terminal can answer the confirmation."""
    return sys.stdin.isatty()


@click.command()
@run_options
@click.option("--read-replies", is_flag=True, help="First record the confirmations in the "
              "assignment team's replies (o365, read-only; with --no-dry-run).")
@dashboard_option
@click.pass_context
@boundary
def run(ctx: click.Context, read_replies: bool, dashboard: str | None, **kw: Any) -> None:
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
      ftc-office run tracker.xlsx --backend o365 --test-to me@microsoft.com --limit 3
    """
    if read_replies and not kw["dry_run"]:
        from ftc_office.cli.confirm_views import confirm_from_sources
        from ftc_office.tracker.locate import expand_paths
        if confirm_from_sources(settings_of(ctx), expand_paths(kw["trackers"]), [], True,
                                kw["force"]):
            sys.exit(1)
    with first_read_ahead(ctx, kw):
        request, test_to = request_of(**kw)
        if test_to:
            sys.exit(1 if perform_test(ctx, request, test_to) else 0)
        report = perform(ctx, request)
    dashboard_after_run(ctx, dashboard, kw)
    sys.exit(1 if report.failed else 0)


@click.command()
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
    with first_read_ahead(ctx, kw):
        request, test_to = request_of(mail_only=True, **kw)
        if test_to:
            sys.exit(1 if perform_test(ctx, request, test_to) else 0)
        failed = perform(ctx, request).failed
    sys.exit(1 if failed else 0)


@click.command()
@click.option("--out", "out", type=click.Path(file_okay=False), default="ftc-office-demo",
              show_default=True, help="Folder for the copy, the messages and the report.")
@click.pass_context
@boundary
def demo(ctx: click.Context, out: str) -> None:
    """Run the whole job on a copy of the bundled sample tracker (no account needed).

    Copies the sample into OUT, runs every due step as of 2026-11-26 with the outbox backend
    (.eml files), stamps the copy, and prints where everything is. The ledger of the demo
    lives in OUT too, so the demo never touches your own ledger.

    The demo simulates sending: its outbox stands in for a mail server's pickup folder
    (outbox mode "pickup"), so the messages count as sent and the whole flow runs. Your own
    runs write drafts by default (delivery.outbox_mode = "drafts"): nothing counts as sent
    until you send the drafts from Outlook and run `ftc-office mark-sent`.

    \b
    Example:
      ftc-office demo --out C:\\Temp\\ftc-demo
    """
    from ftc_office.mailers import builtin_root
    from ftc_office.preview import preview_trackers
    from ftc_office.run.api import RunRequest

    folder = Path(out)
    tracker = folder / "tracker.xlsx"
    if tracker.exists():
        raise UsageError(str(tracker), "a demo already ran here",
                         "delete the folder or give another --out")
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(builtin_root() / "samples" / "tracker.xlsx", tracker)
    click.echo(f"copied the sample to {tracker}", err=True)
    outbox, report = folder / "outbox", folder / "report.json"
    data = (folder / "data").resolve()
    settings = settings_of(ctx)
    review = preview_trackers([tracker], replace(settings, delivery=replace(
        settings.delivery, outbox_mode="pickup")), dt.date.fromisoformat(DEMO_DATE),
        folder / "review", data=data).index
    result = perform(ctx, RunRequest(
        (str(tracker),), dt.date.fromisoformat(DEMO_DATE), backend="outbox", dry_run=False,
        yes=True, outbox=outbox, outbox_mode="pickup", report_path=report, data_dir=data))
    click.echo("\nThis demo simulated sending: nothing left this machine, and the outbox "
               "stood in for a mail server, so every message counts as sent.\n"
               "Your own runs write drafts you send from Outlook (then 'ftc-office "
               "mark-sent').\n"
               f"messages: {outbox}{os.sep}*.eml (open them in Outlook)\n"
               f"workbook: {tracker} (open it in Excel: new columns at the right end)\n"
               f"report:   {report}\n"
               f"review:   {review} (the review page of this run, written before it ran: "
               "open it in a browser)", err=True)
    sys.exit(1 if result.went_wrong else 0)  # the sample's invalid rows are there to show

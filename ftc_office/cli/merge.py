"""The ``merge`` command: a general mail merge for ad-hoc mailings, previewed and then sent
through the same backends, ledger and write-back as ``run``.

Defined here and attached by ``cli.py`` (``cli.add_command(merge)``). ``cli`` is imported
only when the command runs, so either module may be imported first.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ftc_office.cli.boundary import boundary
from ftc_office.cli.progress import progress_bar
from ftc_office.errors import UsageError

if TYPE_CHECKING:  # the merge package (and its openpyxl, docxtpl) loads only when merge runs
    from ftc_office.config import Settings
    from ftc_office.merge import MergeData, MergeOptions, MergeResult, SendReport, SendRequest

_OPTIONS = [
    click.argument("template_arg", required=False, metavar="[TEMPLATE]",
                   type=click.Path(path_type=Path)),
    click.argument("data_arg", required=False, metavar="[DATA]",
                   type=click.Path(path_type=Path)),
    click.option("--template", "template", metavar="FOLDER",
                 type=click.Path(path_type=Path),
                 help="Folder with subject.txt and body.html, body.txt or body.md."),
    click.option("--data", "data", metavar="FILE",
                 type=click.Path(path_type=Path),
                 help="Workbook (.xlsx, .xlsm, .xls, .ods) or .csv; header on the first row "
                      "with any text, one message per row below it."),
    click.option("--sheet", metavar="NAME", help="Sheet to read (default: the first)."),
    click.option("--to-column", "to_column", metavar="COL",
                 help="Column holding the recipients (default: Email, E-mail or To)."),
    click.option("--cc-column", "cc_column", metavar="COL", help="Column holding Cc addresses."),
    click.option("--bcc-column", "bcc_column", metavar="COL",
                 help="Column holding Bcc addresses (never shown to the others)."),
    click.option("--key-column", "key_column", metavar="COL",
                 help="Column identifying each row across runs (default: the recipients "
                      "column); sorting or inserting rows never re-sends or skips."),
    click.option("--attach-column", "attach_column", metavar="COL",
                 help="Column holding file paths to attach (';' or one per line), relative "
                      "to the data file's folder."),
    click.option("--word", "word", metavar="DOCX", type=click.Path(path_type=Path),
                 help="Word template (.docx with {{ column }} tags) rendered per row."),
    click.option("--where", "where", multiple=True, metavar="FILTER",
                 help="Only rows where COL=VALUE, COL!=VALUE, COL= (empty), COL!= (not "
                      "empty), COL<DATE or COL>DATE (repeatable: all must hold)."),
    click.option("--step", metavar="STEP",
                 help="Over a tracker: only tenants the playbook's plan puts at STEP today "
                      "(as 'ftc-office plan' shows, e.g. await_discussion); one row per "
                      "tenant: its first workload row. Key: the Tenant ID column."),
    click.option("--fm", metavar="EMAIL",
                 help="Over a tracker: only tenants of this FM (with or without --step)."),
    click.option("--internal", is_flag=True,
                 help="Every recipient must be in mail.internal_domains."),
    click.option("--campaign", metavar="NAME",
                 help="Name of this mailing in the ledger (default: the template folder's "
                      "name); a new name sends again to rows an earlier mailing reached."),
    click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
                 default="ftc-office-out/merge", show_default=True,
                 help="Folder for the dry run's .eml files and index.html."),
    click.option("--backend", type=click.Choice(["outbox", "smtp", "o365"]),
                 help="Delivery backend (default: delivery.backend, i.e. outbox)."),
    click.option("--dry-run/--no-dry-run", default=True, show_default=True,
                 help="Dry run previews and says what would be sent; --no-dry-run sends."),
    click.option("--yes", "-y", is_flag=True, help="Do not ask before the first real send."),
    click.option("--limit", type=click.IntRange(min=0), metavar="N",
                 help="Send at most N messages in this run (the next run goes on)."),
    click.option("--send-at", "send_at", metavar='"YYYY-MM-DD HH:MM"',
                 help="Send at that time (your time zone): through o365 Exchange holds the "
                      "messages till then; other backends keep them in the ledger and the "
                      "first run of the same command at or after that time sends them. A "
                      "row's own Send At cell wins over it for that row."),
    click.option("--send-at-column", "send_at_column", metavar="COL",
                 help='Column holding each row\'s time to send ("YYYY-MM-DD HH:MM", your '
                      'time zone; default: a column headed "Send At", if any). A filled '
                      "cell wins over --send-at for its row; an empty one takes --send-at "
                      "(or now). A time in the past is an error naming the cell."),
    click.option("--test-to", "test_to", metavar="ADDRESS",
                 help="Send the first message (or the first --limit N) to ADDRESS only, "
                      "marked [TEST]; the rows count as not sent."),
    click.option("--outbox", type=click.Path(file_okay=False, path_type=Path),
                 help="Folder for .eml files (outbox backend)."),
    click.option("--outbox-mode", type=click.Choice(["drafts", "pickup"]),
                 help="Outbox: 'drafts' (default, status Drafted) or 'pickup' (a mail "
                 "server's pickup folder: Sent)."),
    click.option("--status-column", default="Merge Status", show_default=True, metavar="NAME",
                 help="Column of the data workbook that receives each row's outcome."),
    click.option("--force", is_flag=True,
                 help="Write the status even if Excel's owner file (~$name.xlsx) exists."),
]


def _with_options(func: Any) -> Any:
    for option in reversed(_OPTIONS):
        func = option(func)
    return func


@click.command()
@_with_options
@click.pass_context
@boundary
def merge(ctx: click.Context, **kw: Any) -> None:
    """Mail merge: one message per row of a sheet, previewed, then sent.

    Column headers become template variables: "First Name" is {{ first_name }} (and
    {{ row["First Name"] }}); dates format with {{ due | date }}. Every problem (undefined
    variable, bad address, missing attachment, duplicate key, workbook open in Excel) is
    reported before anything is sent. Dry run by default: writes .eml files and an
    index.html to --out. --no-dry-run sends through the backend; every message goes
    through the ledger, so a rerun sends nothing twice, and each row's outcome goes into
    the status column ("Merge Status"; NAME.status.csv beside a CSV file).

    Exit code 0 all good, 1 a row has a problem or a message failed, 2 bad usage,
    130 interrupted (run again to go on).

    \b
    Example:
      mailing/subject.txt   Your licences, {{ first_name }}
      mailing/body.md       Hello {{ first_name }}, you have **{{ seats }}** seats.
      ftc-office merge --template mailing --data contacts.xlsx --to-column Email
      ftc-office merge --template mailing --data contacts.xlsx --test-to me@contoso.com
      ftc-office merge --template mailing --data contacts.xlsx --backend smtp --no-dry-run
      ftc-office merge mailing tracker.xlsx --step await_discussion --no-dry-run

    Times: --send-at applies to every row; a Send At column (--send-at-column) gives a
    row its own time, and a filled cell wins over --send-at for its row.
    """
    from ftc_office.cli.boundary import settings_of
    from ftc_office.merge import MergeError, SendRequest, load_template
    from ftc_office.merge import merge as merge_rows
    from ftc_office.merge.schedule import parse_send_at

    _positional(kw)
    settings = settings_of(ctx)
    send_at = parse_send_at(kw["send_at"]) if kw["send_at"] else None
    rows = _rows(settings, kw)
    result = merge_rows(load_template(kw["template"], kw["word"]), rows,
                        _merge_options(settings, kw, send_at))
    failures = [str(p) for p in result.failures]
    for f in failures:
        click.echo(f"error: {f}", err=True)
    request = SendRequest(backend=kw["backend"], dry_run=kw["dry_run"], yes=kw["yes"],
                          limit=kw["limit"], outbox=kw["outbox"],
                          outbox_mode=kw["outbox_mode"],
                          status_column=kw["status_column"], force=kw["force"],
                          send_at=send_at)
    if kw["test_to"]:
        result, request = _test_run(result, request, kw["test_to"], failures)
    elif kw["dry_run"]:
        _preview(result, rows, kw["out"], failures)
    elif failures:
        raise MergeError(str(kw["data"]), f"{len(failures)} problem(s) listed above; "
                         "nothing was sent", "correct them and run the merge again")
    report = _deliver(result, rows, settings, request)
    _summary(report, result, rows)
    sys.exit(0 if report.ok and not failures and not report.declined else 1)


def _deliver(result: MergeResult, rows: MergeData, settings: Settings, request: SendRequest
             ) -> SendReport:
    """Deliver with the run's progress bar on a terminal (transient: no line left)."""
    from ftc_office.merge import deliver

    bar = progress_bar() if not request.dry_run and sys.stderr.isatty() else None
    try:
        return deliver(result, rows, settings, request, progress=bar.update if bar else None,
                       confirm=_confirm(request, settings, bar))
    finally:
        if bar:
            bar.pause()


def _positional(kw: dict[str, Any]) -> None:
    """``merge TEMPLATE DATA`` is ``merge --template TEMPLATE --data DATA``."""
    for name in ("template", "data"):
        given = kw.pop(f"{name}_arg")
        if given is not None and kw[name] is not None:
            raise UsageError(f"--{name} {kw[name]}", f"the {name} is given twice",
                             f"give it once: as an argument or with --{name}")
        kw[name] = kw[name] or given
        if kw[name] is None:
            raise UsageError("merge", f"no {name} given",
                             "run: ftc-office merge TEMPLATE_FOLDER DATA_FILE (or --template "
                             "FOLDER --data FILE)")


def _rows(settings: Settings, kw: dict[str, Any]) -> MergeData:
    """The data rows: the sheet's, or over a tracker (--step/--fm) one per planned tenant,
    keyed by its Tenant ID unless --key-column says otherwise."""
    from ftc_office.merge import read_data

    if not (kw["step"] or kw["fm"]):
        return read_data(kw["data"], kw["sheet"])
    from ftc_office.merge.tracker import parse_step, planned_rows, tenant_column

    step = parse_step(kw["step"]) if kw["step"] else None
    rows = planned_rows(kw["data"], settings, dt.date.today(), step, kw["fm"])
    if not kw["key_column"]:
        kw["key_column"] = tenant_column(rows)
    return rows


def _test_run(result: MergeResult, request: SendRequest, to: str, failures: list[str]
              ) -> tuple[MergeResult, SendRequest]:
    """--test-to: the first messages to one address, never the rows' real messages."""
    from ftc_office.addresses import AddressError, parse_address
    from ftc_office.merge import MergeError, as_test

    try:
        address = parse_address(to)
    except AddressError as exc:
        raise UsageError(f"--test-to {to!r}", str(exc), "give one plain address") from None
    if failures:
        raise MergeError("--test-to", f"{len(failures)} problem(s) listed above; nothing was "
                         "sent", "correct them and run the test again")
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    test = as_test(result, address, request.limit or 1, stamp)
    return test, dataclasses.replace(request, dry_run=False, yes=True, limit=None,
                                     write_status=False, send_at=None)  # a test goes now


def _merge_options(settings: Settings, kw: dict[str, Any], send_at: dt.datetime | None
                   ) -> MergeOptions:
    from ftc_office.addresses import AddressError, parse_address
    from ftc_office.merge import MergeOptions, parse_where

    sender = None
    if settings.mail.sender:
        try:
            sender = parse_address(settings.mail.sender)
        except AddressError as exc:
            raise UsageError("mail.sender", str(exc), "fix the sender in ftc-office.toml"
                             ) from None
    today = dt.date.today()
    return MergeOptions(
        to_column=kw["to_column"], cc_column=kw["cc_column"], bcc_column=kw["bcc_column"],
        key_column=kw["key_column"], attach_column=kw["attach_column"],
        campaign=kw["campaign"],
        internal=tuple(settings.mail.internal_domains) if kw["internal"] else None,
        where=tuple(parse_where(w, today) for w in kw["where"]), sender=sender, today=today,
        status_column=kw["status_column"], send_at=send_at,
        send_at_column=kw["send_at_column"])


def _preview(result: MergeResult, rows: MergeData, out: Path, failures: list[str]) -> None:
    """The dry run's review page (the one `preview` writes for a run) and its .eml files."""
    from ftc_office.merge.review import write_review

    index = write_review(result, rows, out, failures)
    filtered = f", {result.filtered} left out by --where" if result.filtered else ""
    click.echo(f"{index}: {len(result.jobs)} message(s) from {len(rows.rows)} row(s) of "
               f"{rows.path} (sheet {rows.sheet}){filtered}; {len(failures)} row(s) skipped "
               "— open the page to review", err=True)


def _confirm(request: SendRequest, settings: Settings, bar: Any) -> Any:
    if not sys.stdin.isatty():
        return None
    backend = request.backend or settings.delivery.backend

    def confirm(n: int) -> bool:
        if bar:
            bar.pause()  # the question on a line of its own, not under the bar
        answer = click.confirm(f"send {n} message(s) through {backend} now?", err=True)
        if bar:
            bar.resume()
        return answer
    return confirm




def _summary(report: SendReport, result: MergeResult, rows: MergeData) -> None:
    """The outcome on stdout; problems on stderr."""
    from ftc_office.merge.schedule import label

    for p in report.refused:
        click.echo(f"error: {p}", err=True)
    for f in report.failed:
        click.echo(f"error: {f}", err=True)
    held = report.backend == "o365"
    if report.scheduled and not held and not (report.sent or report.drafted
                                              or report.failed):
        click.echo(f"merge ({report.backend}): {report.scheduled} message(s) "
                   + (label(report.send_at).lower() if report.send_at else "scheduled")
                   + ", kept in the ledger; run the same command at or after that time to "
                   "send them ('ftc-office status' lists them)")
        if report.status:
            click.echo(f"status: {report.status.cells} row(s) updated in "
                       f"{report.status.path}")
        return
    if report.dry_run:
        click.echo(f"dry run ({report.backend}): would send {report.due} message(s); "
                   f"{report.already} already delivered by an earlier run; "
                   f"{len(report.refused)} changed since sent. Add --no-dry-run to send.")
        return
    click.echo(f"merge ({report.backend}): {report.sent} sent, {report.drafted} drafted, "
               f"{report.already} already delivered earlier, {len(report.failed)} "
               f"problem(s), {len(report.refused)} refused (changed since sent)"
               + (" — stopped at --limit; run again to go on" if report.limited else "")
               + (" — declined: nothing sent" if report.declined else ""))
    if report.scheduled:
        where = "held by Exchange in the Outbox" if held else "kept in the ledger"
        click.echo(f"{report.scheduled} message(s) scheduled, {where} ('ftc-office status' "
                   "lists them; 'ftc-office resolve KEY --skip' cancels one)")
    if report.confirmed:
        click.echo(f"{report.confirmed} scheduled message(s) sent by Exchange, confirmed "
                   "in Sent Items")
    if report.status:
        click.echo(f"status: {report.status.cells} row(s) updated in {report.status.path}")

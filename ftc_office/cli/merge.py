"""The ``merge`` command: a general mail merge for ad-hoc mailings (renders, never sends).

Defined here and attached by ``cli.py`` (``cli.add_command(merge)``). ``cli`` is imported
only when the command runs, so either module may be imported first.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

import click

from ftc_office.addresses import AddressError, parse_address
from ftc_office.cli.boundary import boundary
from ftc_office.errors import UsageError
from ftc_office.merge import load_template, read_data
from ftc_office.merge import merge as merge_rows
from ftc_office.preview import Previewer


@click.command()
@click.option("--template", "template", required=True, metavar="FOLDER",
              type=click.Path(path_type=Path),
              help="Folder with subject.txt and body.html and/or body.txt.")
@click.option("--data", "data", required=True, metavar="FILE", type=click.Path(path_type=Path),
              help="Workbook (.xlsx, .xlsm, .xls, .ods) or .csv; header on the first row "
                   "with any text, one message per row below it.")
@click.option("--sheet", metavar="NAME", help="Sheet to read (default: the first).")
@click.option("--to-column", "to_column", metavar="COL",
              help="Column holding the recipients (default: Email, E-mail or To).")
@click.option("--word", "word", metavar="DOCX", type=click.Path(path_type=Path),
              help="Word template (.docx with {{ column }} tags) attached to every message.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              default="ftc-office-out/merge", show_default=True,
              help="Folder for the .eml files and index.html.")
@click.pass_context
@boundary
def merge(ctx: click.Context, template: Path, data: Path, sheet: str | None,
          to_column: str | None, word: Path | None, out: Path) -> None:
    """Mail merge: one message per row of a sheet, as .eml files plus an index.html.

    Sends nothing. Column headers become template variables: "First Name" is
    {{ first_name }} (and {{ row["First Name"] }}); dates format with {{ due | date }}.
    An undefined variable or a subject on two lines stops the merge before anything is
    written; a row without a valid address is listed and skipped (exit code 1).

    \b
    Example:
      mailing/subject.txt   Your licences, {{ first_name }}
      mailing/body.txt      Hello {{ first_name }}, you have {{ seats }} seats.
      ftc-office merge --template mailing --data contacts.xlsx --to-column Email --out out
    """
    from ftc_office.cli.boundary import settings_of

    settings = settings_of(ctx)
    sender = None
    if settings.mail.sender:
        try:
            sender = parse_address(settings.mail.sender)
        except AddressError as exc:
            raise UsageError("mail.sender", str(exc), "fix the sender in ftc-office.toml"
                             ) from None
    tpl = load_template(template, word)
    rows = read_data(data, sheet)
    result = merge_rows(tpl, rows, to_column, sender)
    previewer = Previewer(out)
    for job in result.jobs:
        previewer.add(job)
    failures = [str(p) for p in result.failures]
    index = previewer.finish(failures, dt.date.today())
    for f in failures:
        click.echo(f"error: {f}", err=True)
    click.echo(f"{index}: {len(result.jobs)} message(s) from {len(rows.rows)} row(s) of "
               f"{data} (sheet {rows.sheet}); {len(failures)} row(s) skipped — open the "
               "index to review", err=True)
    sys.exit(1 if failures else 0)

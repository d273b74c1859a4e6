"""`confirm-queue --from FILE.xlsx` and `--from-mailbox` (also `run --read-replies`): read
the confirmations, apply them all or none, and say what happened."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import click

from ftc_office.config import Settings
from ftc_office.run.returned import Confirmation, ConfirmationProblems


def _read(settings: Settings, paths: list[Path], returned: list[Path], mailbox: bool,
          force: bool) -> tuple[list[Confirmation], list[str]]:
    """Read, record and stamp; returns what was confirmed and the replies to read."""
    from ftc_office.run.confirm import apply_confirmations
    from ftc_office.run.locks import locked_ledger
    from ftc_office.run.returned import read_returned_files

    data, today = settings.data_folder(), dt.date.today()
    with locked_ledger(paths, data, settings) as ledger:
        unanswered: list[str] = []
        if mailbox:
            found, unanswered = _mailbox(settings, ledger, today)
        else:
            found = read_returned_files(returned, ledger, today)
        results = apply_confirmations(paths, settings, ledger, found, force, data=data)
    for r in results:
        for c in r.conflicts:
            click.echo(f"conflict: {c}", err=True)
    return found, unanswered


def _mailbox(settings: Settings, ledger: object, today: dt.date
             ) -> tuple[list[Confirmation], list[str]]:
    from ftc_office.backends.o365 import O365Backend
    from ftc_office.backends.o365_replies import ReplyReader
    from ftc_office.backends.registry import make_backend
    from ftc_office.ledger import Ledger
    from ftc_office.run.replies import read_mailbox

    assert isinstance(ledger, Ledger)
    backend = make_backend(settings, "o365", data=settings.data_folder())
    assert isinstance(backend, O365Backend)
    try:
        reading = read_mailbox(ReplyReader(backend), ledger, settings.mail.assignment_team,
                               today)
    finally:
        backend.close()
    click.echo(f"mailbox: {reading.requests} open queue-move request(s), {reading.replies} "
               "reply(ies) from the assignment team", err=True)
    return reading.confirmations, reading.unanswered


def confirm_from_sources(settings: Settings, paths: list[Path], returned: list[Path],
                         mailbox: bool, force: bool) -> int:
    """Print each confirmation (or every problem); the exit code (1 on problems)."""
    try:
        found, unanswered = _read(settings, paths, returned, mailbox, force)
    except ConfirmationProblems as exc:
        for p in exc.problems:
            click.echo(f"problem: {p}", err=True)
        click.echo("nothing was confirmed: fix the problems above and run the same command "
                   "again", err=True)
        return 1
    for c in sorted(found, key=lambda c: (c.date, c.tenant_id)):
        click.echo(f"confirmed {c.tenant_id} moved on {c.date.isoformat()} ({c.source}: "
                   f"{c.where}{', by ' + c.by if c.by else ''})")
    for line in unanswered:
        click.echo(f"to read: {line}")
    click.echo(f"{len(found)} confirmation(s) recorded — the next run unassigns the FMs")
    return 0

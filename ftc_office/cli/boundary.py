"""The CLI's one error boundary and shared helpers, used by every command group.

Our errors become ``error: WHERE: WHAT — FIX`` and their exit code; Ctrl-C exits 130; an
unexpected exception is reported as a bug in one line (``FTC_OFFICE_DEBUG=1`` shows the
traceback). Never a traceback by default.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from ftc_office.config import Settings, load_settings
from ftc_office.errors import FtcError

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
            click.echo("\ninterrupted: what was done is recorded in the ledger; run the same "
                       "command again to continue (a message in doubt is checked before any "
                       "resend)", err=True)
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


def tracker_paths(patterns: Sequence[str]) -> list[Path]:
    """The trackers of a command that only reads (`check`, `plan`, `preview`): globs
    expanded, a missing file refused as bad usage before anything is printed, and a
    tracker a real run would refuse (open in Excel, read-only) warned about on stderr."""
    from ftc_office.run.files import check_trackers
    from ftc_office.tracker.locate import expand_paths

    paths = expand_paths(patterns)
    for warning in check_trackers(paths, dry_run=True).warnings:
        click.echo(f"warning: {warning}", err=True)
    return paths


def read_first_ahead(paths: list[Path], settings: Settings) -> list[Path]:
    """`paths`, once the first tracker has started being read in the background
    (`tracker.reader.read_ahead`): a command that reads trackers calls this before importing
    what reads them, so those imports overlap python-calamine's read."""
    from ftc_office.tracker.reader import read_ahead

    if paths:
        t = settings.tracker
        read_ahead(paths[0], t.sheet, t.max_header_row, t.headers)
    return paths


def settings_of(ctx: click.Context) -> Settings:
    """The project settings, loaded once per command from --config / env / ./ftc-office.toml."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        obj["settings"] = load_settings(obj.get("config"))
    settings: Settings = obj["settings"]
    return settings

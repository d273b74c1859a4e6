"""Options and argument parsing shared by the command modules."""

from __future__ import annotations

import datetime as dt

import click

from ftc_office.errors import UsageError


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
force_option = click.option("--force", is_flag=True,
                            help="Write even if Excel's owner file says it is open.")

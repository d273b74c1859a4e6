"""Which ledger a run uses: PostgreSQL when a URL is configured, else SQLite in the data
folder. ``FTC_OFFICE_LEDGER_URL`` beats ``ledger.url`` in the config."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ftc_office.errors import ConfigError
from ftc_office.ledger.core import Ledger
from ftc_office.ledger.entry import Claimant
from ftc_office.paths import data_dir

URL_ENV = "FTC_OFFICE_LEDGER_URL"


def ledger_url(settings: Any = None) -> str:
    """The shared ledger's URL, or "" for the personal SQLite ledger."""
    env = os.environ.get(URL_ENV, "").strip()
    if env:
        return env
    url = str(getattr(getattr(settings, "ledger", None), "url", "") or "").strip()
    if url:
        _no_password(url, settings)
    return url


def _no_password(url: str, settings: Any) -> None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        has_password = "password" in conninfo_to_dict(url)
    except Exception:
        has_password = False
    if has_password:
        where = f"{getattr(settings, 'source', None) or 'the config'}, key ledger.url"
        raise ConfigError(where, "the URL holds a password; the config is no place for one",
                          "remove it from the URL and set PGPASSWORD or a ~/.pgpass line")


def open_ledger(folder: Path | None = None, settings: Any = None) -> Ledger:
    """The ledger to use (see the module's docstring)."""
    section = getattr(settings, "ledger", None)
    me = Claimant.here(str(getattr(section, "user", "") or ""))
    url = ledger_url(settings)
    if url:
        if not url.startswith(("postgresql://", "postgres://")) and "=" not in url:
            raise ConfigError(f"ledger.url / {URL_ENV}", f"{url!r} is not a PostgreSQL URL",
                              "write it as postgresql://USER@HOST:PORT/DATABASE")
        from ftc_office.ledger.postgres import PostgresLedger

        return PostgresLedger(url, me, float(getattr(section, "lease_seconds", 60.0)))
    from ftc_office.ledger.sqlite import SqliteLedger

    return SqliteLedger((folder or data_dir()) / "ledger.sqlite3", me)

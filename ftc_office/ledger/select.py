"""Which ledger a run uses: PostgreSQL when a URL is configured, else SQLite in the data
folder. ``FTC_OFFICE_LEDGER_URL`` beats ``ledger.url`` in the config.

The shared ledger's password comes from libpq's own sources (``PGPASSWORD``, ``~/.pgpass``)
or, with ``ledger.use_keyring = true``, from the system keyring (service
``ftc-office-ledger``, the URL's user) — never from the config file.
"""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Any

from ftc_office.config import URL_ENV, ledger_url
from ftc_office.errors import ConfigError, LedgerError
from ftc_office.ledger.core import Ledger
from ftc_office.ledger.entry import Claimant
from ftc_office.paths import data_dir

KEYRING_SERVICE = "ftc-office-ledger"


def login_user(url: str) -> str:
    """The PostgreSQL user the URL logs in as (libpq's default: the login name)."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        user = str(conninfo_to_dict(url).get("user") or "")
    except Exception:
        user = ""
    return user or os.environ.get("PGUSER", "") or getpass.getuser()


def ledger_password(settings: Any, url: str) -> str | None:
    """The password for the shared ledger from the keyring when ``ledger.use_keyring`` is
    set; None to leave it to libpq (PGPASSWORD, ~/.pgpass). LedgerError when the keyring
    cannot give one (nothing is sent)."""
    if not getattr(getattr(settings, "ledger", None), "use_keyring", False):
        return None
    user = login_user(url)
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise ConfigError("config key ledger.use_keyring", "the keyring package is not "
                          "installed", 'pip install "ftc-office[keyring]", or set '
                          "ledger.use_keyring = false and use PGPASSWORD / ~/.pgpass"
                          ) from None
    try:
        password = keyring.get_password(KEYRING_SERVICE, user)
    except keyring.errors.KeyringError as exc:
        raise LedgerError("system keyring", f"cannot read the ledger's password ({exc}); "
                          "nothing was sent", "unlock the keyring, or set "
                          "ledger.use_keyring = false and use PGPASSWORD / ~/.pgpass"
                          ) from None
    if not password:
        raise LedgerError("system keyring", f"no password stored for {KEYRING_SERVICE} / "
                          f"{user}; nothing was sent",
                          f"store it with: keyring set {KEYRING_SERVICE} {user}")
    return str(password)


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

        return PostgresLedger(url, me, float(getattr(section, "lease_seconds", 60.0)),
                              password=ledger_password(settings, url))
    from ftc_office.ledger.sqlite import SqliteLedger

    return SqliteLedger((folder or data_dir()) / "ledger.sqlite3", me)

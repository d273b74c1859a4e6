"""The team's ledger: PostgreSQL (psycopg 3), shared by every FM and their lead.

Chosen by ``ledger.url = "postgresql://…"`` or ``FTC_OFFICE_LEDGER_URL``. The password comes
from libpq's own sources (``PGPASSWORD``, ``~/.pgpass``, a service file) or the system
keyring (`select.ledger_password`), never from the config. The schema is made by ``ftc-office
ledger init``; opening a database without it, or with a newer one, is refused before
anything is sent. Each transaction on a key takes a transaction advisory lock on it, so two
machines never claim one key at once; the claimant's lease is renewed by a thread on its own
connection while this ledger is open. Times come from the server's clock (its offset is
measured once, at opening).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ftc_office.errors import LedgerError
from ftc_office.jobs import State
from ftc_office.ledger.core import Ledger
from ftc_office.ledger.entry import Claimant, now
from ftc_office.ledger.migrations import LATEST, POSTGRES, newer_schema

KEY_LOCKS = 1  # advisory lock class ids: keys (per transaction), trackers (per session)
TRACKER_LOCKS = 2


def describe(url: str) -> str:
    """The URL without its password: how messages name a shared ledger."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        d = conninfo_to_dict(url)
    except Exception:
        return "the shared ledger (ledger.url)"
    user = f"{d['user']}@" if d.get("user") else ""
    port = f":{d['port']}" if d.get("port") else ""
    return f"postgresql://{user}{d.get('host', 'localhost')}{port}/{d.get('dbname', '')}"


def connect(url: str, password: str | None = None) -> Any:
    """A connection (autocommit: transactions are explicit), or one clear LedgerError.
    ``password`` (from the keyring) wins over libpq's sources; None leaves it to them."""
    import psycopg
    from psycopg.rows import dict_row

    where = describe(url)
    extra: dict[str, Any] = {"password": password} if password is not None else {}
    try:
        return psycopg.connect(url, autocommit=True, row_factory=dict_row, connect_timeout=10,
                               application_name="ftc-office", **extra)
    except psycopg.Error as exc:
        raise connect_error(where, exc, keyring=password is not None) from None


def _login(where: str) -> str:
    """The user of a described URL (``postgresql://USER@…``), for a hint."""
    rest = where.removeprefix("postgresql://")
    return rest.split("@", 1)[0] if "@" in rest else "USER"


def connect_error(where: str, exc: Exception, keyring: bool = False) -> LedgerError:
    """One line for a failed connection: unreachable, credentials, no such database."""
    text = " ".join(str(exc).split())
    low = text.casefold()
    if "password authentication failed" in low or "no password supplied" in low:
        return LedgerError(where, "the server refused the credentials; nothing was sent",
                           "store the right password with: keyring set ftc-office-ledger "
                           f"{_login(where)}, and check the user in ledger.url" if keyring else
                           "set the password in PGPASSWORD or a ~/.pgpass line, or the "
                           "keyring (ledger.use_keyring = true) — never in the config — "
                           "and check the user in ledger.url")
    if "does not exist" in low and "database" in low:
        return LedgerError(where, "the database does not exist; nothing was sent",
                           "ask the server's owner to create it, then run "
                           "'ftc-office ledger init'")
    if "role" in low and "does not exist" in low:
        return LedgerError(where, "the server has no such user; nothing was sent",
                           "check the user in ledger.url")
    return LedgerError(where, f"cannot reach the ledger server ({text[:160]}); nothing was sent",
                       "check ledger.url (host, port) and that the server runs and accepts "
                       "connections from this machine")


def schema_version(conn: Any) -> int | None:
    """The schema version of the database, None when it has no ledger schema."""
    row = conn.execute("SELECT to_regclass('schema_migrations') AS t").fetchone()
    if row["t"] is None:
        return None
    return int(conn.execute("SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations"
                            ).fetchone()["v"])


def init_schema(url: str, password: str | None = None) -> tuple[int, int]:
    """Create or migrate the schema (one transaction per version, serialised by an advisory
    lock); returns (version before, version now). Refuses a newer schema."""
    conn = connect(url, password)
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(0, 0)")
            conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER "
                         "PRIMARY KEY, applied_at TEXT NOT NULL)")
            before = schema_version(conn) or 0
            if before > LATEST:
                raise newer_schema(describe(url), before)
            for version in range(before + 1, LATEST + 1):
                for sql in POSTGRES[version]:
                    conn.execute(sql)
                conn.execute("INSERT INTO schema_migrations VALUES (%s, %s)", (version, now()))
        return before, LATEST
    finally:
        conn.close()


class _Tx:
    """A connection inside a transaction, taking ``?`` placeholders."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def execute(self, sql: str, args: Any = ()) -> Any:
        return self.conn.execute(sql.replace("?", "%s"), args)


class PostgresLedger(Ledger):
    """The ledger in a PostgreSQL database (see the module's docstring)."""

    ORDER = "seq"
    shared = True

    def __init__(self, url: str, me: Claimant, lease_seconds: float = 60.0,
                 password: str | None = None) -> None:
        super().__init__(me)
        self.url = url
        self.where = self.path = describe(url)
        self.lease_seconds = lease_seconds
        self._password = password  # from the keyring, for the renewer's own connection
        self.conn = connect(url, password)
        try:
            version = schema_version(self.conn)
            if version is None or version == 0:
                raise LedgerError(self.where, "the database has no ledger schema; nothing "
                                  "was sent", "run 'ftc-office ledger init' once")
            if version > LATEST:
                raise newer_schema(self.where, version)
            if version < LATEST:
                raise LedgerError(self.where, f"the ledger's schema is version {version}, "
                                  f"older than this ftc-office's ({LATEST}); nothing was sent",
                                  "run 'ftc-office ledger init' to migrate it")
            server = self.conn.execute("SELECT now() AS t").fetchone()["t"]
        except BaseException:
            self.conn.close()
            raise
        self.offset = (server - dt.datetime.now(dt.UTC)).total_seconds()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def now(self, offset: float = 0.0, precise: bool = False) -> str:
        """The server's clock (measured at opening), ``offset`` seconds later."""
        return now(self.offset + offset, precise)

    @contextmanager
    def _tx(self, key: str | None = None, durable: bool = True) -> Iterator[Any]:
        """A transaction, committed as the server is configured (``durable`` is ignored:
        the server's ``synchronous_commit`` decides for every commit alike)."""
        with self.conn.transaction():
            if key is not None:
                self.conn.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                                  (KEY_LOCKS, key))
            yield _Tx(self.conn)

    def _read(self, sql: str, args: Any = ()) -> list[Any]:
        return list(self.conn.execute(sql.replace("?", "%s"), args).fetchall())

    def held(self, key: str, holding: bool) -> None:
        """Start the lease renewer with the first claim (it renews every claim of this
        session still ``sending``, every third of the lease)."""
        if holding and self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, daemon=True,
                                             name="ftc-office lease")
            self._renewer.start()

    def _renew(self) -> None:
        conn = None
        while not self._stop.wait(self.lease_seconds / 3):
            try:
                conn = conn or connect(self.url, self._password)
                conn.execute("UPDATE jobs SET lease_until=%s WHERE claim_session=%s AND "
                             "state=%s", (self.lease_end(), self.me.session, State.SENDING))
            except Exception:  # the server is away: the lease may lapse, the claim stays
                conn = None
        if conn is not None:
            conn.close()

    def try_lock_tracker(self, identity: str) -> bool:
        """Take the run lock of a tracker for as long as this ledger is open (False when
        another run, on any machine, holds it)."""
        row = self.conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s)) AS ok",
                                (TRACKER_LOCKS, identity)).fetchone()
        return bool(row["ok"])

    def close(self) -> None:
        """Stop the renewer and close the connection (which releases the tracker locks)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)
        self.conn.close()

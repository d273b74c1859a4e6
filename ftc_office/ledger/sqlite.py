"""The personal ledger: SQLite in the per-user data folder (the default, no set-up).

Local disk, never beside a tracker on a share, in WAL mode. The fsync is chosen per
transaction (`SqliteLedger._tx`): ``synchronous=FULL`` for a durable one, ``NORMAL`` for one
the ledger may lose to a power cut (`ftc_office.ledger.core`). The schema is created and
migrated on opening (versioned in ``schema_migrations``); a ledger from a newer ftc-office is
refused.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ftc_office.errors import LedgerError
from ftc_office.jobs import State
from ftc_office.ledger.core import Ledger
from ftc_office.ledger.entry import Claimant
from ftc_office.ledger.migrations import CLAIM_COLUMNS, JOBS, LATEST, SQLITE_V3, newer_schema

V1 = JOBS.format(extra="") + """
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    key TEXT,
    event TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS events_key ON events(key);
CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT);
"""
V2 = [f"ALTER TABLE jobs ADD COLUMN {c}" for c in CLAIM_COLUMNS] + [
    "ALTER TABLE events ADD COLUMN user_name TEXT", "ALTER TABLE events ADD COLUMN host TEXT"]


class SqliteLedger(Ledger):
    """The ledger in one SQLite file."""

    def __init__(self, path: Path, me: Claimant | None = None) -> None:
        super().__init__(me or Claimant.here())
        self.path = path
        self.where = str(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.sync_level = "FULL"
            self.unsynced = False  # a NORMAL commit since the last FULL one
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(str(path), f"the ledger cannot be opened ({exc})",
                              "keep the data folder on a local disk; if the file is damaged, "
                              "restore it from a backup") from None

    def _migrate(self) -> None:
        """Version 1 is the schema before versions were counted (``prepared_at`` added to
        a ledger made before it, entries then in doubt marked so their outcome stays looked
        up); version 2 adds the claim columns and who recorded each event; version 3 the
        trackers' travelling IDs and the copies each entry was written to."""
        self.db.executescript(V1)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(jobs)")}
        version = self.db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
        if version is not None and version > LATEST:
            raise newer_schema(str(self.path), version)
        with self._tx() as db:
            if "prepared_at" not in columns:
                db.execute("ALTER TABLE jobs ADD COLUMN prepared_at TEXT")
                db.execute("UPDATE jobs SET prepared_at=updated_at WHERE state IN (?,?)",
                           (State.SENDING, State.UNKNOWN))
            if version is None:
                db.execute("INSERT INTO schema_migrations VALUES (1, ?)", (self.now(),))
                version = 1
            if version < 2:
                for sql in V2:
                    db.execute(sql)
                db.execute("INSERT INTO schema_migrations VALUES (2, ?)", (self.now(),))
            if version < 3:
                for sql in SQLITE_V3:
                    db.execute(sql)
                db.execute("INSERT INTO schema_migrations VALUES (3, ?)", (self.now(),))

    def close(self) -> None:
        """Make every commit durable (`sync`), then close the database. A sync that fails
        here (the file locked by another program for 30 s) is let go: every change is
        committed already, and the OS writes it out in its own time."""
        try:
            self.sync()
        except sqlite3.Error:
            pass
        finally:
            self.unsynced = False
            self.db.close()

    def _synchronous(self, level: str) -> None:
        if level != self.sync_level:
            self.db.execute(f"PRAGMA synchronous={level}")
            self.sync_level = level

    @contextmanager
    def _tx(self, key: str | None = None, durable: bool = True) -> Iterator[Any]:
        """One write transaction (``BEGIN IMMEDIATE``: one writer at a time, so every key is
        serialised). In WAL mode SQLite appends each commit to the ``-wal`` file; with
        ``synchronous=FULL`` the commit also fsyncs that file, with ``NORMAL`` it does not
        (sqlite.org/pragma.html#pragma_synchronous: "A transaction committed in WAL mode
        with synchronous=NORMAL might roll back following a power loss or system crash";
        "Transactions are durable across application crashes regardless of the synchronous
        setting or journal mode"). The setting is per connection and read at the commit,
        so it is set before ``BEGIN``. One fsync of the log covers every frame appended
        before it, so a durable commit also makes the NORMAL ones before it durable (and a
        checkpoint syncs the log before copying it: sqlite.org/wal.html)."""
        self._synchronous("FULL" if durable else "NORMAL")
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")
        self.unsynced = not durable

    def sync(self) -> None:
        """One durable commit when a NORMAL one came after the last durable one: the log is
        fsynced, and with it every commit before (a no-op rewrite of the schema's version
        row, so the commit has a frame to sync; the ledger itself does not change)."""
        if not self.unsynced:
            return
        with self._tx() as db:
            db.execute("UPDATE schema_migrations SET applied_at=applied_at WHERE version="
                       "(SELECT MAX(version) FROM schema_migrations)")

    def _read(self, sql: str, args: Any = ()) -> list[Any]:
        return self.db.execute(sql, args).fetchall()

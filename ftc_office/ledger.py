"""The ledger: a durable record of every job (message or note-only step) and every write.

SQLite in the per-user data folder (local disk, never beside a tracker on a share), WAL with
``synchronous=FULL`` so each commit survives a crash. The intent (``sending``) is committed
before every network call; the result after it. Anything found in ``sending`` or ``unknown``
at the next start is reconciled through the backend's look-up before anything new is sent.
Keys come from tenant ID, workload, mail kind and recipients — never row numbers.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from ftc_office.backends.base import Sought
from ftc_office.errors import LedgerError
from ftc_office.jobs import COMMITTED, FINISHED, Job, State
from ftc_office.message import message_id_for
from ftc_office.paths import data_dir

STATES = tuple(State)
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    tenant_ids TEXT NOT NULL,
    trackers TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    backend TEXT,
    provider_id TEXT,
    error TEXT,
    summary TEXT NOT NULL,
    recipients TEXT NOT NULL,
    subject TEXT,
    stamps TEXT NOT NULL,
    notes TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    written_at TEXT,
    prepared_at TEXT
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    key TEXT,
    event TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state);
CREATE INDEX IF NOT EXISTS events_key ON events(key);
"""


def now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Entry:
    """One row of the jobs table."""

    key: str
    kind: str
    tenant_ids: list[str]
    trackers: list[str]
    content_hash: str
    state: str
    backend: str | None
    provider_id: str | None
    error: str | None
    summary: str
    recipients: list[str]
    subject: str | None
    stamps: list[dict[str, Any]]
    notes: list[list[Any]]
    attempts: int
    created_at: str
    updated_at: str
    written_at: str | None
    prepared_at: str | None = None

    @property
    def prepared(self) -> bool:
        """The backend's last step before the final one is recorded (an Outlook draft id,
        SMTP's message data sent but not its final dot)."""
        return self.prepared_at is not None

    def sought(self) -> Sought:
        """What a backend's look-up needs to find this message: the Message-ID is rebuilt
        from the key and the recorded content hash exactly as the message carried it."""
        return Sought(self.key, message_id_for(self.key, self.content_hash),
                      tuple(self.recipients), self.provider_id, self.prepared)


def _entry(row: sqlite3.Row) -> Entry:
    d = dict(row)
    for k in ("tenant_ids", "trackers", "recipients", "stamps", "notes"):
        d[k] = json.loads(d[k])
    return Entry(**d)


class Ledger:
    """Open with ``Ledger.open()``; every method commits before it returns."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(str(path), timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=FULL")
            self.db.executescript(SCHEMA)
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise LedgerError(str(path), f"the ledger cannot be opened ({exc})",
                              "keep the data folder on a local disk; if the file is damaged, "
                              "restore it from a backup") from None

    def _migrate(self) -> None:
        """Add ``prepared_at`` to a ledger made before it existed. Entries then in doubt
        get the mark, so their outcome stays looked up (never resent blindly)."""
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(jobs)")}
        if "prepared_at" in columns:
            return
        with self._tx() as db:
            db.execute("ALTER TABLE jobs ADD COLUMN prepared_at TEXT")
            db.execute("UPDATE jobs SET prepared_at=updated_at WHERE state IN (?,?)",
                       (State.SENDING, State.UNKNOWN))

    @classmethod
    def open(cls, folder: Path | None = None) -> Ledger:
        """The ledger in ``folder`` (default: the per-user data folder); also usable as
        ``with Ledger.open() as ledger:``, which closes it on the way out."""
        return cls((folder or data_dir()) / "ledger.sqlite3")

    def close(self) -> None:
        """Close the database (every change is already committed)."""
        self.db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _event(self, db: sqlite3.Connection, key: str | None, event: str, **detail: Any) -> None:
        db.execute("INSERT INTO events(at, key, event, detail) VALUES (?,?,?,?)",
                   (now(), key, event, json.dumps(detail, default=str, sort_keys=True)))

    # ---- reading ---------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        row = self.db.execute("SELECT * FROM jobs WHERE key=?", (key,)).fetchone()
        return _entry(row) if row else None

    def entries(self, states: tuple[str, ...] | frozenset[State] | None = None
                ) -> list[Entry]:
        """Entries (oldest first), only those in ``states`` when given."""
        states = tuple(states) if states else None
        if states:
            marks = ",".join("?" * len(states))
            rows = self.db.execute(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY "
                                   "created_at, key", states).fetchall()
        else:
            rows = self.db.execute("SELECT * FROM jobs ORDER BY created_at, key").fetchall()
        return [_entry(r) for r in rows]

    def counts(self) -> dict[str, int]:
        return {r[0]: r[1] for r in
                self.db.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state")}

    def events(self, tenant: str | None = None) -> list[dict[str, Any]]:
        rows = self.db.execute("SELECT e.*, j.tenant_ids FROM events e LEFT JOIN jobs j "
                               "ON j.key = e.key ORDER BY e.id").fetchall()
        out = []
        for r in rows:
            ids = json.loads(r["tenant_ids"]) if r["tenant_ids"] else []
            if tenant and tenant.casefold() not in (i.casefold() for i in ids):
                continue
            out.append({"at": r["at"], "key": r["key"], "event": r["event"],
                        "detail": json.loads(r["detail"]), "tenants": ids})
        return out

    def tenants_in(self, kind: str, states: tuple[str, ...]) -> set[str]:
        """Tenant IDs (case-folded) covered by any job of ``kind`` in ``states``."""
        out: set[str] = set()
        for e in self.entries(states):
            if e.kind == kind:
                out.update(t.casefold() for t in e.tenant_ids)
        return out

    def unwritten(self, tracker: str | None = None) -> list[Entry]:
        """Finished jobs whose stamps are not yet projected onto their tracker."""
        rows = self.db.execute("SELECT * FROM jobs WHERE state IN (?,?) AND written_at IS "
                               "NULL ORDER BY created_at, rowid",
                               (State.SENT, State.DONE)).fetchall()
        out = [_entry(r) for r in rows]
        return [e for e in out if tracker is None or tracker in e.trackers]

    # ---- transitions -----------------------------------------------------------------
    def plan(self, job: Job, backend: str) -> str:
        """Record a job's intent (state ``planned``) unless it exists; return its state.

        Raises LedgerError when the key was already sent with different content: the rerun
        is refused with an explanation instead of sending a second, different message.
        """
        msg = job.message
        with self._tx() as db:
            row = db.execute("SELECT * FROM jobs WHERE key=?", (job.key,)).fetchone()
            if row is not None:
                entry = _entry(row)
                if entry.state in COMMITTED and (
                        entry.content_hash != job.content_hash):
                    raise LedgerError(
                        f"ledger key {job.key}",
                        f"already {entry.state} on {entry.updated_at[:10]} with different "
                        "content (the tracker changed since)",
                        f"nothing was sent; if the new version must go out, run "
                        f"'ftc-office resolve {job.key} --resend'")
                if (entry.state in (State.FAILED, State.PLANNED)
                        and entry.content_hash != job.content_hash):
                    db.execute("UPDATE jobs SET content_hash=?, updated_at=? WHERE key=?",
                               (job.content_hash, now(), job.key))
                return entry.state
            stamps = [{"tracker": s.tracker, "tenant_id": s.tenant_id, "workload": s.workload,
                       "field": s.field,
                       "value": s.value.isoformat() if isinstance(s.value, dt.date) else s.value,
                       "is_date": isinstance(s.value, dt.date)} for s in job.stamps]
            db.execute(
                "INSERT INTO jobs(key, kind, tenant_ids, trackers, content_hash, state, backend,"
                " summary, recipients, subject, stamps, notes, created_at, updated_at) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (job.key, job.kind, json.dumps(list(job.tenant_ids)),
                 json.dumps(sorted({s.tracker for s in job.stamps})), job.content_hash,
                 State.PLANNED, backend, job.summary,
                 json.dumps([a.email for a in msg.recipients] if msg else []),
                 msg.subject if msg else None, json.dumps(stamps),
                 json.dumps([[n.tenant_id, n.workload, n.text] for n in job.notes]), now(), now()))
            self._event(db, job.key, State.PLANNED, backend=backend, hash=job.content_hash)
            return State.PLANNED

    def transition(self, key: str, state: str, *, provider_id: str | None = None,
                   error: str | None = None, event: str | None = None, **detail: Any) -> None:
        """Move a job to ``state`` (committed durably) and log the event. ``sending`` (a
        new attempt) clears the previous attempt's prepared mark."""
        if state not in STATES:
            raise ValueError(state)
        with self._tx() as db:
            sets = ["state=?", "updated_at=?"]
            args: list[Any] = [state, now()]
            if provider_id is not None:
                sets.append("provider_id=?")
                args.append(provider_id)
            if error is not None or state in FINISHED:
                sets.append("error=?")
                args.append(error)
            if state == State.SENDING:
                sets.append("attempts=attempts+1")
                sets.append("prepared_at=NULL")
            cur = db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE key=?", (*args, key))
            if cur.rowcount != 1:
                raise LedgerError(f"ledger key {key}", "no such entry",
                                  "check the key with 'ftc-office status'")
            self._event(db, key, event or state, provider_id=provider_id, error=error, **detail)

    def record_prepared(self, key: str, provider_id: str) -> None:
        """The mark before a backend's final step, one fsync'd commit: the provider holds
        the message (an Outlook draft id) or has all of it but the end (SMTP: the data sent,
        not its final dot). An entry left ``sending`` without it never reached that step."""
        with self._tx() as db:
            stamp = now()
            db.execute("UPDATE jobs SET provider_id=?, updated_at=?, prepared_at=? WHERE key=?",
                       (provider_id, stamp, stamp, key))
            self._event(db, key, "prepared", provider_id=provider_id)

    def mark_written(self, keys: list[str], tracker: str, backup: str | None,
                     before: str, after: str, cells: int, conflicts: list[str]) -> None:
        """Record a workbook write (with the backup path and before/after hashes)."""
        with self._tx() as db:
            stamp = now()
            for key in keys:
                db.execute("UPDATE jobs SET written_at=? WHERE key=?", (stamp, key))
            self._event(db, None, "workbook_written", tracker=tracker, backup=backup,
                        sha256_before=before, sha256_after=after, cells=cells, keys=keys,
                        conflicts=conflicts)

    def resolve(self, key: str, action: str) -> Entry:
        """A person's decision about an unknown/failed/refused job: ``sent``, ``resend``
        (the entry is deleted, so the next run plans the message afresh) or ``skip``."""
        entry = self.get(key)
        if entry is None:
            raise LedgerError(f"ledger key {key}", "no such entry",
                              "copy the key from 'ftc-office status'")
        if action == "sent":
            self.transition(key, State.SENT, event="resolved_sent", by="user")
        elif action == "resend":
            with self._tx() as db:
                db.execute("DELETE FROM jobs WHERE key=?", (key,))
                self._event(db, key, "resolved_resend", by="user", previous=entry.state)
        elif action == "skip":
            self.transition(key, State.SKIPPED, event="resolved_skip", by="user")
        else:
            raise ValueError(action)
        return entry

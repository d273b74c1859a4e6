"""The ledger's behaviour, written once for both implementations (SQLite, PostgreSQL).

An implementation supplies a connection (`_tx` yielding something with ``execute(sql, args)``
whose result has ``fetchone``/``fetchall``/``rowcount``, rows as mappings), the SQL name of
the insertion order column, and its clock. SQL here uses ``?`` placeholders; the PostgreSQL
side turns them into ``%s``. States are stored as text: a new `State` needs no migration.

Durability per transaction. Every transaction says whether it must survive a power cut by
itself (``durable``); both kinds survive a crash of the process (a kill, an exception).
Durable: the claim (``transition(sending)``: the intent before a send), the prepared mark
(``record_prepared``: the point after which a resend could duplicate), a person's decision
(``by="user"``), look-up results, workbook records and everything rare. Not durable on its
own: the planned row (``plan``), a send's result and a note-only step's ``done``
(``transition`` without an ``event`` or ``by``). Losing those to a power cut is safe — a lost
planned row was never sent; a lost result leaves the entry at its claim, so the next run
looks it up or asks (never resends blindly); a lost ``done`` is done again by the next run
(a note has no effect outside the ledger and the workbook) — and every later durable
commit makes the earlier ones durable too (one log, synced in order: see
`SqliteLedger._tx`). `sync` makes them durable before the workbook is written from them.
PostgreSQL commits every transaction as the server is configured (``durable`` is ignored).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from ftc_office.errors import LedgerError
from ftc_office.jobs import COMMITTED, FINISHED, IN_DOUBT, Job, State
from ftc_office.ledger.entry import (
    FIELDS,
    JSON_FIELDS,
    Claimant,
    Entry,
    claim_live,
    now,
    share_strings,
    stamp_for,
)

STATES = tuple(State)
CLAIMABLE = (State.PLANNED, State.FAILED)


class Cursor(Protocol):
    """The little of a DB-API cursor the ledger uses."""

    rowcount: int

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Db(Protocol):
    """A connection inside a transaction: ``execute`` with ``?`` placeholders."""

    def execute(self, sql: str, args: Any = ()) -> Cursor: ...


def to_entry(row: Mapping[str, Any]) -> Entry:
    """An `Entry` from a jobs row (columns it does not know are ignored)."""
    d = {k: v for k, v in dict(row).items() if k in FIELDS}
    for k in JSON_FIELDS:
        if k in d:
            d[k] = json.loads(d[k])
    for stamp in d.get("stamps", ()):
        share_strings(stamp)
    return Entry(**d)


def _like(name: str) -> str:
    """A LIKE pattern finding ``name`` as an element of a JSON list column (escape ``!``)."""
    text = json.dumps(name).replace("!", "!!").replace("%", "!%").replace("_", "!_")
    return f"%{text}%"


def durable_by_default(state: str, event: str | None, detail: Mapping[str, Any]) -> bool:
    """Whether a transition's commit must survive a power cut by itself: all but a send's
    result and a note-only step's ``done`` as the run records them (no ``event``, no
    ``by``). Such a commit lost to a power cut leaves the entry at its durable claim (the
    next run looks it up at the provider, or asks) or at ``planned`` (the note is done
    again); the claim, a person's decision (``by``) and look-up results stay durable."""
    return not (state in RELAXED and event is None and detail.get("by") is None)


RELAXED = frozenset({State.SENT, State.DRAFTED, State.UNKNOWN, State.REFUSED, State.FAILED,
                     State.DONE})


class Ledger:
    """One ledger, whichever database holds it. Open with ``Ledger.open()`` (SQLite in the
    data folder unless a shared ledger is configured); every method commits before it
    returns; usable as ``with Ledger.open() as ledger:``."""

    ORDER = "rowid"  # insertion order column of jobs
    where = ""  # how messages name this ledger (a file, or a server URL without password)
    path: Path | str = ""
    shared = False  # a team's ledger on a server (claims cross machines)

    def __new__(cls, *args: Any, **kwargs: Any) -> Ledger:
        """``Ledger(path)`` is the SQLite ledger in that file (as before there were two)."""
        if cls is Ledger:
            from ftc_office.ledger.sqlite import SqliteLedger

            return super().__new__(SqliteLedger)
        return super().__new__(cls)

    def __init__(self, me: Claimant) -> None:
        self.me = me
        # path key of a tracker copy -> its travelling ID (``tracker:<id>``), set by whoever
        # opened the ledger for some trackers (`ftc_office.run.locks`): new entries carry it
        self.identities: dict[str, str] = {}

    @classmethod
    def open(cls, folder: Path | None = None, settings: Any = None) -> Ledger:
        """The configured ledger: PostgreSQL when ``FTC_OFFICE_LEDGER_URL`` or ``ledger.url``
        names one, else SQLite in ``folder`` (default: the per-user data folder)."""
        from ftc_office.ledger.select import open_ledger

        return open_ledger(folder, settings)

    # ---- implementation hooks --------------------------------------------------------
    def _tx(self, key: str | None = None, durable: bool = True
            ) -> AbstractContextManager[Db]:
        """A write transaction; with ``key``, serialised with every other one on that key.
        ``durable``: its commit survives a power cut on its own (False: a process crash
        only, until the next durable commit or `sync`)."""
        raise NotImplementedError

    def sync(self) -> None:
        """Make every commit so far survive a power cut (the workbook is written from them)."""

    def _read(self, sql: str, args: Any = ()) -> list[Any]:
        """Rows of a read outside any transaction."""
        raise NotImplementedError

    def now(self, offset: float = 0.0, precise: bool = False) -> str:
        """The ledger's clock (the server's, for a shared ledger)."""
        return now(offset, precise)

    def close(self) -> None:
        """Close the connection (every change is already committed)."""

    def held(self, key: str, holding: bool) -> None:
        """This run claimed (or let go of) ``key``: a shared ledger renews its lease."""

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _event(self, db: Db, key: str | None, event: str, **detail: Any) -> None:
        db.execute("INSERT INTO events(at, key, event, detail, user_name, host) "
                   "VALUES (?,?,?,?,?,?)",
                   (self.now(), key, event, json.dumps(detail, default=str, sort_keys=True),
                    self.me.user, self.me.host))

    # ---- reading ---------------------------------------------------------------------
    def get(self, key: str) -> Entry | None:
        """The entry of ``key``, if any."""
        rows = self._read("SELECT * FROM jobs WHERE key=?", (key,))
        return to_entry(rows[0]) if rows else None

    def entries(self, states: tuple[str, ...] | frozenset[State] | None = None
                ) -> list[Entry]:
        """Entries (oldest first), only those in ``states`` when given."""
        states = tuple(states) if states else None
        if states:
            marks = ",".join("?" * len(states))
            rows = self._read(f"SELECT * FROM jobs WHERE state IN ({marks}) ORDER BY "
                              f"created_at, key", states)
        else:
            rows = self._read("SELECT * FROM jobs ORDER BY created_at, key")
        return [to_entry(r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Entries per state."""
        return {r["state"]: r["n"] for r in
                self._read("SELECT state, COUNT(*) AS n FROM jobs GROUP BY state")}

    def events(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """The event log (oldest first), only ``tenant``'s events when given."""
        rows = self._read("SELECT e.*, j.tenant_ids, j.trackers FROM events e LEFT JOIN jobs j "
                          "ON j.key = e.key ORDER BY e.id")
        out = []
        for r in rows:
            ids = json.loads(r["tenant_ids"]) if r["tenant_ids"] else []
            if tenant and tenant.casefold() not in (i.casefold() for i in ids):
                continue
            out.append({"at": r["at"], "key": r["key"], "event": r["event"],
                        "detail": json.loads(r["detail"]), "tenants": ids,
                        "trackers": json.loads(r["trackers"]) if r["trackers"] else [],
                        "user": r["user_name"], "host": r["host"]})
        return out

    def tenants_in(self, kind: str, states: tuple[str, ...]) -> set[str]:
        """Tenant IDs (case-folded) covered by any job of ``kind`` in ``states`` (only that
        column read: a run asks this of a ledger of thousands of entries)."""
        marks = ",".join("?" * len(states))
        out: set[str] = set()
        for r in self._read(f"SELECT tenant_ids FROM jobs WHERE kind=? AND state IN ({marks})",
                            (kind, *states)):
            out.update(t.casefold() for t in json.loads(r["tenant_ids"]))
        return out

    def unwritten(self, tracker: str | None = None) -> list[Entry]:
        """Finished jobs whose stamps are not yet projected onto their tracker."""
        rows = self._read("SELECT * FROM jobs WHERE state IN (?,?) AND written_at IS "
                          f"NULL ORDER BY created_at, {self.ORDER}", (State.SENT, State.DONE))
        out = [to_entry(r) for r in rows]
        return [e for e in out if tracker is None or tracker in e.trackers]

    def of_tracker(self, copy: str, uid: str | None = None) -> tuple[list[Entry], set[str]]:
        """The finished entries (sent, done) with stamps for one tracker, oldest first — named
        by this copy's path key ``copy`` or by the tracker's travelling ID ``uid``, whoever
        sent them through whichever copy — and the keys already written to this copy."""
        rows = self._read(
            "SELECT * FROM jobs WHERE state IN (?,?) AND (trackers LIKE ? ESCAPE '!' OR "
            f"tracker_ids LIKE ? ESCAPE '!') ORDER BY created_at, {self.ORDER}",
            (State.SENT, State.DONE, _like(copy), _like(uid) if uid else ""))
        found = [to_entry(r) for r in rows]
        entries = [e for e in found if any(stamp_for(s, copy, uid) for s in e.stamps)]
        written = {r["key"] for r in
                   self._read("SELECT key FROM copies_written WHERE copy_path=?", (copy,))}
        return entries, written

    def live(self, entry: Entry) -> bool:
        """Whether another run is sending ``entry`` right now (a live claim)."""
        return claim_live(entry, self.me, self.now(precise=True))

    def reconcilable(self) -> Iterator[Entry]:
        """The entries in doubt this run's backend should look up: its user's own, never one
        another run is sending now. Another user's claim that expired without a result
        becomes ``unknown`` here, for that user's next run to look up (never resent)."""
        for e in self.entries(IN_DOUBT):
            if self.live(e):
                continue
            if e.claimed_by is not None and e.claimed_by != self.me.user:
                if e.state == State.SENDING:
                    self._expire(e)
                continue
            yield e

    def _expire(self, e: Entry) -> None:
        with self._tx(e.key) as db:
            cur = db.execute("UPDATE jobs SET state=?, updated_at=?, error=?, lease_until=NULL"
                             " WHERE key=? AND state=? AND claim_session=?",
                             (State.UNKNOWN, self.now(),
                              f"the send by {e.by()} stopped without a result; "
                              f"{e.claimed_by}'s next run looks it up", e.key, State.SENDING,
                              e.claim_session))
            if cur.rowcount == 1:
                self._event(db, e.key, "claim_expired", claimant=e.claimed_by,
                            claimed_host=e.claimed_host, since=e.claimed_at)

    # ---- transitions -----------------------------------------------------------------
    def plan(self, job: Job, backend: str) -> str:
        """Record a job's intent (state ``planned``) unless it exists; return its state.

        Raises LedgerError when the key was already sent with different content (naming
        who sent it), or when another run is sending it now: the rerun is refused with an
        explanation instead of sending a second message.
        """
        # not durable on its own: a planned row lost to a power cut was never sent, and the
        # claim that must precede any send is durable (and makes this row durable with it)
        with self._tx(job.key, durable=False) as db:
            row = db.execute("SELECT * FROM jobs WHERE key=?", (job.key,)).fetchone()
            if row is not None:
                entry = to_entry(row)
                if entry.state in COMMITTED and entry.content_hash != job.content_hash:
                    raise LedgerError(
                        f"ledger key {job.key}",
                        f"already {entry.state} on {entry.updated_at[:10]} by {entry.by()} "
                        "with different content (the tracker changed since)",
                        f"nothing was sent; if the new version must go out, run "
                        f"'ftc-office resolve {job.key} --resend'")
                if self.live(entry):
                    raise self._busy(entry)
                if (entry.state in (State.FAILED, State.PLANNED)
                        and entry.content_hash != job.content_hash):
                    db.execute("UPDATE jobs SET content_hash=?, updated_at=? WHERE key=?",
                               (job.content_hash, self.now(), job.key))
                return entry.state
            self._insert(db, job, backend)
            return State.PLANNED

    def _busy(self, entry: Entry) -> LedgerError:
        return LedgerError(f"ledger key {entry.key}",
                           f"being sent by {entry.by()} since {entry.claimed_at}",
                           "nothing was sent by this run; that run records the result "
                           "(see 'ftc-office status')")

    def _insert(self, db: Db, job: Job, backend: str) -> None:
        msg = job.message
        stamps = [{"tracker": s.tracker, "tenant_id": s.tenant_id, "workload": s.workload,
                   "field": s.field,
                   "value": s.value.isoformat() if isinstance(s.value, dt.date) else s.value,
                   "is_date": isinstance(s.value, dt.date),
                   "uid": self.identities.get(s.tracker)} for s in job.stamps]
        uids = sorted({s["uid"] for s in stamps if s["uid"]})
        db.execute(
            "INSERT INTO jobs(key, kind, tenant_ids, trackers, content_hash, state, backend,"
            " summary, recipients, subject, stamps, notes, created_at, updated_at, "
            "tracker_ids) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (job.key, job.kind, json.dumps(list(job.tenant_ids)),
             json.dumps(sorted({s.tracker for s in job.stamps})), job.content_hash,
             State.PLANNED, backend, job.summary,
             json.dumps([a.email for a in msg.recipients] if msg else []),
             msg.subject if msg else None, json.dumps(stamps),
             json.dumps([[n.tenant_id, n.workload, n.text] for n in job.notes]),
             self.now(), self.now(), json.dumps(uids)))
        self._event(db, job.key, State.PLANNED, backend=backend, hash=job.content_hash)

    def transition(self, key: str, state: str, *, provider_id: str | None = None,
                   error: str | None = None, event: str | None = None,
                   durable: bool | None = None, **detail: Any) -> None:
        """Move a job to ``state`` and log the event.

        ``sending`` is the claim: it succeeds only from ``planned``/``failed`` and records
        who sends (user, host, process, lease); otherwise LedgerError says who holds the key
        and nothing may be sent. A new attempt clears the previous prepared mark.
        ``durable`` (default: `durable_by_default`) says whether the commit must survive a
        power cut on its own; every commit survives a crash of the process."""
        if state not in STATES:
            raise ValueError(state)
        if durable is None:
            durable = durable_by_default(state, event, detail)
        with self._tx(key if state == State.SENDING else None, durable) as db:
            at = self.now()
            sets = ["state=?", "updated_at=?"]
            args: list[Any] = [state, at]
            if provider_id is not None:
                sets.append("provider_id=?")
                args.append(provider_id)
            if error is not None or state in FINISHED:
                sets.append("error=?")
                args.append(error)
            if state == State.SENDING:
                self._check_claim(db, key)
                sets += ["attempts=attempts+1", "prepared_at=NULL", "claimed_by=?",
                         "claimed_host=?", "claimed_pid=?", "claim_session=?", "claimed_at=?",
                         "lease_until=?"]
                args += [self.me.user, self.me.host, self.me.pid, self.me.session, at,
                         self.lease_end()]
            else:
                sets.append("lease_until=NULL")
            cur = db.execute(f"UPDATE jobs SET {', '.join(sets)} WHERE key=?", (*args, key))
            if cur.rowcount != 1:
                raise LedgerError(f"ledger key {key}", "no such entry",
                                  "check the key with 'ftc-office status'")
            self._event(db, key, event or state, provider_id=provider_id, error=error, **detail)
        self.held(key, state == State.SENDING)

    def lease_end(self) -> str:
        """When a claim made now expires unless renewed."""
        return self.now(self.lease_seconds, precise=True)

    lease_seconds = 60.0

    def _check_claim(self, db: Db, key: str) -> None:
        row = db.execute("SELECT state FROM jobs WHERE key=?", (key,)).fetchone()
        if row is None or row["state"] in CLAIMABLE:
            return  # none: reported as "no such entry" by the update
        row = db.execute("SELECT * FROM jobs WHERE key=?", (key,)).fetchone()
        entry = to_entry(row)
        if entry.state in CLAIMABLE:  # a shared ledger: another run's result in between (a
            return  # result takes no key lock), so the entry read whole decides
        if self.live(entry):
            raise self._busy(entry)
        raise LedgerError(f"ledger key {key}",
                          f"already {entry.state} by {entry.by()} at {entry.updated_at}",
                          "nothing was sent by this run; see 'ftc-office status'")

    def record_prepared(self, key: str, provider_id: str) -> None:
        """The mark before a backend's final step, one durable commit: the provider holds
        the message (an Outlook draft id) or has all of it but the end (SMTP: the data sent,
        not its final dot). An entry left ``sending`` without it never reached that step, so
        it must not be lost to a power cut either (the next run would send it again)."""
        with self._tx(durable=True) as db:
            stamp = self.now()
            db.execute("UPDATE jobs SET provider_id=?, updated_at=?, prepared_at=? WHERE key=?",
                       (provider_id, stamp, stamp, key))
            self._event(db, key, "prepared", provider_id=provider_id)

    def mark_written(self, keys: list[str], tracker: str, backup: str | None,
                     before: str, after: str, cells: int, conflicts: list[str],
                     uid: str | None = None, restored: int = 0) -> None:
        """Record a workbook write (with the backup path and before/after hashes): each key
        is written to this copy (path key ``tracker``), and belongs from now on to the
        tracker's travelling ID ``uid`` (an entry recorded before the workbook had one)."""
        with self._tx() as db:
            stamp = self.now()
            for key in keys:
                db.execute("UPDATE jobs SET written_at=? WHERE key=?", (stamp, key))
                db.execute("INSERT INTO copies_written(key, copy_path, at) VALUES (?,?,?) "
                           "ON CONFLICT DO NOTHING", (key, tracker, stamp))
                if uid:
                    self._adopt(db, key, tracker, uid)
            self._event(db, None, "workbook_written", tracker=tracker, backup=backup,
                        sha256_before=before, sha256_after=after, cells=cells, keys=keys,
                        conflicts=conflicts, tracker_uid=uid, restored=restored)

    def _adopt(self, db: Db, key: str, copy: str, uid: str) -> None:
        """Name ``uid`` on an entry whose stamps for this copy were recorded without it."""
        row = db.execute("SELECT tracker_ids, stamps FROM jobs WHERE key=?", (key,)).fetchone()
        if row is None or uid in json.loads(row["tracker_ids"]):
            return
        stamps = json.loads(row["stamps"])
        for s in stamps:
            if s["tracker"] == copy and not s.get("uid"):
                s["uid"] = uid
        db.execute("UPDATE jobs SET tracker_ids=?, stamps=? WHERE key=?",
                   (json.dumps(sorted({*json.loads(row["tracker_ids"]), uid})),
                    json.dumps(stamps), key))

    def resolve(self, key: str, action: str) -> Entry:
        """A person's decision about an unknown/failed/refused job: ``sent``, ``resend``
        (the entry is deleted, so the next run plans the message afresh) or ``skip``."""
        entry = self.get(key)
        if entry is None:
            raise LedgerError(f"ledger key {key}", "no such entry",
                              "copy the key from 'ftc-office status'")
        if self.live(entry):
            raise self._busy(entry)
        if action == "sent":
            self.transition(key, State.SENT, event="resolved_sent", by="user")
        elif action == "resend":
            with self._tx(key) as db:
                db.execute("DELETE FROM jobs WHERE key=?", (key,))
                db.execute("DELETE FROM copies_written WHERE key=?", (key,))
                self._event(db, key, "resolved_resend", by="user", previous=entry.state)
        elif action == "skip":
            self.transition(key, State.SKIPPED, event="resolved_skip", by="user")
        else:
            raise ValueError(action)
        return entry

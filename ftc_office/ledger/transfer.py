"""``ftc-office ledger import``: copy a personal SQLite ledger into the configured (shared)
one. Idempotent: a key already there with the same content and state is left alone; one
with a different content or state is a conflict, listed and never overwritten. The file is
read only (opened read-only, never migrated). Imported entries without a recorded claimant
are named after the person importing them, on the host that holds the file.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftc_office.errors import LedgerError
from ftc_office.ledger.core import Ledger
from ftc_office.ledger.entry import FIELDS


@dataclass
class ImportResult:
    """What an import did: keys copied, keys already there, conflicts (one line each)."""

    imported: list[str] = field(default_factory=list)
    present: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)


def _copies(db: sqlite3.Connection, jobs: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Key -> the tracker copies (path keys) it was written to: the file's own record, or
    for a ledger from before it kept one, the trackers of each written entry."""
    out: dict[str, set[str]] = {}
    for job in jobs:
        if job.get("written_at"):
            out[job["key"]] = set(json.loads(job["trackers"]))
    try:
        for r in db.execute("SELECT key, copy_path FROM copies_written"):
            out.setdefault(r["key"], set()).add(r["copy_path"])
    except sqlite3.OperationalError:
        pass  # an older ledger: no such table
    return out


def _read(file: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                               dict[str, set[str]]]:
    if not file.is_file():
        raise LedgerError(str(file), "no such file", "give the path of a ledger.sqlite3 file "
                          "(ftc-office status names the personal ledger)")
    try:
        db = sqlite3.connect(f"file:{file}?mode=ro", uri=True)
        db.row_factory = sqlite3.Row
        try:
            jobs = [dict(r) for r in db.execute("SELECT * FROM jobs ORDER BY created_at, rowid")]
            events = [dict(r) for r in db.execute("SELECT * FROM events ORDER BY id")]
            copies = _copies(db, jobs)
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        raise LedgerError(str(file), f"not a readable ftc-office ledger ({exc})",
                          "give the path of a ledger.sqlite3 file") from None
    return jobs, events, copies


def import_sqlite(target: Ledger, file: Path) -> ImportResult:
    """Copy every entry of ``file`` (and the events about it) into ``target``."""
    jobs, events, copies = _read(file)
    by_key: dict[str, list[dict[str, Any]]] = {}
    for e in events:
        by_key.setdefault(e.get("key") or "", []).append(e)
    result = ImportResult()
    for row in jobs:
        key = row["key"]
        job = {k: v for k, v in row.items() if k in FIELDS}
        job.setdefault("claimed_by", None)
        job["claimed_by"] = job["claimed_by"] or target.me.user
        job["claimed_host"] = job.get("claimed_host") or target.me.host
        with target._tx(key) as db:
            there = db.execute("SELECT content_hash, state FROM jobs WHERE key=?",
                               (key,)).fetchone()
            if there is not None:
                if (there["content_hash"], there["state"]) == (job["content_hash"],
                                                               job["state"]):
                    result.present.append(key)
                else:
                    result.conflicts.append(
                        f"{key}: {job['state']} in {file.name}, {there['state']} in the "
                        "shared ledger (left as it is there)")
                continue
            cols = list(job)
            db.execute(f"INSERT INTO jobs({', '.join(cols)}) VALUES "
                       f"({','.join('?' * len(cols))})", [job[c] for c in cols])
            for e in by_key.get(key, []):
                db.execute("INSERT INTO events(at, key, event, detail, user_name, host) "
                           "VALUES (?,?,?,?,?,?)",
                           (e["at"], key, e["event"], e["detail"],
                            e.get("user_name") or job["claimed_by"],
                            e.get("host") or job["claimed_host"]))
            for copy in sorted(copies.get(key, ())):
                db.execute("INSERT INTO copies_written(key, copy_path, at) VALUES (?,?,?) "
                           "ON CONFLICT DO NOTHING", (key, copy, job.get("written_at") or ""))
            target._event(db, key, "imported", source=str(file))
        result.imported.append(key)
    return result


def describe_result(r: ImportResult) -> str:
    """One line: counts."""
    return (f"{len(r.imported)} imported, {len(r.present)} already there, "
            f"{len(r.conflicts)} conflict(s)")


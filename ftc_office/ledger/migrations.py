"""Schema versions of the ledger. Both databases hold the same tables; the version reached is
recorded in ``schema_migrations``. A database at a newer version than this ftc-office knows
is refused (never written by an older program). States are text, so a new state needs no
migration.
"""

from __future__ import annotations

from ftc_office.errors import LedgerError

LATEST = 3

JOBS = """
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
    prepared_at TEXT{extra}
);
"""

#: version 2: who claimed a message for sending, and until when
CLAIM_COLUMNS = ("claimed_by TEXT", "claimed_host TEXT", "claimed_pid INTEGER",
                 "claim_session TEXT", "claimed_at TEXT", "lease_until TEXT")

#: version 3: the travelling IDs of an entry's trackers (``tracker:<FtcOfficeTrackerId>``),
#: and which copies of a tracker (path keys) each entry was written to; a ledger from
#: before it knows its written entries went to the trackers they name
TRACKER_IDS = "ALTER TABLE jobs ADD COLUMN tracker_ids TEXT NOT NULL DEFAULT '[]'"
COPIES = ("CREATE TABLE IF NOT EXISTS copies_written (key TEXT NOT NULL, copy_path TEXT NOT "
          "NULL, at TEXT NOT NULL, PRIMARY KEY (key, copy_path))")
COPIES_INDEX = "CREATE INDEX IF NOT EXISTS copies_written_copy ON copies_written(copy_path)"
SQLITE_V3 = [TRACKER_IDS, COPIES, COPIES_INDEX,
             "INSERT OR IGNORE INTO copies_written SELECT j.key, t.value, j.written_at FROM "
             "jobs j, json_each(j.trackers) t WHERE j.written_at IS NOT NULL"]

#: PostgreSQL: each version's statements, applied in one transaction by `ledger init`
POSTGRES: dict[int, list[str]] = {
    1: [
        JOBS.format(extra=",\n    seq BIGINT GENERATED ALWAYS AS IDENTITY"),
        "CREATE TABLE IF NOT EXISTS events (id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
        " at TEXT NOT NULL, key TEXT, event TEXT NOT NULL, detail TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS jobs_state ON jobs(state)",
        "CREATE INDEX IF NOT EXISTS events_key ON events(key)",
    ],
    2: [f"ALTER TABLE jobs ADD COLUMN {c}" for c in CLAIM_COLUMNS] + [
        "ALTER TABLE events ADD COLUMN user_name TEXT", "ALTER TABLE events ADD COLUMN host TEXT",
    ],
    3: [TRACKER_IDS, COPIES, COPIES_INDEX,
        "INSERT INTO copies_written SELECT j.key, t, j.written_at FROM jobs j, "
        "json_array_elements_text(j.trackers::json) AS t WHERE j.written_at IS NOT NULL "
        "ON CONFLICT DO NOTHING"],
}
assert max(POSTGRES) == LATEST


def newer_schema(where: str, version: int) -> LedgerError:
    """The refusal of a ledger written by a newer ftc-office."""
    return LedgerError(where, f"the ledger's schema is version {version}, newer than this "
                       f"ftc-office knows (version {LATEST}); nothing was sent",
                       "upgrade ftc-office on this machine (pip install -U ftc-office)")

"""One tracker, many copies, on the personal (SQLite) ledger: the ledger names a tracker by
its travelling ID as well as by a copy's path, so every copy gets every stamp; a restored
older version gets back the stamps it lacks (``restored tracker: N stamps re-applied from the
ledger``), never over a value a person typed; and ledgers from before this keep working.

Real trackers, the real CLI, real SQLite files; the shared-ledger team version with
PostgreSQL and SMTP is tests/test_ledger_team.py.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import sqlite3
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

import openpyxl
import pytest
from builders import make_tracker, row
from runhelpers import at, emls, ftc, rows, run, set_cells

from ftc_office.fields import NOTES_HEADERS
from ftc_office.ledger import Ledger
from ftc_office.ledger.migrations import CLAIM_COLUMNS, LATEST, POSTGRES
from ftc_office.ledger.postgres import init_schema
from ftc_office.ledger.sqlite import V1
from ftc_office.run.identity import tracker_identity

if TYPE_CHECKING:
    from pgserver import PgServer

TENANTS = ("t-1", "t-2", "t-3")
BOTH = pytest.mark.parametrize("kind", ["sqlite", "postgres"], indirect=True)

pytest_plugins = ["pgserver"]


@pytest.fixture
def kind(request: pytest.FixtureRequest) -> str:
    """The personal SQLite ledger, or a shared one on a real PostgreSQL (a fresh database,
    chosen through the environment): the same behaviour."""
    if request.param == "postgres":
        request.getfixturevalue("pg_url")
    return str(request.param)


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return make_tracker(tmp_path / "tracker.xlsx", [row(t, "Teams") for t in TENANTS])


def notes(path: Path) -> list[tuple[object, ...]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wb = openpyxl.load_workbook(path)
    if "Notes" not in wb.sheetnames:
        return []
    values = list(wb["Notes"].iter_rows(values_only=True))
    assert list(values[0]) == NOTES_HEADERS
    return sorted(values[1:], key=str)


def plan_steps(tracker: Path, as_of: str) -> tuple[dict[str, str], str]:
    out = ftc("plan", str(tracker), "--as-of", as_of, "--json")
    assert out.exit_code == 0, out.output
    return {p["tenant_id"]: p["next_step"] for p in json.loads(out.stdout)}, out.stderr


@BOTH
def test_a_restored_copy_gets_its_stamps_back_except_a_changed_one(kind: str, tracker: Path,
                                                                   tmp_path: Path) -> None:
    older = Path(shutil.copy(tracker, tmp_path / "older.xlsx"))  # the version before the run
    first = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert first.exit_code == 0 and len(emls(tmp_path / "outbox")) == 3, first.output
    stamped, stamped_notes = rows(tracker), notes(tracker)
    assert len(stamped_notes) == 3
    assert plan_steps(tracker, "2026-11-27")[0] == dict.fromkeys(TENANTS, "await_discussion")

    # OneDrive's version history: the older version is restored; the FM then types another
    # ATU date for t-3 on purpose (a different, non-empty value)
    shutil.copyfile(older, tracker)
    set_cells(tracker, {("t-3", "Teams"): {"ATU Sent": dt.date(2026, 11, 20)}})
    message = f"{tracker}: restored tracker: 5 stamps re-applied from the ledger"
    steps, said = plan_steps(tracker, "2026-11-27")
    assert steps == dict.fromkeys(TENANTS, "await_discussion")  # never due again
    assert said.splitlines()[0] == f"note: {message}"
    # the dry run says it too, and changes nothing
    dry = ftc("run", str(tracker), "--as-of", "2026-11-27")
    assert dry.exit_code == 0 and f"warning: {message}" in dry.output, dry.output
    assert rows(tracker)[("t-1", "Teams")]["ATU Sent"] is None

    again = run(tracker, "2026-11-27", tmp_path / "outbox")
    assert again.exit_code == 0, again.output
    assert f"warning: {message}" in again.output and "sent 0 message(s)" in again.output
    assert len(emls(tmp_path / "outbox")) == 3
    now = rows(tracker)
    for t in ("t-1", "t-2"):
        assert now[(t, "Teams")] == stamped[(t, "Teams")]
    assert now[("t-3", "Teams")]["ATU Sent"] == at("2026-11-20")  # the FM's value stays
    assert now[("t-3", "Teams")]["Engagement Note"] == \
        stamped[("t-3", "Teams")]["Engagement Note"]
    assert notes(tracker) == stamped_notes  # the note history is back, once

    # done: the next run and plan say nothing more
    third = run(tracker, "2026-11-27", tmp_path / "outbox")
    assert third.exit_code == 0 and "restored tracker" not in third.output
    assert "restored tracker" not in plan_steps(tracker, "2026-11-27")[1]

    # restored once more: `writeback` alone puts the stamps back and says so
    shutil.copyfile(older, tracker)
    wb = ftc("writeback", str(tracker))
    assert wb.exit_code == 0, wb.output
    assert f"{tracker}: restored tracker: 6 stamps re-applied from the ledger" in wb.stdout
    assert rows(tracker) == stamped and notes(tracker) == stamped_notes


@BOTH
def test_copies_of_one_workbook_get_each_others_stamps(kind: str, tracker: Path,
                                                       tmp_path: Path) -> None:
    """A personal ledger too: two copies with one ID (a synced copy on this machine, a file
    moved) are one tracker; what was sent through one is stamped into the other."""
    uid = tracker_identity(tracker)
    assert uid is not None
    other = Path(shutil.copy(tracker, tmp_path / "copy.xlsx"))
    stranger = make_tracker(tmp_path / "stranger.xlsx", [row(t, "Teams") for t in TENANTS])
    assert run(tracker, "2026-11-26", tmp_path / "outbox").exit_code == 0
    with Ledger.open() as ledger:
        assert {tuple(e.tracker_ids) for e in ledger.entries()} == {(uid,)}
    steps, said = plan_steps(other, "2026-11-27")
    assert steps == dict.fromkeys(TENANTS, "await_discussion") and "restored" not in said
    wb = ftc("writeback", str(other))
    assert wb.exit_code == 0 and "6 cell(s) written for 3 recorded step(s)" in wb.stdout
    assert "restored" not in wb.stdout
    assert rows(other) == rows(tracker) and notes(other) == notes(tracker)
    # a workbook without that ID is another tracker: nothing of this one is stamped into it
    assert ftc("writeback", str(stranger)).stdout.endswith("0 cell(s) written for 0 "
                                                           "recorded step(s)\n")


def test_an_entry_recorded_before_the_workbook_had_an_id_follows_it(tracker: Path,
                                                                   tmp_path: Path) -> None:
    """Entries named only by a path (before the ID, or a ledger from before IDs) are adopted
    by the ID at the next write-back of that copy; then every copy gets them."""
    assert run(tracker, "2026-11-26", tmp_path / "outbox").exit_code == 0
    with Ledger.open() as ledger:
        assert {tuple(e.tracker_ids) for e in ledger.entries()} == {()}
    uid = tracker_identity(tracker)
    other = Path(shutil.copy(tracker, tmp_path / "copy.xlsx"))
    set_cells(other, {(t, "Teams"): {"ATU Sent": None} for t in TENANTS})
    assert ftc("writeback", str(tracker)).exit_code == 0  # nothing to write; adopts
    with Ledger.open() as ledger:
        assert {tuple(e.tracker_ids) for e in ledger.entries()} == {(uid,)}
    assert ftc("writeback", str(other)).exit_code == 0
    assert rows(other) == rows(tracker)


def v2_ledger(path: Path, tracker: str) -> None:
    """A ledger as version 2 left it: one written entry, one not."""
    db = sqlite3.connect(path)
    db.executescript(V1)
    for c in CLAIM_COLUMNS:
        db.execute(f"ALTER TABLE jobs ADD COLUMN {c}")
    db.execute("ALTER TABLE events ADD COLUMN user_name TEXT")
    db.execute("ALTER TABLE events ADD COLUMN host TEXT")
    db.executemany("INSERT INTO schema_migrations VALUES (?, 'then')", [(1,), (2,)])
    stamps = json.dumps([{"tracker": tracker, "tenant_id": "t-1", "workload": "Teams",
                          "field": "atu_sent", "value": "2026-11-26", "is_date": True}])
    for key, written in (("k-written", "2026-11-26T10:00:00+00:00"), ("k-open", None)):
        db.execute("INSERT INTO jobs(key, kind, tenant_ids, trackers, content_hash, state, "
                   "summary, recipients, stamps, notes, created_at, updated_at, written_at) "
                   "VALUES (?, 'atu', '[\"t-1\"]', ?, 'h', 'sent', 's', '[]', ?, '[]', "
                   "'2026-11-26', '2026-11-26', ?)", (key, json.dumps([tracker]), stamps,
                                                      written))
    db.commit()
    db.close()


def test_a_version_2_ledger_is_migrated_and_knows_where_it_wrote(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    data = tmp_path / "data"
    data.mkdir()
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(data))
    v2_ledger(data / "ledger.sqlite3", "/team/tracker.xlsx")
    with Ledger.open() as ledger:
        entries, written = ledger.of_tracker("/team/tracker.xlsx")
        assert [e.key for e in entries] == ["k-written", "k-open"]
        assert written == {"k-written"}
        assert all(e.tracker_ids == [] for e in entries)
    db = sqlite3.connect(data / "ledger.sqlite3")
    assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0] == LATEST
    db.close()


def test_a_version_2_shared_ledger_is_migrated_by_init(postgres: PgServer,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    monkeypatch.setenv("PGPASSWORD", postgres.password)
    url = postgres.new_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                     "applied_at TEXT NOT NULL)")
        for version in (1, 2):
            for sql in POSTGRES[version]:
                conn.execute(sql)  # type: ignore[arg-type]
            conn.execute("INSERT INTO schema_migrations VALUES (%s, 'then')", (version,))
        conn.execute("INSERT INTO jobs(key, kind, tenant_ids, trackers, content_hash, state, "
                     "summary, recipients, stamps, notes, created_at, updated_at, written_at) "
                     "VALUES ('k', 'atu', '[]', '[\"/team/a.xlsx\", \"/team/b.xlsx\"]', 'h', "
                     "'sent', 's', '[]', '[]', '[]', '2026-11-26', '2026-11-26', 'then')")
    assert init_schema(url) == (2, LATEST)
    with psycopg.connect(url, autocommit=True) as conn:
        written = conn.execute("SELECT key, copy_path FROM copies_written ORDER BY 2").fetchall()
        ids = conn.execute("SELECT tracker_ids FROM jobs").fetchall()
    assert written == [("k", "/team/a.xlsx"), ("k", "/team/b.xlsx")] and ids == [("[]",)]


def test_plan_without_a_reachable_shared_ledger_still_plans_and_says_so(
        tracker: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql://ftc@127.0.0.1:{port}/ledger"
    monkeypatch.setenv("FTC_OFFICE_LEDGER_URL", url)
    steps, said = plan_steps(tracker, "2026-11-26")
    assert steps == dict.fromkeys(TENANTS, "send_atu")
    note = said.splitlines()[0]
    assert note.startswith(f"note: {url}: ") and "; this plan shows the trackers without " \
        "what the ledger recorded — " in note and "Traceback" not in said

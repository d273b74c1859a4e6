"""The shared ledger on a real PostgreSQL: schema init and versions, one-line errors with
nothing sent, claims across machines (live, expired, raced), who sent what, and import.

"Another machine" is a second claimant: ``FTC_OFFICE_USER``/``FTC_OFFICE_HOST`` name it, as
the login and host name would on a real laptop; runs are the real CLI or the real Runner.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from builders import make_tracker, row
from runhelpers import Delegating, at, emls, ftc, rows, run, set_cells
from test_ledger import AS_OF, Crash, due_keys

from ftc_office.backends.base import DeliveryResult, PreparedHook
from ftc_office.backends.memory import MemoryBackend
from ftc_office.backends.outbox import OutboxBackend
from ftc_office.config import load_settings
from ftc_office.errors import LedgerError
from ftc_office.ledger import Claimant, Ledger
from ftc_office.ledger.migrations import LATEST
from ftc_office.ledger.postgres import PostgresLedger
from ftc_office.message import OutgoingMessage
from ftc_office.run.report import RunOptions
from ftc_office.run.runner import Runner

if TYPE_CHECKING:
    from pgserver import PgServer

pytest_plugins = ["pgserver"]


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return make_tracker(tmp_path / "tracker.xlsx", [row("t-1", "Teams")])


def as_user(monkeypatch: pytest.MonkeyPatch, user: str, host: str) -> None:
    monkeypatch.setenv("FTC_OFFICE_USER", user)
    monkeypatch.setenv("FTC_OFFICE_HOST", host)


class During(Delegating):
    """A real backend that, inside the send (the claim held), runs ``action`` first, then
    delivers or dies (``crash``)."""

    def __init__(self, inner: object, action: object = None, crash: bool = False) -> None:
        self.inner, self.action, self.crash = inner, action, crash
        self.name = getattr(inner, "name", "outbox")

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        if callable(self.action):
            self.action()
        if self.crash:
            raise Crash
        return self.inner.deliver(message, prepared)


def alice_runs(tracker: Path, backend: object, lease: float = 60.0) -> Runner:
    me = Claimant("alice", "laptop-a", 4242, "alice-session")
    ledger = PostgresLedger(os.environ["FTC_OFFICE_LEDGER_URL"], me, lease)
    opts = RunOptions(as_of=AS_OF, dry_run=False)
    r = Runner(load_settings(None), ledger, backend, opts)  # type: ignore[arg-type]
    return r


# ---- schema and errors ------------------------------------------------------------------

def test_init_creates_then_keeps_and_a_newer_schema_is_refused(
        postgres: PgServer, monkeypatch: pytest.MonkeyPatch, tracker: Path,
        tmp_path: Path) -> None:
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    url = postgres.new_database()
    monkeypatch.setenv("FTC_OFFICE_LEDGER_URL", url)
    # without the schema: one line, what to do, nothing sent
    first = run(tracker, "2026-11-26", tmp_path / "out")
    assert first.exit_code == 1
    assert first.stderr.strip().endswith("the database has no ledger schema; nothing was sent "
                                         "— run 'ftc-office ledger init' once")
    assert len(first.stderr.strip().splitlines()) == 1 and emls(tmp_path / "out") == {}
    made = ftc("ledger", "init")
    assert made.exit_code == 0 and f"schema created at version {LATEST}" in made.stdout
    again = ftc("ledger", "init")
    assert again.exit_code == 0 and f"schema already at version {LATEST}" in again.stdout
    assert run(tracker, "2026-11-26", tmp_path / "out").exit_code == 0
    assert len(emls(tmp_path / "out")) == 1
    # a newer ftc-office migrated it: this one refuses to touch it
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"INSERT INTO schema_migrations VALUES ({LATEST + 1}, 'later')")
    for args in (("status",), ("ledger", "init")):
        out = ftc(*args)
        assert out.exit_code == 1
        assert f"the ledger's schema is version {LATEST + 1}, newer than this ftc-office " \
            f"knows (version {LATEST}); nothing was sent — upgrade ftc-office" in out.stderr


@pytest.mark.parametrize("fault", ["unreachable", "password", "no-database"])
def test_connection_faults_are_one_line_and_nothing_is_sent(
        postgres: PgServer, monkeypatch: pytest.MonkeyPatch, tracker: Path, tmp_path: Path,
        fault: str) -> None:
    monkeypatch.setenv("PGPASSWORD", postgres.password)
    url = postgres.url()
    if fault == "unreachable":
        import socket
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = f"postgresql://ftc@127.0.0.1:{port}/postgres"  # nothing listens there
        expected = "cannot reach the ledger server"
    elif fault == "password":
        monkeypatch.setenv("PGPASSWORD", "wrong")
        expected = ("the server refused the credentials; nothing was sent — set the password "
                    "in PGPASSWORD or a ~/.pgpass line")
    else:
        url = postgres.url("no_such_db")
        expected = "the database does not exist; nothing was sent"
    monkeypatch.setenv("FTC_OFFICE_LEDGER_URL", url)
    out = run(tracker, "2026-11-26", tmp_path / "out")
    assert out.exit_code == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], lines
    assert "Traceback" not in out.output and emls(tmp_path / "out") == {}


def test_a_password_in_the_config_is_refused(tracker: Path, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ftc-office.toml").write_text(
        '[ledger]\nurl = "postgresql://ftc:hunter2@127.0.0.1:5/x"\n', encoding="utf-8")
    out = ftc("status")
    assert out.exit_code == 2
    assert "key ledger.url: the URL holds a password" in out.stderr
    assert "hunter2" not in out.output


# ---- claims across machines -------------------------------------------------------------

def test_a_live_claim_is_not_sent_by_another_machine(
        pg_url: str, tracker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = shutil.copy(tracker, tmp_path / "bobs-copy.xlsx")  # bob's synced copy
    seen: list[str] = []

    def bob_runs_meanwhile() -> None:
        with monkeypatch.context() as m:
            as_user(m, "bob", "laptop-b")
            out = run(Path(copy), "2026-11-26", tmp_path / "bob-out")
            seen.append(out.stdout)
            assert out.exit_code == 1

    alice_out = tmp_path / "alice-out"
    r = alice_runs(tracker, During(OutboxBackend(alice_out, "pickup"), bob_runs_meanwhile))
    try:
        report = r.run([tracker])
    finally:
        r.ledger.close()
    assert report.sent == 1
    assert "being sent by alice on laptop-a since 20" in seen[0]
    assert emls(tmp_path / "bob-out") == {} and len(emls(alice_out)) == 1
    # bob's next run: already sent by alice, nothing more goes out
    as_user(monkeypatch, "bob", "laptop-b")
    assert run(Path(copy), "2026-11-26", tmp_path / "bob-out").exit_code == 0
    assert emls(tmp_path / "bob-out") == {}


def test_two_claims_on_one_key_the_second_is_refused(pg_url: str, tracker: Path) -> None:
    (key,) = due_keys(tracker).values()
    a = PostgresLedger(pg_url, Claimant("alice", "laptop-a", 1, "a"))
    b = PostgresLedger(pg_url, Claimant("bob", "laptop-b", 2, "b"))
    try:
        from ftc_office.compose.composer import Composer, compose_all
        from ftc_office.planning import load_workspace, plan_workspace
        settings = load_settings(None)
        (job,) = compose_all(Composer(settings, AS_OF), plan_workspace(
            load_workspace([tracker], settings), AS_OF)).jobs
        assert a.plan(job, "outbox") == "planned" and b.plan(job, "outbox") == "planned"
        a.transition(key, "sending")
        with pytest.raises(LedgerError, match="being sent by alice on laptop-a since"):
            b.transition(key, "sending")
        a.transition(key, "sent")
        with pytest.raises(LedgerError, match="already sent by alice on laptop-a"):
            b.transition(key, "sending")
        entry = b.get(key)
        assert entry is not None and entry.attempts == 1 and entry.claimed_by == "alice"
    finally:
        a.close()
        b.close()


def test_an_expired_claim_becomes_unknown_for_its_claimant_never_resent_by_another(
        pg_url: str, tracker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alice_out = tmp_path / "alice-out"
    r = alice_runs(tracker, During(OutboxBackend(alice_out, "pickup"), crash=True), lease=1.0)
    with pytest.raises(Crash):  # alice's laptop dies inside the send
        r.run([tracker])
    r.ledger.close()
    time.sleep(1.5)  # her lease runs out, nobody renews it
    as_user(monkeypatch, "bob", "laptop-b")
    copy = shutil.copy(tracker, tmp_path / "bobs-copy.xlsx")
    bob = run(Path(copy), "2026-11-26", tmp_path / "bob-out")
    assert bob.exit_code == 1
    assert emls(tmp_path / "bob-out") == {}
    assert "may have been sent (state unknown)" in bob.stdout
    status = ftc("status")
    assert "  unknown  1" in status.stdout
    assert "[by alice on laptop-a]" in status.stdout
    assert "alice's next run looks it up" in status.stdout
    # alice's next run looks it up with her backend: not in her outbox, so sent once, by her
    as_user(monkeypatch, "alice", "laptop-a")
    again = run(tracker, "2026-11-26", alice_out)
    assert again.exit_code == 0, again.output
    assert len(emls(alice_out)) == 1
    events = [ln.split()[1:3] for ln in ftc("history").stdout.splitlines()]
    assert ["claim_expired", "bob@laptop-b"] in events
    assert ["reconciled_not_sent", "alice@laptop-a"] in events


def test_changed_content_names_who_sent_the_first(
        pg_url: str, tracker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    as_user(monkeypatch, "alice", "laptop-a")
    assert run(tracker, "2026-11-26", tmp_path / "a").exit_code == 0
    # bob's copy of the same workbook (its ID travelled with it) lacks the stamp: alice's
    # send is stamped into it, nothing is sent
    copy = Path(shutil.copy(tracker, tmp_path / "bobs-copy.xlsx"))
    set_cells(copy, {("t-1", "Teams"): {"ATU Sent": None, "Customer": "Renamed Ltd"}})
    as_user(monkeypatch, "bob", "laptop-b")
    synced = run(copy, "2026-11-27", tmp_path / "b")
    assert synced.exit_code == 0 and emls(tmp_path / "b") == {}, synced.output
    assert rows(copy)[("t-1", "Teams")]["ATU Sent"] == at("2026-11-26")
    # another workbook with the same tenant and other content: refused, naming alice
    other = make_tracker(tmp_path / "bobs-own.xlsx", [row("t-1", "Teams",
                                                          customer="Renamed Ltd")])
    out = run(other, "2026-11-27", tmp_path / "b")
    assert out.exit_code == 1
    assert "by alice on laptop-a with different content" in out.stdout
    assert emls(tmp_path / "b") == {}


# ---- who, where, import -----------------------------------------------------------------

def test_history_and_status_show_and_filter_by_user(
        pg_url: str, tracker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tracker(tracker, [row("t-1", "Teams"), row("t-2", "Teams")])
    keys = due_keys(tracker)
    as_user(monkeypatch, "alice", "laptop-a")
    from ftc_office.backends.base import Status
    r = alice_runs(tracker, MemoryBackend(outcomes={keys["t-2"]: Status.UNKNOWN}))
    try:
        r.run([tracker])
    finally:
        r.ledger.close()
    hist = ftc("history", "--fm", "alice").stdout.splitlines()
    assert hist and all("alice@laptop-a" in ln for ln in hist)
    assert ftc("history", "--fm", "bob").stdout == ""
    assert ftc("history", "--tracker", str(tmp_path / "other.xlsx")).stdout == ""
    assert len(ftc("history", "--tracker", str(tracker)).stdout.splitlines()) >= 5
    status = ftc("status", "--fm", "alice").stdout
    assert f"unknown: {keys['t-2']}" in status and "[by alice on laptop-a]" in status
    assert "unknown:" not in ftc("status", "--fm", "bob").stdout


def test_import_a_personal_ledger_is_idempotent_and_lists_conflicts(
        pg_url: str, tracker: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tracker(tracker, [row("t-1", "Teams"), row("t-2", "Teams")])
    with monkeypatch.context() as m:  # a personal run first, on SQLite
        m.delenv("FTC_OFFICE_LEDGER_URL")
        assert run(tracker, "2026-11-26", tmp_path / "out").exit_code == 0
        with Ledger.open() as personal:
            file = Path(personal.where)
            assert not personal.shared and len(personal.entries()) == 2
    first = ftc("ledger", "import", str(file))
    assert first.exit_code == 0, first.output
    assert "2 imported, 0 already there, 0 conflict(s)" in first.stdout
    second = ftc("ledger", "import", str(file))
    assert "0 imported, 2 already there, 0 conflict(s)" in second.stdout
    with Ledger.open() as shared:
        assert shared.shared and {e.state for e in shared.entries()} == {"sent"}
        key = shared.entries()[0].key
        shared.resolve(key, "resend")
        # the shared ledger now knows better for one key: a conflict, left as it is
        import psycopg
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("UPDATE jobs SET state='skipped' WHERE key=%s",
                         (shared.entries()[0].key,))
    third = ftc("ledger", "import", str(file))
    assert third.exit_code == 1
    assert "1 imported, 0 already there, 1 conflict(s)" in third.stdout
    assert "sent in ledger.sqlite3, skipped in the shared ledger" in third.stderr
    # the same run does not send again: the shared ledger knows both
    assert run(tracker, "2026-11-26", tmp_path / "out").exit_code == 0
    assert len(emls(tmp_path / "out")) == 2


def test_the_sender_renews_its_lease_and_it_lapses_once_the_sender_is_gone(
        pg_url: str, tracker: Path) -> None:
    from ftc_office.compose.composer import Composer, compose_all
    from ftc_office.planning import load_workspace, plan_workspace
    settings = load_settings(None)
    (job,) = compose_all(Composer(settings, AS_OF), plan_workspace(
        load_workspace([tracker], settings), AS_OF)).jobs
    a = PostgresLedger(pg_url, Claimant("alice", "laptop-a", 1, "a"), lease_seconds=0.6)
    b = PostgresLedger(pg_url, Claimant("bob", "laptop-b", 2, "b"))
    try:
        a.plan(job, "outbox")
        a.transition(job.key, "sending")
        time.sleep(1.5)  # longer than the lease: alice's run renews it while it sends
        entry = b.get(job.key)
        assert entry is not None and b.live(entry)
        with pytest.raises(LedgerError, match="being sent by alice on laptop-a"):
            b.transition(job.key, "sending")
        a.close()  # alice's run is gone: nobody renews
        time.sleep(1.0)
        entry = b.get(job.key)
        assert entry is not None and not b.live(entry)
        assert [e.key for e in b.reconcilable()] == []  # bob never looks it up...
        entry = b.get(job.key)
        assert entry is not None and entry.state == "unknown"  # ...it waits for alice
    finally:
        b.close()


def test_preview_snapshots_the_shared_ledger(pg_url: str, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """What a teammate sent through the shared ledger is not in my preview or dry run."""
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1"), row("t-2")])
    mine = tmp_path / "mine.xlsx"
    shutil.copyfile(tracker, mine)
    first = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run", "--yes",
                "--outbox-mode", "pickup", "--outbox", str(tmp_path / "out"))
    assert "sent 2 message(s)" in first.stdout, first.output
    # the same tenants in another copy, other data folder: the shared ledger has them sent
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(tmp_path / "other-data"))
    again = ftc("preview", str(mine), "--as-of", "2026-11-26", "--out", str(tmp_path / "p"))
    assert again.exit_code == 0, again.output
    assert not list((tmp_path / "p").glob("atu*.eml"))  # sent already, by the first run
    # the same preview against an empty personal ledger would show both ATUs
    monkeypatch.delenv("FTC_OFFICE_LEDGER_URL")
    alone = ftc("preview", str(mine), "--as-of", "2026-11-26", "--out", str(tmp_path / "q"))
    assert alone.exit_code == 0 and len(list((tmp_path / "q").glob("atu*.eml"))) == 2


@pytest.mark.parametrize("which", ["sqlite", "postgres"])
def test_tenants_in_reads_one_kind_in_the_asked_states(which: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    """What a run asks before its queue-move pass: the tenants a kind of job covers in some
    states, case-folded, from SQL that reads only that kind (both ledgers)."""
    from ftc_office.jobs import Job, JobKind, State

    me = Claimant("alice", "laptop-a", 1, "a")
    ledger: Ledger = (PostgresLedger(request.getfixturevalue("pg_url"), me)
                      if which == "postgres" else Ledger(tmp_path / "ledger.sqlite3", me))
    with ledger:
        for key, kind, tenants, state in (
                ("m1", JobKind.QUEUE_MOVE, ("T-A", "t-b"), State.SENT),
                ("m2", JobKind.QUEUE_MOVE, ("T-C",), State.FAILED),
                ("m3", JobKind.QUEUE_MOVE, ("T-D",), State.PLANNED),
                ("a1", JobKind.ATU, ("T-E",), State.SENT)):
            ledger.plan(Job(key, kind, tenants, None, (), (), key), "memory")
            if state != State.PLANNED:
                ledger.transition(key, state)
        assert ledger.tenants_in(JobKind.QUEUE_MOVE, (State.SENT, State.PLANNED)) == {
            "t-a", "t-b", "t-d"}
        assert ledger.tenants_in(JobKind.ATU, (State.SENT,)) == {"t-e"}
        assert ledger.tenants_in(JobKind.CONFIRM_QUEUE, (State.DONE,)) == set()

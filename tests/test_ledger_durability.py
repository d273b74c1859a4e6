"""Durability per transaction in the SQLite ledger: which commits fsync (``synchronous=FULL``)
and which may be lost to a power cut (``NORMAL``), and that a killed process loses none.

A real run (real tracker, real SmtpBackend to aiosmtpd on loopback, the real ledger) with a
trace callback on the ledger's own connection: at each ``COMMIT`` the callback asks that
connection for its ``PRAGMA synchronous`` (what SQLite applies to this commit) and which
events the transaction wrote. No time is measured.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from builders import make_tracker, row

from ftc_office.backends.smtp import SmtpBackend
from ftc_office.config import load_settings
from ftc_office.ledger import Ledger
from ftc_office.ledger.sqlite import SqliteLedger
from ftc_office.run.report import RunOptions
from ftc_office.run.runner import Runner

if TYPE_CHECKING:
    from smtpserver import SmtpServer

pytest_plugins = ["smtpserver"]

FULL, NORMAL = 2, 1


class Commits:
    """Every commit on one ledger connection: (synchronous level, events written, whether
    the tracker file was still as before)."""

    def __init__(self, ledger: SqliteLedger, tracker: Path) -> None:
        self.db = ledger.db
        self.tracker, self.original = tracker, tracker.read_bytes()
        self.seen: list[tuple[int, list[str], bool]] = []
        self.last_event = self._max_id()
        self.db.set_trace_callback(self._trace)

    def _max_id(self) -> int:
        return int(self.db.execute("SELECT COALESCE(MAX(id), 0) FROM events").fetchone()[0])

    def _trace(self, sql: str) -> None:
        if sql.strip().upper() != "COMMIT":
            return
        self.db.set_trace_callback(None)  # our own queries below are not traced
        try:
            level = int(self.db.execute("PRAGMA synchronous").fetchone()[0])
            events = [r[0] for r in self.db.execute(
                "SELECT event FROM events WHERE id > ? ORDER BY id", (self.last_event,))]
            self.last_event = self._max_id()
            unchanged = self.tracker.read_bytes() == self.original
            self.seen.append((level, events, unchanged))
        finally:
            self.db.set_trace_callback(self._trace)

    def levels(self) -> dict[str, set[int]]:
        """Event name -> the synchronous levels of the commits that wrote it."""
        out: dict[str, set[int]] = {}
        for level, events, _ in self.seen:
            for e in events:
                out.setdefault(e, set()).add(level)
        return out


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One tenant with an ATU to send, one whose missing account team is a note-only step."""
    monkeypatch.chdir(tmp_path)
    return make_tracker(tmp_path / "tracker.xlsx", [
        row("t-1", "Teams"), row("t-noteam", "Intune", account_team=None)])


def test_claim_and_prepared_mark_fsync_results_and_notes_do_not_and_the_workbook_waits(
        tracker: Path, smtp_plain: SmtpServer) -> None:
    ledger = Ledger.open()
    assert isinstance(ledger, SqliteLedger)
    commits = Commits(ledger, tracker)
    smtp = SmtpBackend(smtp_plain.settings(), default_sender="ann@microsoft.com")
    opts = RunOptions(as_of=dt.date(2026, 11, 26), dry_run=False)
    try:
        report = Runner(load_settings(None), ledger, smtp, opts).run([tracker])
    finally:
        smtp.close()
    assert report.sent == 1 and report.notes == 1 and len(smtp_plain.handler.received) == 1
    levels = commits.levels()
    # the intent and the prepared mark survive a power cut on their own
    assert levels["sending"] == {FULL} and levels["prepared"] == {FULL}
    # what a power cut may take back: the planned rows, the result, the note's "done"
    assert levels["planned"] == {NORMAL} and levels["sent"] == {NORMAL}
    assert levels["done"] == {NORMAL}
    assert levels["workbook_written"] == {FULL}
    # before the workbook is replaced, a durable commit covers every NORMAL one before it
    last_normal = max(i for i, (lv, _, _) in enumerate(commits.seen) if lv == NORMAL)
    after = commits.seen[last_normal + 1]
    assert after[0] == FULL and after[2], "the ledger was not synced before the workbook"
    assert tracker.read_bytes() != commits.original  # and the workbook was then written
    ledger.close()


def test_a_persons_decision_is_durable_and_close_syncs_a_normal_commit(
        tracker: Path, smtp_plain: SmtpServer) -> None:
    ledger = Ledger.open()
    assert isinstance(ledger, SqliteLedger)
    smtp = SmtpBackend(smtp_plain.settings(), default_sender="ann@microsoft.com")
    try:
        Runner(load_settings(None), ledger, smtp,
               RunOptions(as_of=dt.date(2026, 11, 26), dry_run=False)).run([tracker])
    finally:
        smtp.close()
    (sent,) = [e for e in ledger.entries(None) if e.state == "sent"]
    commits = Commits(ledger, tracker)
    ledger.transition(sent.key, "unknown", event="test_unknown")  # an event: durable
    ledger.transition(sent.key, "failed")  # a plain result: NORMAL
    ledger.resolve(sent.key, "skip")  # a person's decision: FULL
    ledger.transition(sent.key, "failed")  # NORMAL, then close() syncs it
    ledger.close()
    assert [lv for lv, _, _ in commits.seen] == [FULL, NORMAL, FULL, NORMAL, FULL]
    assert commits.seen[-1][1] == []  # the sync writes no event


def test_a_killed_process_loses_no_commit_whatever_its_durability(tmp_path: Path) -> None:
    """SIGKILL right after NORMAL commits (no close, no checkpoint): all are there."""
    path = tmp_path / "killed" / "ledger.sqlite3"
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        from ftc_office.ledger.sqlite import SqliteLedger
        ledger = SqliteLedger(Path({str(path)!r}))
        for i in range(20):
            with ledger._tx(durable=False) as db:
                db.execute("INSERT INTO events(at, key, event, detail) VALUES (?,?,?,?)",
                           ("now", f"k{{i}}", "test_normal", "{{}}"))
        assert ledger.unsynced
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ}, timeout=60)
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    assert Path(f"{path}-wal").stat().st_size > 0  # the commits are in the log, not merged
    db = sqlite3.connect(path)
    try:
        n = db.execute("SELECT COUNT(*) FROM events WHERE event='test_normal'").fetchone()[0]
    finally:
        db.close()
    assert n == 20

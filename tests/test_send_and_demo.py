"""`ftc-office send` and `ftc-office demo` through click's CliRunner, as a user sees them.

`send` does the mail steps (ATU, customer follow-up, queue move) and nothing else: the
note-only steps (the no-account-team note, the FM unassignment) stay due for `run`. `demo`
runs the whole job on a copy of the bundled sample in its own folder, ledger included.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import pytest
from builders import make_tracker, row
from runhelpers import addresses, at, emls, ftc, rows

from ftc_office.mailers import builtin_root

DAY = "2026-11-26"
NAD = dt.datetime(2027, 12, 31)
DONE: dict[str, Any] = {"atu_sent": dt.date(2026, 10, 1),
                        "discussion_date": dt.date(2026, 10, 8),
                        "customer_email_sent": dt.date(2026, 10, 9)}


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """One tenant per step: an ATU, a no-account-team note, a follow-up that disengages
    (queue move) and a confirmed queue move (FM unassignment)."""
    monkeypatch.chdir(tmp_path)  # no stray ./ftc-office.toml
    return make_tracker(tmp_path / "tracker.xlsx", [
        row("t-atu", "Teams", customer="Alpine Ski House"),
        row("t-noteam", "Intune", customer="Fourth Coffee", account_team=None),
        row("t-follow", "Teams", customer="Northwind", customer_contacts="ops@northwind.example",
            atu_sent=dt.date(2026, 10, 1), discussion_date=dt.date(2026, 10, 8)),
        row("t-closing", "Teams", customer="Tiny Co", **DONE, task_4058=dt.date(2026, 10, 20),
            queue_requested=dt.date(2026, 10, 20), target_queue="FTCQ Inactive EMEA",
            queue_confirmed=dt.date(2026, 10, 25), next_action_date=dt.date(2027, 12, 31)),
    ], header_row=2, table=True)


def send(tracker: Path, outbox: Path, *extra: str) -> Any:
    return ftc("send", str(tracker), "--as-of", DAY, "--outbox", str(outbox), *extra)


def test_send_writes_the_mail_steps_only_and_stamps_them(tracker: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    result = send(tracker, outbox, "--no-dry-run", "--outbox-mode", "pickup")
    assert result.exit_code == 0, result.output
    assert "4 tenant(s); sent 3 message(s); 0 note-only step(s); 0 unknown; 0 error(s)" \
        in result.stdout
    assert f"messages are in {outbox}" in result.stderr
    mails = emls(outbox)
    assert sorted(n.split(".")[0] for n in mails) == ["atu", "customer_followup",
                                                      "queue_move"]
    atu = next(m for n, m in mails.items() if n.startswith("atu."))
    assert ".t-atu." in next(n for n in mails if n.startswith("atu."))
    assert addresses(atu, "To") == ["ann@microsoft.com"]
    follow = next(m for n, m in mails.items() if n.startswith("customer_followup."))
    assert addresses(follow, "To") == ["ops@northwind.example"]
    move = next(m for n, m in mails.items() if n.startswith("queue_move."))
    assert addresses(move, "To") == ["ftc-assignment@microsoft.com"]
    assert "FTCQ Inactive EMEA – 1 tenant – 2026-11-26" in str(move["Subject"])

    cells = rows(tracker)
    assert cells[("t-atu", "Teams")]["ATU Sent"] == at(DAY)
    assert cells[("t-follow", "Teams")]["Customer Email Sent"] == at(DAY)
    assert cells[("t-follow", "Teams")]["Queue Requested"] == at(DAY)
    assert cells[("t-follow", "Teams")]["Target Queue"] == "FTCQ Inactive EMEA"
    assert cells[("t-follow", "Teams")]["Next Action Date"] == NAD
    # the note-only steps were not done: no note instead of the ATU, the FM still assigned
    noteam = cells[("t-noteam", "Intune")]
    assert noteam["ATU Sent"] is None
    assert not noteam.get("Engagement Note")
    assert not cells[("t-closing", "Teams")].get("FM Unassigned")

    # a second `send` has nothing left to send and changes nothing
    before = tracker.read_bytes()
    again = send(tracker, outbox, "--no-dry-run", "--outbox-mode", "pickup")
    assert again.exit_code == 0, again.output
    assert "sent 0 message(s); 0 note-only step(s)" in again.stdout
    assert len(emls(outbox)) == 3
    assert tracker.read_bytes() == before

    # `run` then does exactly the two note-only steps `send` left due, and sends nothing
    full = ftc("run", str(tracker), "--as-of", DAY, "--no-dry-run",
               "--outbox-mode", "pickup", "--outbox", str(outbox),
               "--yes")
    assert full.exit_code == 0, full.output
    assert "sent 0 message(s); 2 note-only step(s)" in full.stdout
    assert len(emls(outbox)) == 3
    cells = rows(tracker)
    assert cells[("t-noteam", "Intune")]["ATU Sent"] is None
    assert str(cells[("t-noteam", "Intune")]["ATU Status"]).startswith(
        "No ATU (2026-11-26): the Microsoft account team is not known")
    assert cells[("t-closing", "Teams")]["FM Unassigned"] == at(DAY)


def test_send_dry_run_says_would_and_touches_nothing(tracker: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    before = tracker.read_bytes()
    result = send(tracker, outbox, "--outbox-mode", "pickup")
    assert result.exit_code == 0, result.output
    # the dry run is the run on copies: the queue move the follow-up unlocks is in it
    assert "4 tenant(s); would send 3 message(s); 0 note-only step(s)" in result.stdout
    assert "would send queue-move request" in result.stdout
    assert "would send ATU for Teams" in result.stdout
    assert "dry run: nothing was sent or written" in result.stderr
    assert emls(outbox) == {}
    assert tracker.read_bytes() == before


def test_send_limit_sends_at_most_n(tracker: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    result = send(tracker, outbox, "--no-dry-run", "--outbox-mode", "pickup", "--limit", "1")
    assert result.exit_code == 0, result.output
    assert "sent 1 message(s); 0 note-only step(s)" in result.stdout
    assert "--limit reached" in result.stdout
    assert len(emls(outbox)) == 1


def test_send_unknown_tenant_is_a_usage_error(tracker: Path, tmp_path: Path) -> None:
    result = send(tracker, tmp_path / "outbox", "--no-dry-run",
                  "--outbox-mode", "pickup", "--tenant", "t-nobody")
    assert result.exit_code == 2
    assert "no such tenant" in result.output
    assert emls(tmp_path / "outbox") == {}


# --- demo -------------------------------------------------------------------------------

def test_demo_runs_the_sample_in_its_own_folder(tmp_path: Path, user_dirs: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo"
    result = ftc("demo", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert ("60 tenant(s); sent 27 message(s); 10 note-only step(s); 0 unknown; "
            "4 invalid tenant(s); 0 error(s)") in result.stdout
    # it says plainly that it simulated sending, and what a real run does instead
    assert "This demo simulated sending: nothing left this machine" in result.stderr
    assert "mark-sent" in result.stderr
    # the review page of the run, written before it ran, counts what the run then did
    page = (out / "review" / "index.html").read_text(encoding="utf-8")
    assert 'data-count="Customer follow-ups" data-value="7"' in page
    assert f"review:   {out / 'review' / 'index.html'}" in result.stderr
    tracker = out / "tracker.xlsx"
    assert f"copied the sample to {tracker}" in result.stderr
    assert f"messages: {out / 'outbox'}{os.sep}*.eml" in result.stderr
    mails = emls(out / "outbox")
    assert len(mails) == 27
    assert {n.split(".")[0] for n in mails} == {"atu", "customer_followup", "queue_move"}
    # the copy is stamped, the bundled sample is not
    sample = builtin_root() / "samples" / "tracker.xlsx"
    assert tracker.read_bytes() != sample.read_bytes()
    stamped = sum(1 for r in rows(tracker).values() if r.get("ATU Sent") == at(DAY))
    assert stamped >= 1
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report  # the report is JSON
    # the demo's ledger is in the demo folder; the user's own data folder holds none
    assert list(out.rglob("ledger.sqlite3"))
    assert not list((user_dirs / "data").rglob("ledger.sqlite3"))


def test_demo_refuses_a_folder_where_a_demo_already_ran(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    out = tmp_path / "demo"
    out.mkdir()
    (out / "tracker.xlsx").write_bytes(b"not mine")
    result = ftc("demo", "--out", str(out))
    assert result.exit_code == 2
    assert "a demo already ran here" in result.output
    assert (out / "tracker.xlsx").read_bytes() == b"not mine"
    assert not (out / "outbox").exists()

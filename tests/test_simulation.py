"""What you preview is what is sent: preview and the dry run are the run, simulated.

On a tracker with cascades (a last follow-up makes disengagement due, and with it the queue
move, in the same run), `preview` must show exactly the messages the real run then writes
— same file names, same bytes but the Date — and exactly the cells it changes.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import shutil
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from builders import make_tracker, row
from runhelpers import ftc, smtp_config

from ftc_office.config import load_settings
from ftc_office.preview import preview_trackers
from ftc_office.run.cells import changed_cells

if TYPE_CHECKING:
    from smtpserver import SmtpServer

pytest_plugins = ["smtpserver"]
AS_OF = "2026-11-26"
DATE_LINE = re.compile(rb"^Date: [^\r\n]*\r\n", re.M)


def tracker_with_cascades(path: Path) -> Path:
    """ATUs, a last follow-up that unlocks the queue move, a tenant half-way, notes."""
    done = {"atu_sent": dt.date(2026, 10, 1), "discussion_date": dt.date(2026, 10, 8),
            "customer_email_sent": dt.date(2026, 10, 9)}
    return make_tracker(path, [
        row("t-atu", "Teams"), row("t-atu", "Intune"),
        row("t-noteam", "Teams", account_team=None),
        row("t-last", "Teams", atu_sent=dt.date(2026, 11, 2),
            discussion_date=dt.date(2026, 11, 20)),
        row("t-last", "Intune", **done),
        row("t-half", "Teams", atu_sent=dt.date(2026, 11, 2),
            discussion_date=dt.date(2026, 11, 20)),
        row("t-half", "Intune", atu_sent=dt.date(2026, 11, 2)),
        row("t-moving", "Teams", region="Americas", **done),
    ])


def files(folder: Path) -> dict[str, bytes]:
    """Every .eml in the folder with its Date header removed."""
    return {p.name: DATE_LINE.sub(b"", p.read_bytes()) for p in sorted(folder.glob("*.eml"))}


@pytest.mark.parametrize("mode", ["pickup", "drafts"])
def test_preview_equals_the_run_messages_and_cells(tmp_path: Path, mode: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ftc-office.toml").write_text(f'[delivery]\noutbox_mode = "{mode}"\n',
                                              encoding="utf-8")
    tracker = tracker_with_cascades(tmp_path / "tracker.xlsx")
    before = tmp_path / "before.xlsx"
    shutil.copyfile(tracker, before)
    settings = load_settings(None)
    preview = preview_trackers([tracker], settings, dt.date.fromisoformat(AS_OF),
                               tmp_path / "preview")
    assert tracker.read_bytes() == before.read_bytes()  # preview changed nothing
    result = ftc("run", str(tracker), "--as-of", AS_OF, "--no-dry-run", "--yes",
                 "--outbox", str(tmp_path / "outbox"))
    assert result.exit_code == 0, result.output
    previewed, sent = files(tmp_path / "preview"), files(tmp_path / "outbox")
    assert previewed.keys() == sent.keys()
    assert previewed == sent  # byte for byte, Date aside
    moves = [n for n in sent if n.startswith("queue_move.")]
    assert sorted({n.split(".")[0] for n in sent}) == ["atu", "customer_followup", "queue_move"]
    if mode == "pickup":  # the cascade is in both: t-last's follow-up unlocks its queue move
        assert len(moves) == 2
    else:  # a draft is not sent: it unlocks nothing; only t-moving (due already) moves
        assert len(moves) == 1
    real = [(c.sheet, c.ref, c.old, c.new) for c in changed_cells(before, tracker)]
    shown = [(c.sheet, c.ref, c.old, c.new) for c in preview.changes]
    assert real and shown == real
    # the review page lists the same cells, each one
    page = html.unescape((tmp_path / "preview" / "index.html").read_text(encoding="utf-8"))
    assert f'data-count="Cells to change" data-value="{len(real)}"' in page
    assert all(f"<li>{c}</li>" in page for c in preview.changes)


def test_the_dry_run_says_what_the_run_then_does(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = tracker_with_cascades(tmp_path / "tracker.xlsx")
    dry = ftc("run", str(tracker), "--as-of", AS_OF, "--outbox-mode", "pickup")
    real = ftc("run", str(tracker), "--as-of", AS_OF, "--outbox-mode", "pickup",
               "--no-dry-run", "--yes", "--outbox", str(tmp_path / "outbox"))
    assert dry.exit_code == 0 and real.exit_code == 0, dry.output + real.output

    def actions(out: str) -> list[str]:  # the summary's lines, grouped by action
        return [re.sub(r"^(\s+(?:[^:]+: )?)(would send|wrote|would|done:)\s+", r"\1", line)
                for line in out.split("by step:")[0].splitlines()]

    assert actions(dry.stdout) == actions(real.stdout)
    assert "Queue moves: 2 message(s), 2 tenant(s)" in real.stdout
    # each queue move is said once, not under each of its tenants
    n = sum(1 for line in actions(real.stdout) if line.startswith("  queue-move request"))
    assert n == 2


# ---- a test send to yourself --------------------------------------------------------------

def test_test_to_sends_every_due_message_to_you_only_and_records_nothing(
        tmp_path: Path, smtp_plain: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    smtp_config(tmp_path, smtp_plain)
    tracker = tracker_with_cascades(tmp_path / "tracker.xlsx")
    before = tracker.read_bytes()
    result = ftc("run", str(tracker), "--as-of", AS_OF, "--test-to", "me@microsoft.com")
    assert result.exit_code == 0, result.output
    got = smtp_plain.handler.received
    # the real run would send 1 ATU (two workloads), 2 follow-ups and 2 queue moves (the
    # cascade included)
    assert len(got) == 5
    for r in got:
        assert r.rcpt_tos == ("me@microsoft.com",)
        msg = BytesParser(policy=default_policy).parsebytes(r.data)
        assert str(msg["Subject"]).startswith("[TEST] ") and msg["Cc"] is None
        assert msg["To"] == "me@microsoft.com"
    assert "5 test message(s) to me@microsoft.com; nothing was recorded" in result.stderr
    assert tracker.read_bytes() == before
    assert ftc("status").stdout.splitlines()[1:] == ["  (empty)"]
    limited = ftc("send", str(tracker), "--as-of", AS_OF, "--test-to", "me@microsoft.com",
                  "--limit", "2")
    assert limited.exit_code == 0 and len(smtp_plain.handler.received) == 7


def test_test_to_outside_the_internal_domains_is_refused(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = tracker_with_cascades(tmp_path / "tracker.xlsx")
    result = ftc("run", str(tracker), "--as-of", AS_OF, "--test-to", "me@gmail.com")
    assert result.exit_code == 2
    assert "--test-to me@gmail.com: not in mail.internal_domains" in result.stderr

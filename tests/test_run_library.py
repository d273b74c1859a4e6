"""The run as a library and its thin CLI: reads and saves per run, a declined confirmation,
the data folder from the config, the demo's own folder, and one "no such tenant" answer.

Workbooks are real (openpyxl writes them, our reader and patcher handle them); SMTP is a real
aiosmtpd server on loopback. Reads and saves are counted by wrapping the real functions.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from builders import make_tracker, row
from runhelpers import at, emls, ftc, rows, smtp_config

import ftc_office.tracker.builder as records_module
import ftc_office.writeback as writeback_module
from ftc_office.cli import run_cmds
from ftc_office.cli.main import cli
from ftc_office.config import load_settings
from ftc_office.errors import UsageError
from ftc_office.preview import preview_trackers
from ftc_office.run.api import RunRequest, run
from ftc_office.xlsx.patch import XlsxPatcher

if TYPE_CHECKING:
    from smtpserver import SmtpServer

pytest_plugins = ["smtpserver"]

AS_OF = dt.date(2026, 11, 26)
UNKNOWN = ("error: --tenant t-99: no such tenant in the trackers — check the Tenant ID (run "
           "'ftc-office plan' without --tenant)\n")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # no stray ./ftc-office.toml
    return tmp_path


def cascade(path: Path) -> Path:
    """One tenant whose last follow-up is due: the follow-up makes disengagement due, and
    disengagement the queue move, all in the same run."""
    return make_tracker(path, [row("t-1", "Teams", atu_sent=dt.date(2026, 11, 2),
                                   discussion_date=dt.date(2026, 11, 20))])


def counting(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Count workbook parses (read_sheet, wherever it is called from) and package saves."""
    counts = {"read": 0, "save": 0}

    def wrap(kind: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            counts[kind] += 1
            return real(*args, **kwargs)
        return counted

    for module in (records_module, writeback_module):
        monkeypatch.setattr(module, "read_sheet", wrap("read", module.read_sheet))
    monkeypatch.setattr(XlsxPatcher, "save", wrap("save", XlsxPatcher.save))
    return counts


def test_a_cascading_run_reads_each_tracker_twice_and_saves_it_once(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = cascade(here / "tracker.xlsx")
    counts = counting(monkeypatch)
    result = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                 "--outbox-mode", "pickup", "--yes",
                 "--outbox", str(here / "outbox"))
    assert result.exit_code == 0, result.output
    # the whole cascade happened in this one run ...
    kinds = sorted(name.split(".")[0] for name in emls(here / "outbox"))
    assert kinds == ["customer_followup", "queue_move"]
    cells = rows(tracker)[("t-1", "Teams")]
    assert cells["Customer Email Sent"] == at("2026-11-26")
    assert cells["Task 4058 Complete"] == at("2026-11-26")
    assert cells["Queue Requested"] == at("2026-11-26")
    assert cells["Next Action Date"] == at("2027-12-31")
    # ... from one read to plan, one fresh read to write back, and one save
    assert counts == {"read": 2, "save": 1}
    assert result.stderr.count("cell(s) written") == 1


def test_a_dry_run_is_the_run_on_copies_cascade_included(here: Path) -> None:
    tracker = cascade(here / "tracker.xlsx")
    before, mtime = tracker.read_bytes(), tracker.stat().st_mtime_ns
    result = ftc("run", str(tracker), "--as-of", "2026-11-26", "--outbox-mode", "pickup")
    assert result.exit_code == 0, result.output
    # the follow-up, and the queue move it unlocks in the same run
    assert "would send customer follow-up" in result.stdout
    assert "would send queue-move request" in result.stdout
    assert f"{tracker}: the run would change" in result.stderr
    assert tracker.read_bytes() == before and tracker.stat().st_mtime_ns == mtime
    # with drafts (the default outbox mode) nothing counts as sent: no cascade
    drafts = ftc("run", str(tracker), "--as-of", "2026-11-26")
    assert "would write a draft (not sent): customer follow-up" in drafts.stdout
    assert "queue-move" not in drafts.stdout


def test_declining_the_confirmation_sends_nothing_and_exits_0(
        here: Path, smtp_plain: SmtpServer, monkeypatch: pytest.MonkeyPatch) -> None:
    tracker = make_tracker(here / "tracker.xlsx", [row("t-1", "Teams")])
    smtp_config(here, smtp_plain)
    monkeypatch.setattr(run_cmds, "interactive", lambda: True)  # someone at a terminal
    result = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                 "--outbox-mode", "pickup",
                 "--report", "run.json", input="n\n")
    assert result.exit_code == 0, result.output
    assert "send their messages through smtp now? [y/N]" in result.stderr
    assert "sent 0 message(s)" in result.stdout
    assert "nothing sent: you declined" in result.stdout
    assert "interrupted" not in result.stderr
    assert smtp_plain.handler.received == []
    report = json.loads((here / "run.json").read_text(encoding="utf-8"))
    assert report["declined"] is True and report["messages_sent"] == 0
    assert rows(tracker)[("t-1", "Teams")]["ATU Sent"] is None


def test_the_library_reports_a_decline_and_refuses_when_nobody_can_confirm(
        here: Path, smtp_plain: SmtpServer) -> None:
    tracker = make_tracker(here / "tracker.xlsx", [row("t-1", "Teams")])
    smtp_config(here, smtp_plain)
    settings = load_settings(None)
    asked: list[int] = []
    request = RunRequest([tracker], AS_OF, dry_run=False, outbox_mode="pickup")
    report = run(request, settings, confirm=lambda n: bool(asked.append(n)))
    assert asked == [1]
    assert report.declined and report.sent == 0 and not report.failed
    with pytest.raises(UsageError, match="nobody can confirm"):
        run(request, settings)
    assert smtp_plain.handler.received == []
    yes = run(RunRequest([tracker], AS_OF, dry_run=False, outbox_mode="pickup", yes=True), settings)
    assert yes.sent == 1 and not yes.declined
    assert len(smtp_plain.handler.received) == 1


def test_paths_data_dir_in_the_config_holds_ledger_locks_and_backups(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTC_OFFICE_DATA_DIR")
    (here / "ftc-office.toml").write_text('[paths]\ndata_dir = "state"\n', encoding="utf-8")
    tracker = make_tracker(here / "tracker.xlsx", [row("t-1", "Teams")])
    result = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                 "--outbox-mode", "pickup", "--yes",
                 "--outbox", "outbox")
    assert result.exit_code == 0, result.output
    state = here / "state"
    assert (state / "ledger.sqlite3").is_file()
    assert list((state / "locks").glob("*.lock"))
    assert len(list((state / "backups").glob("tracker.*.xlsx"))) == 1
    status = ftc("status")
    assert status.stdout.splitlines()[:2] == [f"ledger {state / 'ledger.sqlite3'}",
                                              "  sent     1"]
    assert "atu.t-1.teams" in ftc("history").stdout


def test_the_environment_beats_paths_data_dir(here: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(here / "env"))
    (here / "ftc-office.toml").write_text('[paths]\ndata_dir = "state"\n', encoding="utf-8")
    assert load_settings(None).data_folder() == here / "env"
    monkeypatch.delenv("FTC_OFFICE_DATA_DIR")
    assert load_settings(None).data_folder() == here / "state"


def test_demo_keeps_its_ledger_in_its_folder_and_leaves_the_environment(
        here: Path) -> None:
    env_before = dict(os.environ)
    result = ftc("demo", "--out", "d")
    assert result.exit_code == 0, result.output
    assert dict(os.environ) == env_before
    assert (here / "d" / "data" / "ledger.sqlite3").is_file()
    assert not (Path(os.environ["FTC_OFFICE_DATA_DIR"]) / "ledger.sqlite3").exists()
    assert result.stderr.count("cell(s) written") == 1  # one save for the whole run
    assert result.stderr.endswith(f"review:   {Path('d') / 'review' / 'index.html'} (the review "
                                  "page of this run, written before it ran: open it in a "
                                  "browser)\n")


def test_preview_trackers_as_a_library(here: Path) -> None:
    tracker = make_tracker(here / "tracker.xlsx", [row("t-1", "Teams"), row("t-2", "Intune")])
    result = preview_trackers([tracker], load_settings(None), AS_OF, here / "p")
    assert (result.messages, result.notes, result.failures, result.invalid) == (2, 0, [], 0)
    assert result.index == here / "p" / "index.html" and result.index.is_file()
    assert len(list((here / "p").glob("*.eml"))) == 2


@pytest.mark.parametrize("command", [
    ("plan", "tracker.xlsx"), ("preview", "tracker.xlsx"), ("run", "tracker.xlsx"),
    ("confirm-queue", "tracker.xlsx"),
])
def test_one_answer_for_an_unknown_tenant(here: Path, command: tuple[str, ...]) -> None:
    make_tracker(here / "tracker.xlsx", [row("t-1", "Teams")])
    result = ftc(*command, "--tenant", "t-99")
    assert result.exit_code == 2
    assert result.stderr.endswith(UNKNOWN)
    assert not Path("ftc-office-out").exists()  # preview wrote nothing


@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_a_one_line_summary(command: str) -> None:
    summary = cli.commands[command].get_short_help_str(limit=200)
    assert summary and not summary.endswith("...")


def test_the_outlook_send_log_lives_in_the_configured_data_folder(
        here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Pacing and the daily recipient count follow paths.data_dir like the ledger does."""
    from ftc_office.backends.o365 import SEND_LOG_FILE, O365Backend
    from ftc_office.backends.registry import make_backend

    monkeypatch.delenv("FTC_OFFICE_DATA_DIR")
    (here / "ftc-office.toml").write_text('[paths]\ndata_dir = "state"\n', encoding="utf-8")
    backend = make_backend(load_settings(None), "o365")
    assert isinstance(backend, O365Backend)
    try:
        assert backend.send_log.path == here / "state" / SEND_LOG_FILE
    finally:
        backend.send_log.close()

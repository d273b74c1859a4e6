"""Mistakes caught early (issue 12, part 6): every tracker is checked before anything is read
or sent, header near-misses are named, hints fit the backend, and invalid tenants exit 1.

Exact stderr and exit codes through the real CLI (click's runner); real .xlsx files; the
outbox, and a real SMTP server on loopback, are looked at to prove nothing was sent.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from builders import make_tracker, row
from runhelpers import emls, ftc, header_map, on_pty, smtp_config

if TYPE_CHECKING:
    from smtpserver import SmtpServer

pytest_plugins = ["smtpserver"]
AS_OF = ("--as-of", "2026-11-26")
REAL = ("--no-dry-run", "--yes", "--outbox-mode", "pickup", "--outbox", "outbox")


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh folder as the current one: paths in messages stay short and exact."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def tracker(name: str = "tracker.xlsx", **kw: object) -> Path:
    return make_tracker(Path(name), [row("t-1"), row("t-2", "Intune")], **kw)  # type: ignore[arg-type]


# ---- files ---------------------------------------------------------------------------------

@pytest.mark.parametrize("command", [("run", *AS_OF), ("run", *AS_OF, *REAL), ("check",),
                                     ("plan", *AS_OF), ("preview", *AS_OF)])
def test_a_wrong_path_is_bad_usage_with_did_you_mean_and_nothing_before_it(
        here: Path, command: tuple[str, ...]) -> None:
    tracker()
    result = ftc(command[0], "Tracker.xlsx", *command[1:])
    assert result.exit_code == 2
    assert result.stdout == ""  # no empty table, no "0 tenant(s)" line
    assert result.stderr == ("error: Tracker.xlsx: file not found — did you mean "
                             "'tracker.xlsx'? Check the path (quote it if it has spaces)\n")
    assert not Path("outbox").exists()


def test_a_typo_in_a_path_names_the_near_files_and_folders(here: Path) -> None:
    Path("team").mkdir()
    tracker("team/emea-tracker.xlsx")
    typo = ftc("check", "team/emea-traker.xlsx")
    assert (typo.exit_code, typo.stdout) == (2, "")
    assert typo.stderr == ("error: team/emea-traker.xlsx: file not found — did you mean "
                           "'team/emea-tracker.xlsx'? Check the path (quote it if it has "
                           "spaces)\n")
    folder = ftc("check", "teams/emea-tracker.xlsx")
    assert folder.exit_code == 2
    assert folder.stderr == ("error: teams/emea-tracker.xlsx: file not found — there is no "
                             "folder 'teams' (did you mean 'team'?); check the path\n")
    nothing = ftc("check", "elsewhere.xlsx")
    assert nothing.stderr == ("error: elsewhere.xlsx: file not found — check the path (quote "
                              "it if it has spaces)\n")


def test_a_glob_that_matches_nothing_says_what_the_folder_holds(here: Path) -> None:
    Path("trackers").mkdir()
    tracker("trackers/Team-A.xlsx")
    tracker("trackers/Team-B.xlsx")
    case = ftc("run", "trackers/team-*.xlsx", *AS_OF, *REAL)
    assert (case.exit_code, case.stdout) == (2, "")
    assert case.stderr == ("error: trackers/team-*.xlsx: no file matches this pattern — did "
                           "you mean 'trackers/Team-A.xlsx' or 'trackers/Team-B.xlsx'? Names "
                           "are case-sensitive here\n")
    other = ftc("plan", "trackers/emea-*.xlsx")
    assert (other.exit_code, other.stdout) == (2, "")
    assert other.stderr == ("error: trackers/emea-*.xlsx: no file matches this pattern — the "
                            "workbooks in 'trackers' are Team-A.xlsx, Team-B.xlsx; check the "
                            "pattern\n")
    folder = ftc("check", "trakers/*.xlsx")
    assert folder.stderr == ("error: trakers/*.xlsx: no file matches this pattern — there is "
                             "no folder 'trakers' (did you mean 'trackers'?); check the path\n")
    assert not Path("outbox").exists()


OWNER = b"\x0bAnna Keller" + b" " * 43
OPEN = ("tracker.xlsx: the workbook is open in Excel by Anna Keller (~$tracker.xlsx exists)")


def test_a_tracker_open_in_excel_is_refused_before_the_first_send(here: Path) -> None:
    path = tracker()
    Path("~$tracker.xlsx").write_bytes(OWNER)
    before = path.read_bytes()
    result = ftc("run", "tracker.xlsx", *AS_OF, *REAL)
    assert result.exit_code == 1
    assert emls(Path("outbox")) == {}
    assert path.read_bytes() == before
    assert result.stdout == (
        "0 tenant(s); sent 0 message(s); 0 note-only step(s); 0 unknown; 1 error(s)\n"
        f"error: {OPEN} — nothing was sent for its tenants; ask them to close it, then run "
        "the same command again (or add --force if the owner file is stale)\n")
    assert result.stdout.count("open in Excel") == 1  # said once
    forced = ftc("run", "tracker.xlsx", *AS_OF, *REAL, "--force")
    assert forced.exit_code == 0, forced.output
    assert len(emls(Path("outbox"))) == 2


def test_a_tracker_open_in_excel_is_refused_before_smtp_is_even_opened(
        here: Path, smtp_plain: SmtpServer) -> None:
    tracker()
    smtp_config(here, smtp_plain)
    Path("~$tracker.xlsx").write_bytes(OWNER)
    result = ftc("run", "tracker.xlsx", *AS_OF, "--no-dry-run", "--yes")
    assert result.exit_code == 1
    assert smtp_plain.handler.data_commands == 0
    assert f"error: {OPEN} — nothing was sent" in result.stdout


@pytest.mark.parametrize("command", [("run", *AS_OF), ("check",), ("plan", *AS_OF),
                                     ("preview", *AS_OF)])
def test_reading_commands_only_warn_about_excel(here: Path, command: tuple[str, ...]) -> None:
    tracker()
    Path("~$tracker.xlsx").write_bytes(OWNER)
    result = ftc(command[0], "tracker.xlsx", *command[1:])
    assert result.exit_code == 0, result.output
    assert (f"warning: {OPEN} — a real run will refuse it before sending; ask them to close "
            "it, then run the same command again (or add --force if the owner file is "
            "stale)\n") in result.stderr


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_tracker_is_a_problem_and_nothing_of_it_is_sent(here: Path) -> None:
    path = tracker()
    path.chmod(0)
    try:
        result = ftc("run", "tracker.xlsx", *AS_OF, *REAL)
    finally:
        path.chmod(0o644)
    assert result.exit_code == 1
    assert "tracker.xlsx: cannot be opened (Permission denied)" in result.stdout
    assert emls(Path("outbox")) == {}


# ---- headers -------------------------------------------------------------------------------

def test_a_near_miss_required_header_is_named_with_its_fix(here: Path) -> None:
    tracker("seats.xlsx", header_row=4, headers={"seats": "Licenced Seats"})
    result = ftc("check", "seats.xlsx")
    assert result.exit_code == 1
    assert result.stdout == (
        "seats.xlsx, Tracker!4:4: required column missing: 'Seats'; 'Licenced Seats' in D4 "
        "looks like 'Licensed Seats' (Seats) — rename D4 to 'Licensed Seats', or map it under "
        "[tracker.headers] in ftc-office.toml (seats = \"Licenced Seats\")\n")
    Path("ftc-office.toml").write_text('[tracker.headers]\nseats = "Licenced Seats"\n',
                                       encoding="utf-8")
    assert ftc("check", "seats.xlsx").exit_code == 0  # the fix it names works


NEAR_OUTPUT = (
    "nad.xlsx, Tracker!V1: 'Next Action Dt' in V1 looks like 'Next Action Date', an output "
    "column ftc-office writes (a run would add a second one) — rename V1 to 'Next Action "
    "Date', or map it under [tracker.headers] in ftc-office.toml (next_action_date = "
    "\"Next Action Dt\"); or (next_action_date = \"Next Action Date\") if it is another column\n")


def test_a_near_miss_output_header_fails_check_and_run_refuses_it_before_sending(
        here: Path) -> None:
    path = tracker("nad.xlsx", headers={"next_action_date": "Next Action Dt"})
    before = path.read_bytes()
    checked = ftc("check", "nad.xlsx")
    assert checked.exit_code == 1
    assert checked.stdout == NEAR_OUTPUT
    ran = ftc("run", "nad.xlsx", *AS_OF, *REAL)
    assert ran.exit_code == 1
    assert emls(Path("outbox")) == {}
    assert ran.stdout.endswith("error: " + NEAR_OUTPUT)
    assert path.read_bytes() == before  # no second Next Action Date column
    # saying it is another column lets it through; the run then adds the real one
    Path("ftc-office.toml").write_text(
        '[tracker.headers]\nnext_action_date = "Next Action Date"\n', encoding="utf-8")
    assert ftc("check", "nad.xlsx").exit_code == 0


def test_extra_columns_are_not_near_misses(here: Path) -> None:
    extra = ["Notes", "Comments", "Account Manager", "Last Action Date", "FM Assigned",
             "Customer Email Sent Date", "Owner", "Status", "Queue", "Priority"]
    tracker("extra.xlsx", extra_columns=extra)
    result = ftc("check", "extra.xlsx")
    assert result.exit_code == 0, result.output
    sample = Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx"
    assert "looks like" not in ftc("check", str(sample)).output
    ran = ftc("run", "extra.xlsx", *AS_OF, *REAL)
    assert ran.exit_code == 0, ran.output
    headers = header_map(Path("extra.xlsx"))[1]
    assert all(h in headers for h in extra)


# ---- exit code and hints -------------------------------------------------------------------

def test_invalid_tenants_are_problems_and_exit_1(here: Path) -> None:
    make_tracker(Path("tracker.xlsx"), [row("t-1"), row("t-2", seats="lots")])
    result = ftc("run", "tracker.xlsx", *AS_OF, "--outbox-mode", "pickup")
    assert result.exit_code == 1
    assert ("2 tenant(s); would send 1 message(s); 0 note-only step(s); 0 unknown; "
            "1 invalid tenant(s); 0 error(s)\n") in result.stdout
    assert ("Needs attention (1)\n  Customer t-2: invalid — tracker.xlsx, Tracker!D3: 'lots' "
            "is not a whole number — type digits only, e.g. 1200\n") in result.stdout
    clean = ftc("run", "tracker.xlsx", *AS_OF, "--outbox-mode", "pickup", "--tenant", "t-1")
    assert clean.exit_code == 0, clean.output


def test_an_unknown_smtp_outcome_points_at_the_recipient_and_the_server_log(
        here: Path, smtp_plain: SmtpServer) -> None:
    make_tracker(Path("tracker.xlsx"), [row("t-1")])
    smtp_config(here, smtp_plain)
    smtp_plain.handler.drop_after_data = True
    first = ftc("run", "tracker.xlsx", *AS_OF, "--no-dry-run", "--yes")
    assert first.exit_code == 1
    assert "delivery outcome unknown" in first.stdout
    assert "ask a recipient whether it arrived, or look the message (Message-ID <" in first.stdout
    assert "up in the SMTP server's log, then run 'ftc-office resolve atu.t-1." in first.stdout
    assert "Sent Items" not in first.output
    second = ftc("run", "tracker.xlsx", *AS_OF, "--no-dry-run", "--yes")
    assert "an SMTP server cannot be asked afterwards: ask a recipient" in second.stdout
    assert "Sent Items" not in second.output
    status = ftc("status")
    assert status.stderr.startswith(
        "ledger: an outcome is unknown — ask a recipient whether it arrived, or look the "
        "message up in the SMTP server's log; then run: ftc-office resolve KEY --sent | "
        "--resend | --skip\n")


def test_each_backend_says_where_a_person_can_look() -> None:
    from ftc_office.run.narrate import where_to_look

    assert where_to_look("o365") == "look for it in Outlook's Sent Items (and Drafts)"
    assert where_to_look("outbox") == "look for its .eml file in the outbox folder"
    assert "Sent Items" not in where_to_look("smtp")


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal is POSIX")
def test_the_progress_line_is_ended_before_anything_else_is_printed(here: Path) -> None:
    """On a terminal the progress line is rewritten in place; a pass that ends before its
    count (the sample's queue moves: [ 9/15]) used to leave it open, so the next line ran
    into it ("…2027-1messages are in outbox")."""
    import shutil

    shutil.copyfile(Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx",
                    "tracker.xlsx")
    code, text = on_pty(["run", "tracker.xlsx", *AS_OF, *REAL])
    assert code == 1  # the sample's invalid tenants
    assert "/27" in text  # progress was shown (a rich bar: tests/test_terminal.py)
    # the bar is erased (transient) and the next line starts at the left edge
    assert "\x1b[2Kmessages are in outbox\r\n" in text

"""A terminal that says what needs you (issue 12, part 4): exact transcripts of `plan`, a
dry run, a real run and a rerun with nothing to do, through the real CLI (click's runner,
a fixed width) on a real .xlsx tracker."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from builders import make_tracker, row
from click.testing import CliRunner, Result
from runhelpers import on_pty

from ftc_office.cli.main import cli

AS_OF = ("--as-of", "2026-11-26")
REAL = ("--no-dry-run", "--yes", "--outbox-mode", "pickup", "--outbox", "outbox")
DONE = {"atu_sent": "2026-09-01", "discussion_date": "2026-10-01",
        "customer_email_sent": "2026-10-15"}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    make_tracker(Path("tracker.xlsx"), [
        row("t-1", "Teams"), row("t-1", "Exchange Online"),
        row("t-2", seats=500, active_users=49, fm_email="fm.two@microsoft.com"),
        row("t-3", region="APAC", **DONE),
        row("t-4", region="APAC", **DONE),
        row("t-5", seats="lots"),
    ])
    return tmp_path


def ftc(*args: str, columns: int = 100) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False,
                              env={"COLUMNS": str(columns)})


PLAN = """\
invalid (1)
Customer      Workloads  FM      Region  Next
Customer t-5  Teams      fm.one  EMEA    D7: 'lots' is not a whole number

not_eligible (1)
Customer      Workloads  FM      Region  Next
Customer t-2  Teams      fm.two  EMEA    49 active users < 10% of 500 seats (needs 50)

send_atu (1)
Customer      Workloads               FM      Region  Next
Customer t-1  Teams, Exchange Online  fm.one  EMEA    ATU: Teams, Exchange Online

request_queue_move (2)
Customer      Workloads  FM      Region  Next
Customer t-3  Teams      fm.one  APJ     queue move to FTCQ Inactive APJ
Customer t-4  Teams      fm.one  APJ     queue move to FTCQ Inactive APJ
"""


def test_plan_is_grouped_by_step_and_fits_the_terminal(here: Path) -> None:
    result = ftc("plan", "tracker.xlsx", *AS_OF)
    assert result.exit_code == 0, result.output
    assert result.stdout == PLAN
    assert result.stderr == (
        "5 tenant(s) as of 2026-11-26: invalid 1 · not_eligible 1 · send_atu 1 · "
        "request_queue_move 2\n1 tenant(s) invalid: 'ftc-office check' lists every problem "
        "with its cell\n")
    for columns in (60, 80, 120):
        for wide in ((), ("--wide",)):
            out = ftc("plan", "tracker.xlsx", *AS_OF, *wide, columns=columns).stdout
            lines = out.splitlines()
            assert max(len(line) for line in lines) <= columns, (columns, wide, out)
            # step names are section titles, whole on a line of their own
            assert [line for line in lines if line.endswith(")") and "(" in line
                    and " " not in line.split(" (")[0]] == [
                "invalid (1)", "not_eligible (1)", "send_atu (1)", "request_queue_move (2)"]
    wide = ftc("plan", "tracker.xlsx", *AS_OF, "--wide", columns=120).stdout
    assert wide.splitlines()[1].split() == ["Tenant", "ID", "Customer", "Workloads", "FM",
                                            "Region", "Queue", "Next"]
    assert "t-5 " in wide and "FTCQ Inactive EMEA" in wide
    assert "Tenant ID" not in result.stdout


ATTENTION = """\
Needs attention (1)
  Customer t-5: invalid — tracker.xlsx, Tracker!D7: 'lots' is not a whole number — type digits \
only, e.g. 1200
"""
COUNTS = """\
by step:
  invalid                          skipped 1
  not_eligible                     waiting 1
  request_queue_move               done 2
  send_atu                         done 1
by region:
  APJ                              done 2
  EMEA                             done 1  waiting 1  skipped 1
by FM:
  fm.one@microsoft.com             done 3  skipped 1
  fm.two@microsoft.com             waiting 1
"""


def summary(verb: str) -> str:
    return (f"""\
Emails to account teams (1)
  Customer t-1: {verb} ATU for Teams, Exchange Online to ann@microsoft.com (cc fm.one@microsoft.com)
Queue moves: 1 message(s), 2 tenant(s)
  {verb} queue-move request to FTCQ Inactive APJ for 2 tenant(s) (set Next Action Date = 2027-12-31)
      Customer t-3, Customer t-4
""" + COUNTS + ATTENTION)


def test_dry_run_real_run_and_rerun_transcripts(here: Path) -> None:
    dry = ftc("run", "tracker.xlsx", *AS_OF, "--outbox-mode", "pickup")
    assert dry.exit_code == 1  # the invalid tenant
    assert dry.stdout == summary("would send") + (
        "5 tenant(s); would send 2 message(s); 0 note-only step(s); 0 unknown; "
        "1 invalid tenant(s); 0 error(s)\n")
    # one line per tracker: the simulation's own write-back (and backup) is not shown
    assert dry.stderr == (
        "tracker.xlsx: the run would change 49 cell(s)\n"
        "dry run: nothing was sent or written; the lines above are what the run does (steps "
        "it unlocks included) — add --no-dry-run to do it\n")

    real = ftc("run", "tracker.xlsx", *AS_OF, *REAL)
    assert real.exit_code == 1
    assert real.stdout == summary("wrote") + (
        "5 tenant(s); sent 2 message(s); 0 note-only step(s); 0 unknown; "
        "1 invalid tenant(s); 0 error(s)\n")
    assert "\x1b[" not in real.output  # piped: plain text, no bar, no colour
    lines = real.stderr.splitlines()
    assert lines[0] == "messages are in outbox"
    assert lines[1].startswith("tracker.xlsx: 16 cell(s) written; backup ") and len(lines) == 2

    again = ftc("run", "tracker.xlsx", *AS_OF, *REAL)
    assert again.exit_code == 1
    assert again.stdout == ("Nothing due on 2026-11-26: 4 waiting, 0 closed\n" + ATTENTION
                            + "5 tenant(s); sent 0 message(s); 0 note-only step(s); 0 unknown; "
                            "1 invalid tenant(s); 0 error(s)\n")
    assert again.stderr == ""


# ---- a real terminal: the progress bar ----------------------------------------------------

def on_a_terminal(columns: int, *args: str) -> tuple[int, str]:
    """Run ``ftc-office ARGS`` with stderr on a pseudo-terminal ``columns`` wide; its exit
    code and everything the terminal received."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    return on_pty(list(args), columns, env | {"TERM": "xterm-256color"})


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal is POSIX")
@pytest.mark.parametrize("columns", [80, 120])
def test_the_progress_bar_counts_tenants_fits_and_leaves_no_debris(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx",
                    "tracker.xlsx")
    code, text = on_a_terminal(columns, "run", "tracker.xlsx", *AS_OF, *REAL)
    assert code == 1  # the sample's invalid tenants
    frames = [ANSI.sub("", f) for f in text.split("\r") if "/" in ANSI.sub("", f)[:40]]
    counts = [re.search(r"(\d+)/(\d+)", f) for f in frames]
    assert frames and all(counts), text
    # one unit: tenants; the first pass has 27 tenants with something due (14 ATU steps, 7
    # follow-ups, 6 unassignments), the queue moves' pass 15 tenants (3 + 2 + ... messages)
    totals = {int(m.group(2)) for m in counts if m}
    assert {27, 15} <= totals, totals
    assert all(int(m.group(1)) <= int(m.group(2)) for m in counts if m)
    assert all(len(f.rstrip("\n")) <= columns for f in frames), max(map(len, frames))
    # transient: the bar's line is erased before the first line after the run, which
    # starts at the left edge, and every line ends with a newline
    assert "\x1b[2Kmessages are in outbox\r\n" in text
    assert text.endswith("\r\n")
    after = ANSI.sub("", text[text.index("messages are in outbox"):])
    assert "/27" not in after and "/15" not in after and "━" not in after
    # colour only on a terminal: piped, the same run prints no escape codes
    assert "\x1b[" in text

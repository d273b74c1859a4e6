"""`check`, `plan` and `init` through click's CliRunner, with exact transcripts."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from builders import make_tracker, row
from click.testing import CliRunner, Result

from ftc_office.cli.main import cli

DAY = dt.date(2026, 6, 1)
DONE: dict[str, Any] = {"atu_sent": DAY, "discussion_date": DAY, "customer_email_sent": DAY}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh folder so that paths in transcripts are short and stable."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def good_tracker(name: str = "team.xlsx") -> Path:
    return make_tracker(Path(name), [
        row("t-1", "Teams"), row("t-1", "Exchange Online"),
        row("t-2", seats=500, active_users=49, fm_email="fm.two@microsoft.com"),
        row("t-3", region="APAC", **DONE),
    ])


def bad_tracker(name: str = "bad.xlsx") -> Path:
    return make_tracker(Path(name), [
        row("t-7", seats="lots"),
        row("t-8", discussion_date="03/04/2026", region="Mars"),
    ])


# --- check ------------------------------------------------------------------------------

def test_check_clean_exits_0(here: Path) -> None:
    good_tracker()
    result = run("check", "team.xlsx")
    assert result.exit_code == 0
    assert result.stdout == ""
    assert result.stderr == "1 tracker(s), 3 tenant(s): no problems\n"


def test_check_lists_every_problem_and_exits_1(here: Path) -> None:
    good_tracker()
    bad_tracker()
    result = run("check", "team.xlsx", "bad.xlsx")
    assert result.exit_code == 1
    assert result.stdout == (
        "bad.xlsx, Tracker!D2: 'lots' is not a whole number — type digits only, e.g. 1200\n"
        "bad.xlsx, Tracker!L3: '03/04/2026' is ambiguous (day/month or month/day?) — type it "
        "as 2026-11-26 or 26 Nov 2026, or enter a real Excel date\n"
        "bad.xlsx, Tracker!G3: region 'Mars' has no assignment queue — use one of Americas, "
        "APJ, EMEA, or add the spelling to [routing.regions] in ftc-office.toml\n")
    assert result.stderr == "2 tracker(s), 5 tenant(s): 3 problem(s)\n"


def test_check_a_file_that_is_not_a_workbook(here: Path) -> None:
    Path("notes.xlsx").write_text("hello")
    result = run("check", "notes.xlsx")
    assert result.exit_code == 1
    assert result.stdout == ("notes.xlsx: not a valid .xlsx file (not a zip package) — open it "
                             "in Excel and save it again as .xlsx\n")
    assert "Traceback" not in result.output


# --- plan -------------------------------------------------------------------------------

PLAN_TABLE = """\
not_eligible (1)
Customer      Workloads  FM      Region  Next
Customer t-2  Teams      fm.two  EMEA    49 active users < 10% of 500 seats (needs 50)

send_atu (1)
Customer      Workloads               FM      Region  Next
Customer t-1  Teams, Exchange Online  fm.one  EMEA    ATU: Teams, Exchange Online

request_queue_move (1)
Customer      Workloads  FM      Region  Next
Customer t-3  Teams      fm.one  APJ     queue move to FTCQ Inactive APJ
"""


def test_plan_table(here: Path) -> None:
    good_tracker()
    result = run("plan", "team.xlsx", "--as-of", "2026-11-26")
    assert result.exit_code == 0
    assert result.stdout == PLAN_TABLE
    assert result.stderr == ("3 tenant(s) as of 2026-11-26: not_eligible 1 · send_atu 1 · "
                             "request_queue_move 1\n")


def test_plan_json_shape(here: Path) -> None:
    good_tracker()
    bad_tracker()
    result = run("plan", "team.xlsx", "bad.xlsx", "--as-of", "2026-11-26", "--json")
    assert result.exit_code == 0
    plans = json.loads(result.stdout)
    domain_keys = {"tenant_id", "customer", "eligible", "milestone", "next_step", "workloads",
                   "target_queue", "next_action_date", "problems"}
    assert all(domain_keys <= set(p) for p in plans)
    by_id = {p["tenant_id"]: p for p in plans}
    assert list(by_id) == ["t-1", "t-2", "t-3", "t-7", "t-8"]
    assert {k: by_id["t-1"][k] for k in domain_keys} == {
        "tenant_id": "t-1", "customer": "Customer t-1", "eligible": True,
        "milestone": "150 active users ≥ 100 with 1200 seats (≥ 1000)", "next_step": "send_atu",
        "workloads": ["Teams", "Exchange Online"], "target_queue": "FTCQ Inactive EMEA",
        "next_action_date": None, "problems": []}
    assert by_id["t-2"]["eligible"] is False
    assert by_id["t-3"]["next_step"] == "request_queue_move"
    assert by_id["t-3"]["next_action_date"] == "2027-12-31"
    assert by_id["t-3"]["target_queue"] == "FTCQ Inactive APJ"
    assert {k: by_id["t-8"][k] for k in ("eligible", "milestone", "next_step", "target_queue")
            } == {"eligible": None, "milestone": None, "next_step": "invalid",
                  "target_queue": None}
    assert [p.split(": ", 1)[0] for p in by_id["t-8"]["problems"]] == [
        "bad.xlsx, Tracker!L3", "bad.xlsx, Tracker!G3"]


def test_plan_json_is_an_empty_list_when_nothing_matches(here: Path) -> None:
    good_tracker()
    result = run("plan", "team.xlsx", "--json", "--step", "closed")
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []


def test_plan_one_tenant(here: Path) -> None:
    good_tracker()
    result = run("plan", "team.xlsx", "--as-of", "2026-11-26", "--tenant", "T-2", "--json")
    assert result.exit_code == 0
    assert [p["tenant_id"] for p in json.loads(result.stdout)] == ["t-2"]


def test_plan_unknown_tenant_exits_2(here: Path) -> None:
    good_tracker()
    result = run("plan", "team.xlsx", "--tenant", "t-99")
    assert result.exit_code == 2
    assert result.stderr.endswith(
        "error: --tenant t-99: no such tenant in the trackers — check the Tenant ID (run "
        "'ftc-office plan' without --tenant)\n")


def test_plan_by_step(here: Path) -> None:
    good_tracker()
    result = run("plan", "team.xlsx", "--step", "not_eligible", "--json")
    assert [p["tenant_id"] for p in json.loads(result.stdout)] == ["t-2"]
    wrong = run("plan", "team.xlsx", "--step", "sent")
    assert wrong.exit_code == 2
    assert "Invalid value for '--step'" in wrong.stderr


def test_plan_by_fm(here: Path) -> None:
    good_tracker()
    result = run("plan", "team.xlsx", "--fm", "FM.Two@microsoft.com", "--json")
    assert result.exit_code == 0
    assert [p["tenant_id"] for p in json.loads(result.stdout)] == ["t-2"]


@pytest.mark.parametrize("value", ["2026-13-01", "26/11/2026", "tomorrow"])
def test_plan_bad_as_of_exits_2(here: Path, value: str) -> None:
    good_tracker()
    result = run("plan", "team.xlsx", "--as-of", value)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (f"error: --as-of {value}: not a date — give the date as "
                             "YYYY-MM-DD, e.g. --as-of 2026-11-26\n")


def test_plan_as_of_sets_the_next_action_date(here: Path) -> None:
    good_tracker()
    result = run("plan", "team.xlsx", "--as-of", "2029-01-15", "--tenant", "t-3", "--json")
    assert json.loads(result.stdout)[0]["next_action_date"] == "2030-12-31"


def test_plan_expands_globs_itself(here: Path) -> None:
    Path("trackers").mkdir()
    make_tracker(Path("trackers/a.xlsx"), [row("t-1")])
    make_tracker(Path("trackers/b.xlsx"), [row("t-2")])
    Path("trackers/~$a.xlsx").write_bytes(b"owner file")
    result = run("plan", "trackers/*.xlsx", "--json")
    assert result.exit_code == 0
    assert [(p["tenant_id"], p["tracker"]) for p in json.loads(result.stdout)] == [
        ("t-1", str(Path("trackers/a.xlsx"))), ("t-2", str(Path("trackers/b.xlsx")))]
    none = run("plan", "elsewhere/*.xlsx")
    assert none.exit_code == 2
    assert none.stderr == ("error: elsewhere/*.xlsx: no file matches this pattern — there is "
                           "no folder 'elsewhere'; check the path\n")


def test_plan_with_a_missing_file_is_bad_usage_before_any_table(here: Path) -> None:
    good_tracker()
    result = run("plan", "nowhere.xlsx", "team.xlsx", "--as-of", "2026-11-26")
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == (
        "error: nowhere.xlsx: file not found — check the path (quote it if it has spaces)\n")


def test_plan_needs_a_tracker(here: Path) -> None:
    result = run("plan")
    assert result.exit_code == 2
    assert "Missing argument 'TRACKER...'" in result.stderr


# --- init and the config ----------------------------------------------------------------

def test_init_writes_a_config_that_loads_and_refuses_to_overwrite(here: Path) -> None:
    first = run("init")
    assert first.exit_code == 0
    text = Path("ftc-office.toml").read_text(encoding="utf-8")
    assert "internal_domains" in text
    assert first.stderr == ("ftc-office.toml: starter config written — edit "
                            "mail.internal_domains and mail.assignment_team first\n")
    good_tracker()
    assert run("check", "team.xlsx").exit_code == 0  # picked up from ./ftc-office.toml
    Path("ftc-office.toml").write_text("# mine\n", encoding="utf-8")
    again = run("init")
    assert again.exit_code == 2
    assert again.stderr == ("error: ftc-office.toml: already exists; nothing was written — "
                            "edit it, or give another --path\n")
    assert Path("ftc-office.toml").read_text(encoding="utf-8") == "# mine\n"
    other = run("init", "--path", "other.toml")
    assert other.exit_code == 0 and Path("other.toml").read_text(encoding="utf-8") == text


def test_config_unknown_key_names_it_and_suggests_the_right_one(here: Path) -> None:
    good_tracker()
    Path("cfg.toml").write_text('[mail]\ninternal_domain = ["contoso.com"]\n', encoding="utf-8")
    result = run("--config", "cfg.toml", "check", "team.xlsx")
    assert result.exit_code == 2
    assert result.stderr == ("error: cfg.toml, key mail.internal_domain: unknown key — did you "
                             "mean 'mail.internal_domains'?\n")


def test_config_wrong_type_names_the_key(here: Path) -> None:
    good_tracker()
    Path("cfg.toml").write_text('[tracker]\nmax_header_row = "ten"\n', encoding="utf-8")
    result = run("--config", "cfg.toml", "plan", "team.xlsx")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: cfg.toml, key tracker.max_header_row: expected int, got str 'ten' — fix the "
        "value's type (text needs quotes; numbers and true/false do not)\n")


def test_config_from_the_environment(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    make_tracker(Path("team.xlsx"), [row(region="Mars")])
    Path("cfg.toml").write_text('[routing.regions]\nMars = "EMEA"\n', encoding="utf-8")
    assert run("check", "team.xlsx").exit_code == 1
    monkeypatch.setenv("FTC_OFFICE_CONFIG", "cfg.toml")
    assert run("check", "team.xlsx").exit_code == 0


def test_missing_config_file(here: Path) -> None:
    result = run("--config", "nope.toml", "check", "x.xlsx")
    assert result.exit_code == 2
    assert result.stderr == ("error: nope.toml: config file not found — check the --config "
                             "path, or run 'ftc-office init' to create one\n")


# --- help -------------------------------------------------------------------------------

@pytest.mark.parametrize("command", sorted(cli.commands))
def test_every_command_has_help_with_an_example(command: str) -> None:
    result = run(command, "--help")
    assert result.exit_code == 0
    assert "Example" in result.stdout


def test_top_level_help_and_version() -> None:
    result = run("--help")
    assert result.exit_code == 0
    assert "ftc-office demo " in result.stdout and "ftc-office run tracker.xlsx" in result.stdout
    assert run("--version").stdout.startswith("ftc-office, version ")


def test_python_dash_m_works() -> None:
    proc = subprocess.run([sys.executable, "-m", "ftc_office", "--help"], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "Usage: " in proc.stdout and "plan" in proc.stdout and "check" in proc.stdout

"""The corpus of bad trackers (issue 21): content FMs really type, each held to what check,
plan, preview and run must answer — the exact messages and exit codes in
``tests/data/bad_trackers/NAME.expected.json`` (the workbooks are written once by
``tests/data/bad_trackers/make.py``).

One validation serves every command: a tenant check refuses is invalid in plan, preview and
run too, with the same message, and never silently dropped.
"""

from __future__ import annotations

import html
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from runhelpers import ftc

CORPUS = Path(__file__).parent / "data" / "bad_trackers"
NAMES = sorted(p.name.removesuffix(".expected.json") for p in CORPUS.glob("*.expected.json"))


def test_every_tracker_of_the_corpus_has_its_expected_answer() -> None:
    workbooks = sorted(p.stem for p in CORPUS.glob("*.xlsx"))
    assert workbooks == NAMES
    assert len(NAMES) >= 14


@pytest.fixture
def case(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
         ) -> tuple[str, dict[str, Any]]:
    """A copy of one corpus tracker in the current folder (messages name it by its file
    name), and what it must produce."""
    name: str = request.param
    shutil.copy(CORPUS / f"{name}.xlsx", tmp_path / f"{name}.xlsx")
    monkeypatch.chdir(tmp_path)
    return f"{name}.xlsx", json.loads((CORPUS / f"{name}.expected.json").read_text("utf-8"))


@pytest.mark.parametrize("case", NAMES, indirect=True)
def test_check_reports_exactly_the_expected_problems(case: tuple[str, dict[str, Any]]) -> None:
    tracker, want = case
    result = ftc("check", tracker, "--as-of", want["as_of"])
    assert result.exit_code == want["check"]["exit"], result.output
    problems = [p for ps in want["problems"].values() for p in ps]
    assert result.stdout.splitlines() == problems
    assert result.stderr.strip() == want["check"]["summary"]


@pytest.mark.parametrize("case", NAMES, indirect=True)
def test_plan_makes_the_same_tenants_invalid_with_the_same_messages(
        case: tuple[str, dict[str, Any]]) -> None:
    tracker, want = case
    result = ftc("plan", tracker, "--as-of", want["as_of"], "--json")
    assert result.exit_code == 0, result.output
    plans = json.loads(result.stdout)
    assert {p["tenant_id"]: p["next_step"] for p in plans} == want["steps"]
    assert {p["tenant_id"]: p["problems"] for p in plans if p["problems"]} == want["problems"]


@pytest.mark.parametrize("case", NAMES, indirect=True)
def test_preview_composes_nothing_for_an_invalid_tenant_and_shows_why(
        case: tuple[str, dict[str, Any]], tmp_path: Path) -> None:
    tracker, want = case
    out = tmp_path / "preview"
    result = ftc("preview", tracker, "--as-of", want["as_of"], "--out", str(out))
    assert result.exit_code == 0, result.output
    invalid = [t for t, step in want["steps"].items() if step == "invalid"]
    emls = [p.name for p in out.glob("*.eml")]
    for t in invalid:
        assert not [n for n in emls if f".{t}." in n], emls
    for t in want["steps"]:
        if t not in invalid:
            assert [n for n in emls if f".{t}." in n], (t, emls)
    page = (out / "index.html").read_text("utf-8")
    for p in (p for ps in want["problems"].values() for p in ps):
        assert html.escape(p, quote=False) in page or html.escape(p) in page, p


@pytest.mark.parametrize("case", NAMES, indirect=True)
def test_run_refuses_what_check_refuses_and_exits_1(case: tuple[str, dict[str, Any]]) -> None:
    tracker, want = case
    result = ftc("run", tracker, "--as-of", want["as_of"])
    assert result.exit_code == want["run_exit"], result.output
    plans = json.loads(ftc("plan", tracker, "--as-of", want["as_of"], "--json").stdout)
    customers = {p["tenant_id"]: p["customer"] for p in plans}
    for t, problems in want["problems"].items():
        assert f"  {customers[t]}: invalid — {problems[0]}" in result.stdout.splitlines()
    for t, step in want["steps"].items():
        if step != "invalid":
            assert f"  {customers[t]}: would write a draft (not sent): " in result.stdout

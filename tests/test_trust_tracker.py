"""Trusting the tracker (issue 21): implausible dates, rows without a Tenant ID, Excel error
values and totals rows are problems naming the cell (or skipped), never silently read."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from builders import make_tracker, row
from runhelpers import ftc


def test_future_discussion_date_makes_the_tenant_invalid(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", discussion_date=dt.date(2026, 3, 1)),
        row("t-2", discussion_date=dt.date(2025, 3, 1))])
    result = ftc("check", str(path), "--as-of", "2025-06-01")
    assert result.exit_code == 1
    assert "Discussion Date 2026-03-01 is after the as-of date 2025-06-01 — type the date " \
           "it happened (or clear the cell)" in result.output
    plan = ftc("plan", str(path), "--as-of", "2025-06-01", "--json")
    assert '"invalid"' in plan.output.casefold() or "INVALID" in plan.output
    assert "2026-03-01 is after the as-of date" in plan.output
    assert ftc("check", str(path), "--as-of", "2026-06-01").exit_code == 0


def test_date_long_ago_is_implausible(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1", discussion_date=dt.date(2019, 3, 1))])
    result = ftc("check", str(path), "--as-of", "2025-06-01")
    assert result.exit_code == 1
    assert "Discussion Date 2019-03-01 is before 2020-06-01, implausibly long ago — check " \
           "the year and type the date it happened" in result.output


def test_row_without_tenant_id_reaches_the_tenant_above(tmp_path: Path) -> None:
    second = row("", workload="Exchange")
    del second["tenant_id"], second["customer"]
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1"), second])
    result = ftc("plan", str(path), "--as-of", "2025-06-01", "--json")
    assert "row 3 has data but no Tenant ID" in result.output
    assert ftc("check", str(path)).output.count("row 3 has data but no Tenant ID") == 1


def test_row_of_no_tenant_stops_plan_and_run(tmp_path: Path) -> None:
    orphan = row("", customer="Other customer")
    del orphan["tenant_id"]
    path = make_tracker(tmp_path / "t.xlsx", [orphan, row("t-1")])
    result = ftc("plan", str(path), "--as-of", "2025-06-01")
    assert result.exit_code == 1
    assert ("row 2 has data but no Tenant ID — fill Tenant ID in row 2, or clear the row"
            in result.output)
    run = ftc("run", str(path), "--as-of", "2025-06-01")
    assert run.exit_code == 1


def test_totals_row_is_skipped(tmp_path: Path) -> None:
    total = {"customer": "Total", "seats": 2400}
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1"), total])
    result = ftc("check", str(path), "--as-of", "2025-06-01")
    assert result.exit_code == 0, result.output
    assert "1 tenant(s): no problems" in result.output


def test_excel_error_and_uncalculated_formula_are_problems(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", seats="#N/A"), row("t-2", active_users="=1/0")])
    result = ftc("check", str(path), "--as-of", "2025-06-01")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "t.xlsx, Tracker!" in line]
    assert any(line.endswith("2: D2 holds #N/A — fix the formula or type the value")
               for line in lines), result.output
    assert any(" is a formula Excel has not calculated — open and save the workbook in Excel"
               in line for line in lines), result.output

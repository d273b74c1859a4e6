"""Trusting the tracker (issue 21): implausible dates, rows without a Tenant ID, Excel error
values, addresses outside the internal domains are problems naming the cell, totals rows are
skipped (never silently read); stamping runs reuse styles and add output columns in one
canonical order. The corpus of bad trackers is tests/test_bad_trackers.py."""

from __future__ import annotations

import datetime as dt
import json
import re
import zipfile
from pathlib import Path

from builders import DEFAULT_COLUMNS, make_tracker, row
from openpyxl import load_workbook
from openpyxl.worksheet.table import Table, TableStyleInfo
from runhelpers import ftc, header_map, run

from ftc_office.fields import FIELDS
from ftc_office.tracker.outputs import CANONICAL_OUTPUTS, output_columns_to_add
from ftc_office.xlsx.styles import Styles
from ftc_office.xlsx.tables import totals_rows
from ftc_office.xlsx.workbook import WorkbookPackage


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


def test_total_in_the_tenant_id_column_is_no_tenant(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1"), {"tenant_id": "Grand Total",
                                                           "seats": 1200}])
    result = ftc("check", str(path), "--as-of", "2025-06-01")
    assert (result.exit_code, result.stdout) == (0, ""), result.output
    assert "1 tenant(s): no problems" in result.stderr


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


def test_error_cells_are_found_when_the_tracker_is_not_the_first_sheet(tmp_path: Path) -> None:
    """The reader reads the package's facts of the first sheet while calamine looks for the
    tracker; a tracker on another sheet gets its own (its error cell, its formula)."""
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", seats="#N/A"), row("t-2", active_users="=1/0")])
    wb = load_workbook(path)
    cover = wb.create_sheet("Cover", 0)
    cover["A1"], cover["B2"] = "Read me first", "=1/0"
    wb.save(path)
    result = ftc("check", str(path), "--as-of", "2025-06-01")
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if "t.xlsx, Tracker!" in line]
    assert any(line.endswith("2: D2 holds #N/A — fix the formula or type the value")
               for line in lines), result.output
    assert any(" is a formula Excel has not calculated" in line for line in lines)
    assert "Cover" not in result.output


def test_error_cells_are_found_in_every_megabyte_of_a_large_sheet(tmp_path: Path) -> None:
    """The package's error cells are read 1 MB at a time, cut between rows: every one is
    found, wherever the cuts fall."""
    bad = {7, 811, 1093, 1950, 2222, 3871, 4400, 5999}
    rows = [row(f"t-{i}", seats="#N/A") if i in bad else row(f"t-{i}")
            for i in range(1, 6001)]
    path = make_tracker(tmp_path / "t.xlsx", rows)
    with zipfile.ZipFile(path) as zf:
        assert zf.getinfo("xl/worksheets/sheet1.xml").file_size > 2 * (1 << 20)
    result = ftc("check", str(path), "--as-of", "2025-06-01")
    found = {int(m) for m in re.findall(r"Tracker!D(\d+): D\d+ holds #N/A", result.output)}
    assert found == {i + 1 for i in bad}, result.output


# ---- the audience rule, in the shared validation --------------------------------------------

def test_gmail_fm_is_refused_by_check_plan_and_run_alike_and_nothing_reaches_it(
        tmp_path: Path) -> None:
    followup = {"atu_sent": dt.date(2026, 11, 2), "discussion_date": dt.date(2026, 11, 20),
                "rfa_demoed": "Yes"}
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1", fm_email="fm.one@gmail.com",
                                                  **followup), row("t-2", **followup)])
    message = (f"{path}, Tracker!H2: FM fm.one@gmail.com is outside the internal domains "
               "(microsoft.com): the FM sends and is copied on every message, customer mail "
               "included — type the work address, or add its domain to "
               "mail.internal_domains in ftc-office.toml")
    check = ftc("check", str(path), "--as-of", "2026-11-26")
    assert (check.exit_code, check.stdout) == (1, message + "\n")
    plan = ftc("plan", str(path), "--as-of", "2026-11-26", "--json")
    assert [p["problems"] for p in json.loads(plan.stdout)] == [[message], []]
    outbox = tmp_path / "out"
    result = run(path, "2026-11-26", outbox)
    assert result.exit_code == 1
    assert f"  Customer t-1: invalid — {message}" in result.stdout.splitlines()
    sent = [p.read_text("utf-8") for p in outbox.glob("*.eml")]
    assert sent and all("Customer t-2" in text for text in sent)  # its follow-up, queue move
    assert not any("gmail" in text or "Customer t-1" in text for text in sent)


def test_internal_domains_setting_decides_what_is_internal(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1", fm_email="fm@contoso-partner.com")])
    assert ftc("check", str(path), "--as-of", "2026-11-26").exit_code == 1
    config = tmp_path / "ftc-office.toml"
    config.write_text('[mail]\ninternal_domains = ["microsoft.com", "contoso-partner.com"]\n')
    result = ftc("--config", str(config), "check", str(path), "--as-of", "2026-11-26")
    assert result.exit_code == 0, result.output


# ---- table totals rows -----------------------------------------------------------------------

def _with_totals_table(path: Path, ref: str) -> None:
    wb = load_workbook(path)
    t = Table(displayName="Engagements", ref=ref, totalsRowCount=1)
    t.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    wb.active.add_table(t)
    wb.save(path)


def test_a_table_totals_row_without_a_label_is_not_a_row(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1"), row("t-2"), {"seats": "=SUBTOTAL(109,D2:D3)", "active_users": 300}])
    broken = ftc("check", str(path), "--as-of", "2026-11-26")  # a plain row: no Tenant ID
    assert "row 4 has data but no Tenant ID" in broken.stdout
    _with_totals_table(path, "A1:Z4")
    assert totals_rows(WorkbookPackage(path), "Tracker") == {4}
    result = ftc("check", str(path), "--as-of", "2026-11-26")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "1 tracker(s), 2 tenant(s): no problems\n"


def test_tables_without_a_totals_row_skip_nothing() -> None:
    samples = Path(__file__).parent / "data" / "excel"
    with_tables = 0
    for sample in sorted(samples.glob("*.xls[xm]")):
        pkg = WorkbookPackage(sample)
        for sheet in pkg.sheet_names():
            assert totals_rows(pkg, sheet) == set(), (sample.name, sheet)
            with_tables += bool(pkg._sheet(sheet).tables)
    assert with_tables >= 3  # Excel's own tables (totalsRowShown="0", no totals row)


# ---- styles reused, not appended ---------------------------------------------------------

def _style_counts(path: Path) -> tuple[int, int, int]:
    with zipfile.ZipFile(path) as z:
        text = z.read("xl/styles.xml").decode()
    return (len(re.findall(r"<xf\b", text.split("<cellXfs")[1].split("</cellXfs>")[0])),
            len(re.findall(r"<numFmt\b", text)), len(re.findall(r"<font\b", text)))


def test_every_stamping_run_reuses_the_date_styles_the_first_added(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1"), row("t-2"), row("t-3")])
    before = _style_counts(path)
    counts = []
    for tenant in ("t-1", "t-2", "t-3"):
        result = run(path, "2026-11-26", tmp_path / "out", "--tenant", tenant)
        assert result.exit_code == 0, result.output
        counts.append(_style_counts(path))
    assert counts[0] != before  # the first run added a date format (and the Notes sheet's)
    assert counts[1] == counts[0] and counts[2] == counts[0]


def test_an_identical_cell_format_is_found_whatever_its_attribute_order() -> None:
    text = ('<styleSheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            '<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/></numFmts>'
            '<fonts count="1"><font><sz val="11"/></font></fonts>'
            '<cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>'
            '<xf applyNumberFormat="true" xfId="0" numFmtId="164"/></cellXfs></styleSheet>')
    styles = Styles(text, "styles.xml")
    assert styles.with_date_format(0, styles.fmt_id("yyyy-mm-dd")) == 1
    assert not styles.changed and styles.render() == text.encode()
    assert styles.derived(1, wrap=True) == 2  # something new is still added, once
    assert styles.derived(1, wrap=True) == 2 and styles.changed


# ---- output columns in one canonical order -----------------------------------------------

INPUTS = tuple(c for c in DEFAULT_COLUMNS if not FIELDS[c].output)


def test_output_columns_come_in_one_order_whichever_step_stamps_first(tmp_path: Path) -> None:
    headers = []
    # an ATU first (ATU Sent, Engagement Note), or a no-ATU note first (ATU Status, ...)
    for name, first in (("atu", row("t-1")), ("note", row("t-1", account_team=None))):
        path = make_tracker(tmp_path / f"{name}.xlsx", [first], columns=INPUTS)
        result = run(path, "2026-11-26", tmp_path / f"out-{name}")
        assert result.exit_code == 0, result.output
        headers.append(list(header_map(path)[1]))
    canonical = [FIELDS[f].header for f in CANONICAL_OUTPUTS]
    assert headers[0] == headers[1] == [FIELDS[c].header for c in INPUTS] + canonical


def test_only_missing_output_columns_are_added_and_a_needed_input_comes_last() -> None:
    present = {"tenant_id", "atu_sent", "engagement_note"}
    assert output_columns_to_add({"atu_sent"}, present) == []
    added = output_columns_to_add({"customer_email_sent", "queue_confirmed"}, present)
    assert added == [f for f in CANONICAL_OUTPUTS if f not in present] + ["queue_confirmed"]

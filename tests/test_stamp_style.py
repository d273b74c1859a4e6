"""Stamps that look hand-made (issue 11, part 7).

The bundled sample is stamped by the real CLI and read back with openpyxl: the columns
write-back adds carry their neighbour's header style, a width that fits a date and the
sheet's date format; the row-wide conditional format that ended at the old table edge covers
them; the no-ATU reason lands in the ATU Status text column, never in a date column; the
Notes sheet is an Excel table with a bold header, wrapped notes, as-of dates and human step
names. Workbooks built here check the patcher's side (widths, ranges, x14-free sheets without
a table) and that a Notes sheet an older version wrote is still appended to. LibreOffice opens
the stamped sample (skipped, saying so, when it is not installed).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from builders import DEFAULT_COLUMNS, make_tracker, row
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Font, PatternFill
from openpyxl.worksheet.datavalidation import DataValidation
from runhelpers import run

from ftc_office.config import load_settings
from ftc_office.fields import NOTES_HEADERS, STEP_NAMES, step_name
from ftc_office.planning import load_workspace
from ftc_office.playbook import plan_tenant
from ftc_office.steps import Step
from ftc_office.xlsx.patch import XlsxPatcher

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "tracker.xlsx"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
AS_OF = "2026-11-26"
DATE_HEADERS = ("ATU Sent", "Customer Email Sent", "Task 4058 Complete", "Queue Requested",
                "Next Action Date", "FM Unassigned")
ADDED = ["ATU Status", "FM Unassigned", "Engagement Note"]


def load(path: Path) -> openpyxl.Workbook:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path)


def header_cols(ws: Any, header_row: int) -> dict[str, int]:
    return {c.value: c.column for c in ws[header_row] if isinstance(c.value, str)}


def look(cell: Any) -> tuple[Any, ...]:
    """What a person sees of a cell's format (font, fill, border, alignment)."""
    return repr(cell.font), repr(cell.fill), repr(cell.border), repr(cell.alignment)


@pytest.fixture
def stamped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """(the sample as it was, the sample stamped by a run as of 2026-11-26)."""
    monkeypatch.chdir(tmp_path)
    before = tmp_path / "before.xlsx"
    shutil.copyfile(SAMPLE, before)
    tracker = tmp_path / "tracker.xlsx"
    shutil.copyfile(SAMPLE, tracker)
    result = run(tracker, AS_OF, tmp_path / "outbox")
    # the sample has 4 deliberately invalid tenants: exit 1, everything else done
    assert result.exit_code == 1 and "4 invalid tenant(s); 0 error(s)" in result.output, \
        result.output
    return before, tracker


def test_new_columns_look_like_their_neighbours(stamped: tuple[Path, Path]) -> None:
    _before, tracker = stamped
    ws = load(tracker)["Tracker"]
    cols = header_cols(ws, 4)
    assert list(cols)[-3:] == ADDED  # added at the right end of the table
    neighbour = ws.cell(row=4, column=cols["Comments"])  # the old last header
    for header in ADDED:
        cell = ws.cell(row=4, column=cols[header])
        assert look(cell) == look(neighbour), header
        assert cell.alignment.wrap_text  # the team's header wraps: never cut off
        letter = cell.column_letter
        assert ws.column_dimensions[letter].customWidth, header
    fm = ws.cell(row=4, column=cols["FM Unassigned"]).column_letter
    assert ws.column_dimensions[fm].width >= 12  # yyyy-mm-dd in full: no ###
    # the width of the nearest output column of the same sort (Next Action Date, a date)
    assert ws.column_dimensions[fm].width == ws.column_dimensions["X"].width
    for text in ("ATU Status", "Engagement Note"):  # the neighbour's 12, at least 24
        assert ws.column_dimensions[ws.cell(row=4, column=cols[text]).column_letter
                                    ].width == 24
    # FM Unassigned dates use the sheet's own date format, not the locale short date
    stamped_dates = [ws.cell(row=r, column=cols["FM Unassigned"]) for r in range(5, 112)
                     if ws.cell(row=r, column=cols["FM Unassigned"]).value is not None]
    assert stamped_dates
    for cell in stamped_dates:
        assert cell.value == dt.datetime(2026, 11, 26)
        assert cell.number_format == "yyyy-mm-dd"


def test_date_columns_receive_only_dates(stamped: tuple[Path, Path]) -> None:
    before, tracker = stamped
    old, new = load(before)["Tracker"], load(tracker)["Tracker"]
    cols = header_cols(new, 4)
    written = 0
    for header in DATE_HEADERS:
        for r in range(5, 112):
            cell = new.cell(row=r, column=cols[header])
            was = old.cell(row=r, column=cols[header]).value if header in header_cols(
                old, 4) else None
            if cell.value != was:
                written += 1
                assert isinstance(cell.value, dt.datetime), (header, r, cell.value)
                assert cell.is_date and "y" in cell.number_format
    assert written > 20
    # the no-ATU reasons are in ATU Status; their ATU Sent cells stay empty
    reasons = [r for r in range(5, 112)
               if str(new.cell(row=r, column=cols["ATU Status"]).value or "").startswith(
                   "No ATU (2026-11-26): ")]
    assert len(reasons) >= 3  # Litware, Adventure Works Cycles, Lamna Healthcare (2 rows)
    assert all(new.cell(row=r, column=cols["ATU Sent"]).value is None for r in reasons)


def test_ranges_at_the_old_edge_cover_the_new_columns(stamped: tuple[Path, Path]) -> None:
    _before, tracker = stamped
    ws = load(tracker)["Tracker"]
    ranges = sorted(str(cf.sqref) for cf in ws.conditional_formatting)
    assert ranges == ["A5:AD111", "E5:E111"]  # row shading widened; one-column rule kept
    assert ws.tables["Engagements"].ref == "A4:AD111"
    assert sorted(str(dv.sqref) for dv in ws.data_validations.dataValidation) == [
        "F5:F111 J5:J111 O5:O111", "G5:G111", "Q5:Q111"]  # none ended at the edge


def test_notes_sheet_is_a_table_a_person_can_read(stamped: tuple[Path, Path]) -> None:
    _before, tracker = stamped
    ws = load(tracker)["Notes"]
    assert [c.value for c in ws[1]] == NOTES_HEADERS
    assert NOTES_HEADERS[-1] == "Ledger Key"
    (name, ref), = ws.tables.items()
    table = ws.tables[name]
    assert ref == f"A1:G{ws.max_row}" and table.autoFilter.ref == ref
    assert table.tableStyleInfo.name == "TableStyleMedium2"
    assert all(c.font.b for c in ws[1])
    assert ws.max_row > 20
    steps = set()
    for r in range(2, ws.max_row + 1):
        date, note = ws.cell(row=r, column=1), ws.cell(row=r, column=6)
        assert date.value == dt.datetime(2026, 11, 26)  # the as-of date, not today's
        assert date.number_format == "yyyy-mm-dd"
        assert note.alignment.wrap_text
        steps.add(ws.cell(row=r, column=5).value)
    assert steps <= set(STEP_NAMES.values())
    assert {"ATU sent", "No ATU (reason recorded)", "Customer follow-up sent",
            "Queue move requested", "FM unassigned"} <= steps
    assert ws.column_dimensions["F"].width >= 60


def test_every_step_has_a_human_name() -> None:
    from ftc_office.jobs import JobKind
    from ftc_office.mailers import PLAYBOOK_KINDS

    for kind in [*PLAYBOOK_KINDS, *JobKind]:
        assert kind in STEP_NAMES and "_" not in STEP_NAMES[kind]
    assert step_name("my_step") == "My step"


def test_an_old_notes_sheet_is_still_appended_to(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1"), row("t-2", account_team="")])
    wb = load(tracker)
    notes = wb.create_sheet("Notes")  # as the previous version wrote it
    notes.append(NOTES_HEADERS)
    old = [dt.datetime(2026, 11, 20), "t-0", "Old Ltd", "Teams", "atu", "old note", "atu.t-0"]
    notes.append(old)
    wb.save(tracker)
    result = run(tracker, AS_OF, tmp_path / "outbox")
    assert result.exit_code == 0, result.output
    ws = load(tracker)["Notes"]
    values = [[c.value for c in r] for r in ws.iter_rows()]
    assert values[0] == NOTES_HEADERS and values[1] == old  # kept as it was
    assert [v[1] for v in values[2:]] == ["t-1", "t-2"]
    assert [v[4] for v in values[2:]] == ["ATU sent", "No ATU (reason recorded)"]
    for r in (3, 4):
        assert ws.cell(row=r, column=1).value == dt.datetime(2026, 11, 26)
        assert ws.cell(row=r, column=1).number_format == "yyyy-mm-dd"
        assert ws.cell(row=r, column=6).alignment.wrap_text
    assert not ws.tables  # an older sheet keeps its shape


def plan_of(path: Path, tmp_path: Path) -> Step:
    ws = load_workspace([path], load_settings(None))
    (t,) = [t for tr in ws.trackers for t in tr.tenants]
    return plan_tenant(t, dt.date(2026, 11, 26)).step


@pytest.mark.parametrize(("values", "step"), [
    ({"atu_sent": "No ATU (2026-10-01): the account is not managed"}, Step.AWAIT_DISCUSSION),
    ({"atu_status": "No ATU (2026-10-01): the account is not managed"}, Step.AWAIT_DISCUSSION),
    ({"atu_status": "  no atu: decided by the FM"}, Step.AWAIT_DISCUSSION),
    ({"atu_status": "waiting for the account team"}, Step.SEND_ATU),
    ({}, Step.SEND_ATU),
])
def test_the_atu_step_is_done_by_a_date_or_a_no_atu_reason(
        tmp_path: Path, values: dict[str, Any], step: Step) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row(**values)],
                        columns=(*DEFAULT_COLUMNS, "atu_status"))
    assert plan_of(path, tmp_path) == step


# -- the patcher on workbooks built here --------------------------------------------------------


def plain_sheet(path: Path) -> Path:
    """No table: a bold, filled header on row 1, a dd/mm/yyyy date column C, a row-wide
    conditional format and data validation, a one-column rule and a sheet autoFilter."""
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Tenants"
    ws.append(["Tenant", "Region", "Seen"])
    for i in range(2, 6):
        ws.append([f"t-{i}", "EMEA", dt.datetime(2026, 1, i)])
        ws.cell(row=i, column=3).number_format = "dd/mm/yyyy"
    for c in ws[1]:
        c.font = Font(bold=True, color="FFFFFF")
        c.fill = PatternFill("solid", fgColor="1F3864")
    for letter, width in (("A", 20), ("B", 9), ("C", 11)):
        ws.column_dimensions[letter].width = width
    ws.conditional_formatting.add("A2:C5", FormulaRule(formula=['$B2="EMEA"'],
                                                      fill=PatternFill("solid", fgColor="EEEEEE")))
    ws.conditional_formatting.add("B2:B5", FormulaRule(formula=['$B2=""']))
    dv = DataValidation(type="list", formula1='"a,b"')
    dv.add("A2:C5")
    ws.add_data_validation(dv)
    ws.auto_filter.ref = "A1:C5"
    wb.save(path)
    return path


def test_patcher_new_columns_copy_looks_and_widen_ranges(tmp_path: Path) -> None:
    src = plain_sheet(tmp_path / "plain.xlsx")
    p = XlsxPatcher(src)
    cols = p.add_columns("Tenants", 1, ["Sent on", "A rather long header"],
                         like={"Sent on": "C"}, min_widths={"Sent on": 12})
    assert cols == {"Sent on": "D", "A rather long header": "E"}
    p.set("Tenants", "D2", dt.date(2026, 11, 26))
    p.set("Tenants", "E2", "text")
    p.set("Tenants", "D7", dt.date(2026, 11, 26))  # a row of its own: the sheet's format
    out = tmp_path / "out.xlsx"
    p.save(out)
    ws = load(out)["Tenants"]
    for letter in ("D", "E"):
        assert look(ws[f"{letter}1"]) == look(ws["C1"])
        assert ws[f"{letter}1"].font.b
    assert ws.column_dimensions["D"].width == 12  # the template's 11, at least 12
    assert ws.column_dimensions["E"].width >= len("A rather long header")  # header fits
    assert ws.column_dimensions["C"].width == 11  # neighbours keep theirs
    assert ws["D2"].number_format == "dd/mm/yyyy"  # the same row's date format
    assert ws["D7"].number_format == "dd/mm/yyyy"
    assert sorted(str(cf.sqref) for cf in ws.conditional_formatting) == ["A2:E5", "B2:B5"]
    assert [str(dv.sqref) for dv in ws.data_validations.dataValidation] == ["A2:E5"]
    assert ws.auto_filter.ref == "A1:E5"
    with zipfile.ZipFile(out) as z:  # and the name Excel keeps beside it
        assert "'Tenants'!$A$1:$E$5</definedName>" in z.read("xl/workbook.xml").decode()


def test_a_col_element_spanning_the_new_column_is_split(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["a", "b"])
    ws.column_dimensions.group("A", "F", hidden=False)  # one <col min=1 max=6>
    ws.column_dimensions["A"].width = 15
    wb.save(tmp_path / "g.xlsx")
    p = XlsxPatcher(tmp_path / "g.xlsx")
    p.add_columns("Sheet", 1, ["c"], min_widths={"c": 30})
    p.set("Sheet", "C2", dt.date(2026, 11, 26))  # no dates in the sheet: yyyy-mm-dd
    p.save(tmp_path / "o.xlsx")
    out = load(tmp_path / "o.xlsx").active
    assert out["C2"].number_format == "yyyy-mm-dd"
    assert out.column_dimensions["C"].width == 30
    assert out.column_dimensions["A"].width == 15


@pytest.mark.slow  # starts LibreOffice
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed here")
def test_libreoffice_opens_the_stamped_sample(stamped: tuple[Path, Path],
                                             tmp_path: Path) -> None:
    assert SOFFICE is not None
    _before, tracker = stamped
    out = tmp_path / "lo"
    done = subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile",
                           "--headless", "--convert-to", "xlsx", "--outdir", str(out),
                           str(tracker)], capture_output=True, timeout=180)
    assert done.returncode == 0, done.stderr
    wb = load(out / "tracker.xlsx")  # what LibreOffice understood, saved again
    ws = wb["Tracker"]
    cols = header_cols(ws, 4)
    assert list(cols)[-3:] == ADDED
    fm = [ws.cell(row=r, column=cols["FM Unassigned"]) for r in range(5, 112)]
    assert any(c.value == dt.datetime(2026, 11, 26) for c in fm)
    # LibreOffice writes the format back as yyyy\-mm\-dd
    assert all(c.number_format.lower().replace("\\", "") == "yyyy-mm-dd"
               for c in fm if c.value is not None)
    notes = wb["Notes"]
    assert notes["A2"].value == dt.datetime(2026, 11, 26) and notes["A1"].font.b


X14_CF = (
    '<extLst><ext uri="{78C0D931-6437-407d-A8EE-F0AAD7539E65}" '
    'xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main">'
    '<x14:conditionalFormattings><x14:conditionalFormatting '
    'xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    '<x14:cfRule type="dataBar" id="{00000000-0000-0000-0000-000000000001}"><x14:dataBar>'
    '<x14:cfvo type="autoMin"/><x14:cfvo type="autoMax"/></x14:dataBar></x14:cfRule>'
    '<xm:sqref>A2:C5</xm:sqref></x14:conditionalFormatting>'
    '<x14:conditionalFormatting xmlns:xm="http://schemas.microsoft.com/office/excel/2006/main">'
    '<x14:cfRule type="dataBar" id="{00000000-0000-0000-0000-000000000002}"><x14:dataBar>'
    '<x14:cfvo type="autoMin"/><x14:cfvo type="autoMax"/></x14:dataBar></x14:cfRule>'
    '<xm:sqref>C2:C5</xm:sqref></x14:conditionalFormatting>'
    '</x14:conditionalFormattings></ext></extLst>')


def test_x14_ranges_at_the_old_edge_are_widened_too(tmp_path: Path) -> None:
    src = plain_sheet(tmp_path / "plain.xlsx")
    with_ext = tmp_path / "ext.xlsx"
    with zipfile.ZipFile(src) as z, zipfile.ZipFile(with_ext, "w") as out:
        for info in z.infolist():
            data = z.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</worksheet>", X14_CF.encode() + b"</worksheet>")
            out.writestr(info, data)
    p = XlsxPatcher(with_ext)
    p.add_columns("Tenants", 1, ["New"])
    p.save(tmp_path / "o.xlsx")
    with zipfile.ZipFile(tmp_path / "o.xlsx") as z:
        sheet = z.read("xl/worksheets/sheet1.xml").decode()
    assert "<xm:sqref>A2:D5</xm:sqref>" in sheet  # row-wide: widened
    assert "<xm:sqref>C2:C5</xm:sqref>" in sheet  # the last column's own rule: kept
    assert 'sqref="A2:D5"' in sheet and 'sqref="B2:B5"' in sheet

"""The Notes sheet: full note history appended by write-back, and the patcher's new-sheet API.

End to end on a copy of samples/tracker.xlsx with the real CLI (``ftc-office run``): one row
per recorded note, nothing appended by a rerun or a repeated write-back, more by a later day,
and every zip member outside the parts a new sheet needs stays byte-identical. On each
Excel-made sample, `ensure_sheet` + `append_rows` gives a file that openpyxl, python-calamine
and LibreOffice open with the exact values.
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import shutil
import subprocess
import warnings
import zipfile
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from python_calamine import CalamineWorkbook
from runhelpers import header_map, rows, run

from ftc_office.config import load_settings
from ftc_office.errors import WritebackError
from ftc_office.fields import step_name
from ftc_office.ledger import Ledger
from ftc_office.notes_sheet import NOTES_HEADERS
from ftc_office.writeback import write_back
from ftc_office.xlsx.cells import col_letter
from ftc_office.xlsx.patch import XlsxPatcher

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "tracker.xlsx"
DATA = Path(__file__).parent / "data" / "excel"
EXCEL_SAMPLES = sorted(p.name for p in DATA.glob("*.xls*"))
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
# the parts adding a sheet and appending to it may change; everything else is byte-identical
NEW_SHEET_PARTS = {"xl/workbook.xml", "xl/_rels/workbook.xml.rels", "[Content_Types].xml",
                   "xl/styles.xml", "docProps/app.xml"}
TRACKER_PARTS = {"xl/worksheets/sheet1.xml", "xl/tables/table1.xml"}  # the tracker's own
# the new Notes sheet, its table (which grows as rows are appended) and its relationships
NOTES_PARTS = ["xl/worksheets/sheet3.xml", "xl/tables/table2.xml",
               "xl/worksheets/_rels/sheet3.xml.rels"]
TRICKY = "=SUM(A1) & <b> \x01 _x0041_ done\nsecond line "


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def raw_infos(path: Path) -> dict[str, tuple[int, int, bytes]]:
    """name -> (CRC, compressed size, extra): equal only if the bytes were copied."""
    with zipfile.ZipFile(path) as z:
        return {i.filename: (i.CRC, i.compress_size, i.extra) for i in z.infolist()}


def assert_fidelity(before: Path, after: Path, allowed: set[str], new: list[str]) -> None:
    """Members of `before` outside `allowed` are byte-identical (copied compressed bytes,
    same order); `after` has exactly the `new` members in addition, at the end."""
    a, b = members(before), members(after)
    assert list(b) == [*a, *new]
    changed = {n for n in a if a[n] != b[n]}
    assert changed <= allowed, changed - allowed
    ia, ib = raw_infos(before), raw_infos(after)
    for name in a:
        if name not in changed:
            assert ia[name] == ib[name], name
    with zipfile.ZipFile(after) as z:
        assert z.testzip() is None


def notes_rows(path: Path, sheet: str = "Notes") -> list[dict[str, Any]]:
    """The Notes rows as openpyxl reads them, by header; header row checked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ws = openpyxl.load_workbook(path)[sheet]
    values = list(ws.iter_rows(values_only=True))
    assert list(values[0]) == NOTES_HEADERS
    return [dict(zip(NOTES_HEADERS, r, strict=True)) for r in values[1:]]


def expected_notes(tracker: Path) -> list[tuple[str, str, str | None, str, str]]:
    """(ledger key, tenant, workload, step, note) of every finished job's notes, in order."""
    ledger = Ledger.open()
    try:
        out = []
        for e in ledger.entries(("sent", "done")):
            for tenant, workload, text in e.notes:
                if text and any(s["tracker"] == str(tracker) and s["tenant_id"] == tenant
                                for s in e.stamps):
                    out.append((e.key, tenant, workload, step_name(e.kind), text))
        return out
    finally:
        ledger.close()


def as_tuples(found: list[dict[str, Any]]) -> list[tuple[str, str, str | None, str, str]]:
    return [(r["Ledger Key"], r["Tenant ID"], r["Workload"], r["Step"], r["Note"])
            for r in found]


def same_notes(found: list[dict[str, Any]], expected: list[tuple[Any, ...]]) -> bool:
    """The same notes, each once (rows are appended per write-back, so order may differ)."""
    def order(t: tuple[Any, ...]) -> tuple[str, ...]:
        return tuple("" if v is None else str(v) for v in t)

    got = as_tuples(found)
    return len(set(got)) == len(got) and sorted(got, key=order) == sorted(expected, key=order)


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "tracker.xlsx"
    shutil.copyfile(SAMPLE, target)
    return target


def discuss(path: Path, how_many: int, day: dt.date) -> int:
    """A person records discussion dates on rows whose ATU went out (patched surgically, so
    the Notes sheet is left exactly as it was); return how many rows got one."""
    hr, cols = header_map(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ws = openpyxl.load_workbook(path)["Tracker"]
    p = XlsxPatcher(path)
    done = 0
    for r in range(hr + 1, ws.max_row + 1):
        atu = ws.cell(row=r, column=cols["ATU Sent"]).value
        if isinstance(atu, dt.datetime) and ws.cell(row=r, column=cols["Discussion Date"]
                                                    ).value is None and done < how_many:
            p.set("Tracker", f"{col_letter(cols['Discussion Date'])}{r}", day)
            done += 1
    tmp = path.with_suffix(".tmp.xlsx")
    p.save(tmp)
    tmp.replace(path)
    return done


def test_run_appends_each_note_once_and_later_days_append_more(
        tracker: Path, tmp_path: Path) -> None:
    before = tmp_path / "before.xlsx"
    shutil.copyfile(tracker, before)
    day1 = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert day1.exit_code == 1, day1.output  # the sample's invalid tenants, nothing else
    assert "4 invalid tenant(s); 0 error(s)" in day1.stdout
    assert CalamineWorkbook.from_path(str(tracker)).sheet_names == ["Tracker", "Summary", "Notes"]
    # fidelity: the tracker's own parts, the new sheet and the parts a new sheet needs
    assert_fidelity(before, tracker, TRACKER_PARTS | NEW_SHEET_PARTS, NOTES_PARTS)
    assert members(tracker)["xl/worksheets/sheet2.xml"] == members(before)[
        "xl/worksheets/sheet2.xml"]  # the Summary sheet (with its charts) untouched

    expected = expected_notes(tracker)
    found = notes_rows(tracker)
    assert len(expected) > 10
    assert same_notes(found, expected)  # one row per recorded note
    tracker_rows = rows(tracker)
    for r in found:
        assert isinstance(r["Date"], dt.datetime)  # a real date, not text
        customers = {v["Customer Name"] for (t, _w), v in tracker_rows.items()
                     if t == r["Tenant ID"]}
        assert customers == {r["Customer"]}
    # the Engagement Note column still holds a (the latest) note; the sheet has them all
    history = {(r["Tenant ID"], r["Note"]) for r in found}
    stamped = [(t, v["Engagement Note"]) for (t, _w), v in tracker_rows.items()
               if v["Engagement Note"]]
    assert stamped and all(s in history for s in stamped)

    # the same day again: nothing appended, the Notes part not even rewritten
    notes_part = members(tracker)["xl/worksheets/sheet3.xml"]
    again = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert again.exit_code == 1, again.output  # the sample's invalid tenants, nothing else
    assert "4 invalid tenant(s); 0 error(s)" in again.stdout
    assert members(tracker)["xl/worksheets/sheet3.xml"] == notes_part

    # a write-back of the same jobs again (a crash after the replace, before the ledger
    # recorded it) appends nothing either
    ledger = Ledger.open()
    try:
        result = write_back(tracker, ledger, load_settings(None),
                            entries=ledger.entries(("sent", "done")))
    finally:
        ledger.close()
    assert result.notes == 0
    assert len(notes_rows(tracker)) == len(found)

    # a later day: discussions recorded, follow-ups go out, their notes are appended below
    assert discuss(tracker, 3, dt.date(2026, 11, 30)) == 3
    mid = tmp_path / "mid.xlsx"
    shutil.copyfile(tracker, mid)
    day2 = run(tracker, "2026-12-03", tmp_path / "outbox")
    assert day2.exit_code == 1, day2.output  # the sample's invalid tenants, nothing else
    assert "4 invalid tenant(s); 0 error(s)" in day2.stdout
    later = notes_rows(tracker)
    assert later[:len(found)] == found  # old rows unchanged, new ones below
    new = later[len(found):]
    assert new and {r["Step"] for r in new} >= {"Customer follow-up sent"}
    assert same_notes(later, expected_notes(tracker))
    assert_fidelity(mid, tracker, TRACKER_PARTS | NEW_SHEET_PARTS | set(NOTES_PARTS[:2]), [])
    assert members(tracker)["xl/workbook.xml"].count(b'name="Notes"') == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ws = openpyxl.load_workbook(tracker)["Notes"]
    (table,) = ws.tables.values()  # the table grew with the rows appended below it
    assert table.ref == table.autoFilter.ref == f"A1:G{len(later) + 1}"


def test_users_own_notes_sheet_is_left_alone(tracker: Path, tmp_path: Path) -> None:
    p = XlsxPatcher(tracker)
    p.ensure_sheet("Notes", ["Meeting", "Who", "What"])
    p.append_rows("Notes", [["kick-off", "Ana", "our own notes"]])
    p.save(tmp_path / "own.xlsx")
    (tmp_path / "own.xlsx").replace(tracker)
    own = members(tracker)["xl/worksheets/sheet3.xml"]

    result = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert result.exit_code == 1, result.output  # the sample's invalid tenants, nothing else
    assert "4 invalid tenant(s); 0 error(s)" in result.stdout
    wb = CalamineWorkbook.from_path(str(tracker))
    assert wb.sheet_names == ["Tracker", "Summary", "Notes", "FTC Notes"]
    assert members(tracker)["xl/worksheets/sheet3.xml"] == own  # byte-identical
    assert same_notes(notes_rows(tracker, "FTC Notes"), expected_notes(tracker))
    rerun = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert rerun.exit_code == 1, rerun.output  # the sample's invalid tenants, nothing else
    assert "4 invalid tenant(s); 0 error(s)" in rerun.stdout
    assert len(notes_rows(tracker, "FTC Notes")) == len(expected_notes(tracker))


# -- the patcher's new-sheet API on Excel-made files --------------------------------------------

HEADERS = ["Date", "Text", "Number", "Flag"]
ROWS: list[list[Any]] = [
    [dt.date(2026, 11, 26), TRICKY, 1234.5, True],
    [dt.date(2026, 12, 1), "plain", 7, False],
    [None, "   edge spaces   ", None, None],
]


def ecma_decode(text: str) -> str:
    """openpyxl leaves ``_xHHHH_`` escapes of inline strings undecoded (Excel decodes them)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


@pytest.fixture(scope="module")
def with_sheet(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("with_sheet")
    result = {}
    for name in EXCEL_SAMPLES:
        p = XlsxPatcher(DATA / name)
        p.ensure_sheet("FTC Log", HEADERS, [12, 40, 10, 8])
        assert p.append_rows("FTC Log", ROWS[:2]) == 2
        assert p.append_rows("FTC Log", ROWS[2:]) == 4
        p.save(out / name)
        result[name] = out / name
    return result


@pytest.mark.parametrize("name", EXCEL_SAMPLES)
def test_new_sheet_keeps_every_other_part(name: str, with_sheet: dict[str, Path]) -> None:
    src = XlsxPatcher(DATA / name)
    new_part = f"xl/worksheets/sheet{len(src.sheet_parts) + 1}.xml"
    if name == "poi_62629_target.xlsm":  # sheets 1-5 exist, in another order
        new_part = "xl/worksheets/sheet6.xml"
    assert_fidelity(DATA / name, with_sheet[name], NEW_SHEET_PARTS, [new_part])
    z = zipfile.ZipFile(with_sheet[name])
    assert f'PartName="/{new_part}"'.encode() in z.read("[Content_Types].xml")
    if name.endswith(".xlsm"):  # the macros are still there, byte for byte
        assert z.read("xl/vbaProject.bin") == zipfile.ZipFile(DATA / name).read(
            "xl/vbaProject.bin")


@pytest.mark.parametrize("name", EXCEL_SAMPLES)
def test_new_sheet_read_back_by_three_readers(name: str, with_sheet: dict[str, Path]) -> None:
    out = with_sheet[name]
    before = XlsxPatcher(DATA / name).sheet_names()
    wb = CalamineWorkbook.from_path(str(out))
    assert wb.sheet_names[-1] == "FTC Log"
    grid = wb.get_sheet_by_name("FTC Log").to_python(skip_empty_area=False)
    assert grid[0] == HEADERS
    assert grid[1] == [dt.date(2026, 11, 26), TRICKY, 1234.5, True]
    assert grid[2] == [dt.date(2026, 12, 1), "plain", 7, False]
    assert grid[3] == ["", "   edge spaces   ", "", ""]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        book = openpyxl.load_workbook(out)
    assert book.sheetnames[-1] == "FTC Log"
    assert [n for n in book.sheetnames if n in before] == [n for n in before]
    ws = book["FTC Log"]
    assert ws.freeze_panes == "A2"
    assert [c.value for c in ws[1]] == HEADERS
    assert ws["A2"].value == dt.datetime(2026, 11, 26) and ws["A2"].is_date
    assert ws["B2"].data_type == "s" and ecma_decode(ws["B2"].value) == TRICKY
    assert (ws["C2"].value, ws["D2"].value) == (1234.5, True)
    assert [c.value for c in ws[3]] == [dt.datetime(2026, 12, 1), "plain", 7, False]
    assert [c.value for c in ws[4]] == [None, "   edge spaces   ", None, None]
    assert ws.max_row == 4
    again = XlsxPatcher(out)
    assert again.sheet_names()[-1] == "FTC Log"
    assert again.last_row("FTC Log") == 4
    assert again.get("FTC Log", "B2") == TRICKY


@pytest.mark.slow  # starts LibreOffice for each workbook
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed here")
@pytest.mark.parametrize("name", EXCEL_SAMPLES)
def test_libreoffice_reads_the_new_sheet(name: str, with_sheet: dict[str, Path],
                                         tmp_path: Path) -> None:
    assert SOFFICE is not None
    # CSV export of every sheet (sheet option -1): one file per sheet, "<stem>-<sheet>.csv"
    run_ = subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile",
                           "--headless", "--convert-to",
                           'csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true,false,'
                           'false,false,-1', "--outdir", str(tmp_path / "csv"),
                           str(with_sheet[name])], capture_output=True, timeout=180)
    assert run_.returncode == 0, run_.stderr
    sheet_csv = tmp_path / "csv" / f"{Path(name).stem}-FTC Log.csv"
    assert sheet_csv.is_file(), sorted(p.name for p in (tmp_path / "csv").iterdir())
    with sheet_csv.open(encoding="utf-8", newline="") as fh:
        got = list(csv.reader(fh))
    assert got[0] == HEADERS
    assert got[1][1] == TRICKY
    assert got[1][2] == "1234.5"
    assert got[2][1:3] == ["plain", "7"]
    # booleans are left out: LibreOffice 7.4 exports TRUE and FALSE as 0 for one sample
    # (poi_DataValidationEvaluations) while openpyxl and calamine read them right
    assert got[3][1] == "   edge spaces   "


def test_app_xml_counts_follow_when_consistent(with_sheet: dict[str, Path]) -> None:
    app = zipfile.ZipFile(with_sheet["poi_62629_target.xlsm"]).read("docProps/app.xml").decode()
    assert "<vt:i4>6</vt:i4>" in app and "<vt:i4>1</vt:i4>" in app  # 6 sheets, 1 name
    assert ('<vt:vector size="7" baseType="lpstr"><vt:lpstr>IT</vt:lpstr>' in app)
    assert "<vt:lpstr>Points to check data</vt:lpstr><vt:lpstr>FTC Log</vt:lpstr>" \
           "<vt:lpstr>Report!Print_Area</vt:lpstr>" in app


def test_ensure_sheet_is_a_no_op_when_the_name_exists(tmp_path: Path) -> None:
    src = DATA / "poi_ExcelPivotTableSample.xlsx"
    p = XlsxPatcher(src)
    p.ensure_sheet("tabelle2", ["x"])  # any case: the existing sheet is kept
    p.save(tmp_path / "same.xlsx")
    assert (tmp_path / "same.xlsx").read_bytes() == src.read_bytes()
    p = XlsxPatcher(src)
    p.ensure_sheet("Log", ["a"])
    p.ensure_sheet("LOG", ["b"])
    p.save(tmp_path / "one.xlsx")
    wb = zipfile.ZipFile(tmp_path / "one.xlsx").read("xl/workbook.xml").decode()
    assert wb.count('name="Log"') == 1 and 'sheetId="5"' in wb  # ids 1, 2, 4 were taken
    rels = zipfile.ZipFile(tmp_path / "one.xlsx").read("xl/_rels/workbook.xml.rels").decode()
    assert 'Id="rId10"' in rels  # rId1-rId9 were taken


@pytest.mark.parametrize("bad", ["", "a" * 32, "a/b", "what?", "[x]", "'quoted'", "History"])
def test_invalid_sheet_names_refused(bad: str) -> None:
    p = XlsxPatcher(DATA / "poi_NewStyleConditionalFormattings.xlsx")
    with pytest.raises(WritebackError) as info:
        p.ensure_sheet(bad, ["x"])
    assert "not a valid sheet name" in str(info.value)


def test_append_rows_goes_after_the_last_used_row(tmp_path: Path) -> None:
    src = DATA / "poi_NewStyleConditionalFormattings.xlsx"
    p = XlsxPatcher(src)
    last = p.last_row("CF")
    assert last > 1
    assert p.append_rows("CF", [["appended", 1]]) == last + 1
    p.save(tmp_path / "out.xlsx")
    grid = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name(
        "CF").to_python(skip_empty_area=False)
    assert grid[last][:2] == ["appended", 1]
    assert all(v in ("", None) for v in grid[last][2:])

"""Surgical write-back (`XlsxPatcher`) and atomic replacement, on real Excel-written files.

Values are read back with two independent readers (python-calamine and openpyxl). openpyxl
does not decode ``_xHHHH_`` escapes in inline strings (Excel and calamine do), so its text is
decoded with the ECMA-376 rule before comparing.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import stat
import struct
import subprocess
import warnings
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.worksheet.table import Table
from python_calamine import CalamineWorkbook

from ftc_office.atomic import atomic_replace, backup
from ftc_office.errors import WritebackError
from ftc_office.xlsx.cells import col_number
from ftc_office.xlsx.patch import XlsxPatcher

DATA = Path(__file__).parent / "data" / "excel"
TRICKY = "=SUM(A1) & <b> \x01 _x0041_ done"
WHEN = dt.date(2026, 11, 26)

# sample -> (sheet, [text cell, date cell, number cell]); all outside formulas, tables, merges
SAMPLES = {
    "calamine_pictures_in_cell_and_over_cell.xlsx": ("Sheet1", ["C1", "D3", "B5"]),
    "excelize_Book1.xlsx": ("Sheet2", ["G2", "G3", "G12"]),
    "poi_62629_target.xlsm": ("Shipment data", ["H3", "H4", "H20"]),
    "poi_DataValidationEvaluations.xlsx": ("Sheet1", ["K2", "K3", "K40"]),
    "poi_ExcelPivotTableSample.xlsx": ("Tabelle1", ["J2", "J3", "J4"]),
    "poi_NewStyleConditionalFormattings.xlsx": ("CF", ["W2", "W3", "W30"]),
}


def ecma_decode(text: str) -> str:
    """Decode ``_xHHHH_`` escapes, as Excel does (openpyxl leaves them in inline strings)."""
    return re.sub(r"_x([0-9A-Fa-f]{4})_", lambda m: chr(int(m.group(1), 16)), text)


def calamine_cell(path: Path, sheet: str, ref: str) -> object:
    rows = CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet).to_python(
        skip_empty_area=False)
    m = re.fullmatch(r"([A-Z]+)(\d+)", ref)
    assert m
    return rows[int(m.group(2)) - 1][col_number(m.group(1)) - 1]


def openpyxl_sheet(path: Path, sheet: str) -> openpyxl.worksheet.worksheet.Worksheet:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return openpyxl.load_workbook(path)[sheet]


def patch(src: Path, dest: Path, sheet: str, edits: dict[str, object]) -> XlsxPatcher:
    p = XlsxPatcher(src)
    for ref, value in edits.items():
        p.set(sheet, ref, value)  # type: ignore[arg-type]
    p.save(dest)
    return p


@pytest.fixture(scope="module")
def patched(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("patched")
    result = {}
    for name, (sheet, refs) in SAMPLES.items():
        patch(DATA / name, out / name, sheet, dict(zip(refs, [TRICKY, WHEN, 1234.5],
                                                       strict=True)))
        result[name] = out / name
    return result


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_untouched_parts_identical(name: str, patched: dict[str, Path]) -> None:
    src, dest = zipfile.ZipFile(DATA / name), zipfile.ZipFile(patched[name])
    assert [i.filename for i in src.infolist()] == [i.filename for i in dest.infolist()]
    sheet_part = XlsxPatcher(DATA / name).sheet_parts[SAMPLES[name][0]]
    allowed = {sheet_part, "xl/styles.xml", "xl/workbook.xml"}
    changed = {n for n in src.namelist() if src.read(n) != dest.read(n)}
    assert sheet_part in changed
    assert changed <= allowed
    for a, b in zip(src.infolist(), dest.infolist(), strict=True):
        assert a.compress_type == b.compress_type
        if a.filename not in changed:  # raw compressed bytes copied, not re-compressed
            assert (a.CRC, a.compress_size, a.extra) == (b.CRC, b.compress_size, b.extra)
    assert dest.testzip() is None


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_sample_values_read_back(name: str, patched: dict[str, Path]) -> None:
    sheet, (text_ref, date_ref, num_ref) = SAMPLES[name]
    out = patched[name]
    assert calamine_cell(out, sheet, text_ref) == TRICKY
    assert calamine_cell(out, sheet, date_ref) == WHEN
    assert calamine_cell(out, sheet, num_ref) == 1234.5
    ws = openpyxl_sheet(out, sheet)
    assert ws[text_ref].data_type == "s"  # a string, never a formula
    assert ecma_decode(ws[text_ref].value) == TRICKY
    assert ws[date_ref].value == dt.datetime(2026, 11, 26)
    assert ws[date_ref].is_date
    assert ws[num_ref].value == 1234.5
    again = XlsxPatcher(out)
    assert again.get(sheet, text_ref) == TRICKY
    assert again.get(sheet, date_ref) == dt.datetime(2026, 11, 26)
    assert again.get(sheet, num_ref) == 1234.5


def test_formula_workbook_gets_full_calc_on_load(patched: dict[str, Path]) -> None:
    with zipfile.ZipFile(patched["poi_NewStyleConditionalFormattings.xlsx"]) as z:
        assert b'fullCalcOnLoad="1"' in z.read("xl/workbook.xml")
    with zipfile.ZipFile(patched["poi_ExcelPivotTableSample.xlsx"]) as z, \
            zipfile.ZipFile(DATA / "poi_ExcelPivotTableSample.xlsx") as src:
        assert z.read("xl/workbook.xml") == src.read("xl/workbook.xml")  # no formulas


SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")


@pytest.mark.slow  # starts LibreOffice for each workbook
@pytest.mark.skipif(SOFFICE is None, reason="LibreOffice (soffice) is not installed here")
@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_libreoffice_opens_patched_sample(name: str, patched: dict[str, Path],
                                          tmp_path: Path) -> None:
    assert SOFFICE is not None
    run = subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile",
                          "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path),
                          str(patched[name])], capture_output=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / (Path(name).stem + ".pdf")).stat().st_size > 0


# -- workbooks built here ----------------------------------------------------------------------


def table_workbook(path: Path, totals: bool = False, epoch1904: bool = False) -> Path:
    wb = openpyxl.Workbook()
    if epoch1904:
        wb.epoch = openpyxl.utils.datetime.CALENDAR_MAC_1904
    ws = wb.active
    ws.title = "Tenants"
    ws["A1"] = "FastTrack tracker"
    ws.append([])
    ws.append(["Tenant", "Region", "Seats"])
    for i in range(5):
        ws.append([f"Contoso {i}", "EMEA", 100 + i])
    ws["E5"] = "=C4*2"
    ws.merge_cells("A12:B12")
    ws["A12"] = "merged"
    last = 8
    if totals:
        ws.append(["Total", None, None])
        last = 9
    table = Table(displayName="Tracker", ref=f"A3:C{last}",
                  totalsRowCount=1 if totals else None)
    ws.add_table(table)
    wb.save(path)
    return path


def test_add_columns_extends_table(tmp_path: Path) -> None:
    src = table_workbook(tmp_path / "t.xlsx")
    p = XlsxPatcher(src)
    cols = p.add_columns("Tenants", 3, ["Region", "Sent on", "Note & more"])
    assert cols == {"Region": "B", "Sent on": "D", "Note & more": "E"}
    p.set("Tenants", "D4", WHEN)
    p.set("Tenants", "E4", "ok")
    out = tmp_path / "out.xlsx"
    p.save(out)
    ws = openpyxl_sheet(out, "Tenants")
    table = ws.tables["Tracker"]
    assert table.ref == "A3:E8"
    assert table.autoFilter.ref == "A3:E8"
    assert [c.name for c in table.tableColumns] == ["Tenant", "Region", "Seats", "Sent on",
                                                    "Note & more"]
    assert len({c.id for c in table.tableColumns}) == 5
    assert ws["D3"].value == "Sent on" and ws["E3"].value == "Note & more"
    assert ws["D4"].value == dt.datetime(2026, 11, 26)
    # re-running adds nothing: the columns are found by their tableColumn names
    again = XlsxPatcher(out)
    assert again.add_columns("Tenants", 3, ["Sent on", "Note & more"]) == {
        "Sent on": "D", "Note & more": "E"}
    with pytest.raises(WritebackError, match=r"Tenants!D3: .*header row of table"):
        again.set("Tenants", "D3", "renamed")


def test_add_columns_without_table(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["Name", "Email", None, "Owner"])
    wb.save(tmp_path / "plain.xlsx")
    p = XlsxPatcher(tmp_path / "plain.xlsx")
    assert p.add_columns("Sheet", 1, ["Email", "Status"]) == {"Email": "B", "Status": "E"}
    p.save(tmp_path / "out.xlsx")
    assert calamine_cell(tmp_path / "out.xlsx", "Sheet", "E1") == "Status"


def refusal(call: object, *parts: str) -> WritebackError:
    with pytest.raises(WritebackError) as info:
        call()  # type: ignore[operator]
    message = str(info.value)
    for part in parts:
        assert part in message, message
    assert info.value.fix  # says what to do
    return info.value


def test_cell_refusals(tmp_path: Path) -> None:
    src = table_workbook(tmp_path / "t.xlsx")
    p = XlsxPatcher(src)
    name = str(src)
    refusal(lambda: p.set("Tenants", "E5", "x"), name, "Tenants!E5", "formula")
    refusal(lambda: p.set("Tenants", "B12", "x"), name, "Tenants!B12", "merged", "A12")
    refusal(lambda: p.set("Tenants", "B3", "x"), name, "Tenants!B3", "header row")
    refusal(lambda: p.set("Nope", "A1", "x"), name, "Nope", "Tenants")
    refusal(lambda: p.set("Tenants", "A1", "x" * 32768), "Tenants!A1", "32767")
    refusal(lambda: p.set("Tenants", "A1", dt.date(1899, 1, 1)), "Tenants!A1", "before")
    refusal(lambda: p.set("Tenants", "A1", "bad \ud800"), "Tenants!A1", "surrogate")
    refusal(lambda: p.set("Tenants", "A1", "bad \ufffe"), "Tenants!A1", "U+FFFE")
    p.set("Tenants", "A12", "anchor is fine")
    totals = XlsxPatcher(table_workbook(tmp_path / "tot.xlsx", totals=True))
    refusal(lambda: totals.set("Tenants", "B9", 1), "tot.xlsx", "Tenants!B9", "totals row")
    totals.set("Tenants", "B8", 1)  # last data row is fine


def test_formula_refusal_in_excel_file() -> None:
    p = XlsxPatcher(DATA / "poi_NewStyleConditionalFormattings.xlsx")
    for ref in ("C2", "D2", "E3"):  # plain formula, shared-formula master, shared child
        refusal(lambda ref=ref: p.set("CF", ref, 5), "poi_NewStyleConditionalFormattings.xlsx",
                f"CF!{ref}", "formula")
    pics = XlsxPatcher(DATA / "calamine_pictures_in_cell_and_over_cell.xlsx")
    refusal(lambda: pics.set("Sheet1", "A1", "x"), "Sheet1!A1", "picture")


def test_package_refusals(tmp_path: Path) -> None:
    encrypted = tmp_path / "enc.xlsx"
    encrypted.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(2000))
    refusal(lambda: XlsxPatcher(encrypted), "enc.xlsx", "encrypted", "password")
    text = tmp_path / "notes.xlsx"
    text.write_text("Tenant,Region\n")
    refusal(lambda: XlsxPatcher(text), "notes.xlsx", "not a zip")
    whole = (DATA / "excelize_Book1.xlsx").read_bytes()
    truncated = tmp_path / "cut.xlsx"
    truncated.write_bytes(whole[: len(whole) // 2])
    refusal(lambda: XlsxPatcher(truncated), "cut.xlsx", "truncated")
    strict = tmp_path / "strict.xlsx"
    with zipfile.ZipFile(DATA / "poi_ExcelPivotTableSample.xlsx") as z, \
            zipfile.ZipFile(strict, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            data = z.read(info).replace(
                b"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                b"http://purl.oclc.org/ooxml/spreadsheetml/main").replace(
                b"http://schemas.openxmlformats.org/officeDocument/2006/relationships",
                b"http://purl.oclc.org/ooxml/officeDocument/relationships")
            out.writestr(info, data)
    refusal(lambda: XlsxPatcher(strict), "strict.xlsx", "Strict Open XML", "Excel Workbook")


def _set_declared_size(path: Path, member: str, size: int) -> None:
    data = bytearray(path.read_bytes())
    pos = data.find(b"PK\x01\x02" + bytes(0), data.rfind(b"PK\x05\x06") - 10**6)
    while pos >= 0:
        n = struct.unpack_from("<H", data, pos + 28)[0]
        if data[pos + 46:pos + 46 + n] == member.encode():
            struct.pack_into("<I", data, pos + 24, size)
        pos = data.find(b"PK\x01\x02", pos + 4)
    path.write_bytes(bytes(data))


def test_zip_bomb_refused(tmp_path: Path) -> None:
    big = tmp_path / "big.xlsx"
    shutil.copy(DATA / "poi_ExcelPivotTableSample.xlsx", big)
    _set_declared_size(big, "xl/theme/theme1.xml", 600 * 2**20)
    refusal(lambda: XlsxPatcher(big), "big.xlsx", "expand")


def test_date1904(tmp_path: Path) -> None:
    src = table_workbook(tmp_path / "mac.xlsx", epoch1904=True)
    p = XlsxPatcher(src)
    assert p.date1904
    when = dt.datetime(2026, 11, 26, 14, 30)
    p.set("Tenants", "G4", WHEN)
    p.set("Tenants", "G5", when)
    p.save(tmp_path / "out.xlsx")
    with zipfile.ZipFile(tmp_path / "out.xlsx") as z:
        assert b"<v>44890</v>" in z.read("xl/worksheets/sheet1.xml")  # 1904 serial, not 46352
    assert calamine_cell(tmp_path / "out.xlsx", "Tenants", "G4") == WHEN
    assert calamine_cell(tmp_path / "out.xlsx", "Tenants", "G5") == when
    ws = openpyxl_sheet(tmp_path / "out.xlsx", "Tenants")
    assert ws["G4"].value == dt.datetime(2026, 11, 26)
    assert ws["G5"].value == when


def workbook_with_sheet(tmp_path: Path, sheet: str) -> Path:
    """An openpyxl workbook whose only sheet's XML is `sheet` (x.xlsx in `tmp_path`)."""
    wb = openpyxl.Workbook()
    wb.active["A1"] = "x"
    wb.save(tmp_path / "base.xlsx")
    with zipfile.ZipFile(tmp_path / "base.xlsx") as z, \
            zipfile.ZipFile(tmp_path / "x.xlsx", "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            data = z.read(info)
            out.writestr(info, sheet if info.filename == "xl/worksheets/sheet1.xml" else data)
    return tmp_path / "x.xlsx"


def test_prefixed_sheet_self_closing_rows_and_cells(tmp_path: Path) -> None:
    sheet = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        '<x:worksheet xmlns:x="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
        '<x:dimension ref="A1:C3"/><x:sheetData>'
        '<x:row r="1" spans="1:1"><x:c r="A1" t="inlineStr"><x:is><x:t>x</x:t></x:is></x:c>'
        '</x:row><x:row r="2" spans="1:3"/><x:row r="3"><x:c r="B3" s="0"/><x:c r="D3">'
        "<x:v>4</x:v></x:c></x:row><x:row r=\"9\"><x:c r=\"A9\"><x:v>9</x:v></x:c></x:row>"
        "</x:sheetData></x:worksheet>")
    p = XlsxPatcher(workbook_with_sheet(tmp_path, sheet))
    p.set("Sheet", "B2", "two")
    p.set("Sheet", "B3", 3)
    p.set("Sheet", "C3", "before D3")
    p.set("Sheet", "E1", "wide")
    p.set("Sheet", "A5", "new row")
    p.set("Sheet", "A12", "last row")
    p.set("Sheet", "A9", None)
    p.save(tmp_path / "out.xlsx")
    with zipfile.ZipFile(tmp_path / "out.xlsx") as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert '<x:dimension ref="A1:E12"/>' in xml
    assert '<x:row r="1" spans="1:5">' in xml
    assert xml.index('r="B3"') < xml.index('r="C3"') < xml.index('r="D3"')
    assert xml.index('r="5"') < xml.index('r="9"') < xml.index('r="12"')
    assert "<c " not in xml and "<t>" not in xml  # only the sheet's own prefix is used
    rows = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name(
        "Sheet").to_python(skip_empty_area=False)
    assert rows[1][1] == "two" and rows[2][1] == 3 and rows[2][2] == "before D3"
    assert rows[2][3] == 4 and rows[0][4] == "wide" and rows[4][0] == "new row"
    assert rows[11][0] == "last row" and rows[8][0] == ""
    ws = openpyxl_sheet(tmp_path / "out.xlsx", "Sheet")
    assert ws["B2"].value == "two" and ws["A12"].value == "last row" and ws["A9"].value is None


# Excel cannot store U+FFFE/U+FFFF or unpaired surrogates (XML forbids them); hypothesis'
# text() never yields surrogates, and we exclude the two non-characters.
_piece = st.one_of(
    st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\ufffe\uffff"),
            max_size=6),
    st.sampled_from(["_x0041_", "_x005F_", "_x00", "_x", "_", " ", "\r", "\n", "\t", "\x00",
                     "\x1f", "=1+1", "@x", "&amp;", "<", ">", "x0041_"]))
cell_text = st.lists(_piece, max_size=8).map("".join)


@pytest.mark.slow  # fuzz: 200 generated texts through a real workbook
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=cell_text)
def test_any_text_round_trips(text: str, tmp_path: Path) -> None:
    src = DATA / "poi_ExcelPivotTableSample.xlsx"
    p = XlsxPatcher(src)
    p.set("Tabelle1", "J2", text)
    out = tmp_path / "rt.xlsx"
    p.save(out)
    got = calamine_cell(out, "Tabelle1", "J2")
    assert got == text
    assert XlsxPatcher(out).get("Tabelle1", "J2") == text


# -- atomic replacement and backups ------------------------------------------------------------


def test_atomic_replace_keeps_mode_and_content(tmp_path: Path) -> None:
    target = tmp_path / "tracker.xlsx"
    target.write_bytes(b"old")
    os.chmod(target, 0o640)
    atomic_replace(target, lambda tmp: tmp.write_bytes(b"new"))
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert [p.name for p in tmp_path.iterdir()] == ["tracker.xlsx"]


def test_atomic_replace_failure_leaves_original(tmp_path: Path) -> None:
    target = tmp_path / "tracker.xlsx"
    target.write_bytes(b"old")

    def broken(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_replace(target, broken)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["tracker.xlsx"]


def test_atomic_replace_with_patcher(tmp_path: Path) -> None:
    target = tmp_path / "t.xlsx"
    shutil.copy(DATA / "poi_ExcelPivotTableSample.xlsx", target)
    p = XlsxPatcher(target)
    p.set("Tabelle1", "J2", "sent")
    atomic_replace(target, p.save)
    assert calamine_cell(target, "Tabelle1", "J2") == "sent"


def test_backup_prunes_by_count_and_age(tmp_path: Path) -> None:
    original = tmp_path / "tracker.xlsx"
    original.write_bytes(b"v1")
    folder = tmp_path / "backups"
    folder.mkdir()
    old = folder / "tracker.20000101-000000-000000.xlsx"
    old.write_bytes(b"ancient")
    other = folder / "other.20000101-000000-000000.xlsx"
    other.write_bytes(b"not ours")
    made = [backup(original, folder, keep=3) for _ in range(5)]
    assert made[-1].read_bytes() == b"v1"
    left = sorted(p.name for p in folder.iterdir())
    assert not old.exists()
    assert other.exists()
    assert sorted(p.name for p in made[-3:]) == [n for n in left if n.startswith("tracker.")]


def test_empty_sheet_and_clearing_keeps_style(tmp_path: Path) -> None:
    wb = openpyxl.Workbook()
    wb.active["B2"] = 5
    wb.active["B2"].font = openpyxl.styles.Font(bold=True)
    wb.create_sheet("Empty")
    wb.save(tmp_path / "o.xlsx")
    with zipfile.ZipFile(tmp_path / "o.xlsx") as z, \
            zipfile.ZipFile(tmp_path / "e.xlsx", "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():  # Excel writes an empty sheet as <sheetData/>
            out.writestr(info, z.read(info).replace(b"<sheetData></sheetData>", b"<sheetData/>"))
    with zipfile.ZipFile(tmp_path / "e.xlsx") as z:
        assert b"<sheetData/>" in z.read("xl/worksheets/sheet2.xml")
    p = XlsxPatcher(tmp_path / "e.xlsx")
    p.set("Empty", "C3", "third")
    p.set("Empty", "A1", 1)
    p.set("Sheet", "B2", None)
    assert p.get("Sheet", "B2") is None
    p.save(tmp_path / "out.xlsx")
    with zipfile.ZipFile(tmp_path / "out.xlsx") as z:
        assert b'<c r="B2" s="1"/>' in z.read("xl/worksheets/sheet1.xml")
    ws = openpyxl_sheet(tmp_path / "out.xlsx", "Empty")
    assert ws["A1"].value == 1 and ws["C3"].value == "third"
    assert ws.dimensions == "A1:C3"
    assert openpyxl_sheet(tmp_path / "out.xlsx", "Sheet")["B2"].font.bold


def test_missing_sheet_part_refused(tmp_path: Path) -> None:
    broken = tmp_path / "missing.xlsx"
    with zipfile.ZipFile(DATA / "poi_ExcelPivotTableSample.xlsx") as z, \
            zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as out:
        for info in z.infolist():
            if info.filename != "xl/worksheets/sheet2.xml":
                out.writestr(info, z.read(info))
    refusal(lambda: XlsxPatcher(broken), "missing.xlsx", "Tabelle2", "missing part")


def test_remove_stale_temps_deletes_only_this_trackers_leftovers(tmp_path: Path) -> None:
    from ftc_office.atomic import remove_stale_temps

    tracker = tmp_path / "tracker.xlsx"
    tracker.write_bytes(b"PK")
    stale = tmp_path / ".tracker.xlsx.abc123.tmp"
    stale.write_bytes(b"half a workbook")
    other = tmp_path / ".other.xlsx.abc123.tmp"
    other.write_bytes(b"not ours")
    assert remove_stale_temps(tracker) == [stale]
    assert not stale.exists() and other.exists() and tracker.exists()


# -- how a row's cells are found: Excel's spelling (<c r="B7" ...) by one findall, any other
# by reading every cell's start tag. Each case: row 7's cells, the edits, row 7 afterwards
# (the same text the patcher wrote before the fast path; read and checked by hand).
_ROWS: dict[str, tuple[str, dict[str, object], str]] = {
    'excel': (
        ('<c r="A7" s="0"><v>1</v></c><c r="C7" t="inlineStr"><is><t>c</t></is></c>'
         '<c r="E7"/>'),
        {'B7': 'b', 'C7': 'new c', 'F7': 6},
        ('<c r="A7" s="0"><v>1</v></c><c r="B7" t="inlineStr"><is><t>b</t></is></c>'
         '<c r="C7" t="inlineStr"><is><t>new c</t></is></c>'
         '<c r="E7"/><c r="F7"><v>6</v></c>')),
    'no r on a cell': (
        ('<c r="A7"><v>1</v></c><c><v>2</v></c><c r="D7"><v>4</v></c>'),
        {'C7': 'c', 'B7': 'two'},
        ('<c r="A7"><v>1</v></c><c r="B7" t="inlineStr"><is><t>two</t></is></c>'
         '<c r="C7" t="inlineStr"><is><t>c</t></is></c><c r="D7"><v>4</v></c>')),
    'r not first': (
        ('<c s="0" r="B7"><v>2</v></c><c t="n" r="D7"><v>4</v></c>'),
        {'A7': 'a', 'C7': 'c', 'D7': 'd'},
        ('<c r="A7" t="inlineStr"><is><t>a</t></is></c><c s="0" r="B7"><v>2</v></c>'
         '<c r="C7" t="inlineStr"><is><t>c</t></is></c>'
         '<c r="D7" t="inlineStr"><is><t>d</t></is></c>')),
    'lowercase and single quotes': (
        ("<c r='A7'><v>1</v></c><c r=\"c7\"><v>3</v></c>"),
        {'B7': 'b', 'C7': 'three'},
        ("<c r='A7'><v>1</v></c><c r=\"B7\" t=\"inlineStr\"><is><t>b</t></is></c>"
         '<c r="C7" t="inlineStr"><is><t>three</t></is></c>')),
    'rich text with color': (
        ('<c r="A7" t="inlineStr"><is><r><rPr><color rgb="FFFF0000"/></rPr><t>red</t></r></is></c>'
         '<c r="C7"><v>3</v></c>'),
        {'B7': 'b', 'D7': 'd'},
        ('<c r="A7" t="inlineStr"><is><r><rPr><color rgb="FFFF0000"/></rPr><t>red</t></r></is></c>'
         '<c r="B7" t="inlineStr"><is><t>b</t></is></c><c r="C7"><v>3</v></c>'
         '<c r="D7" t="inlineStr"><is><t>d</t></is></c>')),
    'reference of another row': (
        ('<c r="A8"><v>1</v></c><c r="C8"><v>3</v></c>'),
        {'B7': 'b', 'C7': 'c'},
        ('<c r="A8"><v>1</v></c><c r="B7" t="inlineStr"><is><t>b</t></is></c>'
         '<c r="C7" t="inlineStr"><is><t>c</t></is></c>')),
    'out of order': (
        ('<c r="C7"><v>3</v></c><c r="A7"><v>1</v></c>'),
        {'B7': 'b', 'A7': 'a'},
        ('<c r="B7" t="inlineStr"><is><t>b</t></is></c><c r="C7"><v>3</v></c>'
         '<c r="A7" t="inlineStr"><is><t>a</t></is></c>')),
    'whitespace between cells': (
        (' <c r="A7"><v>1</v></c> <c r="C7"><v>3</v></c> '),
        {'B7': 'b', 'D7': 'd'},
        (' <c r="A7"><v>1</v></c> <c r="B7" t="inlineStr"><is><t>b</t></is></c>'
         '<c r="C7"><v>3</v></c><c r="D7" t="inlineStr"><is><t>d</t></is></c> ')),
    'extLst after the cells': (
        ('<c r="A7"><v>1</v></c><extLst><ext uri="x"/></extLst>'),
        {'B7': 'b'},
        ('<c r="A7"><v>1</v></c><c r="B7" t="inlineStr"><is><t>b</t></is></c>'
         '<extLst><ext uri="x"/></extLst>')),
    'self-closing last cell': (
        ('<c r="A7"><v>1</v></c><c r="B7" s="0"/>\n'),
        {'C7': 'c'},
        ('<c r="A7"><v>1</v></c>'
         '<c r="B7" s="0"/><c r="C7" t="inlineStr"><is><t>c</t></is></c>\n')),
}


@pytest.mark.parametrize("case", list(_ROWS))
def test_row_spellings_edit_the_right_cell(case: str, tmp_path: Path) -> None:
    """A replaced cell stays where it was, a new one goes before the first cell right of it
    (in document order), and every other byte of the row is kept."""
    body, edits, expected = _ROWS[case]
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
             f'<sheetData><row r="1"><c r="A1"><v>0</v></c></row><row r="7">{body}</row>'
             "</sheetData></worksheet>")
    p = XlsxPatcher(workbook_with_sheet(tmp_path, sheet))
    for ref, value in edits.items():
        p.set("Sheet", ref, value)  # type: ignore[arg-type]
    p.save(tmp_path / "out.xlsx")
    with zipfile.ZipFile(tmp_path / "out.xlsx") as z:
        xml = z.read("xl/worksheets/sheet1.xml").decode()
    assert f'<row r="7">{expected}</row>' in xml
    got = CalamineWorkbook.from_path(str(tmp_path / "out.xlsx")).get_sheet_by_name(
        "Sheet").to_python(skip_empty_area=False)
    for ref, value in edits.items():
        assert got[6][col_number(ref[0]) - 1] == value


@pytest.mark.parametrize(("name", "level"), [("poi_ExcelPivotTableSample.xlsx", 1),
                                              ("excelize_Book1.xlsx", 6)])
def test_changed_member_deflated_at_the_level_its_flags_name(name: str, level: int,
                                                             tmp_path: Path) -> None:
    """Excel marks its members "super fast" (flag bits 1-2 set: level 1), excelize "normal"
    (level 6): a rewritten member keeps its flags and is deflated at that level."""
    import zlib

    sheet, refs = SAMPLES[name]
    out = tmp_path / "out.xlsx"
    p = XlsxPatcher(DATA / name)
    p.set(sheet, refs[0], "written")
    p.save(out)
    part = p._sheet(sheet).part
    with zipfile.ZipFile(DATA / name) as before, zipfile.ZipFile(out) as after:
        old, new = before.getinfo(part), after.getinfo(part)
        content = after.read(part)
        with out.open("rb") as fh:  # the member's raw deflated bytes
            fh.seek(new.header_offset + 26)
            n, m = struct.unpack("<HH", fh.read(4))
            fh.seek(new.header_offset + 30 + n + m)
            raw = fh.read(new.compress_size)
    assert new.flag_bits & 6 == old.flag_bits & 6
    comp = zlib.compressobj(level, zlib.DEFLATED, -15)
    assert raw == comp.compress(content) + comp.flush()

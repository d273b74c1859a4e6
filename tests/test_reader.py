"""Reading trackers: finding the header, typed values, grouping, problems, refused files."""

from __future__ import annotations

import datetime as dt
import re
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from builders import DEFAULT_COLUMNS, make_tracker, row

from ftc_office.config import Settings, TrackerSettings
from ftc_office.errors import TrackerError
from ftc_office.fields import FIELDS
from ftc_office.planning import load_workspace
from ftc_office.tracker.builder import load_tracker
from ftc_office.tracker.reader import read_sheet
from ftc_office.tracker.records import TenantRecord, TrackerRecords

NO_ID: dict[str, Any] = {"tenant_id": None}  # a row with data but no Tenant ID
PROBLEM = re.compile(r"^(?P<file>.+\.xlsx), (?P<sheet>[^!]+)!(?P<cell>[A-Z]+[0-9]+): "
                     r"(?P<what>.+) — (?P<fix>.+)$", re.DOTALL)


def load(path: Path, settings: Settings | None = None) -> TrackerRecords:
    return load_tracker(path, settings or Settings())


def problems(records: TrackerRecords) -> list[str]:
    return [str(p) for p in records.all_problems]


def tenant(records: TrackerRecords, tid: str = "t-1") -> TenantRecord:
    return next(t for t in records.tenants if t.tenant_id == tid)


def one_value(tmp_path: Path, field: str, value: Any) -> tuple[Any, list[str]]:
    """Write one row with ``field`` set to ``value``; return the typed value and problems."""
    path = make_tracker(tmp_path / "one.xlsx", [row(**{field: value})])
    rec = load(path)
    t = rec.tenants[0]
    got = getattr(t.workloads[0] if FIELDS[field].level == "workload" else t, field)
    return got, problems(rec)


# --- finding the sheet and the header -------------------------------------------------

@pytest.mark.parametrize("header_row", [1, 4])
@pytest.mark.parametrize("table", [False, True])
def test_header_on_row_1_or_below_title_rows_with_or_without_a_table(
        tmp_path: Path, header_row: int, table: bool) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1"), row("t-2", "Exchange Online")],
                        header_row=header_row, table=table)
    sheet = read_sheet(path)
    assert sheet.header_row == header_row
    assert [r.number for r in sheet.rows] == [header_row + 1, header_row + 2]
    rec = load(path)
    assert [t.tenant_id for t in rec.tenants] == ["t-1", "t-2"]
    assert problems(rec) == []
    assert tenant(rec, "t-2").refs["seats"] == f"D{header_row + 2}"


ALIASES = {
    "tenant_id": "TenantId", "customer": "Customer Name", "workload": "Service",
    "seats": "Licensed Seats", "active_users": "MAU", "region": "Geo",
    "fm_email": "FastTrack Manager", "account_team": "ATU Contacts",
    "no_blockers": "Customer Confirmed No Blockers", "customer_contacts": "Customer Email",
}


def test_aliases_are_accepted(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row(seats=1500, active_users=200)],
                        headers=ALIASES)
    rec = load(path)
    assert problems(rec) == []
    t = tenant(rec)
    assert (t.seats, t.active_users, t.region) == (1500, 200, "EMEA")
    assert rec.source.headers["seats"] == "Licensed Seats"


@pytest.mark.parametrize("header", ["tenant-id", "TENANT  ID", " Tenant_ID ", "tenant id:",
                                    "Tenant.Id"])
def test_header_matching_ignores_case_spaces_and_punctuation(tmp_path: Path, header: str
                                                            ) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row()], headers={"tenant_id": header})
    rec = load(path)
    assert [t.tenant_id for t in rec.tenants] == ["t-1"]
    assert problems(rec) == []


def test_shuffled_and_extra_columns(tmp_path: Path) -> None:
    columns = list(reversed(DEFAULT_COLUMNS))
    path = make_tracker(tmp_path / "t.xlsx", [row(seats=1234)], columns=columns,
                        extra_columns=("Partner", "Comments"))
    rec = load(path)
    assert problems(rec) == []
    t = tenant(rec)
    assert t.seats == 1234
    assert t.refs["seats"] == f"{chr(ord('A') + columns.index('seats'))}2"
    assert "Partner" not in rec.source.headers.values()


def test_first_sheet_is_not_the_tracker_found_by_header(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row()], extra_sheets=("Summary", "Lists"),
                        sheet="Engagements")
    rec = load(path)
    assert rec.source.sheet == "Engagements"
    assert [t.tenant_id for t in rec.tenants] == ["t-1"]


def test_configured_sheet_name(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row()], extra_sheets=("Summary",),
                        sheet="FY27")
    rec = load(path, Settings(tracker=TrackerSettings(sheet="FY27")))
    assert rec.source.sheet == "FY27"
    with pytest.raises(TrackerError) as err:
        load(path, Settings(tracker=TrackerSettings(sheet="FY26")))
    assert str(err.value) == (
        f"{path}: no sheet named 'FY26' — use one of: Summary, FY27 (tracker.sheet in the "
        "config or --sheet)")


def test_configured_sheet_without_a_header_is_an_error(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row()], extra_sheets=("Summary",))
    with pytest.raises(TrackerError, match="no sheet has a 'Tenant ID' column"):
        load(path, Settings(tracker=TrackerSettings(sheet="Summary")))


def test_config_header_override(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row(seats=1500)],
                        headers={"tenant_id": "Customer GUID", "seats": "Entitled Users"})
    with pytest.raises(TrackerError, match="no sheet has a 'Tenant ID' column"):
        load(path)
    rec = load(path, Settings(tracker=TrackerSettings(
        headers={"tenant_id": "customer guid", "seats": "Entitled Users"})))
    assert problems(rec) == []
    assert tenant(rec).seats == 1500


def test_missing_required_columns_is_one_error_naming_them(tmp_path: Path) -> None:
    columns = [c for c in DEFAULT_COLUMNS if c not in ("customer", "seats", "region")]
    path = make_tracker(tmp_path / "t.xlsx", [row()], columns=columns)
    with pytest.raises(TrackerError) as err:
        load(path)
    assert str(err.value) == (
        f"{path}, Tracker!1:1: required columns missing: 'Customer', 'Seats', 'Region' — "
        "add the column to the header row (aliases are listed in the README), or map it "
        "with [tracker.headers] in ftc-office.toml")


def test_no_tenant_id_column_anywhere(tmp_path: Path) -> None:
    columns = [c for c in DEFAULT_COLUMNS if c != "tenant_id"]
    path = make_tracker(tmp_path / "t.xlsx", [row()], columns=columns)
    with pytest.raises(TrackerError) as err:
        load(path)
    assert str(err.value) == (
        f"{path}: no sheet has a 'Tenant ID' column in its first 30 rows — add a header cell "
        "'Tenant ID' (or TenantId, Tenant GUID), or set tracker.headers.tenant_id in "
        "ftc-office.toml")


def test_duplicate_header_columns(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row()], extra_columns=("Licensed Seats", "geo"))
    with pytest.raises(TrackerError) as err:
        load(path)
    assert str(err.value) == (
        f"{path}, Tracker!1:1: duplicate columns: D and AA are both 'Seats'; G and AB are "
        "both 'Region' — rename or delete one of each pair")


# --- typed values ---------------------------------------------------------------------

@pytest.mark.parametrize(("value", "expected"), [
    (1200, 1200), (1200.0, 1200), ("1200", 1200), ("1,200", 1200), (" 1,200,000 ", 1200000),
])
def test_whole_numbers(tmp_path: Path, value: Any, expected: int) -> None:
    assert one_value(tmp_path, "seats", value) == (expected, [])


@pytest.mark.parametrize(("value", "what"), [
    ("12.5", "'12.5' is not a whole number — type digits only, e.g. 1200"),
    (12.5, "12.5 is not a whole number — type a whole number"),
    ("lots", "'lots' is not a whole number — type digits only, e.g. 1200"),
    ("1,20", "'1,20' is not a whole number — type digits only, e.g. 1200"),
    (-5, "-5 is below 0 — type a number of at least 0"),
    (True, "True is not a number — type a whole number"),
])
def test_bad_whole_numbers_are_problems(tmp_path: Path, value: Any, what: str) -> None:
    got, probs = one_value(tmp_path, "active_users", value)
    assert got is None
    assert probs == [f"{tmp_path / 'one.xlsx'}, Tracker!E2: {what}"]


def test_zero_seats_is_a_problem(tmp_path: Path) -> None:
    _, probs = one_value(tmp_path, "seats", 0)
    assert probs == [f"{tmp_path / 'one.xlsx'}, Tracker!D2: Seats is 0 — type the tenant's "
                     "licensed seats (a number above 0)"]


@pytest.mark.parametrize(("value", "expected"), [
    ("yes", True), ("Yes", True), ("YES", True), ("no", False), ("No", False),
    ("y", True), ("N", False), ("true", True), ("false", False), ("TRUE", True),
    ("FALSE", False), (True, True), (False, False), (1, True), (0, False), ("1", True),
    ("0", False), ("x", True), ("X", True), (None, None),
])
def test_yes_no_in_all_forms(tmp_path: Path, value: Any, expected: bool | None) -> None:
    assert one_value(tmp_path, "no_blockers", value) == (expected, [])


@pytest.mark.parametrize(("value", "shown"), [
    ("maybe", "'maybe'"), (2, "'2'"), ("-", "'-'"), (dt.date(2026, 1, 2), "'2026-01-02'"),
])
def test_bad_yes_no_is_a_problem(tmp_path: Path, value: Any, shown: str) -> None:
    got, probs = one_value(tmp_path, "no_blockers", value)
    assert got is None
    assert probs == [f"{tmp_path / 'one.xlsx'}, Tracker!F2: {shown} is not yes or no — "
                     "type Yes or No (or leave it empty)"]


@pytest.mark.parametrize(("value", "expected"), [
    (dt.date(2026, 11, 26), dt.date(2026, 11, 26)),
    (dt.datetime(2026, 11, 26, 14, 30), dt.date(2026, 11, 26)),
    ("2026-11-26", dt.date(2026, 11, 26)),
    ("2026-11-26 09:15", dt.date(2026, 11, 26)),
    ("26 Nov 2026", dt.date(2026, 11, 26)),
    ("26-Nov-2026", dt.date(2026, 11, 26)),
    ("26 November 2026", dt.date(2026, 11, 26)),
    ("Nov 26, 2026", dt.date(2026, 11, 26)),
    ("November 26 2026", dt.date(2026, 11, 26)),
])
def test_dates(tmp_path: Path, value: Any, expected: dt.date) -> None:
    assert one_value(tmp_path, "discussion_date", value) == (expected, [])


@pytest.mark.parametrize(("value", "what"), [
    ("03/04/2026", "'03/04/2026' is ambiguous (day/month or month/day?) — type it as "
                   "2026-11-26 or 26 Nov 2026, or enter a real Excel date"),
    ("26.11.2026", "'26.11.2026' is ambiguous (day/month or month/day?) — type it as "
                   "2026-11-26 or 26 Nov 2026, or enter a real Excel date"),
    (46352, "46352 is a number, not a date — format the cell as a date, or type it as "
            "2026-11-26"),
    ("2026-02-30", "'2026-02-30' is not a real date — type an existing date, e.g. 2026-11-26"),
    ("next week", "'next week' is not a date — type it as 2026-11-26 or enter a real date"),
])
def test_bad_dates_are_problems(tmp_path: Path, value: Any, what: str) -> None:
    got, probs = one_value(tmp_path, "discussion_date", value)
    assert got is None
    assert probs == [f"{tmp_path / 'one.xlsx'}, Tracker!L2: {what}"]


@pytest.mark.parametrize("cell", [
    "ann@microsoft.com; bob@microsoft.com", "ann@microsoft.com, bob@microsoft.com",
    "ann@microsoft.com\nbob@microsoft.com", "ann@microsoft.com;\r\n bob@microsoft.com;",
    "ann@microsoft.com; bob@microsoft.com; ann@microsoft.com",
    "ann@MICROSOFT.com,,bob@microsoft.com",
])
def test_address_lists(tmp_path: Path, cell: str) -> None:
    got, probs = one_value(tmp_path, "account_team", cell)
    assert probs == []
    assert [a.email for a in got] == ["ann@microsoft.com", "bob@microsoft.com"]


def test_an_invalid_address_is_a_problem_naming_the_cell(tmp_path: Path) -> None:
    got, probs = one_value(tmp_path, "account_team", "ann@microsoft.com; Bob <bob at x.com>")
    assert got == ()  # an unreadable address list is no addresses (and a problem)
    assert len(probs) == 1
    m = PROBLEM.match(probs[0])
    assert m and m["cell"] == "I2"
    assert "'bob at x.com' is not an address" in m["what"]


@pytest.mark.parametrize("cell", [
    "Eduardo Diaz <eduardod@microsoft.com>; Maria Lopez <v-mlopez@microsoft.com>",
    '"Diaz, Eduardo" <eduardod@microsoft.com>, "Lopez, Maria" <v-mlopez@microsoft.com>',
    "Diaz, Eduardo <eduardod@microsoft.com>; Lopez, Maria <v-mlopez@microsoft.com>",
])
def test_outlook_pasted_names_are_read_with_their_addresses(tmp_path: Path, cell: str
                                                             ) -> None:
    got, probs = one_value(tmp_path, "account_team", cell)
    assert probs == []
    assert [(a.email, a.first_name) for a in got] == [
        ("eduardod@microsoft.com", "Eduardo"), ("v-mlopez@microsoft.com", "Maria")]


@pytest.mark.parametrize("cell", ["Eve =?utf-8?q?x?= <eve@x.com>", 'Eve "x" <eve@x.com>',
                                  "Eve <eve@x.com", "<eve@x.com> trailing"])
def test_a_display_name_that_could_smuggle_headers_is_refused(tmp_path: Path, cell: str
                                                               ) -> None:
    got, probs = one_value(tmp_path, "customer_contacts", cell)
    assert got == () and len(probs) == 1


def test_fm_must_be_one_address(tmp_path: Path) -> None:
    _, probs = one_value(tmp_path, "fm_email", "fm.one@microsoft.com; fm.two@microsoft.com")
    assert len(probs) == 1 and "Tracker!H2: " in probs[0]


# --- tenants, rows and problems ---------------------------------------------------------

def test_rows_are_grouped_into_tenants(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", "Teams"), row("t-2", "Teams"),
        row("T-1", "Exchange Online", customer="Customer t-1"), row("t-1", "SharePoint Online"),
    ])
    rec = load(path)
    assert problems(rec) == []
    assert [(t.tenant_id, [w.name for w in t.workloads], [w.row for w in t.workloads])
            for t in rec.tenants] == [
        ("t-1", ["Teams", "Exchange Online", "SharePoint Online"], [2, 4, 5]),
        ("t-2", ["Teams"], [3]),
    ]


def test_tenant_level_disagreement_names_both_cells(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", "Teams", seats=1200), row("t-1", "Exchange Online", seats=1300),
    ])
    assert problems(load(path)) == [
        f"{path}, Tracker!D3: Seats is 1300 here but 1200 in D2 for the same tenant — "
        "make the tenant's rows agree"]


def test_an_unreadable_cell_is_reported_once_not_as_a_disagreement(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", "Teams", account_team="not-an-address", seats="lots"),
        row("t-1", "Exchange Online"),
    ])
    probs = problems(load(path))
    assert [PROBLEM.match(p)["cell"] for p in probs] == ["D2", "I2"]  # type: ignore[index]


def test_workload_level_fields_may_differ(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", "Teams", discussion_date=dt.date(2026, 5, 1)),
        row("t-1", "Exchange Online", next_steps="pilot first"),
    ])
    assert problems(load(path)) == []


def test_a_duplicate_workload_row(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1", "Teams"), row("t-1", "teams")])
    assert problems(load(path)) == [
        f"{path}, Tracker!C3: workload 'teams' appears twice for tenant t-1 (also C2) — "
        "delete or merge the duplicate row"]


def test_a_row_without_tenant_id(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1"), row(**NO_ID)])
    assert problems(load(path)) == [
        f"{path}, Tracker!B3: row 3 has data but no Tenant ID — fill Tenant ID in row 3, or "
        "clear the row"]


def test_an_empty_required_cell(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row(region=None)])
    assert problems(load(path)) == [
        f"{path}, Tracker!G2: Region is empty — fill Region for tenant t-1"]


def test_a_tenant_in_two_trackers_is_a_problem_in_both(tmp_path: Path) -> None:
    a = make_tracker(tmp_path / "a.xlsx", [row("t-1"), row("t-2")])
    b = make_tracker(tmp_path / "b.xlsx", [row("t-3"), row("T-1", "Exchange Online")])
    ws = load_workspace([a, b], Settings())
    by_file = {str(tr.source.path): [(t.tenant_id, [str(p) for p in t.problems])
                                     for t in tr.tenants] for tr in ws.trackers}
    assert by_file[str(a)] == [
        ("t-1", [f"{a}, Tracker!A2: tenant t-1 also appears in {b}, Tracker!A3 — keep each "
                 "tenant in one tracker only"]),
        ("t-2", []),
    ]
    assert by_file[str(b)] == [
        ("t-3", []),
        ("T-1", [f"{b}, Tracker!A3: tenant T-1 also appears in {a}, Tracker!A2 — keep each "
                 "tenant in one tracker only"]),
    ]


def test_every_problem_of_a_file_in_one_pass_each_located(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", seats="lots"),
        row("t-2", active_users="12.5", discussion_date="03/04/2026"),
        row("t-3", no_blockers="maybe", account_team="not-an-address"),
        row("t-3", "Exchange Online", region="APJ"),
        row("t-4", region="Mars", fm_email=None),
        row("t-5", "Teams"), row("t-5", "Teams"),
        row(**NO_ID),
    ])
    # the unknown region (G6) is the playbook's routing, checked while loading the workspace
    probs = [str(p) for p in load_workspace([path], Settings()).problems]
    cells = sorted(m["cell"] for p in probs if (m := PROBLEM.match(p)))
    assert len(cells) == len(probs), probs
    assert cells == sorted(["D2", "E3", "L3", "F4", "I4", "G5", "G6", "H6", "C8", "B9"])
    assert f"{path}, Tracker!G5: Region is 'APJ' here but 'EMEA' in G4 for the same tenant — " \
        "make the tenant's rows agree" in probs
    for p in probs:
        m = PROBLEM.match(p)
        assert m and m["file"] == str(path) and m["sheet"] == "Tracker"


# --- refused files: one clear TrackerError, never a traceback ---------------------------

def valid_parts(tmp_path: Path) -> dict[str, bytes]:
    path = make_tracker(tmp_path / "valid.xlsx", [row()])
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def write_zip(path: Path, parts: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return path


LAUGHS = (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;")
                                                  * 10) for i in range(1, 10))
          + b"]>\n")


def refused(tmp_path: Path, kind: str) -> Path:
    p = tmp_path / "t.xlsx"
    if kind == "xls":
        p = tmp_path / "t.xls"
        p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 500)
    elif kind == "csv":
        p = tmp_path / "t.csv"
        p.write_text("Tenant ID,Customer\nt-1,Contoso\n")
    elif kind == "text":
        p.write_text("Tenant ID,Customer\nt-1,Contoso\n")
    elif kind == "encrypted":
        p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000)
    elif kind == "truncated":
        data = make_tracker(tmp_path / "v.xlsx", [row()]).read_bytes()
        p.write_bytes(data[: len(data) // 2])
    elif kind == "empty":
        p.write_bytes(b"")
    elif kind == "no-workbook":
        parts = valid_parts(tmp_path)
        del parts["xl/workbook.xml"]
        write_zip(p, parts)
    elif kind == "bomb-shared":
        parts = valid_parts(tmp_path)
        parts["xl/sharedStrings.xml"] = LAUGHS + (
            b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1"'
            b' uniqueCount="1"><si><t>&lol9;</t></si></sst>')
        write_zip(p, parts)
    elif kind == "bomb-sheet":
        parts = valid_parts(tmp_path)
        sheet = parts["xl/worksheets/sheet1.xml"]
        parts["xl/worksheets/sheet1.xml"] = LAUGHS + sheet.replace(
            b"<t>Tenant ID</t>", b"<t>Tenant ID&lol9;</t>", 1)
        write_zip(p, parts)
    elif kind == "zip-bomb":
        parts = valid_parts(tmp_path)
        with zipfile.ZipFile(p, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, data in parts.items():
                zf.writestr(name, data)
            with zf.open("xl/media/padding.xml", "w", force_zip64=True) as fh:
                block = b"\0" * (16 << 20)
                for _ in range(200 // 16 + 1):
                    fh.write(block)
    elif kind == "far-cell":
        parts = valid_parts(tmp_path)
        parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
            b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
                             b"</sheetData>")
        write_zip(p, parts)
    elif kind == "folder":
        p = tmp_path / "trackers.xlsx"
        p.mkdir()
    elif kind == "missing":
        p = tmp_path / "nowhere.xlsx"
    else:  # pragma: no cover
        raise AssertionError(kind)
    return p


REFUSALS = {
    "xls": "old Excel 97-2003 (.xls) workbooks are not supported — open it in Excel and save "
           "it as .xlsx (File → Save As)",
    "csv": "CSV files are not trackers — keep the tracker as an .xlsx workbook (CSV loses "
           "types and sheets)",
    "text": "not a valid .xlsx file (not a zip package) — open it in Excel and save it again "
            "as .xlsx",
    "encrypted": "the workbook is password-protected (encrypted) — save an unprotected copy in "
                 "Excel (File → Info → Protect Workbook)",
    "truncated": "the workbook is damaged (BadZipFile) — open it in Excel (it may offer a "
                 "repair) and save it again",
    "empty": "not a valid .xlsx file (not a zip package) — open it in Excel and save it again "
             "as .xlsx",
    "no-workbook": "the package has no workbook part — open it in Excel and save it again as "
                   ".xlsx",
    "bomb-shared": "part xl/sharedStrings.xml declares a DTD (Excel never writes one; an XML "
                   "bomb?) — do not process this file",
    "bomb-sheet": "part xl/worksheets/sheet1.xml declares a DTD (Excel never writes one; an "
                  "XML bomb?) — do not process this file",
    "zip-bomb": "part xl/media/padding.xml inflates ",
    "far-cell": "sheet 'Tracker' spans 1048576 rows × 16384 columns — delete the empty rows "
                "and columns below and right of the data (Ctrl+End shows the last used cell)",
    "folder": "this is a folder, not a workbook — give the .xlsx file, or a glob such as "
              "'trackers/*.xlsx'",
    "missing": "file not found — check the path (quote it if it has spaces)",
}


@pytest.mark.parametrize("kind", list(REFUSALS))
def test_refused_files_give_one_clear_error(tmp_path: Path, kind: str) -> None:
    path = refused(tmp_path, kind)
    with pytest.raises(TrackerError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: {REFUSALS[kind]}")
    if kind == "zip-bomb":
        assert str(err.value).endswith("x (a zip bomb?) — do not process this file")
    assert "Traceback" not in str(err.value)


def test_a_dtd_placed_after_a_long_comment_is_still_refused(tmp_path: Path) -> None:
    parts = valid_parts(tmp_path)
    sheet = parts["xl/worksheets/sheet1.xml"]
    parts["xl/worksheets/sheet1.xml"] = (
        b'<?xml version="1.0"?><!--' + b" " * 5000 + b"-->" + LAUGHS.split(b"\n", 1)[1]
        + sheet.replace(b"<t>Tenant ID</t>", b"<t>Tenant ID&lol9;</t>", 1))
    path = write_zip(tmp_path / "t.xlsx", parts)
    with pytest.raises(TrackerError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: ")


def test_a_stray_cell_far_down_is_refused_before_it_costs_memory(tmp_path: Path) -> None:
    parts = valid_parts(tmp_path)
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(
        b"</sheetData>", b'<row r="1048576"><c r="Z1048576"><v>1</v></c></row></sheetData>')
    path = write_zip(tmp_path / "t.xlsx", parts)
    with pytest.raises(TrackerError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: sheet 'Tracker' spans 1048576 rows × 26 "
                                     "columns — ")


def test_a_small_zip_with_a_crc_error_is_damaged(tmp_path: Path) -> None:
    src = make_tracker(tmp_path / "v.xlsx", [row()])
    data = bytearray(src.read_bytes())
    with zipfile.ZipFile(src) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    raw = zlib.decompressobj(-15)
    assert raw.decompress(bytes(data[start:start + info.compress_size]))
    data[start + info.compress_size // 2] ^= 0xFF
    path = tmp_path / "t.xlsx"
    path.write_bytes(bytes(data))
    with pytest.raises(TrackerError) as err:
        load(path)
    assert str(err.value).startswith(f"{path}: the workbook is damaged (")

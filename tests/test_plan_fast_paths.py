"""The fast paths `plan` reads through give the answers of the slow code they replaced.

Each fast path here was taken out of a profile of `ftc-office plan` on a 10,000-row tracker
(issue 17) and is pinned against its reference, not against time:

* the reader finds error and formula cells with ``bytes.find`` instead of a regex over every
  cell: the cells found are exactly those the old scan over every ``<c>`` element chose;
* an address cell without quotes or angle brackets is split with one regex: the same pieces
  as the character-by-character splitter;
* ``plan --json`` is written by orjson: the same text as ``json.dumps(obj, indent=2)``, for
  UTF-8 and ASCII streams alike;
* the size checks' quick pass searches for the literal ``r="``: never below the exact pass.
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftc_office import console
from ftc_office.addresses import _join_names, _split_quoted, split_addresses
from ftc_office.tracker import reader
from ftc_office.xlsx import limits

# --- error and formula cells ------------------------------------------------------------

_OLD_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)


def _old_marked(data: bytes) -> list[tuple[int, int]]:
    """The cells the old scan acted on: every <c> with t="e" in its attributes or <f in its
    body (the only ones that could become an error entry)."""
    return [m.span() for m in _OLD_CELL.finditer(data)
            if b't="e"' in m.group(1) or b"<f" in (m.group(2) or b"")]


def _sheet(cells: list[bytes]) -> bytes:
    head = (b'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
            b'openxmlformats.org/spreadsheetml/2006/main"><cols><col min="1" max="3" '
            b'width="9"/></cols><sheetData>')
    tail = (b'</sheetData><conditionalFormatting sqref="A1:C9"><cfRule type="expression" '
            b'priority="1"><formula>A1&gt;0</formula></cfRule></conditionalFormatting>'
            b'<dataValidations count="1"><dataValidation type="list" sqref="B2"><formula1>'
            b'"Yes,No"</formula1></dataValidation></dataValidations></worksheet>')
    return head + b'<row r="2">' + b"".join(cells) + b"</row>" + tail


_CELLS = [
    b'<c r="A2" t="e"><v>#N/A</v></c>',
    b'<c r="B2"><f>1/0</f><v></v></c>',
    b'<c r="C2" t="e"/>',
    b'<c r="D2" s="3"><f t="shared" ref="D2:D9" si="0"/></c>',
    b'<c r="E2" t="inlineStr"><is><r><rPr><rFont val="Calibri"/><family val="2"/>'
    b'<charset val="0"/></rPr><t>rich &lt;f text</t></r></is></c>',
    b'<c r="F2" t="s"><v>7</v></c>',
    b'<c r="G2"><v>42</v></c>',
    b'<c r="H2" t="str"><f>"t=""e"""</f><v>t="e"</v></c>',
    b'<c r="I2"/>',
    b'<c\n r="J2"\n t="e"><v>#REF!</v></c>',
]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_CELLS), max_size=12))
def test_marked_cells_are_the_cells_the_full_scan_chose(cells: list[bytes]) -> None:
    data = _sheet(cells)
    assert [m.span() for m in reader._marked_cells(data)] == _old_marked(data)


def test_marked_cells_on_the_samples_and_the_bad_tracker_corpus() -> None:
    root = Path(__file__).resolve().parents[1]
    books = [*sorted((root / "samples").glob("*.xlsx")),
             *sorted((root / "tests" / "data" / "bad_trackers").glob("*.xlsx"))]
    assert len(books) > 10
    marked = 0
    for book in books:
        with zipfile.ZipFile(book) as zf:
            for name in zf.namelist():
                if name.startswith("xl/worksheets/") and name.endswith(".xml"):
                    data = zf.read(name)
                    old = _old_marked(data)
                    assert [m.span() for m in reader._marked_cells(data)] == old, (book, name)
                    marked += len(old)
    assert marked > 0  # the corpus has #N/A, #DIV/0! and formula cells


# --- address lists ---------------------------------------------------------------------

@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab@.;,\r\n \t-", max_size=40))
def test_unquoted_lists_split_as_the_character_splitter_does(text: str) -> None:
    assert split_addresses(text) == _join_names(_split_quoted(text))


def test_quoted_lists_still_keep_separators_inside_quotes_and_brackets() -> None:
    assert split_addresses('"Lopez, Maria" <m@x.test>; b@x.test') == [
        '"Lopez, Maria" <m@x.test>', "b@x.test"]
    assert split_addresses("Lopez, Maria <m@x.test>, b@x.test") == [
        "Lopez, Maria <m@x.test>", "b@x.test"]
    assert split_addresses("a@x.test;\r\n b@x.test,,") == ["a@x.test", "b@x.test"]


# --- plan --json --------------------------------------------------------------------------

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10**6, 10**6) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
        st.text(max_size=6), inner, max_size=4), max_leaves=20)


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252", "ascii"])
def test_json_text_is_json_dumps_indent_2(encoding: str, monkeypatch: pytest.MonkeyPatch
                                          ) -> None:
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding=encoding))
    ascii_only = encoding != "utf-8"

    @settings(max_examples=200, deadline=None)
    @given(obj=_JSON)
    def check(obj: Any) -> None:
        assert console.json_text(obj, indent=2) == json.dumps(obj, indent=2,
                                                              ensure_ascii=ascii_only)
    check()


def test_json_text_falls_back_to_json_for_what_orjson_refuses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stdout", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))
    lone = {"note": "half a pair \ud800", "n": 10**30}
    assert console.json_text(lone, indent=2) == json.dumps(lone, indent=2,
                                                           ensure_ascii=False)


# --- the extent check's quick pass ------------------------------------------------------

@pytest.mark.parametrize("body", [
    b'<row r="2"><c r="AB2"><v>1</v></c></row>',
    b'<row r="123456"><c r="A123456"><v>1</v></c></row>',
    b'<row\tr="9"><c\nr="ZZ9"><v>1</v></c></row>',
    b'<row r="2"><c r="A2" operator="AB12"><v>1</v></c></row>',
])
def test_quick_extent_is_never_below_the_exact_one(tmp_path: Path, body: bytes) -> None:
    book = tmp_path / "b.xlsx"
    with zipfile.ZipFile(book, "w") as zf:
        zf.writestr("xl/worksheets/sheet1.xml", b"<worksheet><sheetData>" + body +
                    b"</sheetData></worksheet>")
    with zipfile.ZipFile(book) as zf:
        info = zf.getinfo("xl/worksheets/sheet1.xml")
        quick = limits._scan_part(zf, info, exact=False)
        exact = limits._scan_part(zf, info, exact=True)
    assert quick[0] >= exact[0] and quick[1] >= exact[1]


# --- the rows are not kept beside the records -------------------------------------------

def test_records_keep_the_sheet_without_its_rows() -> None:
    from ftc_office.config import Settings
    from ftc_office.tracker.builder import build_records, load_tracker
    from ftc_office.tracker.reader import read_sheet

    sample = Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx"
    records = load_tracker(sample, Settings())
    assert records.tenants and records.source.rows == []
    assert all(t.source.rows == [] for t in records.tenants)
    read = read_sheet(sample)
    n = len(read.rows)
    again = build_records(read, Settings())  # not consumed: the caller's read is intact
    assert len(read.rows) == n and [t.tenant_id for t in again.tenants] == [
        t.tenant_id for t in records.tenants]


def test_a_read_keeping_some_fields_is_the_full_read_cut_down() -> None:
    """write-back reads with ``keep``: the same rows, holding those fields and the ID only."""
    from ftc_office.tracker.reader import read_sheet

    sample = Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx"
    full = read_sheet(sample)
    keep = {"customer", "workload", "atu_sent"}
    cut = read_sheet(sample, keep=keep)
    assert cut.columns == full.columns and cut.header_row == full.header_row
    expected = [(r.number, {k: v for k, v in r.values.items() if k in keep | {"tenant_id"}})
                for r in full.rows if "tenant_id" in r.values]
    assert [(r.number, r.values) for r in cut.rows if "tenant_id" in r.values] == expected
    assert any("atu_sent" in v for _n, v in expected) and len(expected) > 10

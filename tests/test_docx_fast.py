"""The Word fast path writes the document docxtpl writes, part by part (issue 17).

Every tenant of the sample (and of a generated tracker) is previewed twice through the real
CLI: once with ``FTC_OFFICE_DOCX_FAST=0`` (docxtpl + python-docx for every document), once
with the fast path. Every .docx attachment is compared member by member: the same members
in the same order, each XML part equal after canonicalisation, and the package bytes equal.
Then the fall-backs: a URL in a value (the finish adds a hyperlink relationship), a
template without core properties, a broken tag (docxtpl's error, with its location).
"""

from __future__ import annotations

import datetime as dt
import io
import subprocess
import sys
import zipfile
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import cast

import pytest
from lxml import etree
from runhelpers import ftc

from ftc_office.compose import docx_fast
from ftc_office.compose.docx_fast import FastDocx, render_docx_fast
from ftc_office.errors import TemplateError
from ftc_office.rendering.word import DocxFinish, render_docx

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "tracker.xlsx"
BRIEF = ROOT / "templates" / "word" / "atu_brief.docx"


def _documents(tracker: Path, out: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
               ) -> dict[str, bytes]:
    """Every .docx that `preview` attaches, by message file and attachment name."""
    monkeypatch.setenv("FTC_OFFICE_DOCX_FAST", "1" if fast else "0")
    result = ftc("preview", str(tracker), "--as-of", "2026-11-26", "--out", str(out))
    assert result.exit_code in (0, 1), result.output
    found: dict[str, bytes] = {}
    for eml in sorted(out.glob("*.eml")):
        msg = cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(
            eml.read_bytes()))
        for part in msg.iter_attachments():
            if (part.get_filename() or "").endswith(".docx"):
                found[f"{eml.name}/{part.get_filename()}"] = part.get_content()
    return found


def _same_document(a: bytes, b: bytes, where: str) -> None:
    za, zb = zipfile.ZipFile(io.BytesIO(a)), zipfile.ZipFile(io.BytesIO(b))
    assert za.namelist() == zb.namelist(), where
    for name in za.namelist():
        pa, pb = za.read(name), zb.read(name)
        if name.endswith((".xml", ".rels")):
            assert etree.tostring(etree.fromstring(pa), method="c14n") == etree.tostring(
                etree.fromstring(pb), method="c14n"), f"{where}: {name}"
        assert pa == pb, f"{where}: {name}"
    assert a == b, where


@pytest.mark.parametrize("rows", [0, 300], ids=["sample", "generated-300"])
def test_every_document_equals_docxtpls(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        rows: int) -> None:
    tracker = SAMPLE
    if rows:
        tracker = tmp_path / "tracker.xlsx"
        subprocess.run([sys.executable, str(ROOT / "bench" / "make_tracker.py"), str(rows),
                        str(tracker)], check=True, capture_output=True, timeout=240)
    slow = _documents(tracker, tmp_path / "slow", monkeypatch, fast=False)
    served = docx_fast.SERVED["fast"]
    quick = _documents(tracker, tmp_path / "fast", monkeypatch, fast=True)
    assert len(slow) >= (5 if not rows else 50)
    assert docx_fast.SERVED["fast"] - served >= len(slow) - 2  # the first of each template
    assert sorted(slow) == sorted(quick)
    for key, data in slow.items():
        _same_document(data, quick[key], key)


def _context(**tenant: object) -> dict[str, object]:
    base: dict[str, object] = {
        "customer": "AT&T <Contoso> “Ltd”", "id": "t-1", "region": "EMEA", "fm": "fm@x.test",
        "fm_name": "Lopez, Maria", "seats": 12000, "active_users": 3000, "queue": "Q1",
        "milestone": {"reason": "1000 seats"},
        "workloads": [{"name": "Teams", "discussion_date": dt.date(2026, 11, 2)},
                      {"name": "SharePoint", "discussion_date": None}]}
    base.update(tenant)
    return {"tenant": base, "covered": [{"name": "Teams"}], "as_of": dt.date(2026, 11, 26)}


FINISH = DocxFinish(page="Letter", author="Maria Lopez", date=dt.date(2026, 11, 26))


def test_a_url_in_a_value_goes_to_docxtpl_and_becomes_a_link() -> None:
    fast = FastDocx.load(BRIEF)
    assert fast is not None
    plain = _context()
    fast.learn(render_docx(BRIEF, plain, "t", FINISH))
    assert fast.render(plain, FINISH) == render_docx(BRIEF, plain, "t", FINISH)
    linked = _context(customer="See https://contoso.example/x for details")
    assert fast.render(linked, FINISH) is None  # the fast path declines
    out = render_docx_fast(BRIEF, linked, "t", FINISH)
    assert out == render_docx(BRIEF, linked, "t", FINISH)
    rels = zipfile.ZipFile(io.BytesIO(out)).read("word/_rels/document.xml.rels")
    assert b"https://contoso.example/x" in rels


def test_a_template_without_core_properties_is_left_to_docxtpl(tmp_path: Path) -> None:
    src = zipfile.ZipFile(BRIEF)
    bare = tmp_path / "bare.docx"
    with zipfile.ZipFile(bare, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                continue
            if info.filename == "_rels/.rels":
                data = data.replace(b'Target="docProps/core.xml"', b'Target="none.xml"')
                root = etree.fromstring(data)
                for rel in list(root):
                    if rel.get("Target") == "none.xml":
                        root.remove(rel)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
            if info.filename == "[Content_Types].xml":
                root = etree.fromstring(data)
                for ov in list(root):
                    if ov.get("PartName") == "/docProps/core.xml":
                        root.remove(ov)
                data = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
            dst.writestr(info.filename, data)
    assert FastDocx.load(bare) is None
    ctx = _context()
    assert render_docx_fast(bare, ctx, "t", FINISH) == render_docx(bare, ctx, "t", FINISH)


def test_a_broken_tag_gets_docxtpls_error(tmp_path: Path) -> None:
    src = zipfile.ZipFile(BRIEF)
    broken = tmp_path / "broken.docx"
    with zipfile.ZipFile(broken, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "word/document.xml":
                data = data.replace(b"{{ tenant.id }}", b"{{ tenant.id | nosuchfilter }}")
            dst.writestr(info.filename, data)
    with pytest.raises(TemplateError) as fast_err:
        render_docx_fast(broken, _context(), "t", FINISH)
    with pytest.raises(TemplateError) as slow_err:
        render_docx(broken, _context(), "t", FINISH)
    assert str(fast_err.value) == str(slow_err.value)


# --- the table pass: docxtpl's fix_tables, or the same tree without its walk --------------

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"


def _table(grid: list[int] | None, rows: list[list[str | None]]) -> str:
    """A ``w:tbl``: `grid` column widths (None: no tblGrid), each row's cells by gridSpan
    value (None: a plain cell; "": a gridSpan without a value)."""
    cols = "" if grid is None else "<w:tblGrid>" + "".join(
        f'<w:gridCol w:w="{w}"/>' for w in grid) + "</w:tblGrid>"

    def cell(span: str | None) -> str:
        if span is None:
            return "<w:tc><w:p/></w:tc>"
        val = f' w:val="{span}"' if span != "" else ""
        return f"<w:tc><w:tcPr><w:gridSpan{val}/></w:tcPr><w:p/></w:tc>"

    body = "".join("<w:tr>" + "".join(cell(c) for c in row) + "</w:tr>" for row in rows)
    return f"<w:tbl>{cols}{body}</w:tbl>"


def _doc(*tables: str) -> str:
    return (f'<w:document xmlns:w="{_W}"><w:body><w:p/>{"".join(tables)}<w:sectPr/>'
            "</w:body></w:document>")


TABLES = {
    "regular": ([2000, 3000], [[None, None], [None, None]]),
    "regular with a span": ([2000, 3000, 1000], [["2", None], [None, None, None]]),
    "rows of spans only": ([2000, 3000], [["2"], ["2"]]),
    "a row wider than the grid": ([2000, 3000], [[None, None, None], [None, None]]),
    "every row narrower": ([2000, 3000, 1000], [[None, None], [None]]),
    "no rows": ([2000, 3000], []),
    "a span wider than the grid": ([2000], [["3"]]),
    "a span without a value": ([2000, 3000], [["", None]]),
    "a span that is not a number": ([2000, 3000], [["2.0"], [None, None]]),
}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_the_table_pass_is_docxtpl_s(name: str) -> None:
    """`_fix_tables` gives docxtpl's tree (or its error) for regular and irregular tables,
    alone and beside a regular one, and skips docxtpl's walk only for the regular ones."""
    grid, rows = TABLES[name]
    regular = _table(*TABLES["regular"])
    tpl = FastDocx.load(BRIEF).tpl  # type: ignore[union-attr]
    calls: list[str] = []
    real = tpl.fix_tables

    def counted(xml: str) -> etree._Element:
        calls.append(xml)
        return real(xml)

    tpl.fix_tables = counted
    nested = (f'<w:tbl><w:tblGrid><w:gridCol w:w="9"/></w:tblGrid><w:tr><w:tc>'
              f"{_table(grid, rows)}<w:p/></w:tc></w:tr></w:tbl>")  # docxtpl walks its rows too
    for k, xml in enumerate((_doc(_table(grid, rows)), _doc(regular, _table(grid, rows)),
                             _doc(regular, nested))):
        calls.clear()
        try:
            expected = etree.tostring(real(xml))
        except Exception as exc:  # docxtpl fails on this table: so must the pass
            with pytest.raises(type(exc)):
                docx_fast._fix_tables(tpl, xml)
            continue
        assert etree.tostring(docx_fast._fix_tables(tpl, xml)) == expected, xml
        skipped = name.startswith("regular") or name in ("rows of spans only",
                                                         "a span wider than the grid")
        if k < 2:
            assert calls == ([] if skipped else [xml]), name


# --- the body by its layout: lxml's output for a layout, filled in with the texts ---------

# values whose text lxml writes back differently from Jinja's escaping (quotes), that
# format strings treat specially (%), beyond the BMP, or that change the layout (empty)
FILLED = ["O'Brien \"Q\" <x> & y > z", "100% %s %(a)s %%", "✓ 😀 “q” ’", "{_{ }_}", "",
          "a\tb\nc", "&#39; &amp;"]
# values the layout path leaves to lxml: a carriage return (read as a newline), something
# like a URL (the link check needs the tree), a character XML forbids (cleaned away)
ROUND_TRIP = ["a\rb", "x://y", "see https://contoso.example/x"]


@pytest.mark.parametrize("value", FILLED + ROUND_TRIP)
def test_a_layout_seen_before_is_filled_in_as_docxtpl_writes_it(
        value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    fast = FastDocx.load(BRIEF)
    assert fast is not None
    plain = _context()
    fast.learn(render_docx(BRIEF, plain, "t", FINISH))
    filled: list[bytes] = []
    real = docx_fast.docx_slots.fill

    def counted(form: str, slots: docx_fast.docx_slots.Slots) -> bytes:
        filled.append(out := real(form, slots))
        return out

    monkeypatch.setattr(docx_fast.docx_slots, "fill", counted)
    for k in range(2):  # the first rendering of a layout teaches it, the second fills it
        ctx = _context(customer=f"{value} {k}" if value else "",
                       milestone={"reason": value})
        out = fast.render(ctx, FINISH)
        if "https://" in value:
            assert out is None  # the link: docxtpl's business
            continue
        assert out == render_docx(BRIEF, ctx, "t", FINISH), (value, k)
    assert len(filled) == (1 if value in FILLED else 0), value


SPLIT = '<w:body xmlns:w="urn:w"><w:p><w:t>{}</w:t></w:p></w:body>'


@pytest.mark.parametrize("text", ["a\rb", "a > b", "&#169;", "&#x27;", "&nbsp;", "a\x01b",
                                  "a\ufffeb"])
def test_split_declines_text_lxml_would_write_differently(text: str) -> None:
    assert docx_fast.docx_slots.split(SPLIT.format(text)) is None


@pytest.mark.parametrize("text", ["<!-- c -->", "<![CDATA[x]]>", "<?pi x?>", "a<!-- c -->b"])
def test_layout_declines_comments_cdata_and_instructions(text: str) -> None:
    xml = SPLIT.format(text)
    slots = docx_fast.docx_slots.split(xml)
    assert slots is not None
    written = etree.tostring(etree.fromstring(xml), encoding="UTF-8", standalone=True)
    assert docx_fast.docx_slots.layout(xml, slots, written, "<w:body") is None


def test_split_reads_the_texts_as_lxml_writes_them() -> None:
    slots = docx_fast.docx_slots.split(SPLIT.format("O&#39;B &#34;q&#34; &amp; &lt;&gt;"))
    assert slots is not None
    assert slots.texts == "O'B \"q\" &amp; &lt;&gt;"
    assert slots.layout == SPLIT.format("\x00")
    tag_gt = '<w:body xmlns:w="urn:w"><w:p w:x="a>b"><w:t>t</w:t></w:p></w:body>'
    assert docx_fast.docx_slots.split(tag_gt) is None  # the ">" in the attribute


def test_layout_declines_malformed_xml_and_texts_lxml_did_not_write() -> None:
    good = SPLIT.format("x")
    slots = docx_fast.docx_slots.split(good)
    assert slots is not None
    written = etree.tostring(etree.fromstring(good), encoding="UTF-8", standalone=True)
    form = docx_fast.docx_slots.layout(good, slots, written, "<w:body")
    assert form is not None
    out = docx_fast.docx_slots.fill(form, docx_fast.docx_slots.Slots(slots.layout, "y%s"))
    assert out == written.replace(b">x<", b">y%s<")
    bad = '<w:body xmlns:w="urn:w"><w:p><w:t>x</w:t></w:body>'  # recovery would guess
    bad_slots = docx_fast.docx_slots.split(bad)
    assert bad_slots is not None
    assert docx_fast.docx_slots.layout(bad, bad_slots, written, "<w:body") is None
    moved = written.replace(b"<w:t>x</w:t>", b"<w:t>x</w:t><w:t>z</w:t>")  # a text added
    assert docx_fast.docx_slots.layout(good, slots, moved, "<w:body") is None


def test_a_layout_is_kept_per_finish_and_up_to_the_limit(monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    fast = FastDocx.load(BRIEF)
    assert fast is not None
    fast.learn(render_docx(BRIEF, _context(), "t", FINISH))
    monkeypatch.setattr(docx_fast, "_LAYOUTS", 2)
    a4 = DocxFinish(page="A4", author="Someone Else")
    one = [{"name": "Teams", "discussion_date": None}]
    for finish, workloads in ((FINISH, None), (a4, None), (FINISH, one), (FINISH, one)):
        ctx = _context() if workloads is None else _context(workloads=workloads)
        for k in range(2):
            ctx["as_of"] = dt.date(2026, 11, 26 - k)
            assert fast.render(ctx, finish) == render_docx(BRIEF, ctx, "t", finish)
    assert [key[0] for key in fast.layouts] == [FINISH, a4]  # the third layout: not kept

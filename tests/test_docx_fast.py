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

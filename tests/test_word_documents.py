"""Word attachments a recipient would keep (issue 11, part 6).

Checked on the .docx files the real `preview` command attaches: the paper of the tenant's
region (A4 for EMEA and APJ, Letter for the Americas, configurable), document properties
from the FM and the as-of date (never the tool, never the wall clock), every URL a real
hyperlink relationship (also URLs arriving in template values), singular and plural
wording, thousands separators, the dated footers — and one page rendered by LibreOffice.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import shutil
import subprocess
import zipfile
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, cast

import pytest
from builders import make_tracker, row
from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml.ns import qn
from runhelpers import ftc

from ftc_office.rendering.environment import make_environment
from ftc_office.rendering.word import DocxFinish, render_docx

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
#: LibreOffice's Writer, which opens .docx (Debian packages it apart from Calc:
#: libreoffice-writer-nogui); without it soffice converts nothing and says nothing
WRITER = SOFFICE is not None and any((Path(SOFFICE).resolve().parent / lib).exists()
                                     for lib in ("libswlo.so", "libswlo.dylib", "swriter.exe"))
A4, LETTER = (11906, 16838), (12240, 15840)
FOLLOW_UP = {"atu_sent": dt.date(2026, 10, 1), "discussion_date": dt.date(2026, 11, 20)}


def attachments(tmp_path: Path, rows: list[dict[str, Any]], *config: str
                ) -> dict[str, bytes]:
    """Every .docx attachment `preview` writes for the rows, by attachment file name."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    tracker = make_tracker(tmp_path / "tracker.xlsx", rows)
    args = ["--config", str(_config(tmp_path, *config))] if config else []
    result = ftc(*args, "preview", str(tracker), "--as-of", "2026-11-26",
                 "--out", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    found: dict[str, bytes] = {}
    for eml in sorted((tmp_path / "p").glob("*.eml")):
        msg = cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(
            eml.read_bytes()))
        for part in msg.iter_attachments():
            if (part.get_filename() or "").endswith(".docx"):
                found[str(part.get_filename())] = part.get_content()
    return found


def _config(tmp_path: Path, *lines: str) -> Path:
    path = tmp_path / "ftc-office.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def one(found: dict[str, bytes], prefix: str) -> bytes:
    (data,) = [v for k, v in found.items() if k.startswith(prefix)]
    return data


def page(data: bytes) -> tuple[int, int]:
    section = Document(io.BytesIO(data)).sections[0]
    assert section.page_width is not None and section.page_height is not None
    return section.page_width.twips, section.page_height.twips


def words(data: bytes) -> str:
    doc = Document(io.BytesIO(data))
    return "\n".join([p.text for p in doc.paragraphs]
                     + [c.text for t in doc.tables for r in t.rows for c in r.cells])


@pytest.mark.parametrize(("region", "size"), [("EMEA", A4), ("APJ", A4), ("Americas", LETTER)])
def test_the_paper_follows_the_tenant_region(tmp_path: Path, region: str,
                                             size: tuple[int, int]) -> None:
    found = attachments(tmp_path, [row("t-1", region=region),
                                   row("t-2", region=region, **FOLLOW_UP)])
    assert len(found) == 2  # the ATU brief and the engagement summary
    for data in found.values():
        assert page(data) == size
        section = Document(io.BytesIO(data)).sections[0]
        assert section.left_margin is not None and section.right_margin is not None
        assert section.left_margin.twips == section.right_margin.twips == 1440


def test_the_paper_is_configurable(tmp_path: Path) -> None:
    found = attachments(tmp_path, [row("t-1", region="APJ"), row("t-2", region="Americas")],
                        "[word]", 'page_size = "Letter"', "[word.page_sizes]", 'APJ = "A4"')
    assert page(one(found, "ATU brief - Customer t-1")) == A4
    assert page(one(found, "ATU brief - Customer t-2")) == LETTER


def test_a_wrong_page_size_in_the_config_names_the_key(tmp_path: Path) -> None:
    config = _config(tmp_path, "[word.page_sizes]", 'EMEA = "A5"')
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row()])
    result = ftc("--config", str(config), "check", str(tracker))
    assert result.exit_code == 2
    assert "word.page_sizes.EMEA" in result.output and '"A4" or "Letter"' in result.output


def test_properties_are_the_fm_the_as_of_date_and_a_title(tmp_path: Path) -> None:
    found = attachments(tmp_path, [row("t-1", customer="AT&T <Labs>",
                                       fm_email="Rosie Alvarez <rosie.alvarez@microsoft.com>")])
    data = one(found, "ATU brief")
    props = Document(io.BytesIO(data)).core_properties
    assert props.title == "ATU brief – AT&T <Labs> – Teams"  # plain text, escaped once
    assert props.author == props.last_modified_by == "Rosie Alvarez"
    midnight = dt.datetime(2026, 11, 26, tzinfo=dt.UTC)
    assert props.created == props.modified == midnight
    assert props.comments == ""
    core = zipfile.ZipFile(io.BytesIO(data)).read("docProps/core.xml").decode()
    assert "python-docx" not in core and "ftc-office" not in core
    assert "docProps/app.xml" not in zipfile.ZipFile(io.BytesIO(data)).namelist()


def test_the_same_input_gives_the_same_bytes(tmp_path: Path) -> None:
    first = attachments(tmp_path / "a", [row("t-1"), row("t-2", **FOLLOW_UP)])
    second = attachments(tmp_path / "b", [row("t-1"), row("t-2", **FOLLOW_UP)])
    assert first == second


def _links(data: bytes) -> dict[str, str]:
    """Each w:hyperlink's text → its relationship's target (every part: body, footers)."""
    doc = Document(io.BytesIO(data))
    parts = [doc.part, *(r.target_part for r in doc.part.rels.values()
                         if not r.is_external and r.reltype == RT.FOOTER)]
    out: dict[str, str] = {}
    for part in parts:
        for link in part.element.iter(qn("w:hyperlink")):
            rel = part.rels[link.get(qn("r:id"))]
            assert rel.reltype == RT.HYPERLINK and rel.is_external
            out["".join(t.text or "" for t in link.iter(qn("w:t")))] = rel.target_ref
    return out


def test_every_link_of_the_built_in_documents_is_a_hyperlink(tmp_path: Path) -> None:
    found = attachments(tmp_path, [row("t-1"), row("t-2", **FOLLOW_UP)])
    assert _links(one(found, "ATU brief")) == {
        "fasttrack.microsoft.com": "https://fasttrack.microsoft.com"}
    assert _links(one(found, "FastTrack engagement summary")) == {
        "fasttrack.microsoft.com": "https://fasttrack.microsoft.com",
        "Microsoft Adoption": "https://adoption.microsoft.com",
        "Microsoft 365 documentation": "https://learn.microsoft.com/microsoft-365/"}
    for data in found.values():  # no URL is left as plain text
        assert "http" not in words(data)


def _template(path: Path) -> Path:
    """A Word template with URLs in its own text, in values, in a table and in the footer."""
    doc = Document()
    doc.add_paragraph("Portal: {{ portal }}. Written here: https://example.com/docs, see it.")
    para = doc.add_paragraph("Bold ")
    para.add_run("{{ portal }}").bold = True
    doc.add_table(rows=1, cols=1).rows[0].cells[0].text = "{{ links }}"
    doc.sections[0].footer.paragraphs[0].text = "More at {{ portal }}"
    doc.save(str(path))
    return path


def test_urls_in_text_and_values_become_hyperlinks(tmp_path: Path) -> None:
    context = {"portal": "https://contoso.sharepoint.com/sites/Ready?x=1&y=2",
               "links": "one https://a.example/1 and (https://b.example/2)"}
    data = render_docx(_template(tmp_path / "t.docx"), context, "test", DocxFinish())
    assert _links(data) == {
        "https://contoso.sharepoint.com/sites/Ready?x=1&y=2":
            "https://contoso.sharepoint.com/sites/Ready?x=1&y=2",
        "https://example.com/docs": "https://example.com/docs",
        "https://a.example/1": "https://a.example/1",
        "https://b.example/2": "https://b.example/2"}
    doc = Document(io.BytesIO(data))
    # the text reads as before, with its formatting: only the URLs became links
    assert doc.paragraphs[0].text.startswith("Portal: https://contoso.sharepoint.com/")
    assert doc.paragraphs[0].text.endswith("Written here: https://example.com/docs, see it.")
    assert doc.tables[0].rows[0].cells[0].text == context["links"]
    link = next(doc.paragraphs[1]._p.iter(qn("w:hyperlink")))
    props = next(link.iter(qn("w:rPr")))
    assert props.find(qn("w:b")) is not None and props.find(qn("w:u")) is not None
    footer = doc.sections[0].footer.paragraphs[0]._p
    assert next(footer.iter(qn("w:hyperlink"))) is not None


def test_a_link_is_not_linked_twice(tmp_path: Path) -> None:
    template = Path(__file__).parents[1] / "templates" / "word" / "engagement_summary.docx"
    found = attachments(tmp_path, [row("t-2", **FOLLOW_UP)])
    rendered = Document(io.BytesIO(one(found, "FastTrack"))).part.element
    source = Document(str(template)).part.element
    assert len(list(rendered.iter(qn("w:hyperlink")))) == len(
        list(source.iter(qn("w:hyperlink")))) == 3


@pytest.mark.parametrize(("ready", "heading", "ask"), [
    ("Intune", "Workload in this engagement", "request it with an RFA"),
    ("Intune, Planner; Viva", "Workloads in this engagement", "request each of them with"),
])
def test_singular_and_plural(tmp_path: Path, ready: str, heading: str, ask: str) -> None:
    names = [w.strip() for w in re.split("[,;]", ready)]
    atu_rows = [row("t-1", workload=w) for w in names]
    found = attachments(tmp_path, [*atu_rows, row("t-2", next_workloads=ready, **FOLLOW_UP)])
    for name, data in found.items():
        if name.startswith("ATU brief"):
            assert heading in words(data).splitlines()
    summary = words(one(found, "FastTrack"))
    assert ask in summary
    assert ("request it " in summary) == (len(names) == 1)


def test_figures_have_thousands_separators(tmp_path: Path) -> None:
    found = attachments(tmp_path, [row("t-1", seats=15000, active_users=2300)])
    text = words(one(found, "ATU brief"))
    assert "15,000" in text and "2,300" in text
    assert "Enablement is complete: 2,300 active users ≥ 100 with 15,000 seats (≥ 1,000)." \
        in text
    assert "15000" not in text and "2300" not in text


@pytest.mark.parametrize("html", [True, False], ids=["email-html", "text-and-word"])
def test_the_thousands_filter_is_locale_free(html: bool) -> None:
    env = make_environment([], html=html)
    out = env.from_string("{{ 15000|thousands }} {{ 999|thousands }} {{ 1234567.5|thousands }}"
                          " {{ 'id 2026-11-26, 12000 seats'|thousands }}").render()
    assert out == "15,000 999 1,234,567.5 id 2026-11-26, 12,000 seats"


def test_footers_carry_the_date_and_the_brief_says_microsoft_internal(tmp_path: Path) -> None:
    found = attachments(tmp_path, [row("t-1"), row("t-2", **FOLLOW_UP)])
    footer = {name.split(" - ")[0]: Document(io.BytesIO(data)).sections[0].footer
              .paragraphs[0].text for name, data in found.items()}
    assert footer == {
        "ATU brief": "Microsoft internal · FastTrack enablement brief · 26 November 2026",
        "FastTrack engagement summary": "FastTrack engagement summary · 26 November 2026"}


@pytest.mark.skipif(not WRITER, reason="LibreOffice Writer is not installed here")
def test_libreoffice_lays_the_brief_out_on_the_region_paper(tmp_path: Path) -> None:
    assert SOFFICE is not None
    found = attachments(tmp_path, [row("t-1", region="EMEA"), row("t-2", region="Americas")])
    for name, data in found.items():
        (tmp_path / name).write_bytes(data)
    run = subprocess.run([SOFFICE, f"-env:UserInstallation=file://{tmp_path}/profile",
                          "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path / "pdf"),
                          *(str(tmp_path / n) for n in sorted(found))],
                         capture_output=True, timeout=180)
    assert run.returncode == 0, run.stderr
    boxes = {}
    for pdf in (tmp_path / "pdf").glob("*.pdf"):
        raw = pdf.read_bytes()
        assert raw.count(b"/Type/Page") - raw.count(b"/Type/Pages") == 1  # one page each
        box = re.search(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", raw)
        assert box is not None
        boxes[pdf.stem.split(" - ")[1]] = (round(float(box[1])), round(float(box[2])))
    assert boxes == {"Customer t-1": (595, 842), "Customer t-2": (612, 792)}  # A4, Letter


def test_a_long_title_is_cut_to_what_a_property_holds(tmp_path: Path) -> None:
    found = attachments(tmp_path, [row("t-1", customer="Very Long Customer Name " * 13)])
    title = Document(io.BytesIO(one(found, "ATU brief"))).core_properties.title
    assert len(title) == 255 and title.startswith("ATU brief – Very Long") and \
        title.endswith("…")

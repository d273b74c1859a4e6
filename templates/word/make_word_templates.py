"""Writes the built-in Word templates (docxtpl tags inside ordinary Word documents).

Run it after changing the layout: ``python templates/word/make_word_templates.py``. The
resulting .docx files are committed; teams may copy and restyle them in Word (keep the
``{{ ... }}`` and ``{%tr ... %}`` tags) and point ``paths.templates`` at their copy.
"""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

from docx import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Inches, Pt, RGBColor
from docx.table import Table
from docx.text.paragraph import Paragraph

from ftc_office.rendering.word import normalise_zip

HERE = Path(__file__).resolve().parent
BLUE = RGBColor(0x0F, 0x4A, 0x85)
FIXED = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _base(title: str) -> Document:
    doc = Document()
    style = doc.styles["Normal"]
    style.font.name = "Calibri"
    style.font.size = Pt(11)
    doc.core_properties.author = "ftc-office"
    doc.core_properties.created = FIXED
    doc.core_properties.modified = FIXED
    doc.core_properties.title = title
    _drop_unused_parts(doc)
    h = doc.add_heading(title, level=0)
    for run in h.runs:
        run.font.color.rgb = BLUE
    return doc


def _save(doc: Document, path: Path) -> None:
    """Save with fixed zip timestamps: the same script gives the same bytes."""
    buf = io.BytesIO()
    doc.save(buf)
    path.write_bytes(normalise_zip(buf.getvalue()))


def _drop_unused_parts(doc: Document) -> None:
    """Parts of python-docx's default template that every message would carry for nothing:
    stylesWithEffects.xml (438 KB, for Word 2010 only; later versions never read it), the
    thumbnail of a blank page, and an empty custom XML item. Each rendering parses and
    deflates every part, so they cost time on every Word attachment."""
    for rels in (doc.part.rels, doc.part.package.rels):
        for rid, rel in list(rels.items()):
            if rel.reltype.rsplit("/", 1)[-1] in ("stylesWithEffects", "thumbnail",
                                                   "customXml"):
                del rels[rid]


def _prune_table_styles(doc: Document) -> None:
    """Keep only the table styles the document uses (and what they are based on). The
    default template defines 100 of them (340 KB of the 350 KB styles part); Word still
    offers every built-in table style (it knows them as latent styles)."""
    styles = doc.styles.element
    used = {el.get(qn("w:val")) for el in doc.element.body.iter(qn("w:tblStyle"))}
    by_id = {st.get(qn("w:styleId")): st for st in styles.iter(qn("w:style"))}
    keep, todo = set(), list(used)
    while todo:
        sid = todo.pop()
        if sid in keep or sid not in by_id:
            continue
        keep.add(sid)
        based = by_id[sid].find(qn("w:basedOn"))
        if based is not None:
            todo.append(based.get(qn("w:val")))
    for sid, st in by_id.items():
        if (st.get(qn("w:type")) == "table" and sid not in keep
                and st.get(qn("w:default")) != "1"):
            styles.remove(st)


def _look(table: Table, header_row: bool) -> None:
    """Which parts of the table style apply. Word's default (first column bold, banded rows)
    made the first workload look highlighted and the facts' first line look like a header.
    Both forms are written: the attributes (Word 2010+) and the w:val bit mask (LibreOffice)."""
    look = table._tbl.tblPr.find(qn("w:tblLook"))
    flags = (("firstRow", header_row, 0x20), ("lastRow", False, 0x40),
             ("firstColumn", False, 0x80), ("lastColumn", False, 0x100),
             ("noHBand", True, 0x200), ("noVBand", True, 0x400))
    for attr, on, _bit in flags:
        look.set(qn(f"w:{attr}"), "1" if on else "0")
    look.set(qn("w:val"), f"{sum(bit for _a, on, bit in flags if on):04X}")


def _widths(table: Table, inches: list[float]) -> None:
    table.autofit = False
    for col, w in zip(table.columns, inches, strict=True):
        col.width = Inches(w)
        for cell in col.cells:
            cell.width = Inches(w)


def _facts(doc: Document, rows: list[tuple[str, str]]) -> None:
    table = doc.add_table(rows=0, cols=2)
    table.style = "Light List Accent 1"
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text = label
        cells[0].paragraphs[0].runs[0].bold = True
        cells[1].text = value
    _look(table, header_row=False)
    _widths(table, [2.2, 4.1])


def _workload_table(doc: Document, headers: list[str], cells: list[str],
                    inches: list[float]) -> None:
    table = doc.add_table(rows=3, cols=len(headers))
    table.style = "Light Grid Accent 1"
    for i, h in enumerate(headers):
        table.rows[0].cells[i].text = h
    table.rows[1].cells[0].text = "{%tr for w in tenant.workloads %}"
    for i, c in enumerate(cells):
        table.rows[2].cells[i].text = c
    # docxtpl needs the loop end in its own row
    end = table.add_row()
    end.cells[0].text = "{%tr endfor %}"
    _look(table, header_row=True)
    _widths(table, inches)


def _footer(doc: Document, text: str) -> None:
    """A small grey footer on every page (docxtpl renders footers like the body)."""
    para = doc.sections[0].footer.paragraphs[0]
    run = para.add_run(text)
    run.font.size = Pt(8)
    run.font.color.rgb = RGBColor(0x66, 0x66, 0x66)


def _link(paragraph: Paragraph, url: str, text: str) -> None:
    """A clickable hyperlink run (python-docx has no API for it: the w:hyperlink element
    with an external relationship, styled as Word's own links are)."""
    rid = paragraph.part.relate_to(url, RT.HYPERLINK, is_external=True)
    link = OxmlElement("w:hyperlink")
    link.set(qn("r:id"), rid)
    run = OxmlElement("w:r")
    props = OxmlElement("w:rPr")
    color = OxmlElement("w:color")
    color.set(qn("w:val"), "0F62B4")
    underline = OxmlElement("w:u")
    underline.set(qn("w:val"), "single")
    props.append(color)
    props.append(underline)
    run.append(props)
    label = OxmlElement("w:t")
    label.text = text
    run.append(label)
    link.append(run)
    paragraph._p.append(link)


def atu_brief() -> None:
    doc = _base("FastTrack enablement brief")
    doc.add_paragraph("For the Microsoft account team of {{ tenant.customer }}")
    _facts(doc, [
        ("Customer", "{{ tenant.customer }}"),
        ("Tenant ID", "{{ tenant.id }}"),
        ("Region", "{{ tenant.region }}"),
        ("FastTrack Manager", "{{ tenant.fm_name }} ({{ tenant.fm }})"),
        ("Workload completed", "{{ workload.name }}"),
        ("Date", "{{ as_of | date }}"),
    ])
    doc.add_heading("Milestone", level=1)
    doc.add_paragraph("Enablement is complete: {{ tenant.milestone.reason }}.")
    doc.add_heading("Workloads in this engagement", level=1)
    _workload_table(doc, ["Workload", "Completion discussion"],
                    ["{{ w.name }}",
                     "{{ w.discussion_date | date if w.discussion_date else 'not yet held' }}"],
                    [3.3, 3.0])
    doc.add_heading("What we ask of the account team", level=1)
    for text in (
        "Hold the engagement completion review with the customer during your existing cadence.",
        "Support the customer through the engagement completion process.",
        "Tell the FastTrack Manager about any concern or unique scenario the customer raises.",
    ):
        doc.add_paragraph(text, style="List Number")
    doc.add_paragraph(
        "After the review the FastTrack Manager disengages and the tenant moves to the "
        "{{ tenant.queue }} queue. The customer can request FastTrack assistance at any time "
        "with a new Request for Assistance (RFA).")
    _footer(doc, "Microsoft internal · FastTrack enablement brief · {{ as_of | date }}")
    _prune_table_styles(doc)
    _save(doc, HERE / "atu_brief.docx")


def engagement_summary() -> None:
    doc = _base("FastTrack engagement summary")
    doc.add_paragraph("Prepared for {{ tenant.customer }}")
    _facts(doc, [
        ("Customer", "{{ tenant.customer }}"),
        ("Tenant ID", "{{ tenant.id }}"),
        ("Workload", "{{ workload.name }}"),
        ("Completion discussion", "{{ workload.discussion_date | date }}"),
        ("FastTrack Manager", "{{ tenant.fm_name }} ({{ tenant.fm }})"),
        ("Date", "{{ as_of | date }}"),
    ])
    doc.add_heading("What we completed together", level=1)
    doc.add_paragraph("Your organisation is now using {{ workload.name }}, and FastTrack's "
                      "enablement of it is complete.")
    _workload_table(doc, ["Workload", "Completion discussion", "Status"],
                    ["{{ w.name }}",
                     "{{ w.discussion_date | date if w.discussion_date else 'not yet held' }}",
                     "{{ 'Completed' if w.discussion_date or w.customer_email_sent "
                     "else 'In progress' }}"],
                    [2.5, 2.0, 1.8])
    doc.add_heading("Requesting FastTrack assistance in the future", level=1)
    para = doc.add_paragraph("Submit a Request for Assistance (RFA) at ")
    _link(para, "https://fasttrack.microsoft.com", "fasttrack.microsoft.com")
    para.add_run(": sign in, choose Request assistance, pick the service and describe your "
                 "goal.")
    # {%p %} tags remove their whole paragraph: no empty line when nothing is next
    doc.add_paragraph("{%p if workload.next_workload_list %}")
    doc.add_paragraph("You are ready to onboard {{ workload.next_workload_list | join_and }}: "
                      "request {{ 'it' if workload.next_workload_list | length == 1 "
                      "else 'each of them' }} with an RFA.")
    doc.add_paragraph("{%p endif %}")
    doc.add_heading("Adoption resources", level=1)
    for text, url in (("Microsoft Adoption", "https://adoption.microsoft.com"),
                      ("Microsoft 365 documentation",
                       "https://learn.microsoft.com/microsoft-365/")):
        _link(doc.add_paragraph(style="List Bullet"), url, text)
    _footer(doc, "FastTrack engagement summary · {{ as_of | date }}")
    _prune_table_styles(doc)
    _save(doc, HERE / "engagement_summary.docx")


if __name__ == "__main__":
    atu_brief()
    engagement_summary()
    print("wrote", HERE / "atu_brief.docx", "and", HERE / "engagement_summary.docx")

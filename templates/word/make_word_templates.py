"""Writes the built-in Word templates (docxtpl tags inside ordinary Word documents).

Run it after changing the layout: ``python templates/word/make_word_templates.py``. The
resulting .docx files are committed; teams may copy and restyle them in Word (keep the
``{{ ... }}`` and ``{%tr ... %}`` tags) and point ``paths.templates`` at their copy.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from docx import Document
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.shared import Pt, RGBColor

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
    h = doc.add_heading(title, level=0)
    for run in h.runs:
        run.font.color.rgb = BLUE
    return doc


def _facts(doc: Document, rows: list[tuple[str, str]]) -> None:
    table = doc.add_table(rows=0, cols=2)
    table.style = "Light List Accent 1"
    for label, value in rows:
        cells = table.add_row().cells
        cells[0].text = label
        cells[0].paragraphs[0].runs[0].bold = True
        cells[1].text = value


def _workload_table(doc: Document, headers: list[str], cells: list[str]) -> None:
    table = doc.add_table(rows=3, cols=len(headers))
    table.style = "Light Grid Accent 1"
    table.alignment = WD_TABLE_ALIGNMENT.CENTER
    for i, h in enumerate(headers):
        table.rows[0].cells[i].text = h
    table.rows[1].cells[0].text = "{%tr for w in tenant.workloads %}"
    for i, c in enumerate(cells):
        table.rows[2].cells[i].text = c
    # docxtpl needs the loop end in its own row
    end = table.add_row()
    end.cells[0].text = "{%tr endfor %}"


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
    _workload_table(doc, ["Workload", "Seats", "Active users", "Completion discussion"],
                    ["{{ w.name }}", "{{ tenant.seats }}",
                     "{{ tenant.active_users if tenant.active_users is not none else '—' }}",
                     "{{ w.discussion_date | date if w.discussion_date else 'not yet held' }}"])
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
    doc.save(HERE / "atu_brief.docx")


def engagement_summary() -> None:
    doc = _base("FastTrack engagement summary")
    doc.add_paragraph("Prepared for {{ tenant.customer }}")
    _facts(doc, [
        ("Customer", "{{ tenant.customer }}"),
        ("Tenant ID", "{{ tenant.id }}"),
        ("Workload", "{{ workload.name }}"),
        ("Completion discussion", "{{ workload.discussion_date | date }}"),
        ("Your FastTrack Manager", "{{ tenant.fm_name }} ({{ tenant.fm }})"),
    ])
    doc.add_heading("What we completed together", level=1)
    doc.add_paragraph("Usage milestone: {{ tenant.milestone.reason }}.")
    _workload_table(doc, ["Workload", "Seats", "Active users", "Status"],
                    ["{{ w.name }}", "{{ tenant.seats }}",
                     "{{ tenant.active_users if tenant.active_users is not none else '—' }}",
                     "{{ 'Follow-up sent' if w.customer_email_sent else "
                     "('Completed' if w.name == workload.name else 'In progress') }}"])
    doc.add_heading("Requesting FastTrack assistance in the future", level=1)
    doc.add_paragraph(
        "Submit a Request for Assistance (RFA) at https://fasttrack.microsoft.com: sign in, "
        "choose Request assistance, pick the service and describe your goal.")
    doc.add_paragraph(
        "{% if workload.next_workload_list %}You are ready to onboard "
        "{{ workload.next_workload_list | join_and }}: request each with an RFA."
        "{% endif %}")
    doc.add_heading("Adoption resources", level=1)
    for text in ("Microsoft Adoption — https://adoption.microsoft.com",
                 "Microsoft 365 documentation — https://learn.microsoft.com/microsoft-365/"):
        doc.add_paragraph(text, style="List Bullet")
    doc.save(HERE / "engagement_summary.docx")


if __name__ == "__main__":
    atu_brief()
    engagement_summary()
    print("wrote", HERE / "atu_brief.docx", "and", HERE / "engagement_summary.docx")

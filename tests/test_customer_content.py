"""A customer never reads internal notes or programme figures (docs/DOMAIN.md, Messages).

The tracker's *Next Steps* column holds the FM's internal notes ("unique customer scenarios
or concerns") and the milestone is an internal programme criterion with seat and usage
figures: neither may reach the customer follow-up — its text part, its HTML part or its Word
summary — and a personal message from the FM carries no tool footer. Checked on the bytes
the real `preview` command writes.
"""

from __future__ import annotations

import datetime as dt
import io
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import cast

import pytest
from builders import make_tracker, row
from docx import Document
from runhelpers import ftc

NEXT_STEPS = "Customer unhappy with pace; escalated to CSAM"
DUE = {"atu_sent": dt.date(2026, 10, 1), "discussion_date": dt.date(2026, 11, 20),
       "next_steps": NEXT_STEPS, "customer_contacts": "it@contoso.com"}


def customer_mail(tmp_path: Path, **values: object) -> tuple[str, str, str]:
    """(text, html, Word summary text) of the one customer follow-up `preview` writes."""
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1", **DUE, **values)])
    result = ftc("preview", str(tracker), "--as-of", "2026-11-26", "--out", str(tmp_path / "p"))
    assert result.exit_code == 0, result.output
    (eml,) = [p for p in (tmp_path / "p").glob("*.eml") if "customer_followup" in p.name]
    msg = cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(eml.read_bytes()))
    text = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = msg.get_body(("html",)).get_content()  # type: ignore[union-attr]
    (docx,) = [p.get_content() for p in msg.iter_attachments()]
    doc = Document(io.BytesIO(docx))
    words = "\n".join([p.text for p in doc.paragraphs]
                      + [c.text for t in doc.tables for r in t.rows for c in r.cells])
    return text, html, words


@pytest.mark.parametrize("values", [
    {"seats": 300, "active_users": 141},
    {"seats": 15000, "active_users": 37, "no_blockers": "Yes"},
], ids=["usage", "blockers-confirmed"])
def test_customer_follow_up_carries_no_internal_text_or_figures(
        tmp_path: Path, values: dict[str, object]) -> None:
    for part in customer_mail(tmp_path, **values):
        assert "Customer Customer" not in part  # sanity: the sample's name is "Customer t-1"
        assert "Customer t-1" in part
        assert NEXT_STEPS not in part and "CSAM" not in part
        assert str(values["seats"]) not in part and str(values["active_users"]) not in part
        for internal in ("active users", "seats", "technical blockers", "milestone",
                         "ftc-office"):
            assert internal not in part.lower(), internal


def test_internal_mail_keeps_its_evidence_and_says_it_in_both_parts(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1", seats=300, active_users=141)])
    ftc("preview", str(tracker), "--as-of", "2026-11-26", "--out", str(tmp_path / "p"))
    (eml,) = list((tmp_path / "p").glob("atu*.eml"))
    msg = cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(eml.read_bytes()))
    for kind in ("plain", "html"):
        body = msg.get_body((kind,)).get_content()  # type: ignore[union-attr]
        assert "141 active users" in body  # the account team reads the evidence
        assert "Sent with ftc-office on behalf of" in body  # both parts say the same


def test_word_summary_has_clickable_links_and_a_dated_footer(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1", **DUE)])
    ftc("preview", str(tracker), "--as-of", "2026-11-26", "--out", str(tmp_path / "p"))
    (eml,) = list((tmp_path / "p").glob("customer_followup*.eml"))
    msg = cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(eml.read_bytes()))
    (docx,) = [p.get_content() for p in msg.iter_attachments()]
    doc = Document(io.BytesIO(docx))
    links = {r.target_ref for r in doc.part.rels.values() if r.is_external}
    assert links == {"https://fasttrack.microsoft.com", "https://adoption.microsoft.com",
                     "https://learn.microsoft.com/microsoft-365/"}
    footer = doc.sections[0].footer.paragraphs[0].text
    assert footer == "FastTrack engagement summary · 26 November 2026"

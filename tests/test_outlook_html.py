"""Mail HTML that Outlook for Windows (Word's HTML engine), Gmail and a phone show as meant.

Every built-in mail kind is composed from the bundled sample and checked three ways:
doiuse-email (the caniemail.com data) reports no error for ``outlook.windows``; the rules
doiuse-email cannot see hold (a 640 px table layout, callouts as table cells, font, size and
colour on every text element, no ``white-space``, no ``<div>``, bold rather than 600); and
every body stays under the 100 KB size limit, also for a queue move of 120 tenants.

doiuse-email is an npm package: ``npm install --prefix .tools doiuse-email@0.4.1`` (what
``.ci/run`` does); without node or the package that one test skips, saying so.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
from builders import make_tracker, row
from openpyxl import load_workbook

from ftc_office.compose.composer import Composer, compose_all
from ftc_office.compose.html_size import HTML_LIMIT, LISTED
from ftc_office.config import PathSettings, Settings
from ftc_office.jobs import Job
from ftc_office.planning import load_workspace, plan_workspace

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "tracker.xlsx"
DOIUSE = ROOT / ".tools" / "node_modules" / "doiuse-email" / "index.js"
AS_OF = dt.date(2026, 11, 26)
KINDS = ("atu", "customer_followup", "queue_move")
TEXT_ELEMENTS = {"p", "td", "th", "li", "a", "h1", "h2", "h3", "h4"}
D = dt.date


@pytest.fixture(scope="module")
def messages() -> list[Job]:
    """Every message the sample's run composes (each kind at least once)."""
    settings = Settings()
    plans = plan_workspace(load_workspace([SAMPLE], settings), AS_OF)
    comp = compose_all(Composer(settings, AS_OF), plans)
    assert comp.failures == []
    jobs = [j for j in comp.jobs if j.message is not None]
    assert {j.kind for j in jobs} == set(KINDS)
    return jobs


def html(job: Job) -> str:
    assert job.message is not None and job.message.html
    return job.message.html


class Elements(HTMLParser):
    """(tag, attributes, inline style as a dict) of every start tag, and the comments."""

    def __init__(self, text: str) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[tuple[str, dict[str, str], dict[str, str]]] = []
        self.comments: list[str] = []
        self.feed(text)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        style = {}
        for decl in a.get("style", "").split(";"):
            if ":" in decl:
                k, v = decl.split(":", 1)
                style[k.strip().lower()] = v.strip()
        self.found.append((tag, a, style))

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def test_every_kind_follows_the_outlook_rules(messages: list[Job]) -> None:
    for job in messages:
        doc = Elements(html(job))
        who = job.key
        tags = [t for t, _a, _s in doc.found]
        assert "div" not in tags, who
        assert "white-space" not in html(job), who
        assert ("meta", {"name": "viewport",
                         "content": "width=device-width, initial-scale=1"}) in [
            (t, a) for t, a, _s in doc.found if t == "meta" and "name" in a], who
        # the page: a centred 640 px presentation table, fixed for Outlook by the [if mso]
        # table, shrinking on a phone through max-width
        pages = [(a, s) for t, a, s in doc.found if t == "table" and "page" in a.get("class", "")]
        assert len(pages) == 1, who
        a, s = pages[0]
        assert (a["role"], a["width"], a["align"], s["max-width"]) == (
            "presentation", "640", "center", "640px"), who
        assert any('<table role="presentation" width="640" align="center"' in c
                   for c in doc.comments if c.startswith("[if mso]")), who
        for tag, attrs, style in doc.found:
            where = f"{who}: <{tag} class={attrs.get('class', '')!r}>"
            if tag in TEXT_ELEMENTS:
                assert {"font-family", "font-size", "color"} <= set(style), where
            assert style.get("font-weight", "bold") in ("bold", "normal"), where
            if tag not in ("td", "th"):  # Word keeps padding and borders only on cells
                assert not {k for k in style if k.startswith(("padding", "border"))
                            and k != "border-collapse"}, where
            if tag == "table" and "data" not in attrs.get("class", ""):
                assert attrs.get("role") == "presentation", where


def test_callouts_are_one_cell_tables(messages: list[Job]) -> None:
    seen = set()
    for job in messages:
        found = Elements(html(job)).found
        for i, (tag, attrs, _style) in enumerate(found):
            if "callout" in attrs.get("class", "") and tag != "td":
                assert tag == "table" and attrs["role"] == "presentation", job.key
                cell = next((t, s) for t, a, s in found[i + 1:i + 4] if t == "td")
                assert cell[1]["border-left"].startswith("4px solid")
                assert cell[1]["padding"] and cell[1]["background-color"]
                seen.add(job.kind)
    assert seen == {"atu", "customer_followup"}


def test_customer_mail_has_no_tool_footer(messages: list[Job]) -> None:
    for job in messages:
        body = Elements(html(job))
        footer = "Sent with ftc-office" in html(job)
        assert footer == (job.kind != "customer_followup"), job.key
        assert body.found  # parsed


def test_every_message_is_under_the_size_limit(messages: list[Job]) -> None:
    for job in messages:
        assert len(html(job).encode()) < HTML_LIMIT, job.key


def test_a_long_queue_move_lists_what_fits_and_attaches_everything(tmp_path: Path) -> None:
    """At ~75 tenants the inlined styles pass Gmail's ~102 KB clipping limit: the body lists
    the first tenants and says how many more the attached workbook holds."""
    n = 120
    rows = [row(f"qm-{i:03d}", "Teams", customer=f"Customer number {i:03d} & Partners Ltd",
                region="EMEA", atu_sent=D(2026, 10, 1), discussion_date=D(2026, 11, 2),
                customer_email_sent=D(2026, 11, 10)) for i in range(n)]
    path = make_tracker(tmp_path / "big.xlsx", rows)
    settings = Settings()
    plans = plan_workspace(load_workspace([path], settings), AS_OF)
    comp = compose_all(Composer(settings, AS_OF), plans)
    [job] = [j for j in comp.jobs if j.kind == "queue_move"]
    assert len(job.tenant_ids) == n
    body = html(job)
    assert len(body.encode()) < HTML_LIMIT
    listed = re.findall(r"Customer number (\d{3}) &amp; Partners Ltd", body)
    assert listed == [f"{i:03d}" for i in range(len(listed))]
    assert 0 < len(listed) <= LISTED
    assert f"and {n - len(listed)} more — see the attached workbook" in body
    assert f"The attached workbook lists all {n} tenants" in body
    assert job.message is not None
    [att] = job.message.attachments
    ws = load_workbook(io.BytesIO(att.content)).active
    assert ws is not None
    assert [r[0] for r in ws.iter_rows(min_row=2, values_only=True)] == list(job.tenant_ids)
    # the text part lists them all: it is small
    assert all(tid in job.message.text for tid in job.tenant_ids)


def test_a_body_over_the_limit_even_without_tenants_is_refused(tmp_path: Path) -> None:
    """A template whose fixed text alone is too long: the tenants fail with where, what and
    what to do, instead of a message Gmail would clip."""
    root = tmp_path / "overrides"
    (root / "email" / "queue_move").mkdir(parents=True)
    (root / "email" / "queue_move" / "body.html").write_text(
        "<html><body>" + "<p>Terms and conditions.</p>" * 5000
        + "{% for r in rows[:listed] %}<p>{{ r.tenant_id }}</p>{% endfor %}</body></html>",
        encoding="utf-8")
    settings = Settings(paths=PathSettings(templates=str(root)))
    path = make_tracker(tmp_path / "t.xlsx", [row("qm-1", "Teams", atu_sent=D(2026, 10, 1),
                                                  discussion_date=D(2026, 11, 2),
                                                  customer_email_sent=D(2026, 11, 10))])
    plans = plan_workspace(load_workspace([path], settings), AS_OF)
    comp = compose_all(Composer(settings, AS_OF), plans)
    assert [j.kind for j in comp.jobs] == []
    [(tenant, problem)] = comp.failures
    assert tenant.tenant_id == "qm-1"
    assert problem.where.startswith("queue move to ")
    assert "over the 100,000-byte limit" in problem.what
    assert problem.fix.startswith("shorten the HTML template")


def doiuse(bodies: dict[str, str], clients: str) -> dict[str, list[str]]:
    """doiuse-email's errors for each body (one node process for all of them)."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed: install Node.js and "
                    "`npm install --prefix .tools doiuse-email@0.4.1` to run this check")
    if not DOIUSE.is_file():
        pytest.skip(f"{DOIUSE.relative_to(ROOT)} not found: run "
                    "`npm install --prefix .tools doiuse-email@0.4.1` to run this check")
    script = ("import { readFileSync } from 'node:fs';"
              f"const {{ doIUseEmail }} = await import({json.dumps(DOIUSE.as_uri())});"
              "const bodies = JSON.parse(readFileSync(0, 'utf8'));"
              "const out = {};"
              "for (const [k, h] of Object.entries(bodies)) {"
              f"  out[k] = doIUseEmail(h, {{ emailClients: [{json.dumps(clients)}] }}).errors"
              "    ?? []; }"
              "process.stdout.write(JSON.stringify(out));")
    done = subprocess.run([node, "--input-type=module", "-e", script], input=json.dumps(bodies),
                          capture_output=True, text=True, timeout=120, check=True)
    result: dict[str, list[str]] = json.loads(done.stdout)
    return result


def test_doiuse_email_finds_no_error_for_outlook_windows(messages: list[Job]) -> None:
    errors = doiuse({j.key: html(j) for j in messages}, "outlook.windows")
    assert len(errors) == len(messages)
    assert {k: v for k, v in errors.items() if v} == {}


def test_the_doiuse_check_can_fail() -> None:
    """What the issue measured in the old templates is an error here too."""
    old = ('<html><body><table><tr><td style="white-space: nowrap">x</td></tr></table>'
           '<div style="font-weight: 600">y</div></body></html>')
    errors = doiuse({"old": old}, "outlook.windows")["old"]
    assert "`white-space` is not supported by `outlook.windows`" in errors

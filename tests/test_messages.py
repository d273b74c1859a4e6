"""Messages as the recipient gets them: every mailer on the sample tracker, parsed back.

Each due message is composed, written as an .eml file the way `preview` writes it, and read
back with the email package, python-docx and openpyxl. Expected recipients come from the
workbook's cells (read here with openpyxl), not from the records the composer used.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from builders import make_tracker, row
from docx import Document
from openpyxl import load_workbook

from ftc_office.addresses import parse_address
from ftc_office.compose.audience import check_recipients
from ftc_office.compose.composer import Composer, compose_all
from ftc_office.config import PathSettings, Settings
from ftc_office.errors import MessageError, TemplateError
from ftc_office.jobs import Job
from ftc_office.message import OutgoingMessage
from ftc_office.planning import load_workspace, plan_workspace
from ftc_office.playbook import ActionKind, TenantPlan, plan_tenant
from ftc_office.preview import write_eml
from ftc_office.rendering.environment import join_and
from ftc_office.tracker.builder import load_tracker

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "tracker.xlsx"
AS_OF = dt.date(2026, 11, 26)
WHEN = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.UTC)
ISO_DATE = re.compile(r"\b20\d\d-\d\d-\d\d\b")
SUBJECT_QUEUE = re.compile(
    r"^\[FTC Queue Move\] (FTCQ Inactive (?:Americas|APJ|EMEA)) – (\d+) tenants? – 2026-11-26$")


def human(d: dt.date) -> str:
    return f"{d.day} {d.strftime('%B')} {d.year}"


# ---- reading what was produced -------------------------------------------------------------

@dataclass
class Parsed:
    """One .eml file read back."""

    raw: bytes
    msg: EmailMessage

    @property
    def text(self) -> str:
        part = self.msg.get_body(("plain",))
        assert part is not None
        return str(part.get_content())

    @property
    def html(self) -> str:
        part = self.msg.get_body(("html",))
        assert part is not None
        return str(part.get_content())

    def addresses(self, header: str) -> list[str]:
        value = self.msg[header]
        if value is None:
            return []
        out = []
        for a in value.addresses:
            assert a.display_name == "", f"{header} carries a display name: {a}"
            out.append(a.addr_spec)
        return out

    def attachments(self) -> list[tuple[str, str, bytes]]:
        return [(str(a.get_filename()), a.get_content_type(), a.get_content())
                for a in self.msg.iter_attachments()]


def parse_eml(path: Path) -> Parsed:
    raw = path.read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return Parsed(raw, msg)


@dataclass
class HtmlTable:
    """One <table>: its class names and its rows, each a list of cell texts."""

    classes: list[str]
    rows: list[list[str]]


class HtmlDoc(HTMLParser):
    """Start tags, visible text, and every table (rows of cell texts) of an HTML body.

    Mail layouts nest tables (the frame, the 640 px page, the data): a cell's text is what
    it holds outside its nested tables, one line per <p> or <br>, joined with newlines.
    """

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.chunks: list[str] = []
        self.tables: list[HtmlTable] = []
        self._open: list[tuple[HtmlTable, list[list[str]] | None]] = []  # table, its cell
        self._in_title = False
        self.feed(html)
        self.close()

    def table(self, cls: str) -> list[list[str]]:
        """The rows of the one table with class ``cls``."""
        found = [t for t in self.tables if cls in t.classes]
        assert len(found) == 1, f"{len(found)} tables of class {cls!r}"
        return found[0].rows

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        cell = self._open[-1][1] if self._open else None
        if tag == "table":
            t = HtmlTable((dict(attrs).get("class") or "").split(), [])
            self.tables.append(t)
            self._open.append((t, None))
        elif tag == "tr" and self._open:
            self._open[-1][0].rows.append([])
        elif tag in ("td", "th") and self._open:
            self._open[-1] = (self._open[-1][0], [[]])
        elif tag in ("p", "br") and cell is not None:
            cell.append([])
        elif tag == "title":
            self._in_title = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "table" and self._open:
            self._open.pop()
        elif tag in ("td", "th") and self._open and self._open[-1][1] is not None:
            t, cell = self._open[-1]
            assert cell is not None
            lines = ["".join(line).strip() for line in cell]
            t.rows[-1].append("\n".join(line for line in lines if line))
            self._open[-1] = (t, None)
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data: str) -> None:
        if self._open and self._open[-1][1] is not None:
            cell = self._open[-1][1]
            assert cell is not None
            cell[-1].append(data)
        if not self._in_title:
            self.chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self.chunks)


def docx_text(data: bytes) -> tuple[str, list[list[list[str]]]]:
    """All text of a .docx (body, tables, headers, footers) and its tables as cell texts."""
    doc = Document(io.BytesIO(data))
    parts = [p.text for p in doc.paragraphs]
    tables = []
    for t in doc.tables:
        cells = [[c.text for c in r.cells] for r in t.rows]
        tables.append(cells)
        parts.extend(c for r in cells for c in r)
    for s in doc.sections:
        parts.extend(p.text for p in s.header.paragraphs)
        parts.extend(p.text for p in s.footer.paragraphs)
    return "\n".join(parts), tables


def assert_mime_shape(p: Parsed, job: Job, n_attachments: int) -> None:
    """multipart/mixed → multipart/alternative (text, html) + attachments; safe headers."""
    msg = p.msg
    assert msg.get_content_type() == "multipart/mixed"
    parts = list(msg.iter_parts())
    assert parts[0].get_content_type() == "multipart/alternative"
    assert [q.get_content_type() for q in parts[0].iter_parts()] == ["text/plain", "text/html"]
    assert len(parts) == 1 + n_attachments
    assert all(q.get_content_disposition() == "attachment" for q in parts[1:])
    # The Subject is one logical line. Folded physical lines are allowed only between RFC 2047
    # encoded words (decoders drop that white space); a fold between plain text and an
    # encoded word is what Outlook shows as a double space, so it must not happen.
    head = p.raw.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
    i = next(n for n, line in enumerate(head) if line.startswith(b"Subject:"))
    folds = []
    for line in head[i + 1:]:
        if not line.startswith((b" ", b"\t")):
            break
        folds.append(line)
    if folds:
        assert head[i].startswith(b"Subject: =?") and head[i].endswith(b"?="), head[i]
        assert all(f.startswith(b" =?") and f.endswith(b"?=") for f in folds), folds
    assert job.message is not None
    assert msg["Subject"] == job.message.subject
    assert "\n" not in msg["Subject"] and "\r" not in msg["Subject"]
    assert re.fullmatch(r"<ftc\.[0-9a-f]{24}\.[0-9a-f]{12}@ftc-office\.invalid>",
                        msg["Message-ID"])
    assert msg["X-FTC-Message-Key"] == job.key
    assert msg["Date"]


# ---- the sample tracker, composed once ------------------------------------------------------

def split_cell(value: Any) -> list[str]:
    if value is None:
        return []
    return [s.strip().lower() for s in re.split(r"[;,\r\n]+", str(value)) if s.strip()]


def sample_cells() -> dict[str, dict[str, Any]]:
    """Tenant ID → people and rows as typed in the sample workbook (header on row 4)."""
    wb = load_workbook(SAMPLE, read_only=True, data_only=True)
    ws = wb["Tracker"]
    rows = ws.iter_rows(min_row=4, values_only=True)
    header = [str(h) if h is not None else "" for h in next(rows)]
    col = {h: i for i, h in enumerate(header)}
    out: dict[str, dict[str, Any]] = {}
    for values in rows:
        tid = values[col["Tenant ID"]]
        if not tid:
            continue
        t = out.setdefault(str(tid), {"workloads": []})
        t["customer"] = values[col["Customer Name"]]
        t["account_team"] = split_cell(values[col["Account Team"]])
        t["customer_contacts"] = split_cell(values[col["Customer Contacts"]])
        t["fm"] = split_cell(values[col["FM"]])
        t["workloads"].append(values[col["Workload"]])
        disc = values[col["Discussion Date"]]
        t.setdefault("discussion", {})[values[col["Workload"]]] = disc
    wb.close()
    return out


@dataclass
class Sample:
    settings: Settings
    plans: list[TenantPlan]
    jobs: list[Job]
    failures: list[Any]
    emls: dict[str, Parsed]
    cells: dict[str, dict[str, Any]]

    def jobs_of(self, kind: str) -> Iterator[tuple[Job, Parsed]]:
        for j in self.jobs:
            if j.kind == kind:
                yield j, self.emls[j.key]


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Sample:
    settings = Settings()
    ws = load_workspace([SAMPLE], settings)
    plans = plan_workspace(ws, AS_OF)
    comp = compose_all(Composer(settings, AS_OF), plans)
    out = tmp_path_factory.mktemp("preview")
    emls = {}
    for job in comp.jobs:
        path = write_eml(job, out, WHEN)
        if path is not None:
            emls[job.key] = parse_eml(path)
    return Sample(settings, plans, comp.jobs, comp.failures, emls, sample_cells())


def test_every_due_action_of_the_sample_is_composed(sample: Sample) -> None:
    assert sample.failures == []
    due: dict[str, set[tuple[str, str]]] = {"atu": set(), "customer_followup": set()}
    moving: set[str] = set()
    for p in sample.plans:
        for a in p.actions:
            if a.kind == ActionKind.ATU:
                assert a.workload is not None
                due["atu"].add((p.tenant.tenant_id, a.workload.name))
            elif a.kind == ActionKind.CUSTOMER_FOLLOWUP:
                assert a.workload is not None
                due["customer_followup"].add((p.tenant.tenant_id, a.workload.name))
            elif a.kind == ActionKind.DISENGAGE:
                moving.add(p.tenant.tenant_id)
    # the sample exercises every mailer, several times
    assert len(due["atu"]) >= 5 and len(due["customer_followup"]) >= 3 and len(moving) >= 3
    for kind, expected in due.items():
        got = {(j.tenant_ids[0], w) for j in sample.jobs
               if j.kind == kind and j.message for w in j.message.workloads}
        assert got == expected, kind
        # one message per tenant and kind: the workloads due together share it
        per_tenant = [j.tenant_ids[0] for j in sample.jobs if j.kind == kind]
        assert len(per_tenant) == len(set(per_tenant)), kind
    queued = [t for j in sample.jobs if j.kind == "queue_move" for t in j.tenant_ids]
    assert sorted(queued) == sorted(moving)
    assert set(sample.emls) == {j.key for j in sample.jobs if j.message}


def test_atu_messages_as_the_account_team_gets_them(sample: Sample) -> None:
    jobs = list(sample.jobs_of("atu"))
    assert jobs
    for job, p in jobs:
        tid = job.tenant_ids[0]
        cells = sample.cells[tid]
        assert job.message is not None
        covered = list(job.message.workloads)
        assert_mime_shape(p, job, 1)
        assert p.addresses("To") == cells["account_team"]
        assert p.addresses("Cc") == [a for a in cells["fm"] if a not in cells["account_team"]]
        assert p.addresses("From") == cells["fm"]
        customer = cells["customer"]
        assert customer in p.msg["Subject"]
        assert all(w in p.msg["Subject"] for w in covered)
        for body in (p.text, HtmlDoc(p.html).text):
            assert customer in body and tid in body and all(w in body for w in covered)
            assert "please hold the engagement completion review" in body.lower()
        name, ctype, data = p.attachments()[0]
        assert ctype == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        assert name == f"ATU brief - {customer} - {join_and(covered)}.docx"
        check_word(data, customer, cells["workloads"], [human(AS_OF)])


def test_customer_followups_as_the_customer_gets_them(sample: Sample) -> None:
    jobs = list(sample.jobs_of("customer_followup"))
    assert jobs
    for job, p in jobs:
        tid = job.tenant_ids[0]
        cells = sample.cells[tid]
        assert job.message is not None
        covered = list(job.message.workloads)
        workload = covered[0]
        assert_mime_shape(p, job, 1)
        assert p.addresses("To") == cells["customer_contacts"]
        assert p.addresses("Cc") == cells["fm"]
        disc = cells["discussion"][workload]
        disc = disc.date() if isinstance(disc, dt.datetime) else dt.date.fromisoformat(disc)
        for body in (p.text, HtmlDoc(p.html).text):
            assert cells["customer"] in body and all(w in body for w in covered)
            assert human(disc) in body
            assert "Request for Assistance (RFA)" in body
            assert not ISO_DATE.search(body)
        name, _ctype, data = p.attachments()[0]
        assert name == (f"FastTrack engagement summary - {cells['customer']} - "
                        f"{join_and(covered)}.docx")
        check_word(data, cells["customer"], cells["workloads"], [human(disc), human(AS_OF)])


def check_word(data: bytes, customer: str, workloads: list[str], dates: list[str]) -> None:
    """The .docx opens, names the customer, lists the workloads, dates are human."""
    text, tables = docx_text(data)
    assert customer in text
    for d in dates:
        assert d in text
    assert not ISO_DATE.search(text), ISO_DATE.search(text)
    for leftover in ("{{", "}}", "{%", "%}", "{#"):
        assert leftover not in text
    wl = [t for t in tables if t and t[0] and t[0][0] == "Workload"]
    assert len(wl) == 1, "one workloads table"
    assert [r[0] for r in wl[0][1:]] == workloads


def test_queue_moves_as_the_assignment_team_gets_them(sample: Sample) -> None:
    jobs = list(sample.jobs_of("queue_move"))
    assert jobs
    requests = set()
    for job, p in jobs:
        assert_mime_shape(p, job, 1)
        m = SUBJECT_QUEUE.match(p.msg["Subject"])
        assert m, p.msg["Subject"]
        queue, n = m.group(1), int(m.group(2))
        # without mail.sender each FM requests their own tenants' moves: always a From
        assert p.addresses("From") and len(p.addresses("From")) == 1
        requests.add((queue, p.addresses("From")[0]))
        assert n == len(job.tenant_ids)
        assert p.addresses("To") == [sample.settings.mail.assignment_team]
        fms = sorted({a for tid in job.tenant_ids for a in sample.cells[tid]["fm"]})
        assert sorted(p.addresses("Cc")) == fms
        # HTML, as it reads on a phone: the values shared by all tenants once, then one
        # block per tenant (customer, then label: value lines); no table wider than 3 columns
        doc = HtmlDoc(p.html)
        assert max(len(r) for t in doc.tables for r in t.rows) <= 3
        assert dict(doc.table("facts")) == {
            "Target queue": queue, "Tenants": str(n), "Disengaged": "2026-11-26",
            "Next action": "2027-12-31"}
        body_rows = []
        for [block] in doc.table("tenants"):
            customer, *lines = block.split("\n")
            fields = dict(line.split(": ", 1) for line in lines)
            assert list(fields) == ["Tenant ID", "FM", "Workloads"]
            body_rows.append([fields["Tenant ID"], customer, queue, fields["FM"],
                              fields["Workloads"], "2026-11-26", "2027-12-31"])
        assert [r[0] for r in body_rows] == list(job.tenant_ids)
        for r in body_rows:
            cells = sample.cells[r[0]]
            assert r[1] == cells["customer"] and [r[3]] == cells["fm"]
            assert r[4] == ", ".join(cells["workloads"])
        assert "more — see the attached workbook" not in doc.text
        # the .xlsx attachment carries the same rows
        name, ctype, data = p.attachments()[0]
        assert name == f"Queue move - {queue} - 2026-11-26.xlsx"
        assert ctype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        ws = load_workbook(io.BytesIO(data)).active
        assert ws is not None
        sheet = [[v.date().isoformat() if isinstance(v, dt.datetime) else str(v) for v in r]
                 for r in ws.iter_rows(values_only=True)]
        assert sheet[0][:3] == ["Tenant ID", "Customer", "Target Queue"]
        # sorted by customer, then Moved On / Moved By left for the assignment team
        assert [r[:7] for r in sheet[1:]] == sorted(
            body_rows, key=lambda r: (r[1].casefold(), r[0].casefold()))
        assert all(r[7:] == ["None", "None"] for r in sheet[1:])
    assert len(requests) == len(jobs), "one message per target queue and FM"


# ---- escaping: names that break naive templates -------------------------------------------

MARKUP = '<b>AT&T</b> "Quotes" \'x\''
CONTROL = "Bell_x0007_ and_x0001_ Co_x000B_x"  # how Excel stores control characters
LONG = ("Very Long Customer Name " * 13)[:300]
D = dt.date


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Each hard name at each mailer: ATU due, follow-up due, queue move due."""
    rows = []
    for i, name in enumerate((MARKUP, CONTROL, LONG)):
        rows.append(row(f"atu-{i}", "Teams", customer=name))
        rows.append(row(f"fu-{i}", "Teams", customer=name, atu_sent=D(2026, 10, 1),
                        discussion_date=D(2026, 11, 2), next_workloads="Intune; Teams Phone",
                        rfa_demoed="yes"))
        rows.append(row(f"qm-{i}", "Teams", customer=name, atu_sent=D(2026, 10, 1),
                        discussion_date=D(2026, 11, 2), customer_email_sent=D(2026, 11, 10)))
    tmp = tmp_path_factory.mktemp("corpus")
    path = make_tracker(tmp / "names.xlsx", rows)
    settings = Settings()
    ws = load_workspace([path], settings)
    plans = plan_workspace(ws, AS_OF)
    comp = compose_all(Composer(settings, AS_OF), plans, per_tenant=True)
    emls = {}
    for job in comp.jobs:
        eml = write_eml(job, tmp / "out", WHEN)
        assert eml is not None
        emls[job.tenant_ids[0]] = (job, parse_eml(eml))
    names = {p.tenant.tenant_id: p.tenant.customer for p in plans}
    return {"plans": plans, "failures": comp.failures, "emls": emls, "names": names}


def visible(name: str) -> str:
    """A name as Word and Excel can hold it: separators become spaces, other controls go."""
    name = re.sub("[\x0b\x0c\x1c-\x1e]", " ", name)
    return "".join(ch for ch in name if ch.isprintable())


@pytest.mark.parametrize("i", [0, 1, 2], ids=["markup", "control", "long"])
@pytest.mark.parametrize("kind", ["atu", "fu", "qm"])
def test_hard_names_arrive_literally(corpus: dict[str, Any], kind: str, i: int) -> None:
    tid = f"{kind}-{i}"
    name = corpus["names"][tid]
    assert corpus["failures"] == []
    if i == 1:
        assert "\x07" in name and "\x0b" in name, "the reader kept the control characters"
    if i == 2:
        assert len(name) == 300
    job, p = corpus["emls"][tid]
    assert_mime_shape(p, job, 1)
    # text: the name exactly as typed
    assert name in p.text
    # HTML: escaped, so it shows literally and adds no markup
    doc = HtmlDoc(p.html)
    assert name in doc.text
    assert "b" not in doc.tags and "<b>AT&T" not in p.html
    subject = p.msg["Subject"]
    assert len(subject) <= 255
    if kind != "qm":
        assert " ".join(visible(name).split())[:60] in subject
    _fname, _ctype, data = p.attachments()[0]
    if kind == "qm":
        ws = load_workbook(io.BytesIO(data)).active
        assert ws is not None
        assert ws["B2"].value == visible(name)
        assert HtmlDoc(p.html).table("tenants")[0][0].split("\n")[0] == name
    else:
        text, _tables = docx_text(data)
        assert visible(name) in text
    for _fname, _ct, _d in p.attachments():
        assert len(_fname) <= 120 and not set('<>:"/\\|?*') & set(_fname)


# ---- template errors ------------------------------------------------------------------------

def one_tenant(tmp_path: Path, **values: Any) -> list[TenantPlan]:
    path = make_tracker(tmp_path / "one.xlsx", [row("t-42", "Teams", **values)])
    ws = load_workspace([path], Settings())
    assert not ws.problems
    return plan_workspace(ws, AS_OF)


def override(tmp_path: Path, files: dict[str, str], folder: str = "overrides") -> Settings:
    root = tmp_path / folder
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    return Settings(paths=PathSettings(templates=str(root)))


def test_undefined_variable_names_template_line_and_tenant(tmp_path: Path) -> None:
    settings = override(tmp_path, {"email/atu/body.txt":
                                   "Hello,\n\n{{ tenant.nickname }} is done.\n"})
    plans = one_tenant(tmp_path)
    with pytest.raises(TemplateError) as err:
        Composer(settings, AS_OF).compose_tenant(plans[0])
    assert err.value.where == "email/atu/body.txt:3"
    assert "nickname" in err.value.what and "t-42" in err.value.what
    # in a whole run the tenant is listed as not composed, with the same message
    comp = compose_all(Composer(settings, AS_OF), plans)
    assert comp.jobs == []
    assert [str(p) for _t, p in comp.failures] == [str(err.value)]


def test_undefined_variable_in_word_template_names_the_tenant(tmp_path: Path) -> None:
    from docx import Document as NewDocument

    root = tmp_path / "overrides" / "word"
    root.mkdir(parents=True)
    doc = NewDocument()
    doc.add_paragraph("For {{ tenant.customer }} on {{ tenant.nickname }}")
    doc.save(str(root / "atu_brief.docx"))
    settings = Settings(paths=PathSettings(templates=str(tmp_path / "overrides")))
    with pytest.raises(TemplateError) as err:
        Composer(settings, AS_OF).compose_tenant(one_tenant(tmp_path)[0])
    assert "atu_brief.docx" in err.value.where
    assert "nickname" in err.value.what and "t-42" in err.value.what


def test_subject_template_on_two_lines_is_refused(tmp_path: Path) -> None:
    settings = override(tmp_path, {"email/atu/subject.txt":
                                   "Enablement complete\n{{ tenant.customer }}\n"})
    with pytest.raises(TemplateError, match="several lines") as err:
        Composer(settings, AS_OF).compose_tenant(one_tenant(tmp_path)[0])
    assert err.value.where == "email/atu/subject.txt"


def test_line_break_in_a_value_stays_out_of_the_subject(tmp_path: Path) -> None:
    plans = one_tenant(tmp_path, customer="Contoso\nPharma")
    [job] = Composer(Settings(), AS_OF).compose_tenant(plans[0])
    assert job.message is not None
    assert job.message.subject.startswith("FastTrack enablement complete: Contoso Pharma – ")
    assert "Contoso\nPharma" in job.message.text


# ---- mailer validation ----------------------------------------------------------------------

ATU_MAILER = """kind = "atu"
audience = "internal"
per = "workload"
to = ["account_team"]
cc = ["fm"]
subject = "email/atu/subject.txt"
html = "email/atu/body.html"
text = "email/atu/body.txt"
"""


@pytest.mark.parametrize(("extra", "where", "what"), [
    ('colour = "blue"\n', "key colour", "unknown key"),
    ("[stamps]\natu_sent = \"as_of\"\nfavourite_colour = \"as_of\"\n",
     "stamps.favourite_colour", "not an output column"),
    ("[stamps]\natu_sent = \"yesterday\"\n", "stamps.atu_sent", "unknown value source"),
])
def test_mailer_mistakes_stop_before_any_row(tmp_path: Path, extra: str, where: str,
                                             what: str) -> None:
    folder = tmp_path / "mailers"
    folder.mkdir()
    (folder / "atu.toml").write_text(ATU_MAILER + extra, encoding="utf-8")
    settings = Settings(paths=PathSettings(mailers=str(folder)))
    with pytest.raises(TemplateError) as err:
        Composer(settings, AS_OF)
    assert str(folder / "atu.toml") in err.value.where and where in err.value.where
    assert what in err.value.what


def test_unknown_recipient_source_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "mailers"
    folder.mkdir()
    (folder / "atu.toml").write_text(ATU_MAILER.replace('["account_team"]',
                                                        '["account_teem"]'), encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        Composer(Settings(paths=PathSettings(mailers=str(folder))), AS_OF)
    assert err.value.where.endswith("key to")
    assert "account_teem" in err.value.what and "account_team" in err.value.fix


def test_missing_template_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "mailers"
    folder.mkdir()
    (folder / "atu.toml").write_text(ATU_MAILER.replace("email/atu/body.txt",
                                                        "email/atu/bodyy.txt"), encoding="utf-8")
    with pytest.raises(TemplateError, match=re.escape("'email/atu/bodyy.txt' not found")):
        Composer(Settings(paths=PathSettings(mailers=str(folder))), AS_OF)


NOTE_MAILER = """kind = "unassign_fm"
audience = "none"
per = "tenant"
note = "notes/closing.txt"

[stamps]
fm_unassigned = "as_of"
engagement_note = "note"
"""


def test_a_note_only_step_is_declared_by_its_mailer_like_any_other(tmp_path: Path) -> None:
    """unassign_fm comes from mailers/unassign_fm.toml: a project's copy changes its note
    and the columns it stamps, nothing in the code names them."""
    folder = tmp_path / "mailers"
    folder.mkdir()
    (folder / "unassign_fm.toml").write_text(NOTE_MAILER, encoding="utf-8")
    templates = tmp_path / "templates" / "notes"
    templates.mkdir(parents=True)
    (templates / "closing.txt").write_text("Closed {{ tenant.customer }} on {{ as_of }}.\n",
                                           encoding="utf-8")
    settings = Settings(paths=PathSettings(mailers=str(folder),
                                           templates=str(tmp_path / "templates")))
    plans = one_tenant(tmp_path, atu_sent=D(2026, 9, 1), discussion_date=D(2026, 10, 1),
                       customer_email_sent=D(2026, 10, 2), queue_requested=D(2026, 10, 3),
                       queue_confirmed=D(2026, 10, 9))
    (job,) = Composer(settings, AS_OF).compose_tenant(plans[0])
    assert job.kind == "unassign_fm" and job.message is None
    assert [n.text for n in job.notes] == ["Closed Customer t-42 on 2026-11-26."]
    assert {s.field for s in job.stamps} == {"fm_unassigned", "engagement_note"}


@pytest.mark.parametrize(("text", "where", "what"), [
    (NOTE_MAILER.replace('"unassign_fm"', '"newsletter"'), "key kind",
     "'newsletter' is not a step of the playbook"),
    (NOTE_MAILER.replace('per = "tenant"', 'per = "workload"'), "key per",
     "the playbook sends unassign_fm per tenant"),
    (NOTE_MAILER.replace('note = ', 'to = ["fm"]\nnote = '), "key to", "sends nothing"),
])
def test_a_mailer_the_playbook_would_ignore_is_refused(tmp_path: Path, text: str, where: str,
                                                       what: str) -> None:
    folder = tmp_path / "mailers"
    folder.mkdir()
    (folder / "unassign_fm.toml").write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError) as err:
        Composer(Settings(paths=PathSettings(mailers=str(folder))), AS_OF)
    assert where in err.value.where and what in err.value.what


# ---- audiences ------------------------------------------------------------------------------

def unvalidated(tmp_path: Path, **values: Any) -> list[TenantPlan]:
    """Plans of records read without the shared validation, which refuses an address outside
    the internal domains first (issue 21): the composer's own guard must hold as well."""
    path = make_tracker(tmp_path / "one.xlsx", [row("t-42", "Teams", **values)])
    assert load_workspace([path], Settings()).problems  # refused before composing
    return [plan_tenant(t, AS_OF) for t in load_tracker(path, Settings()).tenants]


def test_atu_to_an_external_account_team_address_is_refused(tmp_path: Path) -> None:
    plans = unvalidated(tmp_path, account_team="ann@microsoft.com; bob@gmail.com")
    with pytest.raises(MessageError, match=re.escape("bob@gmail.com")):
        Composer(Settings(), AS_OF).compose_tenant(plans[0])


def test_look_alike_internal_domain_is_refused(tmp_path: Path) -> None:
    lookalike = "ann@micros\u043eft.com"  # Cyrillic o
    plans = unvalidated(tmp_path, account_team=lookalike)
    with pytest.raises(MessageError, match="outside the internal domains"):
        Composer(Settings(), AS_OF).compose_tenant(plans[0])


def test_followup_to_the_tenants_own_contact_at_another_domain_is_fine(tmp_path: Path) -> None:
    plans = one_tenant(tmp_path, customer_contacts="it@contoso.com; pm@partner-msp.net",
                       atu_sent=D(2026, 10, 1), discussion_date=D(2026, 11, 2))
    [job] = Composer(Settings(), AS_OF).compose_tenant(plans[0])
    assert job.message is not None
    assert [a.email for a in job.message.to] == ["it@contoso.com", "pm@partner-msp.net"]


def test_customer_message_to_someone_elses_contact_is_refused(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "two.xlsx", [
        row("t-1", "Teams", customer_contacts="it@contoso.com"),
        row("t-2", "Teams", customer="Fabrikam", customer_contacts="it@fabrikam.com"),
    ])
    plans = plan_workspace(load_workspace([path], Settings()), AS_OF)
    t1 = plans[0].tenant
    composer = Composer(Settings(), AS_OF)

    def message(to: str, cc: str = "fm.one@microsoft.com") -> OutgoingMessage:
        return OutgoingMessage(key="customer_followup.t-1.teams.x", kind="customer_followup",
                               audience="customer", to=(parse_address(to),),
                               cc=(parse_address(cc),), subject="s", text="t", html="h",
                               tenant_ids=("t-1",))

    check_recipients(message("it@contoso.com"), t1, composer.internal)
    with pytest.raises(MessageError, match=re.escape("it@fabrikam.com is not one of this tenant")):
        check_recipients(message("it@fabrikam.com"), t1, composer.internal)
    with pytest.raises(MessageError, match="may not be copied"):
        check_recipients(message("it@contoso.com", cc="it@fabrikam.com"), t1, composer.internal)


# ---- deterministic attachments ------------------------------------------------------------

def test_attachments_are_byte_for_byte_deterministic(sample: Sample,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast timestamp patch gives exactly the bytes of rewriting the whole zip."""
    import time

    from docxtpl import DocxTemplate
    from openpyxl import Workbook

    from ftc_office.rendering.word import normalise_zip, rewrite_zip

    raw = []
    for path in ("templates/word/atu_brief.docx", "templates/word/engagement_summary.docx"):
        buf = io.BytesIO()
        DocxTemplate(str(SAMPLE.parent.parent / path)).save(buf)
        raw.append(buf.getvalue())
    buf = io.BytesIO()
    Workbook().save(buf)
    raw.append(buf.getvalue())
    for data in raw:
        assert normalise_zip(data) == rewrite_zip(data)
        assert normalise_zip(data) != data  # the timestamps did change
    # the same message composed again, later, has the same attachment bytes
    # later by more than the zip timestamps' 2-second resolution, without waiting for it
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 4.0)
    again = compose_all(Composer(sample.settings, AS_OF), sample.plans)
    first = {j.key: j.message.content_hash for j in sample.jobs if j.message}
    assert {j.key: j.message.content_hash for j in again.jobs if j.message} == first

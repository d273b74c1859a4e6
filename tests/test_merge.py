"""`ftc-office merge`: a general mail merge, run through click on workbooks built here."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import io
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from docx import Document
from openpyxl import Workbook, load_workbook

from ftc_office.cli.merge import merge
from ftc_office.merge import html_to_text, identifier

HEADER = ["First Name", "Email", "Seats", "Renewal Date", "Notes"]
PEOPLE = [
    ["Ann", "ann@contoso.com", 1200, dt.date(2026, 12, 1), "<b>AT&T</b> \"vip\""],
    ["Bob", "bob@fabrikam.com; it@fabrikam.com", 40, dt.date(2027, 1, 15), ""],
    ["Cleo", "cleo@litware.com", 7.0, dt.date(2026, 11, 30), "plain"],
]


def workbook(path: Path, rows: list[list[Any]], header: list[str] = HEADER,
             sheet: str = "Contacts", title_rows: int = 2) -> Path:
    """Blank rows on top, then the header, then the data rows."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = sheet
    wb.create_sheet("Other")["A1"] = "not the data"
    for c, h in enumerate(header, 1):
        ws.cell(row=title_rows + 1, column=c, value=h)
    for r, values in enumerate(rows, title_rows + 2):
        for c, v in enumerate(values, 1):
            cell = ws.cell(row=r, column=c, value=v)
            if isinstance(v, dt.date):
                cell.number_format = "dd/mm/yyyy"
    wb.save(path)
    return path


def template(folder: Path, **files: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name.replace("_", ".")).write_text(text, encoding="utf-8")
    return folder


SUBJECT = "Your {{ seats }} seats renew on {{ renewal_date | date }}, {{ first_name }}\n"
BODY_TXT = "Hello {{ row['First Name'] }},\n\nNotes: {{ notes }}\n"
BODY_HTML = "<p>Hello <strong>{{ first_name }}</strong>,</p>\n<p>Notes: {{ notes }}</p>\n"


def run(*args: str | Path) -> Result:
    return CliRunner().invoke(merge, [str(a) for a in args])


def emls(out: Path) -> dict[str, EmailMessage]:
    """The written messages by their first recipient."""
    found = {}
    for p in sorted(out.glob("*.eml")):
        msg = email.message_from_bytes(p.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        found[msg["To"].addresses[0].addr_spec] = msg
    return found


def body(msg: EmailMessage, kind: str) -> str:
    part = msg.get_body((kind,))
    assert part is not None
    return str(part.get_content())


@pytest.fixture
def data(tmp_path: Path) -> Path:
    return workbook(tmp_path / "contacts.xlsx", PEOPLE)


def test_one_message_per_row(tmp_path: Path, data: Path) -> None:
    tpl = template(tmp_path / "mailing", subject_txt=SUBJECT, body_txt=BODY_TXT,
                   body_html=BODY_HTML)
    out = tmp_path / "out"
    result = run("--template", tpl, "--data", data, "--to-column", "Email", "--out", out)
    assert result.exit_code == 0, result.output
    assert "3 message(s) from 3 row(s)" in result.stderr
    got = emls(out)
    assert sorted(got) == ["ann@contoso.com", "bob@fabrikam.com", "cleo@litware.com"]
    ann, bob, cleo = got["ann@contoso.com"], got["bob@fabrikam.com"], got["cleo@litware.com"]
    assert ann["Subject"] == "Your 1200 seats renew on 1 December 2026, Ann"
    assert cleo["Subject"] == "Your 7 seats renew on 30 November 2026, Cleo"  # 7.0 → 7
    assert [a.addr_spec for a in bob["To"].addresses] == ["bob@fabrikam.com", "it@fabrikam.com"]
    assert ann.get_content_type() == "multipart/alternative"
    assert body(ann, "plain") == 'Hello Ann,\r\n\r\nNotes: <b>AT&T</b> "vip"\r\n'
    html = body(ann, "html")
    assert "&lt;b&gt;AT&amp;T&lt;/b&gt;" in html and "<b>" not in html
    assert "<strong>Ann</strong>" in html
    assert ann["X-FTC-Message-Key"].startswith("merge.mailing.ann-contoso-com.")
    index = (out / "index.html").read_text(encoding="utf-8")
    assert index.count(".eml\"") == 3 and "Contacts row 5" in index


def test_header_is_the_first_row_with_text_and_sheet_can_be_chosen(tmp_path: Path) -> None:
    path = workbook(tmp_path / "d.xlsx", [["Zed", "zed@contoso.com", 1, "", ""]],
                    sheet="Second", title_rows=5)
    wb = load_workbook(path)
    wb.move_sheet("Second", offset=1)  # the data is not on the first sheet
    wb.save(path)
    tpl = template(tmp_path / "t", subject_txt="Hi {{ first_name }}", body_txt="x")
    result = run("--template", tpl, "--data", path, "--sheet", "Second", "--out",
                 tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert list(emls(tmp_path / "o")) == ["zed@contoso.com"]
    assert "1 message(s) from 1 row(s)" in result.stderr
    # the first sheet ("Other": one cell of text) is read by default: no recipients column
    result = run("--template", tpl, "--data", path, "--out", tmp_path / "o2")
    assert result.exit_code == 1 and "no recipients column" in result.stderr
    result = run("--template", tpl, "--data", path, "--sheet", "Nope", "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "no sheet named 'Nope'" in result.stderr and "'Second'" in result.stderr


def test_html_only_template_gets_a_text_part(tmp_path: Path, data: Path) -> None:
    tpl = template(tmp_path / "t", subject_txt="Hi", body_html=(
        "<h1>News</h1><p>Hello {{ first_name }},<br>see <a href='https://aka.ms/x'>this</a>."
        "</p><ul><li>one</li><li>two</li></ul>"))
    result = run("--template", tpl, "--data", data, "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    text = body(emls(tmp_path / "o")["ann@contoso.com"], "plain")
    assert text.replace("\r\n", "\n") == ("News\n\nHello Ann,\nsee this (https://aka.ms/x).\n\n"
                                          "- one\n- two\n")


def test_text_only_template_gets_an_html_part(tmp_path: Path, data: Path) -> None:
    tpl = template(tmp_path / "t", subject_txt="Hi", body_txt="Hello {{ notes }}\nline 2\n\nbye")
    result = run("--template", tpl, "--data", data, "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    html = body(emls(tmp_path / "o")["ann@contoso.com"], "html")
    assert 'Hello &lt;b&gt;AT&amp;T&lt;/b&gt; "vip"<br>' in html
    assert html.count("<p ") == 2 and ">bye</p>" in html


def test_word_attachment_per_row(tmp_path: Path, data: Path) -> None:
    doc = Document()
    doc.add_paragraph("Dear {{ first_name }}, notes: {{ notes }}, "
                      "renewal {{ renewal_date | date }}")
    doc.save(str(tmp_path / "letter.docx"))
    tpl = template(tmp_path / "t", subject_txt="Hi", body_txt="see attached")
    result = run("--template", tpl, "--data", data, "--word", tmp_path / "letter.docx",
                 "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    msg = emls(tmp_path / "o")["ann@contoso.com"]
    [att] = list(msg.iter_attachments())
    assert att.get_filename() == "letter.docx"
    text = Document(io.BytesIO(att.get_content())).paragraphs[0].text
    assert text == 'Dear Ann, notes: <b>AT&T</b> "vip", renewal 1 December 2026'


def test_bad_address_row_is_skipped_and_named(tmp_path: Path) -> None:
    rows = [PEOPLE[0], ["Dan", "dan at contoso", 1, "", ""], ["Eve", "", 1, "", ""]]
    path = workbook(tmp_path / "d.xlsx", rows)
    tpl = template(tmp_path / "t", subject_txt="Hi", body_txt="x")
    result = run("--template", tpl, "--data", path, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert f"{path}, Contacts!B5: 'dan at contoso' is not an address" in result.stderr
    assert f"{path}, Contacts!B6: no recipient address" in result.stderr
    assert list(emls(tmp_path / "o")) == ["ann@contoso.com"]
    page = (tmp_path / "o" / "index.html").read_text(encoding="utf-8")
    assert "Needs attention (2)" in page  # the run's review page
    assert 'data-count="Rows with a problem" data-value="2"' in page


def test_undefined_variable_stops_before_anything_is_written(tmp_path: Path,
                                                            data: Path) -> None:
    tpl = template(tmp_path / "t", subject_txt="Hi", body_txt="Hello\n{{ first_nam }}\n")
    result = run("--template", tpl, "--data", data, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert f"error: {tpl / 'body.txt'}:2: " in result.stderr
    assert "first_nam" in result.stderr and "row 4 of contacts.xlsx" in result.stderr
    assert not (tmp_path / "o").exists()


def test_subject_on_two_lines_is_refused(tmp_path: Path, data: Path) -> None:
    tpl = template(tmp_path / "t", subject_txt="Hi\n{{ first_name }}\n", body_txt="x")
    result = run("--template", tpl, "--data", data, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "subject.txt: the subject renders to several lines for row 4" in result.stderr


def test_line_break_in_a_value_is_kept_out_of_the_subject(tmp_path: Path) -> None:
    path = workbook(tmp_path / "d.xlsx", [["Ann\nMarie", "ann@contoso.com", 1, "", ""]])
    tpl = template(tmp_path / "t", subject_txt="\ufeffHi {{ first_name }}", body_txt="x")
    result = run("--template", tpl, "--data", path, "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert emls(tmp_path / "o")["ann@contoso.com"]["Subject"] == "Hi Ann Marie"


def test_template_syntax_error_names_file_and_line(tmp_path: Path, data: Path) -> None:
    tpl = template(tmp_path / "t", subject_txt="Hi", body_html="<p>\n{% if x %}\n</p>\n")
    result = run("--template", tpl, "--data", data, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert f"{tpl / 'body.html'}:" in result.stderr and "template syntax" in result.stderr


@pytest.mark.parametrize(("files", "message"), [
    ({}, "template folder not found"),
    ({"body_txt": "x"}, "no subject.txt in the template folder"),
    ({"subject_txt": "x"}, "no body.html, body.txt or body.md"),
])
def test_incomplete_template_folder(tmp_path: Path, data: Path, files: dict[str, str],
                                    message: str) -> None:
    tpl = template(tmp_path / "t", **files) if files else tmp_path / "missing"
    result = run("--template", tpl, "--data", data, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert message in result.stderr


def test_recipients_column_must_exist(tmp_path: Path) -> None:
    path = workbook(tmp_path / "d.xlsx", [["Ann", "ann@contoso.com", 1, "", ""]],
                    header=["First Name", "Mailbox", "Seats", "Renewal Date", "Notes"])
    tpl = template(tmp_path / "t", subject_txt="Hi", body_txt="x")
    result = run("--template", tpl, "--data", path, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert "no recipients column" in result.stderr and "'Mailbox'" in result.stderr
    result = run("--template", tpl, "--data", path, "--to-column", "mail box", "--out",
                 tmp_path / "o")
    assert result.exit_code == 1 and "no column 'mail box'" in result.stderr
    result = run("--template", tpl, "--data", path, "--to-column", "mailbox", "--out",
                 tmp_path / "o")
    assert result.exit_code == 0, result.output


def test_headers_that_collide_are_refused(tmp_path: Path) -> None:
    path = workbook(tmp_path / "d.xlsx", [["a@contoso.com", "b@contoso.com"]],
                    header=["E-mail", "E mail"])
    tpl = template(tmp_path / "t", subject_txt="Hi", body_txt="x")
    result = run("--template", tpl, "--data", path, "--out", tmp_path / "o")
    assert result.exit_code == 1
    assert f"{path}, Contacts!B3: column 'E mail' has the same variable name 'e_mail' as the " \
           "column at A3" in result.stderr


@pytest.mark.parametrize(("name", "content", "message"), [
    ("missing.xlsx", None, "file not found"),
    ("missing.csv", None, "data file not found"),
    ("notes.txt", b"hello", "not a workbook python-calamine can read"),
    ("broken.xlsx", b"PK\x03\x04garbage", "the workbook is damaged"),
])
def test_unreadable_data_names_the_file(tmp_path: Path, name: str, content: bytes | None,
                                        message: str) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    tpl = template(tmp_path / "t", subject_txt="Hi", body_txt="x")
    result = run("--template", tpl, "--data", path, "--out", tmp_path / "o")
    assert result.exit_code != 0
    assert result.stderr.startswith(f"error: {path}")
    assert message in result.stderr
    assert "Traceback" not in result.output


def test_csv_data(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("\ufeffFirst Name;Email\nAnn;ann@contoso.com\n", encoding="utf-8")
    tpl = template(tmp_path / "t", subject_txt="Hi {{ first_name }}", body_txt="x")
    result = run("--template", tpl, "--data", path, "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert emls(tmp_path / "o")["ann@contoso.com"]["Subject"] == "Hi Ann"


def test_help_has_an_example() -> None:
    result = CliRunner().invoke(merge, ["--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "ftc-office merge --template" in result.output


@pytest.mark.parametrize(("header", "name"), [
    ("First Name", "first_name"), ("E-mail", "e_mail"), ("Prénom", "prenom"),
    ("2026 Goal", "_2026_goal"), ("  Seats (licensed) ", "seats_licensed"),
])
def test_identifier(header: str, name: str) -> None:
    assert identifier(header) == name


def test_html_to_text_table() -> None:
    assert html_to_text("<table><tr><th>A</th><th>B</th></tr><tr><td>1</td><td>2</td></tr>"
                        "</table>") == "A | B\n1 | 2\n"

"""General mail merge: one message per row of a sheet, for ad-hoc mailings.

A merge template is a folder holding ``subject.txt`` and ``body.html`` and/or ``body.txt``
(when only one body is given, the other is derived from it). Every data row becomes one
message to the addresses in its recipients column. Templates get the same strict, sandboxed
environment as the playbook messages: an undefined variable stops the merge naming
``template:line`` and the row; a subject that renders on two lines is refused.

Column headers become variables, normalised to identifiers (``First Name`` → ``first_name``);
every value is also in ``row`` under its header as written (``row["First Name"]``). The
output is the same as ``preview``: one ``.eml`` file per message and an ``index.html``.
"""

from __future__ import annotations

import csv
import datetime as dt
import html
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import css_inline
import jinja2
from python_calamine import CalamineWorkbook

from ftc_office.addresses import LINE_BREAKS, Address, parse_address_list
from ftc_office.errors import FtcError, MessageError, Problem, TemplateError
from ftc_office.jobs import Job, JobKind, merge_key
from ftc_office.message import Attachment, OutgoingMessage
from ftc_office.rendering.environment import make_environment, one_line, render
from ftc_office.rendering.word import DOCX_MIME, render_docx
from ftc_office.xlsx.cells import col_letter
from ftc_office.xlsx.limits import check_extent, check_package

SUBJECT, BODY_HTML, BODY_TEXT = "subject.txt", "body.html", "body.txt"
TO_COLUMN_GUESSES = ("email", "e_mail", "email_address", "mail", "to")
RESERVED = ("row",)


class MergeError(FtcError):
    """The merge template or its data cannot be used (nothing is written)."""


# ---- the template ---------------------------------------------------------------------------

class _BomlessLoader(jinja2.FileSystemLoader):
    """Notepad may save UTF-8 with a byte-order mark; it must not start the subject."""

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        return source.removeprefix("\ufeff"), filename, uptodate


@dataclass
class MergeTemplate:
    """A merge template folder, compiled once."""

    folder: Path
    has_html: bool
    has_text: bool
    word: Path | None = None
    envs: dict[str, jinja2.Environment] = field(default_factory=dict)

    def render(self, name: str, context: dict[str, Any], who: str) -> str:
        env = self.envs["subject" if name == SUBJECT else "html" if name == BODY_HTML
                        else "text"]
        try:
            return render(env, name, context, who)
        except TemplateError as exc:
            raise TemplateError(f"{self.folder / exc.where}", exc.what, exc.fix) from None


def load_template(folder: Path, word: Path | None = None) -> MergeTemplate:
    """Check the template folder (and Word template) and compile every template in it."""
    where = str(folder)
    if not folder.is_dir():
        raise MergeError(where, "template folder not found" if not folder.exists() else
                         "--template must be a folder",
                         f"create a folder holding {SUBJECT} and {BODY_HTML} and/or {BODY_TEXT}")
    if not (folder / SUBJECT).is_file():
        raise MergeError(where, f"no {SUBJECT} in the template folder",
                         f"add {SUBJECT} with the subject on one line")
    has_html = (folder / BODY_HTML).is_file()
    has_text = (folder / BODY_TEXT).is_file()
    if not (has_html or has_text):
        raise MergeError(where, f"no {BODY_HTML} or {BODY_TEXT} in the template folder",
                         "add the message body as one of them (or both)")
    if word is not None and (not word.is_file() or word.suffix.lower() != ".docx"):
        raise MergeError(str(word), "Word template not found" if not word.exists() else
                         "not a .docx file", "give a .docx with {{ column }} tags")
    tpl = MergeTemplate(folder, has_html, has_text, word)
    for kind, html_mode, finalize in (("subject", False, one_line), ("text", False, None),
                                      ("html", True, None)):
        env = make_environment([folder], html=html_mode, finalize=finalize)
        env.loader = _BomlessLoader([str(folder)], encoding="utf-8")
        tpl.envs[kind] = env
    for name, kind in ((SUBJECT, "subject"), (BODY_HTML, "html"), (BODY_TEXT, "text")):
        if (folder / name).is_file():
            try:
                tpl.envs[kind].get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(f"{folder / name}:{exc.lineno}",
                                    f"template syntax: {exc.message}",
                                    "fix the template at that line") from None
            except UnicodeDecodeError:
                raise TemplateError(str(folder / name), "the file is not UTF-8 text",
                                    "save it as UTF-8") from None
    return tpl


# ---- the data -------------------------------------------------------------------------------

@dataclass(frozen=True)
class DataRow:
    """One data row: its sheet row number, values by header, and each value's cell."""

    number: int
    values: dict[str, Any]
    cells: dict[str, str]


@dataclass
class MergeData:
    """The rows of the data sheet, with their headers and variable names."""

    path: Path
    sheet: str
    headers: list[str]
    names: dict[str, str]  # header → variable name
    rows: list[DataRow]

    def where(self, cell: str) -> str:
        return f"{self.path}, {self.sheet}!{cell}"

    def column(self, wanted: str | None) -> str:
        """The header of the recipients column (given, or guessed from common names)."""
        if wanted:
            key = identifier(wanted)
            for h in self.headers:
                if h.strip().casefold() == wanted.strip().casefold() or self.names[h] == key:
                    return h
            raise MergeError(f"{self.path}, sheet {self.sheet}", f"no column {wanted!r}",
                             "--to-column must be one of: " + ", ".join(map(repr, self.headers)))
        for guess in TO_COLUMN_GUESSES:
            for h in self.headers:
                if self.names[h] == guess:
                    return h
        raise MergeError(f"{self.path}, sheet {self.sheet}",
                         "no recipients column (looked for Email, E-mail, To)",
                         "name it with --to-column; the columns are: "
                         + ", ".join(map(repr, self.headers)))


def identifier(header: str) -> str:
    """``First Name`` → ``first_name``; ``Prénom`` → ``prenom``; ``2026 Goal`` → ``_2026_goal``."""
    text = unicodedata.normalize("NFKD", header)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    name = re.sub(r"[^0-9A-Za-z]+", "_", text).strip("_").lower()
    if name[:1].isdigit():
        name = "_" + name
    return name


def _cell_value(value: Any) -> Any:
    """Calamine values as templates want them: whole floats as ints, midnight as a date."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dt.datetime) and value.time() == dt.time(0):
        return value.date()
    if isinstance(value, str):
        return value.strip()
    return "" if value is None else value


def read_data(path: Path, sheet: str | None = None) -> MergeData:
    """Read the data sheet: header on the first row with any text, then one row per message."""
    if path.suffix.lower() == ".csv":
        if sheet:
            raise MergeError(str(path), "a CSV file has no sheets", "leave out --sheet")
        grid, name = _read_csv(path), path.stem
    else:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            check_package(path)  # zip bombs, encrypted files, DTDs: as for trackers
        else:
            _exists(path)
        grid, name = _read_workbook(path, sheet)
    for r, values in enumerate(grid):
        if any(isinstance(v, str) and v.strip() for v in values):
            return _table(path, name, grid, r)
    raise MergeError(f"{path}, sheet {name}", "the sheet has no header row (no text at all)",
                     "put the column names on the first row, e.g. Email, First Name")


def _exists(path: Path) -> None:
    if not path.is_file():
        raise MergeError(str(path), "data file not found",
                         "check the path (quote it if it has spaces)")


def _read_csv(path: Path) -> list[list[Any]]:
    _exists(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise MergeError(str(path), "the CSV file is not UTF-8 text",
                         "save it as 'CSV UTF-8' in Excel") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [list(r) for r in csv.reader(text.splitlines(), dialect)]


def _read_workbook(path: Path, sheet: str | None) -> tuple[list[list[Any]], str]:
    try:
        wb = CalamineWorkbook.from_path(str(path))
    except Exception as exc:
        raise MergeError(str(path), f"not a workbook python-calamine can read "
                         f"({type(exc).__name__})",
                         "give an .xlsx, .xlsm, .xls, .ods or .csv file") from None
    try:
        names = list(wb.sheet_names)
        name = sheet or names[0]
        if name not in names:
            raise MergeError(str(path), f"no sheet named {sheet!r}",
                             "--sheet must be one of: " + ", ".join(map(repr, names)))
        sh = wb.get_sheet_by_name(name)
        check_extent(sh.end, f"{path}, sheet {name}", MergeError)
        return sh.to_python(skip_empty_area=False), name
    except FtcError:
        raise
    except Exception as exc:
        raise MergeError(str(path), f"the workbook cannot be read ({type(exc).__name__}: "
                         f"{exc})", "open it in Excel and save it again") from None
    finally:
        wb.close()


def _table(path: Path, sheet: str, grid: list[list[Any]], header_r: int) -> MergeData:
    header = grid[header_r]
    cols: list[tuple[int, str]] = []
    names: dict[str, str] = {}
    seen: dict[str, str] = {}  # variable → cell of its first header
    for c, value in enumerate(header):
        text = str(_cell_value(value)).strip()
        if not text:
            continue
        cell = f"{col_letter(c + 1)}{header_r + 1}"
        var = identifier(text) or f"column_{col_letter(c + 1).lower()}"
        if var in RESERVED:
            raise MergeError(f"{path}, {sheet}!{cell}", f"the column name {text!r} is "
                             f"reserved (the variable '{var}' holds the whole row)",
                             "rename the column")
        if var in seen:
            raise MergeError(f"{path}, {sheet}!{cell}", f"column {text!r} has the same "
                             f"variable name '{var}' as the column at {seen[var]}",
                             "rename one of the two columns")
        seen[var] = cell
        cols.append((c, text))
        names[text] = var
    rows = []
    for r in range(header_r + 1, len(grid)):
        line = grid[r]
        values: dict[str, Any] = {}
        cells: dict[str, str] = {}
        for c, text in cols:
            values[text] = _cell_value(line[c]) if c < len(line) else ""
            cells[text] = f"{col_letter(c + 1)}{r + 1}"
        if any(v != "" for v in values.values()):
            rows.append(DataRow(r + 1, values, cells))
    return MergeData(path, sheet, [t for _c, t in cols], names, rows)


# ---- rendering ------------------------------------------------------------------------------

@dataclass
class MergeResult:
    """The messages of a merge and the rows that could not become one (and why)."""

    jobs: list[Job] = field(default_factory=list)
    failures: list[Problem] = field(default_factory=list)


def row_context(data: MergeData, row: DataRow, today: dt.date) -> dict[str, Any]:
    """Template values for one row: each column by variable name, ``row`` by header."""
    ctx: dict[str, Any] = {data.names[h]: v for h, v in row.values.items()}
    ctx["row"] = dict(row.values)
    ctx.setdefault("today", today)
    return ctx


def merge(template: MergeTemplate, data: MergeData, to_column: str | None = None,
          sender: Address | None = None, today: dt.date | None = None) -> MergeResult:
    """One message per data row. A row with bad addresses is listed and skipped; a
    template error stops the whole merge (it would fail on every row)."""
    today = today or dt.date.today()
    to_header = data.column(to_column)
    out = MergeResult()
    stem = template.folder.resolve().name
    for row in data.rows:
        who = f"row {row.number} of {data.path.name}"
        cell = data.where(row.cells[to_header])
        raw = str(row.values[to_header])
        to, bad = parse_address_list(raw)
        if bad or not to:
            out.failures.append(Problem(cell, "; ".join(bad) or "no recipient address",
                                        "put one or more addresses separated by ';' "
                                        "in the cell"))
            continue
        ctx = row_context(data, row, today)
        subject = template.render(SUBJECT, ctx, who).strip()
        if LINE_BREAKS.search(subject):
            raise TemplateError(str(template.folder / SUBJECT),
                                f"the subject renders to several lines for {who}",
                                "keep the subject template on one line")
        html_body = template.render(BODY_HTML, ctx, who) if template.has_html else None
        text = template.render(BODY_TEXT, ctx, who) if template.has_text else None
        if text is None:
            text = html_to_text(html_body or "")
        html_body = css_inline.inline(html_body if html_body is not None
                                      else text_to_html(text, subject))
        attachments: tuple[Attachment, ...] = ()
        if template.word is not None:
            attachments = (Attachment(template.word.name,
                                      render_docx(template.word, ctx, who), DOCX_MIME),)
        key = merge_key(stem, row.number, to)
        try:
            msg = OutgoingMessage(key=key, kind="merge", audience="merge", to=tuple(to),
                                  sender=sender, subject=subject, text=text, html=html_body,
                                  attachments=attachments, origin=cell)
        except MessageError as exc:
            out.failures.append(exc.problem)
            continue
        recipients = ", ".join(a.email for a in to)
        out.jobs.append(Job(key, JobKind.MERGE, (), msg, (), (),
                            f"{data.sheet} row {row.number} → {recipients}"))
    return out


# ---- deriving one body from the other -------------------------------------------------------

def text_to_html(text: str, title: str) -> str:
    """A plain-text body as simple HTML: paragraphs at blank lines, line breaks kept."""
    paras = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "\n".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paras)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}'
            '</title><style>p, body { font-family: "Segoe UI", Calibri, Arial, sans-serif; '
            f"font-size: 11pt; }}</style></head>\n<body>\n{body}\n</body></html>\n")


class _Text(HTMLParser):
    BLOCK = frozenset({"p", "div", "h1", "h2", "h3", "h4", "table", "ul", "ol", "blockquote"})
    SKIP = frozenset({"head", "style", "script", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.first_cell = False
        self.href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n\n")
        elif tag in ("br", "tr"):
            self.out.append("\n")
            self.first_cell = True
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append("" if self.first_cell else " | ")
            self.first_cell = False
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.out.append("\n\n")
        elif tag == "a" and self.href:
            href = (self.href.pop() or "").removeprefix("mailto:")
            shown = "".join(self.out[-3:]).rstrip()
            if (href.startswith(("http", "www")) or "@" in href) and not shown.endswith(href):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(source: str) -> str:
    """A readable plain-text alternative for an HTML body (links kept as ``text (url)``)."""
    parser = _Text()
    parser.feed(source)
    parser.close()
    text = "".join(parser.out)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"

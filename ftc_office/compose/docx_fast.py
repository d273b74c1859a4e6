"""Word attachments in under a millisecond: one Jinja render per templated part.

`ftc_office.rendering.word.render_docx` (docxtpl + python-docx) opens the template package,
renders, finishes and saves it for every message: ~5 ms. Nearly all of that is the same
every time. Here a template is read once: docxtpl's own tag repair (``patch_xml``) gives the
source of the body and of each header and footer, compiled once in the same environment;
the first docxtpl rendering of the template supplies every other part as stored, compressed
bytes. Each message then renders the body, headers and footers and the core properties,
with docxtpl's string passes after the render (paragraph breaks, escaped braces, listings).
The first body of each *layout* (its tags and attributes, the texts aside) and finish goes
the long way: parsed with lxml, docxtpl's own post-passes (``fix_tables`` — skipped, by
three XPath counts, for tables whose grid already fits their rows —, the ``docPr`` ids),
page and margins set with python-docx's element classes, serialised. None of that reads a
text, so the output is kept as a format string with a slot per text (`docx_slots`), and the
next bodies of that layout are written by filling in their texts (a text that may hold a
URL goes the long way, which checks for a link). Headers and footers are parsed only when
their XML changes; author and dates go into the core properties by placeholders. The new
parts are spliced into the stored zip, deflated as zipfile deflates (the package bytes are
the docxtpl path's: tests/test_docx_fast.py compares every part of every sample tenant's
documents, and the whole package). ``FTC_OFFICE_DOCX_FAST=0`` turns the fast path off.

Anything this path does not reproduce goes to `render_docx` instead: a URL in the text that
the finish would turn into a link (a new relationship), a template without core properties,
any error (docxtpl then gives the error its location), a template docxtpl has not rendered
yet.
"""

from __future__ import annotations

import copy
import os
import re
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from docx.document import Document
from docx.opc.constants import RELATIONSHIP_TYPE as RT
from docx.opc.coreprops import CoreProperties
from docx.opc.oxml import serialize_part_xml
from docx.oxml.ns import qn
from docx.oxml.parser import parse_xml
from docx.shared import Twips
from lxml import etree

from ftc_office.compose import docx_slots
from ftc_office.rendering import word
from ftc_office.rendering.word import DocxFinish, render_docx

__all__ = ["FastDocx", "render_docx_fast"]

CORE = "docProps/core.xml"
_BREAK = re.compile(r"<w:p([ >])")
_LAYOUTS = 64  # body layouts kept per template (one per number of table rows, say)


@dataclass
class _Part:
    """A templated part: its member name and its compiled docxtpl source; the last XML it
    rendered and that XML serialised (None: it needs a link, docxtpl's business)."""

    name: str
    template: jinja2.Template
    last_xml: str = ""
    last: bytes | None = None


@dataclass
class FastDocx:
    """One Word template, read once: compiled parts and, after the first docxtpl
    rendering, the stored members of its package."""

    tpl: Any  # the docxtpl template object (its post-passes are methods)
    root: etree._Element  # the template's document element, body emptied (python-docx classes)
    body: jinja2.Template
    parts: list[_Part]  # headers and footers
    core: etree._Element
    stored: list[tuple[str, bytes, bytes, bytes]] | None = None  # name, local, data, central
    renders: int = field(default=0)
    # by finish: core.xml with a placeholder per templated property, and (placeholder,
    # source) of each; None where `_core` must run in full
    core_plans: dict[DocxFinish, tuple[bytes, list[tuple[bytes, str]]] | None] = field(
        default_factory=dict)
    deflated: dict[str, tuple[bytes, bytes, bytes]] = field(default_factory=dict)  # `_splice`
    # by (finish, layout of the rendered body): document.xml as a format string for its
    # texts, None where `docx_slots` cannot write that layout (at most _LAYOUTS of them)
    layouts: dict[tuple[DocxFinish, str], str | None] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> FastDocx | None:
        """Compile the template at ``path``; None when the fast path cannot serve it."""
        tpl = word._DocxTemplate(str(path))
        tpl.render_init()
        doc = tpl.docx
        try:
            core_part = doc.part.package.part_related_by(RT.CORE_PROPERTIES)
        except KeyError:  # python-docx would add a default one: leave that to it
            return None
        env = word._docx_environment()
        body = env.from_string(_pre(tpl.patch_xml(tpl.get_xml())))
        parts = []
        for rel in doc.part.rels.values():
            if rel.is_external or rel.reltype not in (RT.HEADER, RT.FOOTER):
                continue
            if not rel.target_part.blob:
                continue
            xml = tpl.patch_xml(tpl.get_part_xml(rel.target_part))
            parts.append(_Part(rel.target_part.partname.membername, env.from_string(_pre(xml))))
        shell = copy.deepcopy(doc.element)
        shell.body.clear()  # each document's body replaces it: not copied for nothing
        return cls(tpl, shell, body, parts, copy.deepcopy(core_part.element))

    def render(self, context: dict[str, Any], finish: DocxFinish) -> bytes | None:
        """The finished document's bytes, or None (then the caller uses docxtpl)."""
        ctx = word._clean(context)
        document = self._document(self._post(self.body.render(ctx)), finish)
        if document is None:
            return None
        members = {"word/document.xml": document}
        for part in self.parts:  # a footer with the date only: the same for every document
            xml = self._post(part.template.render(ctx))
            if xml != part.last_xml:
                element = parse_xml(xml.encode("utf-8"))
                part.last_xml, part.last = xml, (None if _needs_link(element)
                                                 else serialize_part_xml(element))
            if part.last is None:
                return None
            members[part.name] = part.last
        members[CORE] = self._core_xml(ctx, finish)
        if self.stored is None:
            return None
        return _splice(self.stored, members, self.deflated)

    def _document(self, xml: str, finish: DocxFinish) -> bytes | None:
        """word/document.xml for the rendered body ``xml`` (None: it needs a link). A layout
        seen before with this finish is filled in with the texts (`docx_slots`), unless a
        text may hold a URL; otherwise lxml's round trip, whose output teaches the layout."""
        slots = docx_slots.split(xml)
        if slots is None:
            return self._round_trip(xml, finish)
        key = (finish, slots.layout)
        form = self.layouts.get(key)
        if form is not None and "://" not in slots.texts:
            return docx_slots.fill(form, slots)
        out = self._round_trip(xml, finish)
        if out is not None and key not in self.layouts and len(self.layouts) < _LAYOUTS:
            self.layouts[key] = docx_slots.layout(xml, slots, out, "<w:body")
        return out

    def _round_trip(self, xml: str, finish: DocxFinish) -> bytes | None:
        """The rendered body parsed, through docxtpl's post-passes and the page finish,
        serialised in the document (None: a URL in it needs a link)."""
        root = copy.deepcopy(self.root)
        tree = _fix_tables(self.tpl, xml)
        self.tpl.docx_ids_index = 1000
        self.tpl.fix_docpr_ids(tree)
        root.replace(root.body, tree)
        if _needs_link(root):
            return None
        _page(root, finish)
        return serialize_part_xml(root)

    def _core_xml(self, ctx: dict[str, Any], finish: DocxFinish) -> bytes:
        """The serialised core properties: finished once per finish with a placeholder for
        each templated text property, then each placeholder replaced by its rendered,
        escaped value (`_core` in full where that would not be the same)."""
        if finish not in self.core_plans:
            self.core_plans[finish] = _core_plan(self.core, finish)
        plan = self.core_plans[finish]
        if plan is None:
            return serialize_part_xml(_core(self.core, ctx, finish))
        xml, slots = plan
        for slot, source in slots:
            value = word._property_template(source).render(ctx)
            value = value if len(value) <= 255 else value[:254] + "…"
            # lxml refuses it: _core raises, docxtpl reports
            if docx_slots.XML_UNSAFE.search(value):
                return serialize_part_xml(_core(self.core, ctx, finish))
            xml = xml.replace(slot, _escape(value).encode("utf-8"))
        return xml

    def learn(self, docx: bytes) -> None:
        """Keep the members of a docxtpl rendering (one that needed no new link)."""
        self.stored = _members(docx)

    def _post(self, xml: str) -> str:
        """docxtpl's passes after the Jinja render (`DocxTemplate.render_xml_part`)."""
        # docxtpl's re.sub(r"\n<w:p([ >])", r"<w:p\1", ...), as two replaces (5x faster)
        xml = xml.replace("\n<w:p ", "<w:p ").replace("\n<w:p>", "<w:p>")
        xml = (xml.replace("{_{", "{{").replace("}_}", "}}").replace("{_%", "{%")
               .replace("%_}", "%}"))
        # resolve_listing only rewrites a tab, a line break, \a or \f inside text (four
        # `in` tests: a tenth of the time of a regex search over the part)
        if "\t" in xml or "\n" in xml or "\a" in xml or "\f" in xml:
            return str(self.tpl.resolve_listing(xml))
        return xml


def _pre(xml: str) -> str:
    """docxtpl's pass before the Jinja compile (`DocxTemplate.render_xml_part`)."""
    return _BREAK.sub(r"\n<w:p\1", xml)


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_NS = {"w": _W}
_PARSER = etree.XMLParser(recover=True)  # docxtpl's fix_tables parses with these options
_GRID = etree.XPath("count(w:tblGrid/w:gridCol)", namespaces=_NS)
# whether docxtpl's fix_tables leaves a table of $n grid columns as it is: it has a grid, no
# row has more cells than the grid has columns (its first pass adds columns), one row's
# cells span the whole grid (without one, its second pass removes columns), and nothing is
# read differently by docxtpl than by this sum (its first tcPr, first gridSpan, int(val))
_FITS = etree.XPath(
    "w:tblGrid and not(.//w:tr[count(w:tc) > $n])"
    " and .//w:tr[sum(w:tc/w:tcPr/w:gridSpan/@w:val)"
    " + count(w:tc[not(w:tcPr/w:gridSpan)]) >= $n]"
    " and not(.//w:tc[count(w:tcPr) > 1] | .//w:tcPr[count(w:gridSpan) > 1]"
    " | .//w:tc/w:tcPr/w:gridSpan[not(@w:val) or @w:val = ''"
    " or string-length(translate(@w:val, '0123456789', '')) > 0])", namespaces=_NS)


def _fix_tables(tpl: Any, xml: str) -> etree._Element:
    """docxtpl's ``fix_tables``: the parsed body, its tables' grids fitted to their rows. A
    table whose grid already fits (no row wider than the grid, one row spanning all of it:
    every table whose cells are not made by ``{%tc`` tags) is left as it is without docxtpl's
    walk over every cell; any other table, or XML docxtpl would read differently, goes
    through docxtpl's own."""
    tree = etree.fromstring(xml, parser=_PARSER)
    if tree.nsmap.get("w") != _W:
        return tpl.fix_tables(xml)
    for table in tree.iter(f"{{{_W}}}tbl"):
        if not _FITS(table, n=_GRID(table)):
            return tpl.fix_tables(xml)
    return tree


_HTTP = etree.XPath(".//w:t[contains(., 'http')]", namespaces=_NS)


def _needs_link(root: etree._Element) -> bool:
    """A URL in plain text that `rendering.word.link_urls` would turn into a hyperlink."""
    for text in _HTTP(root):  # a URL starts with http: only those texts are looked at
        run = text.getparent()
        if (run is not None and run.tag == qn("w:r") and word._URL.search(text.text or "")
                and not word._in_link(run)):
            return True
    return False


def _page(root: etree._Element, finish: DocxFinish) -> None:
    """Paper and margins, as `rendering.word.finish_document` sets them."""
    if not finish.page:
        return
    width, height = word.PAGE_TWIPS[finish.page]
    margins = {qn("w:left"): word.MARGIN, qn("w:right"): word.MARGIN, qn("w:top"): word.MARGIN,
               qn("w:bottom"): word.MARGIN, qn("w:header"): word.HEADER_FOOTER,
               qn("w:footer"): word.HEADER_FOOTER}
    sections = _SECTIONS(root)
    if all(_set_page(sect, width, height, margins) for sect in sections):
        return  # every section had its page size and margins: set as python-docx sets them
    for section in Document(root, None).sections:  # type: ignore[arg-type]
        section.page_width, section.page_height = Twips(width), Twips(height)
        section.left_margin = section.right_margin = Twips(word.MARGIN)
        section.top_margin = section.bottom_margin = Twips(word.MARGIN)
        section.header_distance = section.footer_distance = Twips(word.HEADER_FOOTER)


# the section properties, as python-docx's Document.sections finds them (its own query)
_SECTIONS = etree.XPath("./w:body/w:p/w:pPr/w:sectPr | ./w:body/w:sectPr", namespaces=_NS)


def _set_page(sect: etree._Element, width: int, height: int, margins: dict[str, int]) -> bool:
    """Set a ``w:sectPr``'s existing page size and margins (the twips python-docx's section
    properties write); False, touching nothing, when either element is missing."""
    size, mar = sect.find(qn("w:pgSz")), sect.find(qn("w:pgMar"))
    if size is None or mar is None:
        return False
    size.set(qn("w:w"), str(width))
    size.set(qn("w:h"), str(height))
    for name, value in margins.items():
        mar.set(name, str(value))
    return True


def _escape(text: str) -> str:
    """Text as lxml writes it in an element: &, <, > and CR escaped, the rest as it is."""
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _core_plan(template: etree._Element, finish: DocxFinish
               ) -> tuple[bytes, list[tuple[bytes, str]]] | None:
    """`_core` with a placeholder for each templated text property (its value is what
    `_core` would render); None when the author or comments are templated (the finish and
    the generator-comment rule read them) or a placeholder is not found exactly once."""
    element = copy.deepcopy(template)
    props = CoreProperties(element)
    sources = {name: getattr(props, name) for name in word.TEXT_PROPERTIES}
    templated = [name for name, value in sources.items() if "{" in value]
    if {"author", "comments"} & set(templated):
        return None
    slots = []
    for i, name in enumerate(templated):
        slot = f"FTCOFFICECORESLOT{i}X"
        setattr(props, name, slot)
        slots.append((slot.encode("ascii"), sources[name]))
    xml = serialize_part_xml(_core(element, {}, finish))
    if any(xml.count(slot) != 1 for slot, _ in slots):
        return None
    return xml, slots


def _core(template: etree._Element, ctx: dict[str, Any], finish: DocxFinish
          ) -> etree._Element:
    """The core properties: rendered text properties, then author, dates, comments."""
    import datetime as dt

    element = copy.deepcopy(template)
    props = CoreProperties(element)
    for name in word.TEXT_PROPERTIES:
        value = getattr(props, name)
        if "{" in value:
            value = word._property_template(value).render(ctx)
        setattr(props, name, value if len(value) <= 255 else value[:254] + "…")
    if finish.author:
        props.author = props.last_modified_by = finish.author
    if finish.date is not None:
        stamp = dt.datetime.combine(finish.date, dt.time(), tzinfo=dt.UTC)
        props.created = props.modified = stamp
    if props.comments == word.GENERATOR_COMMENT:
        props.comments = ""
    return element


def _members(data: bytes) -> list[tuple[str, bytes, bytes, bytes]]:
    """(name, local header, compressed data, central record) of each member, in order."""
    eocd = data.rfind(b"PK\x05\x06")
    count, _size, pos = struct.unpack_from("<HII", data, eocd + 10)
    out = []
    for _ in range(count):
        csize, _usize, n, m, k = struct.unpack_from("<IIHHH", data, pos + 20)
        offset = struct.unpack_from("<I", data, pos + 42)[0]
        central = data[pos:pos + 46 + n + m + k]
        name = data[pos + 46:pos + 46 + n].decode("utf-8")
        ln, lm = struct.unpack_from("<HH", data, offset + 26)
        head = data[offset:offset + 30 + ln + lm]
        out.append((name, head, data[offset + 30 + ln + lm:offset + 30 + ln + lm + csize],
                    central))
        pos += 46 + n + m + k
    return out


def _splice(stored: list[tuple[str, bytes, bytes, bytes]], new: dict[str, bytes],
            last: dict[str, tuple[bytes, bytes, bytes]]) -> bytes:
    """The stored zip with the ``new`` members deflated in place (as zipfile deflates);
    `last` keeps each member's last (raw, deflated, sizes) to reuse for the same raw bytes."""
    body, central = bytearray(), bytearray()
    for name, head, data, cent in stored:
        if name in new:
            raw = new[name]
            if name in last and last[name][0] == raw:
                data, sizes = last[name][1], last[name][2]
            else:
                comp = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
                data = comp.compress(raw) + comp.flush()
                sizes = struct.pack("<III", zlib.crc32(raw), len(data), len(raw))
                last[name] = (raw, data, sizes)
            head = head[:14] + sizes + head[26:]
            cent = cent[:16] + sizes + cent[28:]
        cent = cent[:42] + struct.pack("<I", len(body)) + cent[46:]
        body += head + data
        central += cent
    end = struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(stored), len(stored),
                      len(central), len(body), 0)
    return bytes(body + central + end)


_CACHE: dict[tuple[str, int, int], FastDocx | None] = {}
SERVED = {"fast": 0, "docxtpl": 0}  # documents by path (the tests read it)


def render_docx_fast(template: Path, context: dict[str, Any], who: str,
                     finish: DocxFinish | None = None) -> bytes:
    """`rendering.word.render_docx`'s document, by the fast path where it applies."""
    finish = finish or DocxFinish()
    if os.environ.get("FTC_OFFICE_DOCX_FAST", "1") == "0":  # docxtpl only (for comparison)
        SERVED["docxtpl"] += 1
        return render_docx(template, context, who, finish)
    try:
        st = template.stat()
        key = (str(template), st.st_mtime_ns, st.st_size)
        if key not in _CACHE:
            _CACHE[key] = FastDocx.load(template)
        fast = _CACHE[key]
        out = fast.render(context, finish) if fast is not None else None
    except Exception:  # docxtpl below gives the error its template and line
        fast = out = None
    if out is not None:
        SERVED["fast"] += 1
        return out
    SERVED["docxtpl"] += 1
    docx = render_docx(template, context, who, finish)
    if fast is not None and fast.stored is None:
        try:
            needs = fast.render(context, finish) is None and _renders_plain(fast, context)
        except Exception:
            needs = False
        if needs:
            fast.learn(docx)
    return docx


def _renders_plain(fast: FastDocx, context: dict[str, Any]) -> bool:
    """This context's document needs no new link (so its package is the template's)."""
    ctx = word._clean(context)
    trees = [_fix_tables(fast.tpl, fast._post(fast.body.render(ctx)))]
    trees += [parse_xml(fast._post(p.template.render(ctx)).encode("utf-8")) for p in fast.parts]
    return not any(_needs_link(t) for t in trees)

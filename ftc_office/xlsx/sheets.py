"""Adding a worksheet to a package: the new part and the four small edits it needs.

`SheetAdder.ensure_sheet` adds a worksheet (header row as inline strings, header frozen) as
the last sheet when the workbook has none of that name. Adding a sheet changes these parts,
and only these: the new ``xl/worksheets/sheetN.xml`` (appended to the zip), ``xl/workbook.xml``
(one ``<sheet>`` in ``<sheets>``, fresh sheetId and r:id), ``xl/_rels/workbook.xml.rels`` (one
Relationship), ``[Content_Types].xml`` (one Override) and ``docProps/app.xml`` (worksheet
count and title list; changed only when its lists are exactly the workbook's worksheets,
otherwise left as is, which Excel tolerates). Being last, the new sheet shifts no sheet index
(``localSheetId`` of defined names, ``activeTab``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from ftc_office.errors import WritebackError
from ftc_office.xlsx import cells as X
from ftc_office.xlsx.parts import MAIN_NS, SheetPart
from ftc_office.xlsx.workbook import REL_NS, WorkbookPackage

WORKSHEET_REL = f"{REL_NS}/worksheet"
WORKSHEET_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_BAD_SHEET_NAME_RE = re.compile(r"[\\/?*\[\]:\x00-\x1f]")


class SheetAdder(WorkbookPackage):
    """A workbook package that can gain worksheets (see the module docstring)."""

    def has_sheet(self, name: str) -> bool:
        """Whether any sheet (worksheet, chart sheet...) has this name, ignoring case."""
        return name.casefold() in (n.casefold() for n in self._all_sheet_names())

    def ensure_sheet(self, name: str, headers: list[str], widths: list[float] | None = None,
                     styles: list[int | None] | None = None,
                     header_style: int | None = None) -> bool:
        """Add worksheet `name` as the last sheet, its first row holding `headers` (frozen),
        unless the workbook already has a sheet of that name (any case): then nothing changes.
        Return whether the sheet was added.

        `widths` optionally gives the column widths (in characters) of the new sheet,
        `styles` the cell format of each column, `header_style` that of the header cells.
        """
        if self.has_sheet(name):
            return False
        self._check_new_sheet(name, headers)
        wb_name, rels_name, ct_name = self._sheet_list_parts()
        part = self._free_sheet_part()
        rid = self._free_rel_id(rels_name)
        self._parts_changed[wb_name] = self._add_sheet_entry(self._text(wb_name), name, rid)
        self._parts_changed[rels_name] = _insert_before_close(
            self._text(rels_name), "Relationships",
            f'<{{p}}Relationship Id="{rid}" Type="{WORKSHEET_REL}" '
            f'Target="worksheets/{posixpath.basename(part)}"/>', self._fail)
        self._parts_changed[ct_name] = _insert_before_close(
            self._text(ct_name), "Types",
            f'<{{p}}Override PartName="/{part}" ContentType="{WORKSHEET_TYPE}"/>', self._fail)
        app = self._worksheet_titles_added(name)
        if app is not None:
            self._parts_changed[app[0]] = app[1]
        xml = _new_sheet_xml(headers, widths, styles, header_style)
        self._parts_added[part] = b""  # rendered at save
        self.wb_rels[rid] = (WORKSHEET_REL, part)
        self.sheet_parts[name] = part
        self._sheets[name] = SheetPart(name, part, xml, self.where)
        return True

    def _check_new_sheet(self, name: str, headers: list[str]) -> None:
        """Refuse a name Excel does not allow for a sheet, or no / too many headers."""
        where = f"{self.where}, sheet {name!r}"
        if not name or len(name) > 31 or _BAD_SHEET_NAME_RE.search(name) \
                or name.startswith("'") or name.endswith("'") or name.lower() == "history":
            raise WritebackError(where, "this is not a valid sheet name",
                                 "use 1-31 characters without : \\ / ? * [ ] and not "
                                 "'History'")
        if not headers or len(headers) > X.MAX_COL:
            raise WritebackError(where, "a new sheet needs 1 to 16,384 header cells",
                                 "give the column headers")

    def _sheet_list_parts(self) -> tuple[str, str, str]:
        """The stored names of the workbook part, its .rels part and [Content_Types].xml."""
        wb_name = self.zip.find(self.wb_part)
        rels_part = self._rels_of(self.wb_part)
        rels_name = self.zip.find(rels_part)
        ct_name = self.zip.find("[Content_Types].xml")
        assert wb_name is not None and ct_name is not None
        if rels_name is None:
            raise self._fail(f"the package has no {rels_part} part")
        return wb_name, rels_name, ct_name

    def _free_sheet_part(self) -> str:
        """``.../worksheets/sheetN.xml`` with the smallest N no member (or new part) has."""
        folder = posixpath.dirname(self.wb_part)
        taken = {m.name.lower() for m in self.zip.members} | {
            n.lower() for n in self._parts_added}
        n = 1
        while posixpath.join(folder, "worksheets", f"sheet{n}.xml").lower() in taken:
            n += 1
        return posixpath.join(folder, "worksheets", f"sheet{n}.xml")

    def _free_rel_id(self, rels_name: str) -> str:
        """``rIdK`` with the smallest K the workbook's relationships do not use."""
        rel_ids = set(self.wb_rels) | set(re.findall(
            r"""\bId\s*=\s*["']([^"']*)""", self._text(rels_name)))
        k = 1
        while f"rId{k}" in rel_ids:
            k += 1
        return f"rId{k}"

    def _all_sheet_names(self) -> list[str]:
        """Every sheet name in workbook order (worksheets, chart sheets, dialog sheets)."""
        wb_name = self.zip.find(self.wb_part)
        assert wb_name is not None
        return [X.xml_unescape(m.group(1)) for m in re.finditer(
            r"""<(?:[A-Za-z_][\w.-]*:)?sheet\b[^>]*?\bname\s*=\s*["']([^"']*)["']""",
            self._text(wb_name))]

    def _add_sheet_entry(self, text: str, name: str, rid: str) -> str:
        root = re.search(r"<(?:([A-Za-z_][\w.-]*):)?workbook\b([^>]*)>", text)
        if root is None:
            raise self._fail(f"{self.wb_part} has no workbook element")
        p = f"{root.group(1)}:" if root.group(1) else ""
        ep = re.escape(p)
        ids = [int(i) for i in re.findall(
            rf"""<{ep}sheet\b[^>]*?\bsheetId\s*=\s*["'](\d+)""", text)]
        decl = {v: k for k, v in X.parse_attrs(root.group(2)).items() if k.startswith("xmlns:")}
        r = decl.get(REL_NS)
        rattr = f"{r[6:]}:id" if r else f'xmlns:r="{REL_NS}" r:id'
        entry = (f'<{p}sheet name="{X.escape_attr(name)}" sheetId="{max(ids, default=0) + 1}" '
                 f'{rattr}="{rid}"/>')
        close = re.search(rf"</{ep}sheets\s*>", text)
        if close is None:
            raise self._fail(f"{self.wb_part} has no list of sheets")
        return text[:close.start()] + entry + text[close.start():]

    def _worksheet_titles_added(self, name: str) -> tuple[str, str] | None:
        """docProps/app.xml with `name` added to its worksheet count and titles, or None when
        the package has no such part or its lists are not exactly our worksheets."""
        app_rel = [t for typ, t in self._rels("_rels/.rels").values()
                   if typ.endswith("/extended-properties")]
        app_name = self.zip.find(app_rel[0]) if app_rel else None
        if app_name is None:
            return None
        text = self._text(app_name)
        pairs = re.search(r"<(?:\w+:)?HeadingPairs>\s*<(\w+:)?vector\b([^>]*)>(.*?)"
                          r"</(?:\w+:)?vector>", text, re.S)
        titles = re.search(r"<(?:\w+:)?TitlesOfParts>\s*<(\w+:)?vector\b([^>]*)>(.*?)"
                           r"</(?:\w+:)?vector>", text, re.S)
        if pairs is None or titles is None or pairs.group(1) != titles.group(1):
            return None
        vt = re.escape(pairs.group(1) or "")
        count = re.search(rf"<{vt}variant>\s*<{vt}lpstr>[^<]*</{vt}lpstr>\s*</{vt}variant>"
                          rf"\s*<{vt}variant>\s*<{vt}i4>(\d+)</{vt}i4>", pairs.group(3))
        lpstrs = list(re.finditer(rf"<{vt}lpstr>([^<]*)</{vt}lpstr>", titles.group(3)))
        worksheets = [n for n in self.sheet_parts if self.sheet_parts[n] not in self._parts_added]
        n = len(worksheets)
        if count is None or int(count.group(1)) != n or len(lpstrs) < n \
                or [X.xml_unescape(m.group(1)) for m in lpstrs[:n]] != worksheets:
            return None
        size = X.parse_attrs(titles.group(2)).get("size")
        if size is None or int(size) != len(lpstrs):
            return None
        vp = pairs.group(1) or ""
        # edit from the end of the text backwards so earlier offsets stay valid
        ins = titles.start(3) + (lpstrs[n - 1].end() if n else 0)
        text = text[:ins] + f"<{vp}lpstr>{X.escape_attr(name)}</{vp}lpstr>" + text[ins:]
        size_m = re.search(r"""\bsize\s*=\s*["']\d+["']""", titles.group(2))
        assert size_m is not None
        at = titles.start(2) + size_m.start()
        text = text[:at] + f'size="{len(lpstrs) + 1}"' + text[at + len(size_m.group(0)):]
        at = pairs.start(3) + count.start(1)
        text = text[:at] + str(n + 1) + text[at + len(count.group(1)):]
        return app_name, text


def _insert_before_close(text: str, root: str, element: str,
                         fail: Callable[[str], WritebackError]) -> str:
    """`text` with `element` (``{p}`` standing for the root's prefix) inserted just before
    the closing tag of its root element `root`."""
    m = re.search(rf"<(?:([A-Za-z_][\w.-]*):)?{root}\b", text)
    p = f"{m.group(1)}:" if m and m.group(1) else ""
    close = text.rfind(f"</{p}{root}>")
    if m is None or close < 0:
        raise fail(f"the package's <{root}> part is damaged")
    return text[:close] + element.replace("{p}", p) + text[close:]


def _new_sheet_xml(headers: list[str], widths: list[float] | None,
                   styles: list[int | None] | None, header_style: int | None) -> bytes:
    """A worksheet part with `headers` as inline strings in row 1, frozen below it."""
    last = X.col_letter(len(headers))
    space = ' xml:space="preserve"'
    hs = f' s="{header_style}"' if header_style else ""
    cells = "".join(
        f'<c r="{X.col_letter(i)}1"{hs} t="inlineStr"><is><t'
        f'{space if X.needs_preserve(h) else ""}>{X.encode_cell_text(h)}</t></is></c>'
        for i, h in enumerate(headers, start=1))
    col_styles = list(styles or [])
    cols = "".join(
        f'<col min="{i}" max="{i}" width="{w:g}"'
        f'{_style_attr(col_styles[i - 1] if i <= len(col_styles) else None)} customWidth="1"/>'
        for i, w in enumerate(widths or [], start=1))
    return (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
        f'<worksheet xmlns="{MAIN_NS}" xmlns:r="{REL_NS}">'
        f'<dimension ref="A1:{last}1"/>'
        '<sheetViews><sheetView workbookViewId="0">'
        '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
        '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
        '<sheetFormatPr defaultRowHeight="15"/>'
        f'{"<cols>" + cols + "</cols>" if cols else ""}'
        f'<sheetData><row r="1" spans="1:{len(headers)}">{cells}</row></sheetData>'
        '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" '
        'footer="0.3"/></worksheet>').encode()


def _style_attr(style: int | None) -> str:
    return f' style="{style}"' if style else ""

"""The package side of a workbook: its parts, relationships, sheets, styles and strings.

`WorkbookPackage` opens and checks an .xlsx/.xlsm package (`ZipPackage`), finds the workbook
part through the package relationships, maps sheet names to worksheet parts, and reads on
demand the worksheets (`SheetPart`), their tables, ``styles.xml`` and the shared strings.
It keeps the pending changes of other parts (``_parts_changed``, ``_parts_added``); the
subclasses add sheets (`ftc_office.xlsx.sheets`) and patch cells (`ftc_office.xlsx.patch`).
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ftc_office.errors import WritebackError
from ftc_office.xlsx import cells as X
from ftc_office.xlsx.package import ZipPackage
from ftc_office.xlsx.parts import FIX_RESAVE, MAIN_NS, STRICT_MARK, SheetPart, Table
from ftc_office.xlsx.styles import Styles

REL_NS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


class WorkbookPackage:
    """An .xlsx/.xlsm package opened for patching: parts, sheets, styles, shared strings.

    Opening reads and checks the whole package; nothing is written until `save`.
    """

    def __init__(self, path: Path) -> None:
        """Open `path` and check it; raise WritebackError if it cannot be patched safely."""
        self.path = Path(path)
        self.where = str(path)
        self.zip = ZipPackage(self.path)
        for needed in ("[Content_Types].xml", "_rels/.rels"):
            if self.zip.find(needed) is None:
                raise self._fail(f"the package has no {needed} part")
        rels = self._rels("_rels/.rels")
        office = [t for typ, t in rels.values() if typ.endswith("/officeDocument")]
        if not office:
            raise self._fail("the package has no workbook part (officeDocument)")
        self.wb_part = office[0]
        wb = self._xml(self.wb_part)
        if _local(wb.tag) != "workbook" or not wb.tag.startswith(f"{{{MAIN_NS}}}"):
            raise self._fail(f"{self.wb_part} is not a SpreadsheetML workbook")
        self.date1904 = any(
            el.get("date1904", "").lower() in ("1", "true") for el in wb
            if _local(el.tag) == "workbookPr")
        self.wb_rels = self._rels(self._rels_of(self.wb_part))
        self.sheet_parts: dict[str, str] = {}
        for el in wb.iter(f"{{{MAIN_NS}}}sheet"):
            rel = self.wb_rels.get(el.get(f"{{{REL_NS}}}id", ""))
            if rel and rel[0].endswith("/worksheet"):
                self.sheet_parts[el.get("name", "")] = rel[1]
        for name, part in self.sheet_parts.items():
            if self.zip.find(part) is None:
                raise self._fail(f"sheet {name!r} points to a missing part {part}")
        by_type = {typ.rpartition("/")[2]: target for typ, target in self.wb_rels.values()}
        self.styles_part = by_type.get("styles")
        self.sst_part = by_type.get("sharedStrings")
        self.has_calc_chain = "calcChain" in by_type
        self._sheets: dict[str, SheetPart] = {}
        self._styles: Styles | None = None
        self._sst: list[tuple[int, int]] | None = None
        self._sst_text = ""
        self._tables_changed: dict[str, str] = {}
        self._parts_changed: dict[str, str] = {}  # zip name -> new text (workbook, rels...)
        self._parts_added: dict[str, bytes] = {}  # new zip members (worksheets)

    # -- package helpers ---------------------------------------------------------------------

    def _fail(self, what: str, fix: str = FIX_RESAVE) -> WritebackError:
        return WritebackError(self.where, what, fix)

    def _xml(self, part: str) -> Element:
        name = self.zip.find(part)
        if name is None:
            raise self._fail(f"the package has no {part} part")
        data = self.zip.read(name)
        if STRICT_MARK.encode() in data[:4096]:
            raise self._fail("the workbook is saved as Strict Open XML",
                             "save it in Excel as 'Excel Workbook (*.xlsx)' and run again")
        try:
            root: Element = SafeET.fromstring(data)
            return root
        except (ParseError, DefusedXmlException, ValueError) as exc:
            raise self._fail(f"part {part} is not valid or safe XML ({exc})") from exc

    @staticmethod
    def _rels_of(part: str) -> str:
        folder, name = posixpath.split(part)
        return posixpath.join(folder, "_rels", f"{name}.rels")

    def _rels(self, rels_part: str) -> dict[str, tuple[str, str]]:
        """Id -> (type, resolved part name) for a .rels part ({} if it does not exist)."""
        if self.zip.find(rels_part) is None:
            return {}
        root = self._xml(rels_part)
        base = posixpath.dirname(posixpath.dirname(rels_part))
        out: dict[str, tuple[str, str]] = {}
        for el in root:
            typ, target = el.get("Type", ""), el.get("Target", "")
            if STRICT_MARK in typ:
                raise self._fail("the workbook is saved as Strict Open XML",
                                 "save it in Excel as 'Excel Workbook (*.xlsx)' and run again")
            if el.get("TargetMode") == "External":
                continue
            path = target[1:] if target.startswith("/") else posixpath.normpath(
                posixpath.join(base, target))
            out[el.get("Id", "")] = (typ, path)
        return out

    def _where(self, sheet: str, ref: str) -> str:
        return f"{self.where}, {X.sheet_ref(sheet, ref)}"

    def _sheet(self, name: str) -> SheetPart:
        sheet = self._sheets.get(name)
        if sheet is not None:
            return sheet
        real = name if name in self.sheet_parts else next(
            (n for n in self.sheet_parts if n.lower() == name.lower()), None)
        if real is None:
            raise WritebackError(f"{self.where}, sheet {name!r}", "no worksheet has that name",
                                 f"use one of: {', '.join(self.sheet_parts) or '(none)'}")
        if real in self._sheets:
            return self._sheets[real]
        part = self.zip.find(self.sheet_parts[real])
        assert part is not None
        sheet = SheetPart(real, part, self.zip.read(part), self.where)
        for typ, tpart in self._rels(self._rels_of(part)).values():
            if typ.endswith("/table"):
                sheet.tables.append(self._table(tpart))
        self._sheets[real] = self._sheets[name] = sheet
        return sheet

    def _table(self, part: str) -> Table:
        root = self._xml(part)
        rng = X.parse_range(root.get("ref", ""))
        if rng is None:
            raise self._fail(f"table part {part} has no valid range")
        cols = [el.get("name", "") for el in root.iter(f"{{{MAIN_NS}}}tableColumn")]
        return Table(part, root.get("displayName") or root.get("name") or "", *rng,
                      int(root.get("headerRowCount", "1")), int(root.get("totalsRowCount", "0")),
                      cols, root.get("tableType", "worksheet") != "worksheet")

    def _styles_obj(self) -> Styles:
        if self._styles is None:
            if self.styles_part is None or self.zip.find(self.styles_part) is None:
                raise self._fail("the workbook has no styles part, needed to format dates")
            name = self.zip.find(self.styles_part)
            assert name is not None
            self._styles = Styles(self.zip.read(name).decode("utf-8"), self.where)
        return self._styles

    def _shared_string(self, index: int) -> str | None:
        if self._sst is None:
            self._sst = []
            name = self.zip.find(self.sst_part) if self.sst_part else None
            if name is not None:
                self._sst_text = self.zip.read(name).decode("utf-8")
                self._sst = [m.span() for m in re.finditer(
                    r"<(?:\w+:)?si\b[^>]*?(?:/>|>.*?</(?:\w+:)?si>)", self._sst_text, re.S)]
        if not 0 <= index < len(self._sst):
            return None
        return rich_text(self._sst_text[slice(*self._sst[index])])

    def sheet_names(self) -> list[str]:
        """Names of the worksheets, in workbook order (chart sheets are not listed)."""
        return list(self.sheet_parts)

    def _text(self, zip_name: str) -> str:
        """The current text of a part (our pending change, else the stored one)."""
        if zip_name in self._parts_changed:
            return self._parts_changed[zip_name]
        try:
            return self.zip.read(zip_name).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise self._fail(f"part {zip_name} is not UTF-8 XML") from exc

    def _styles_obj_part(self) -> str:
        assert self.styles_part is not None
        name = self.zip.find(self.styles_part)
        assert name is not None
        return name


def rich_text(fragment: str) -> str:
    """The text of an ``<si>`` or ``<is>`` fragment: all ``<t>`` runs, phonetic runs excluded."""
    fragment = re.sub(r"<(\w+:)?rPh\b.*?</(\w+:)?rPh>", "", fragment, flags=re.S)
    return "".join(X.decode_cell_text(m.group(1) or "") for m in re.finditer(
        r"<(?:\w+:)?t\b[^>]*?(?:/>|>(.*?)</(?:\w+:)?t>)", fragment, re.S))


def full_calc_on_load(text: str) -> bytes | None:
    """workbook.xml with ``fullCalcOnLoad="1"`` on calcPr, or None if it is already set."""
    root = re.search(r"<(?:([A-Za-z_][\w.-]*):)?workbook\b", text)
    p = f"{root.group(1)}:" if root and root.group(1) else ""
    ep = re.escape(p)
    calc = re.search(rf"<{ep}calcPr\b([^>]*?)(/?)>", text)
    if calc is not None:
        attrs = X.parse_attrs(calc.group(1))
        if attrs.get("fullCalcOnLoad") in ("1", "true"):
            return None
        attrs["fullCalcOnLoad"] = "1"
        new = f"<{p}calcPr{X.render_attrs(attrs)}{calc.group(2)}>"
        return (text[:calc.start()] + new + text[calc.end():]).encode("utf-8")
    after = ("oleSize", "customWorkbookViews", "pivotCaches", "smartTagPr", "smartTagTypes",
             "webPublishing", "fileRecoveryPr", "webPublishObjects", "extLst")
    m = re.search(rf"<{ep}(?:{'|'.join(after)})\b|</{ep}workbook>", text)
    assert m is not None
    return (text[:m.start()] + f'<{p}calcPr fullCalcOnLoad="1"/>' + text[m.start():]).encode(
        "utf-8")

"""The queue-move workbook's package, written as text: one sheet, one table, fixed styles.

:mod:`ftc_office.compose.queue_sheet` decides what the sheet holds; this module writes the
parts. It writes the bytes openpyxl 3.1's ``ExcelWriter`` wrote for the same sheet (member
order, attribute order, escaping, style indices by first use), so the attachment and the
message's content hash are the same as before; ``tests/test_queue_xlsx.py`` holds every part
against that openpyxl path. openpyxl (with numpy) cost a ``run`` 34 MB and about 1 s of
imports and cell objects for a handful of sheets.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ftc_office.xlsx.cells import col_letter, escape_attr, excel_serial
from ftc_office.xlsx.normalise import FIXED_TIME

SHEET_TITLE = "Queue moves"
KEY_PROPERTY = "FtcRequestKey"  # the custom document property holding the request's key
_MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
_PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"

#: a cell's look: (number format id, font, fill, border); 164 is "yyyy-mm-dd"
HEADER, TEXT, DATE, INPUT_DATE, INPUT = "header", "text", "date", "input_date", "input"
_FONT = {"bold": '<font><name val="Calibri"/><b val="1"/><color rgb="00FFFFFF"/>'
                 '<sz val="11"/></font>',
         "plain": '<font><name val="Calibri"/><sz val="11"/></font>'}
_FILL = {"header": '<fill><patternFill patternType="solid"><fgColor rgb="000F4A85"/>'
                   '</patternFill></fill>',
         "input": '<fill><patternFill patternType="solid"><fgColor rgb="00FFF7D6"/>'
                  '</patternFill></fill>'}
_THIN = '<color rgb="00BFBFBF"/>'
_BORDER = {"thin": "<border>" + "".join(f'<{s} style="thin">{_THIN}</{s}>' for s in (
    "left", "right", "top", "bottom")) + "</border>"}
_LOOK: dict[str, tuple[int, str, str | None, str | None]] = {
    HEADER: (0, "bold", "header", None), TEXT: (0, "plain", None, None),
    DATE: (164, "plain", None, None), INPUT_DATE: (164, "plain", "input", "thin"),
    INPUT: (0, "plain", "input", "thin")}

CellValue = str | int | float | dt.date | None


@dataclass(frozen=True)
class QueueBook:
    """What the workbook holds: the header, the data rows as (value, look) cells, the column
    widths and each data row's height, where the date validation goes, and the properties."""

    titles: Sequence[str]
    rows: Sequence[Sequence[tuple[CellValue, str]]]
    widths: Sequence[float]
    heights: Sequence[float]
    validated: str | None  # the column letter of the validated date, if any
    as_of: dt.date
    key: str = ""


@functools.cache
def _theme() -> bytes:
    """openpyxl's default theme, as it writes it (LF line ends, whatever the checkout did)."""
    return Path(__file__).with_name("queue_theme.xml").read_bytes().replace(b"\r\n", b"\n")


def _num(value: float) -> str:
    return f"{value:.16g}"


def _text(value: str) -> str:
    return (value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace("\r", "&#13;"))


def _ascii(text: str) -> str:
    """The sheet part is written in ASCII: other characters as decimal references."""
    return text if text.isascii() else text.encode("ascii", "xmlcharrefreplace").decode()


def _cell(ref: str, style: int, value: CellValue) -> str:
    if value is None:
        return f'<c r="{ref}" s="{style}" t="n"></c>'
    if isinstance(value, str):
        if not value:
            return f'<c r="{ref}" s="{style}" t="inlineStr"></c>'
        space = ' xml:space="preserve"' if value != value.strip() else ""
        text = _ascii(_text(value))
        return f'<c r="{ref}" s="{style}" t="inlineStr"><is><t{space}>{text}</t></is></c>'
    if isinstance(value, dt.datetime | bool):
        raise TypeError(f"{ref}: a queue-move cell holds text, a date or a number, "
                        f"not {type(value).__name__}")
    number = excel_serial(value, False) if isinstance(value, dt.date) else value
    return f'<c r="{ref}" s="{style}" t="n"><v>{_num(float(number or 0))}</v></c>'


def _sheet_data(book: QueueBook, order: dict[str, int]) -> str:
    """``<sheetData>``: the header, then the rows; a look's style index is its first use."""
    def style(look: str) -> int:
        return order.setdefault(look, len(order) + 1)

    letters = [col_letter(c) for c in range(1, len(book.titles) + 1)]
    s = style(HEADER)
    out = ['<sheetData><row r="1">']
    out += [_cell(f"{x}1", s, t) for x, t in zip(letters, book.titles, strict=True)]
    out.append("</row>")
    for r, (row, height) in enumerate(zip(book.rows, book.heights, strict=True), 2):
        out.append(f'<row r="{r}" ht="{_num(height)}" customHeight="1">')
        out += [_cell(f"{x}{r}", style(look), v)
                for x, (v, look) in zip(letters, row, strict=True)]
        out.append("</row>")
    out.append("</sheetData>")
    return "".join(out)


def _validation(book: QueueBook, last: int) -> str:
    if book.validated is None:
        return ""
    col, a = book.validated, book.as_of
    sqref = f"{col}2" if last == 2 else f"{col}2:{col}{last}"
    return ('<dataValidations count="1">'
            f'<dataValidation sqref="{sqref}" showDropDown="0" showInputMessage="1" '
            'showErrorMessage="1" allowBlank="1" errorTitle="Moved On" error="Enter the date '
            f'the tenant was moved (YYYY-MM-DD), on or after {a.isoformat()}." '
            'promptTitle="Moved On" prompt="The date you moved the tenant." type="date" '
            f'operator="between"><formula1>DATE({a.year},{a.month},{a.day})</formula1>'
            "<formula2>DATE(2099,12,31)</formula2></dataValidation></dataValidations>")


def _sheet(book: QueueBook, order: dict[str, int]) -> str:
    last_col = col_letter(len(book.titles))
    last = max(len(book.rows), 1) + 1
    cols = "".join(f'<col width="{_num(w)}" customWidth="1" min="{c}" max="{c}"/>'
                   for c, w in enumerate(book.widths, 1))
    return (f'<worksheet xmlns="{_MAIN}"><sheetPr><outlinePr summaryBelow="1" '
            'summaryRight="1"/><pageSetUpPr fitToPage="1"/></sheetPr>'
            f'<dimension ref="A1:{last_col}{len(book.rows) + 1}"/><sheetViews>'
            '<sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" '
            'activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft" '
            'activeCell="A1" sqref="A1"/></sheetView></sheetViews><sheetFormatPr '
            f'baseColWidth="8" defaultRowHeight="15"/><cols>{cols}</cols>'
            f"{_sheet_data(book, order)}{_validation(book, last)}"
            '<printOptions gridLines="0"/><pageMargins left="0.75" right="0.75" top="1" '
            'bottom="1" header="0.5" footer="0.5"/><pageSetup orientation="landscape" '
            'fitToHeight="0" fitToWidth="1"/><tableParts count="1"><tablePart '
            f'xmlns:r="{_REL}" r:id="rId1"/></tableParts></worksheet>')


def _table(book: QueueBook) -> str:
    ref = f"A1:{col_letter(len(book.titles))}{max(len(book.rows), 1) + 1}"
    columns = "".join(f'<tableColumn id="{i}" name="{escape_attr(t)}"/>'
                      for i, t in enumerate(book.titles, 1))
    return (f'<table id="1" name="QueueMoves" displayName="QueueMoves" ref="{ref}" '
            f'headerRowCount="1" xmlns="{_MAIN}"><autoFilter ref="{ref}"/>'
            f'<tableColumns count="{len(book.titles)}">{columns}</tableColumns>'
            '<tableStyleInfo name="TableStyleMedium2" showRowStripes="1"/></table>')


# Excel's 64 indexed colours, as openpyxl writes them into every styles part
_INDEXED = (  # noqa: SIM905 (64 names in six lines)
    "000000 FFFFFF FF0000 00FF00 0000FF FFFF00 FF00FF 00FFFF 000000 FFFFFF FF0000 00FF00 "
    "0000FF FFFF00 FF00FF 00FFFF 800000 008000 000080 808000 800080 008080 C0C0C0 808080 "
    "9999FF 993366 FFFFCC CCFFFF 660066 FF8080 0066CC CCCCFF 000080 FF00FF FFFF00 00FFFF "
    "800080 800000 008080 0000FF 00CCFF CCFFFF CCFFCC FFFF99 99CCFF FF99CC CC99FF FFCC99 "
    "3366FF 33CCCC 99CC00 FFCC00 FF9900 FF6600 666699 969696 003366 339966 003300 333300 "
    "993300 993366 333399 333333").split()
_STYLES_TAIL = (
    '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0" hidden="0"/>'
    '</cellStyles><tableStyles count="0" defaultTableStyle="TableStyleMedium9" '
    'defaultPivotStyle="PivotStyleLight16"/><colors><indexedColors>'
    + "".join(f'<rgbColor rgb="00{c}"/>' for c in _INDEXED)
    + "</indexedColors></colors></styleSheet>")
_XF = ('<xf numFmtId="{}" fontId="{}" fillId="{}" borderId="{}" applyAlignment="1" '
       'pivotButton="0" quotePrefix="0" xfId="0"><alignment vertical="top" wrapText="1"/>'
       "</xf>")


def _styles(order: dict[str, int]) -> str:
    """The styles part: fonts, fills, borders and cell formats in the order of first use."""
    fonts: dict[str, int] = {}
    fills: dict[str, int] = {}
    borders: dict[str, int] = {}
    xfs = ['<xf numFmtId="0" fontId="0" fillId="0" borderId="0" pivotButton="0" '
           'quotePrefix="0" xfId="0"/>']
    for look in sorted(order, key=order.__getitem__):
        fmt, font, fill, border = _LOOK[look]
        xfs.append(_XF.format(fmt, fonts.setdefault(font, len(fonts) + 1),
                              fills.setdefault(fill, len(fills) + 2) if fill else 0,
                              borders.setdefault(border, len(borders) + 1) if border else 0))
    dated = any(_LOOK[look][0] == 164 for look in order)
    num_fmts = ('<numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd"/>'
                "</numFmts>") if dated else '<numFmts count="0"/>'
    return (f'<styleSheet xmlns="{_MAIN}">{num_fmts}<fonts count="{len(fonts) + 1}"><font>'
            '<name val="Calibri"/><family val="2"/><color theme="1"/><sz val="11"/>'
            '<scheme val="minor"/></font>' + "".join(_FONT[f] for f in fonts) + "</fonts>"
            f'<fills count="{len(fills) + 2}"><fill><patternFill/></fill><fill><patternFill '
            'patternType="gray125"/></fill>' + "".join(_FILL[f] for f in fills) + "</fills>"
            f'<borders count="{len(borders) + 1}"><border><left/><right/><top/><bottom/>'
            "<diagonal/></border>" + "".join(_BORDER[b] for b in borders) + "</borders>"
            '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/>'
            f'</cellStyleXfs><cellXfs count="{len(xfs)}">{"".join(xfs)}</cellXfs>'
            + _STYLES_TAIL)


def _core(as_of: dt.date) -> str:
    when = f"{as_of.isoformat()}T00:00:00Z"
    dc, terms = "http://purl.org/dc/elements/1.1/", "http://purl.org/dc/terms/"
    stamp = (f'xmlns:dcterms="{terms}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
             'xsi:type="dcterms:W3CDTF"')
    return ('<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/'
            f'metadata/core-properties"><dc:creator xmlns:dc="{dc}">ftc-office</dc:creator>'
            f'<dc:title xmlns:dc="{dc}">Queue move request</dc:title><dcterms:created {stamp}>'
            f"{when}</dcterms:created><dcterms:modified {stamp}>{when}</dcterms:modified>"
            "</cp:coreProperties>")


def _custom(key: str) -> str:
    return ('<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            f'custom-properties"><property name="{KEY_PROPERTY}" '
            'fmtid="{D5CDD505-2E9C-101B-9397-08002B2CF9AE}" pid="2"><vt:lpwstr xmlns:vt='
            '"http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">'
            f"{_text(key)}</vt:lpwstr></property></Properties>")


def _rels(*targets: tuple[str, str]) -> str:
    return (f'<Relationships xmlns="{_PKG_REL}">' + "".join(
        f'<Relationship Type="{kind}" Target="{target}" Id="rId{i}"/>'
        for i, (kind, target) in enumerate(targets, 1)) + "</Relationships>")


_OFFICE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
_OOXML = "application/vnd.openxmlformats-"
# the application name openpyxl wrote: kept, so the bytes (and content hashes) stay the same
_APP = ('<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-'
        'properties"><Application>Microsoft Excel Compatible / Openpyxl 3.1.5</Application>'
        "<AppVersion>3.1</AppVersion></Properties>")
_WORKBOOK = (
    f'<workbook xmlns="{_MAIN}"><workbookPr/><workbookProtection/><bookViews><workbookView '
    'visibility="visible" minimized="0" showHorizontalScroll="1" showVerticalScroll="1" '
    'showSheetTabs="1" tabRatio="600" firstSheet="0" activeTab="0" '
    f'autoFilterDateGrouping="1"/></bookViews><sheets><sheet xmlns:r="{_REL}" '
    f'name="{SHEET_TITLE}" sheetId="1" state="visible" r:id="rId1"/></sheets><definedNames>'
    f"<definedName name=\"_xlnm.Print_Titles\" localSheetId=\"0\">'{SHEET_TITLE}'!$1:$1"
    '</definedName></definedNames><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>')


def _content_types(custom: bool) -> str:
    parts = [("/xl/styles.xml", "officedocument.spreadsheetml.styles+xml"),
             ("/xl/theme/theme1.xml", "officedocument.theme+xml"),
             ("/docProps/core.xml", "package.core-properties+xml"),
             ("/docProps/app.xml", "officedocument.extended-properties+xml"),
             *([("/docProps/custom.xml", "officedocument.custom-properties+xml")]
               if custom else []),
             ("/xl/worksheets/sheet1.xml", "officedocument.spreadsheetml.worksheet+xml"),
             ("/xl/tables/table1.xml", "officedocument.spreadsheetml.table+xml"),
             ("/xl/workbook.xml", "officedocument.spreadsheetml.sheet.main+xml")]
    return ('<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            f'<Default Extension="rels" ContentType="{_OOXML}package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>' + "".join(
                f'<Override PartName="{name}" ContentType="{_OOXML}{kind}"/>'
                for name, kind in parts) + "</Types>")


def queue_book_xlsx(book: QueueBook) -> bytes:
    """The .xlsx bytes of ``book``: deterministic (fixed member times and permissions)."""
    order: dict[str, int] = {}
    sheet = _sheet(book, order)
    package_rels = [(f"{_OFFICE}officeDocument", "xl/workbook.xml"),
                    (f"{_PKG_REL}/metadata/core-properties", "docProps/core.xml"),
                    (f"{_OFFICE}extended-properties", "docProps/app.xml")]
    if book.key:
        package_rels.append((f"{_OFFICE}custom-properties", "docProps/custom.xml"))
    members: list[tuple[str, str | bytes]] = [
        ("docProps/app.xml", _APP), ("docProps/core.xml", _core(book.as_of)),
        ("xl/theme/theme1.xml", _theme()),
        *([("docProps/custom.xml", _custom(book.key))] if book.key else []),
        ("xl/worksheets/sheet1.xml", sheet), ("xl/tables/table1.xml", _table(book)),
        ("xl/worksheets/_rels/sheet1.xml.rels",
         _rels((f"{_OFFICE}table", "/xl/tables/table1.xml"))),
        ("xl/styles.xml", _styles(order)), ("_rels/.rels", _rels(*package_rels)),
        ("xl/workbook.xml", _WORKBOOK),
        ("xl/_rels/workbook.xml.rels", _rels(
            (f"{_OFFICE}worksheet", "/xl/worksheets/sheet1.xml"),
            (f"{_OFFICE}styles", "styles.xml"), (f"{_OFFICE}theme", "theme/theme1.xml"))),
        ("[Content_Types].xml", _content_types(bool(book.key)))]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name, content in members:
            info = zipfile.ZipInfo(name, date_time=FIXED_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o600 << 16
            dst.writestr(info, content)
    return out.getvalue()

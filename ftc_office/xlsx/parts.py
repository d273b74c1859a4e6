"""The part a surgical write-back edits most: one worksheet (row index, pending edits,
rendering). Text-level edits only: every byte outside the edited rows is kept as it was, except
the few layout edits a new column brings (`ftc_office.xlsx.layout`). styles.xml is
`ftc_office.xlsx.styles`. Used by `ftc_office.xlsx.patch`.
"""

from __future__ import annotations

import bisect
import operator
import re
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from ftc_office.errors import WritebackError
from ftc_office.xlsx import cells as X
from ftc_office.xlsx.layout import layout_splices

CellValue = X.CellValue
MAIN_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
STRICT_MARK = "purl.oclc.org/ooxml"
FIX_RESAVE = "open it in Excel, save it as an Excel Workbook (.xlsx) and run again"


@dataclass
class Cell:
    """One existing ``<c>``, parsed on demand."""

    attrs: dict[str, str]
    body: str  # inner XML ("" for <c/>)


@dataclass(slots=True)
class Row:
    """One parsed row. Offsets are into the sheet text; `span` is None for a row that does
    not exist yet. Cells are kept compactly (a 10,000-row sheet has 270,000 of them): `cols`
    in document order and `starts` holding where each cell's start tag begins (its end is
    found when the cell is needed: `SheetPart.cell_span`)."""

    num: int
    span: tuple[int, int] | None
    tag_end: int = 0  # end of the start tag
    self_closing: bool = True
    attrs: dict[str, str] | None = field(default_factory=dict)  # None: not read yet
    cols: array[int] = field(default_factory=lambda: array("H"))
    starts: array[int] | None = field(default_factory=lambda: array("L"))
    ordered: bool = True  # cols ascending, as Excel writes them

    def find(self, col: int) -> int:
        """Index of cell `col` in `cols`, or -1."""
        cols = self.cols
        if self.ordered:
            i = bisect.bisect_left(cols, col)
            return i if i < len(cols) and cols[i] == col else -1
        return cols.index(col) if col in cols else -1

    def before(self, col: int) -> int:
        """Index of the first cell (in document order) right of column `col`: where a new
        cell `col` goes; len(cols) when none is."""
        cols = self.cols
        if self.ordered:
            return bisect.bisect_right(cols, col)
        return next((i for i, c in enumerate(cols) if c > col), len(cols))


@dataclass
class Table:
    """An Excel table (ListObject) on a sheet."""

    part: str
    name: str
    r1: int
    c1: int
    r2: int
    c2: int
    header_rows: int
    totals_rows: int
    columns: list[str]
    query: bool


_ROW_R = re.compile(r"""\sr\s*=\s*["']""")  # a <row> tag naming its row
_NO_COLS: array[int] = array("H")  # shared by rows without cells; never appended to
_NO_STARTS: array[int] = array("L")


class SheetPart:
    """One worksheet part: raw XML, a row index, and pending edits."""

    def __init__(self, name: str, part: str, xml: bytes, where: str) -> None:
        self.name = name
        self.part = part
        self.where = where
        try:
            self.text = xml.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise WritebackError(where, f"sheet {name!r} is not UTF-8 XML", FIX_RESAVE) from exc
        root = re.search(r"<(?:([A-Za-z_][\w.-]*):)?worksheet\b([^>]*)>", self.text)
        if root is None:
            raise WritebackError(where, f"sheet {name!r} is not a worksheet", FIX_RESAVE)
        if "<!DOCTYPE" in self.text[:root.start()]:
            raise WritebackError(where, f"sheet {name!r} carries a DTD (unsafe XML)",
                                 "do not use this file; ask for a clean copy")
        prefix = root.group(1)
        ns = X.parse_attrs(root.group(2)).get(f"xmlns:{prefix}" if prefix else "xmlns", "")
        if STRICT_MARK in ns:
            raise WritebackError(where, "the workbook is saved as Strict Open XML",
                                 "save it in Excel as 'Excel Workbook (*.xlsx)' and run again")
        if ns != MAIN_NS:
            raise WritebackError(where, f"sheet {name!r} has an unknown namespace {ns!r}",
                                 FIX_RESAVE)
        self.p = f"{prefix}:" if prefix else ""
        p = re.escape(self.p)
        self.re_cell = re.compile(rf"<{p}c\b([^>]*?)(/>|>(.*?)</{p}c>)", re.S)
        self.re_cell_start = re.compile(  # a cell's start and its column letters, if given
            rf"<{p}c(?=[\s/>])(?:[^>]*?\sr\s*=\s*[\"']\$?([A-Za-z]{{1,3}}))?")
        self.re_cell_r = re.compile(rf'<{p}c r="([A-Z]{{1,3}})\d')  # Excel's own spelling
        self.re_row_tag = re.compile(rf"<{p}row\b[^>]*>")
        self.re_f = re.compile(rf"<{p}f\b([^>]*)")
        self._index_rows()
        self.merges = [r for r in (X.parse_range(m) for m in re.findall(
            rf"<{p}mergeCell\b[^>]*?\bref=[\"']([^\"']+)", self.text)) if r]
        self.arrays: list[tuple[int, int, int, int]] = []
        for m in re.finditer(rf"<{p}f\b([^>]*)>", self.text):
            attrs = X.parse_attrs(m.group(1))
            if attrs.get("t") in ("array", "dataTable") and "ref" in attrs:
                rng = X.parse_range(attrs["ref"])
                if rng:
                    self.arrays.append(rng)
        self._read_cols()
        self.tables: list[Table] = []
        self.parsed: dict[int, Row] = {}
        self.edits: dict[int, dict[int, str]] = {}
        self.values: dict[tuple[int, int], CellValue] = {}
        self.own_headers: set[tuple[int, int]] = set()
        # columns added by add_columns: the column each copies its formats from, its width,
        # and how the table's right edge moved (original edge -> (first row, last row, edge))
        self.like: dict[int, int] = {}
        self.new_widths: dict[int, float] = {}
        self.widen: dict[int, tuple[int, int, int]] = {}
        self.date_fmt: int | None = None  # the date format the sheet's dates use (patch)
        self.date_styles: dict[tuple[int, int, bool], int] = {}  # (col, style, time) -> s

    def _read_cols(self) -> None:
        """The styles and widths the ``<col>`` elements give ranges of columns."""
        self.col_styles: list[tuple[int, int, int]] = []
        self.col_widths: list[tuple[int, int, float]] = []
        for m in re.finditer(rf"<{re.escape(self.p)}col\b([^>]*?)/?>", self.text):
            a = X.parse_attrs(m.group(1))
            if "min" in a and "max" in a:
                if "style" in a:
                    self.col_styles.append((int(a["min"]), int(a["max"]), int(a["style"])))
                if "width" in a:
                    self.col_widths.append((int(a["min"]), int(a["max"]), float(a["width"])))

    def _index_rows(self) -> None:
        text, p = self.text, re.escape(self.p)
        sd = re.search(rf"<{p}sheetData\b[^>]*?(/?)>", text)
        if sd is None:
            raise WritebackError(self.where, f"sheet {self.name!r} has no sheetData", FIX_RESAVE)
        self.sd_open = sd
        close = f"</{self.p}row>"
        self.row_nums: list[int] = []
        self.row_spans: dict[int, tuple[int, int]] = {}
        if sd.group(1):
            self.sd_end = sd.end()
            return
        end = text.find(f"</{self.p}sheetData>", sd.end())
        if end < 0:
            raise WritebackError(self.where, f"sheet {self.name!r} is truncated", FIX_RESAVE)
        self.sd_end = end
        pos, last = sd.end(), 0
        search = self.re_row_tag.search
        re_r = re.compile(r"""\sr\s*=\s*["'](\d+)["']""")
        while True:
            m = search(text, pos, end)
            if m is None:
                break
            tag = m.group(0)
            if tag.endswith("/>"):
                row_end = m.end()
            else:
                row_end = text.find(close, m.end(), end)
                if row_end < 0:
                    raise WritebackError(self.where, f"sheet {self.name!r} is damaged",
                                         FIX_RESAVE)
                row_end += len(close)
            r = re_r.search(tag)
            num = int(r.group(1)) if r else last + 1
            if num <= last:
                raise WritebackError(self.where, f"sheet {self.name!r} has rows out of order "
                                     f"(row {num} after row {last})", FIX_RESAVE)
            self.row_nums.append(num)
            self.row_spans[num] = (m.start(), row_end)
            last, pos = num, row_end

    def row(self, num: int) -> Row:
        """The parsed row `num` (an empty, not-yet-existing row if the sheet has none)."""
        row = self.parsed.get(num)
        if row is not None:
            return row
        span = self.row_spans.get(num)
        if span is None:
            row = Row(num, None)
        else:
            tag = self.re_row_tag.match(self.text, span[0])
            assert tag is not None
            head = tag.group(0)
            row = Row(num, span, tag.end(), head.endswith("/>"), None, _NO_COLS, _NO_STARTS)
            if not row.self_closing:
                self._index_cells(row, span[1] - len(f"</{self.p}row>"))
        self.parsed[num] = row
        return row

    def row_attrs(self, row: Row) -> dict[str, str]:
        """The attributes of the ``<row>`` tag (read the first time they are asked for)."""
        if row.attrs is None:
            assert row.span is not None
            row.attrs = X.parse_attrs(self.text[row.span[0] + len(self.p) + 4:row.tag_end])
        return row.attrs

    def row_style(self, row: Row) -> str | None:
        """The cell format the row gives its cells (``customFormat``), if any."""
        if row.span is None or (row.attrs is None and "customFormat" not in self.text[
                row.span[0]:row.tag_end]):
            return None
        attrs = self.row_attrs(row)
        return attrs.get("s") if attrs.get("customFormat") in ("1", "true") else None

    def _index_cells(self, row: Row, body_end: int) -> None:
        """The column of each cell of `row`. When every cell starts ``<c r="`` (Excel and
        openpyxl write them so), one findall gives the columns and a cell's start is found
        by its reference when needed; otherwise `_index_starts` reads them all."""
        text, p = self.text, self.p
        n = text.count(f"<{p}c", row.tag_end, body_end)
        if n == text.count(f'<{p}c r="', row.tag_end, body_end):
            letters = self.re_cell_r.findall(text, row.tag_end, body_end)
            if len(letters) == n:
                _set_cols(row, array("H", map(X.COL_NUMBERS.__getitem__, letters)))
                row.starts = None
                return
        self._index_starts(row, body_end)

    def _index_starts(self, row: Row, body_end: int) -> None:
        """Where each cell of `row` starts and its column: one regex pass; a cell without an
        ``r`` attribute is the one right of the cell before it (ECMA-376 §18.3.1.4)."""
        found = [(m.start(), m.group(1))
                 for m in self.re_cell_start.finditer(self.text, row.tag_end, body_end)]
        row.starts = array("L", [start for start, _ in found])
        letters = [letters for _, letters in found]
        if None in letters:
            col, numbers = 0, []
            for ref in letters:
                col = col + 1 if ref is None else X.COL_NUMBERS[ref]
                numbers.append(col)
            _set_cols(row, array("H", numbers))
        else:
            _set_cols(row, array("H", map(X.COL_NUMBERS.__getitem__, letters)))

    def starts(self, row: Row) -> array[int]:
        """Where each cell of `row` starts (read now if `_index_cells` left them)."""
        if row.starts is None:
            assert row.span is not None
            self._index_starts(row, row.span[1] - len(f"</{self.p}row>"))
            assert row.starts is not None
        return row.starts

    def cell_start(self, row: Row, i: int) -> int:
        """Where the `i`-th cell of `row` starts."""
        if row.starts is not None:
            return row.starts[i]
        assert row.span is not None
        ref = f'<{self.p}c r="{X.col_letter(row.cols[i])}{row.num}"'
        pos = self.text.find(ref, row.tag_end, row.span[1])
        return pos if pos >= 0 else self.starts(row)[i]

    def _cell_match(self, row: Row, i: int) -> re.Match[str]:
        m = self.re_cell.match(self.text, self.cell_start(row, i))
        if m is None:
            raise WritebackError(self.where, f"sheet {self.name!r} has a damaged cell in row "
                                 f"{row.num}", FIX_RESAVE)
        return m

    def cell_span(self, row: Row, i: int) -> tuple[int, int]:
        """Start and end (in the sheet text) of the `i`-th cell of `row`."""
        return self._cell_match(row, i).span()

    def cell(self, row: Row, col: int) -> Cell | None:
        """The existing cell `col` of `row`, parsed, or None."""
        i = row.find(col)
        if i < 0:
            return None
        m = self._cell_match(row, i)
        return Cell(X.parse_attrs(m.group(1)), m.group(3) or "")

    def col_style(self, col: int) -> int | None:
        """The style index a <col> element gives column `col`, if any."""
        for lo, hi, style in self.col_styles:
            if lo <= col <= hi:
                return style
        return None

    def col_width(self, col: int) -> float | None:
        """The width a <col> element gives column `col` (pending widths included), if any."""
        if col in self.new_widths:
            return self.new_widths[col]
        for lo, hi, width in self.col_widths:
            if lo <= col <= hi:
                return width
        return None

    def grow_edge(self, old: int, new: int, r1: int, r2: int) -> None:
        """Record that the table (rows r1..r2) whose right edge was column `old` now ends at
        `new`: ranges that ended at the original edge are widened when rendering."""
        for orig, (a, b, edge) in self.widen.items():
            if edge == old:
                self.widen[orig] = (min(a, r1), max(b, r2), new)
                return
        self.widen[old] = (r1, r2, new)

    def has_formulas(self) -> bool:
        """Whether any cell of this sheet holds a formula."""
        return self.re_f.search(self.text) is not None

    def render(self) -> Iterator[bytes]:
        """The sheet XML with all pending edits applied, as UTF-8 chunks."""
        text, p = self.text, self.p
        splices: list[tuple[int, int, int, int, str]] = []  # (start, kind, row, end, text)
        lo_r = lo_c = 10**9
        hi_r = hi_c = 0
        for num, edits in self.edits.items():
            row = self.row(num)
            lo_r, hi_r = min(lo_r, num), max(hi_r, num)
            lo_c, hi_c = min(lo_c, *edits), max(hi_c, *edits)
            new = self._render_row(row, edits)
            if row.span is not None:
                splices.append((row.span[0], 1, num, row.span[1], new))
            else:
                i = bisect.bisect_right(self.row_nums, num)
                pos = self.row_spans[self.row_nums[i]][0] if i < len(self.row_nums) \
                    else self.sd_end
                splices.append((pos, 0, num, pos, new))
        layout = layout_splices(text, p, self.new_widths, self.widen)
        if not splices and not layout:
            yield from _chunks(text, 0, len(text))
            return
        if self.sd_open.group(1) and splices:  # <sheetData/>
            inner = "".join(s[4] for s in sorted(splices))
            tag = self.sd_open.group(0)
            splices = [(self.sd_open.start(), 1, 0, self.sd_open.end(),
                        f"{tag[:-2].rstrip()}>{inner}</{p}sheetData>")]
        splices += [(start, 1, 0, end, new) for start, end, new in layout]
        dim = re.search(rf"<{re.escape(p)}dimension\b[^>]*?\bref=[\"']([^\"']*)[\"']", text)
        if dim:
            old = X.parse_range(dim.group(1))
            if old and not (old == (1, 1, 1, 1) and not self.row_nums):
                lo_r, lo_c = min(lo_r, old[0]), min(lo_c, old[1])
                hi_r, hi_c = max(hi_r, old[2]), max(hi_c, old[3])
            splices.append((dim.start(1), 1, 0, dim.end(1),
                            X.format_range(lo_r, lo_c, hi_r, hi_c)))
        splices.sort(key=lambda s: s[:3])
        pos = 0
        for start, _kind, _row, end, new in splices:
            yield from _chunks(text, pos, start)
            yield new.encode("utf-8")
            pos = end
        yield from _chunks(text, pos, len(text))

    def _after_last_cell(self, row: Row) -> int:
        """Where the last cell of `row` (which has cells) ends: before the whitespace that may
        close the row when that follows a ``</c>``, else found by parsing the cell."""
        assert row.span is not None
        text, close = self.text, f"</{self.p}c>"
        end = row.span[1] - len(f"</{self.p}row>")
        while text[end - 1] in " \t\r\n":
            end -= 1
        if text.endswith(close, row.tag_end, end):
            return end
        return self.cell_span(row, len(row.cols) - 1)[1]

    def _row_head(self, row: Row, edits: dict[int, str]) -> str:
        """The ``<row>`` start tag with its ``r`` (added if missing) and ``spans`` widened to
        the edited columns. A tag whose attributes do not change is kept as it is."""
        if row.span is not None and not row.self_closing:
            head = self.text[row.span[0]:row.tag_end]
            if "spans" not in head and _ROW_R.search(head):
                return head
        attrs = dict(self.row_attrs(row)) if row.span is not None else {}
        if "r" not in attrs:
            attrs = {"r": str(row.num), **attrs}
        if "spans" in attrs:
            nums = [int(x) for x in re.findall(r"\d+", attrs["spans"])]
            if nums:
                lo, hi = min(min(nums), min(edits)), max(max(nums), max(edits))
                attrs["spans"] = f"{lo}:{hi}"
        return f"<{self.p}row{X.render_attrs(attrs)}>"

    def _render_row(self, row: Row, edits: dict[int, str]) -> str:
        """The row's XML with `edits` (column -> cell XML) in place: an edited cell replaces
        the cell it names, a new one goes before the first cell right of it; every other
        byte of the row is kept."""
        p = self.p
        out = [self._row_head(row, edits)]
        if row.self_closing:
            out.extend(edits[c] for c in sorted(edits))
            out.append(f"</{p}row>")
            return "".join(out)
        assert row.span is not None
        text = self.text
        # (where, where the replaced text ends, column, new XML): replacements and inserts
        cuts: list[tuple[int, int, int, str]] = []
        for col, xml in edits.items():
            i = row.find(col)
            if i >= 0:
                start, end = self.cell_span(row, i)
            else:
                j = row.before(col)
                if j < len(row.cols):
                    start = end = self.cell_start(row, j)
                else:  # right after the last cell (before any whitespace ending the row)
                    start = end = self._after_last_cell(row) if j else row.tag_end
            cuts.append((start, end, col, xml))
        cuts.sort()
        pos = row.tag_end
        for start, end, _col, xml in cuts:
            out.append(text[pos:start])
            out.append(xml)
            pos = end
        out.append(text[pos:row.span[1]])
        return "".join(out)


def _set_cols(row: Row, cols: array[int]) -> None:
    """Give `row` its cells' columns, and note whether they ascend (bisection finds them)."""
    row.cols = cols
    row.ordered = all(map(operator.lt, cols, cols[1:]))


def _chunks(text: str, start: int, end: int, size: int = 1 << 20) -> Iterator[bytes]:
    """text[start:end] as UTF-8, in pieces of at most `size` characters."""
    for i in range(start, end, size):
        yield text[i:min(end, i + size)].encode("utf-8")



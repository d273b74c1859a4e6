"""Surgical write-back: change a few cells of an .xlsx/.xlsm and leave everything else alone.

openpyxl re-serialises the whole workbook and loses what it does not model (shapes, x14
extensions, cached formula values, pictures in cells, ...). `XlsxPatcher` instead edits only
the target ``<row>`` fragments of a worksheet part; every other zip member is copied with its
compressed bytes unchanged. It indexes the ``<row>`` byte offsets of a sheet and parses only
the rows it touches, so patching a 10,000-row sheet takes a fraction of an openpyxl round trip.

What it writes: strings as inline strings (never a formula, never a sharedStrings edit),
numbers, booleans, dates as serial numbers with a date format (respecting ``date1904``), or
nothing (None clears the value and keeps the style). What it refuses, with a WritebackError
naming FILE, Sheet!CELL: formula cells, array/data-table ranges, non-anchor cells of merged
ranges, table header and totals rows (except header cells it created with `add_columns`),
cells holding a picture or linked data type, and packages that are encrypted, not zips,
damaged, Strict OOXML, zip64 or zip bombs.

New sheets: `ensure_sheet` (from `ftc_office.xlsx.sheets`, which lists the parts it
changes) adds a worksheet as the last sheet, and `append_rows` appends rows after a sheet's
last used row. A date written there also adds a cell format to ``xl/styles.xml``. The
package side (parts, relationships, styles, shared strings) is `ftc_office.xlsx.workbook`.

``fullCalcOnLoad``: `save` sets ``<calcPr fullCalcOnLoad="1"/>`` only when the workbook has
formulas (a calcChain part, or an ``<f>`` in any worksheet), so Excel recalculates dependants
of the cells we wrote; a workbook without formulas keeps its workbook.xml byte-identical.

Typical use::

    patcher = XlsxPatcher(path)
    cols = patcher.add_columns("Tenants", 1, ["Status", "Sent on"])
    patcher.set("Tenants", f"{cols['Status']}7", "Sent")
    atomic_replace(path, patcher.save)
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from ftc_office.errors import WritebackError
from ftc_office.xlsx import cells as X
from ftc_office.xlsx.parts import Cell, CellValue, Row, SheetPart, Table
from ftc_office.xlsx.styles import ISO_DATE
from ftc_office.xlsx.tables import TableEditor
from ftc_office.xlsx.workbook import full_calc_on_load, rich_text

__all__ = ["CellValue", "XlsxPatcher"]

_S_ATTR = re.compile(r"""<(?:[A-Za-z_][\w.-]*:)?c\b[^>]*?\ss\s*=\s*["'](\d+)["']""")


class XlsxPatcher(TableEditor):
    """Edit cells of an .xlsx/.xlsm package in place of an openpyxl round trip.

    Opening reads and checks the whole package; nothing is written until `save`.
    """

    def rows(self, sheet: str) -> list[tuple[int, dict[str, object]]]:
        """(row number, `row_values`) for every row of the sheet that holds a value, pending
        edits included, in row order."""
        sh = self._sheet(sheet)
        nums = sorted(set(sh.row_nums) | {r for (r, _c) in sh.values})
        out = []
        for num in nums:
            values = self.row_values(sh.name, num)
            if values:
                out.append((num, values))
        return out

    def last_row(self, sheet: str) -> int:
        """The number of the sheet's last row holding a value (0 for an empty sheet)."""
        sh = self._sheet(sheet)
        pending = [r for (r, c), v in sh.values.items() if v is not None and v != ""]
        for num in reversed(sh.row_nums):
            if num <= max(pending, default=0):
                break
            if self.row_values(sh.name, num):
                return num
        return max(pending, default=0)

    def row_values(self, sheet: str, row: int) -> dict[str, object]:
        """Column letter -> current value for the non-empty cells of one row."""
        sh = self._sheet(sheet)
        cols = set(sh.row(row).cols) | {c for (r, c) in sh.values if r == row}
        out: dict[str, object] = {}
        for col in sorted(cols):
            value = self._get(sh, row, col)
            if value is not None and value != "":
                out[X.col_letter(col)] = value
        return out

    def get(self, sheet: str, ref: str) -> object:
        """The current value of a cell (pending edits included): str, int, float, bool,
        datetime for numbers shown as dates, None for an empty cell."""
        sh = self._sheet(sheet)
        pos = self._parse_ref(sheet, ref)
        return self._get(sh, *pos)

    def _get(self, sh: SheetPart, row: int, col: int) -> object:
        if (row, col) in sh.values:
            return sh.values[(row, col)]
        cell = sh.cell(sh.row(row), col)
        if cell is None:
            return None
        t = cell.attrs.get("t", "n")
        p = re.escape(sh.p)
        if t == "inlineStr":
            m = re.search(rf"<{p}is\b[^>]*>(.*?)</{p}is>", cell.body, re.S)
            return rich_text(m.group(1)) if m else ""
        v = re.search(rf"<{p}v\b[^>]*>(.*?)</{p}v>", cell.body, re.S)
        if v is None:
            return None
        raw = X.xml_unescape(v.group(1))
        if t == "s":
            return self._shared_string(int(raw))
        if t in ("str", "e", "d"):
            return X.decode_cell_text(v.group(1)) if t == "str" else raw
        if t == "b":
            return raw.strip() in ("1", "true")
        try:
            number = float(raw)
        except ValueError:
            return raw
        style = int(cell.attrs.get("s", "0"))
        if style and self.styles_part and self._styles_obj().is_date(style):
            return X.from_serial(number, self.date1904)
        return int(number) if number.is_integer() and "." not in raw and "E" not in raw.upper() \
            else number

    def _parse_ref(self, sheet: str, ref: str) -> tuple[int, int]:
        pos = X.parse_ref(ref)
        if pos is None:
            raise WritebackError(self._where(sheet, ref), "this is not a single-cell reference",
                                 "give a reference like B7")
        return pos

    def set(self, sheet: str, ref: str, value: CellValue, style: int | None = None) -> None:
        """Write `value` into one cell (None clears it, keeping its style); `style` gives the
        cell that cell format. A new cell in a column `add_columns` added takes the format
        of the same row's cell in the column it copies."""
        sh = self._sheet(sheet)
        row, col = self._parse_ref(sheet, ref)
        if not (ref.isalnum() and ref.isupper()):  # "b7", "$B$7", " B7" -> "B7"
            ref = X.format_range(row, col, row, col)
        r = sh.row(row)
        cell = sh.cell(r, col)
        self._check_writable(sh, row, col, cell, ref)
        attrs: dict[str, str] = {"r": ref}
        if cell is not None:
            attrs.update((k, v) for k, v in cell.attrs.items() if k not in ("r", "t", "vm", "cm"))
        else:
            inherited = self._new_cell_style(sh, r, col)
            if inherited:
                attrs["s"] = inherited
        if style is not None:
            attrs["s"] = str(style)
        sh.edits.setdefault(row, {})[col] = self._render_cell(sh, (row, col), attrs, value, ref)
        sh.values[(row, col)] = value

    def _new_cell_style(self, sh: SheetPart, r: Row, col: int) -> str | None:
        """The cell format a new cell takes: its column's template cell in the same row (for
        an added column), the row's format, or the column's."""
        if col in sh.like:
            template = sh.cell(r, sh.like[col])
            if template is not None and template.attrs.get("s"):
                return template.attrs["s"]
        style = sh.row_style(r)
        if style is None:
            cs = sh.col_style(col)
            style = str(cs) if cs else None
        return style

    def _at(self, sh: SheetPart, ref: str, what: str, fix: str) -> WritebackError:
        """The error for cell `ref` of `sh` (its place is spelled out only when it fails)."""
        return WritebackError(self._where(sh.name, ref), what, fix)

    def _check_writable(self, sh: SheetPart, row: int, col: int, cell: Cell | None,
                        ref: str) -> None:
        for r1, c1, r2, c2 in sh.merges:
            if r1 <= row <= r2 and c1 <= col <= c2 and (row, col) != (r1, c1):
                raise self._at(sh, ref, f"the cell is inside the merged range "
                               f"{X.format_range(r1, c1, r2, c2)} but is not its "
                               "top-left cell", f"write to {X.col_letter(c1)}{r1} or "
                               "unmerge the range in Excel")
        for r1, c1, r2, c2 in sh.arrays:
            if r1 <= row <= r2 and c1 <= col <= c2:
                raise self._at(sh, ref, f"the cell is part of the array formula or data "
                               f"table {X.format_range(r1, c1, r2, c2)}",
                               "choose a column without formulas for write-back")
        if (row, col) not in sh.own_headers:
            for t in sh.tables:
                if not t.c1 <= col <= t.c2:
                    continue
                if t.header_rows and row == t.r1:
                    raise self._at(sh, ref, f"the cell is in the header row of table "
                                   f"{t.name!r}", "write data rows only; add output "
                                   "columns with add_columns")
                if t.totals_rows and row == t.r2:
                    raise self._at(sh, ref, f"the cell is in the totals row of table "
                                   f"{t.name!r}", "write data rows only")
        if cell is None:
            return
        if re.search(rf"<{re.escape(sh.p)}f\b", cell.body):
            raise self._at(sh, ref, "the cell holds a formula",
                           "choose an output column without formulas, or clear the "
                           "formula in Excel first")
        if "vm" in cell.attrs:
            raise self._at(sh, ref, "the cell holds a picture or linked data type",
                           "choose an empty output column")

    def _render_cell(self, sh: SheetPart, pos: tuple[int, int], attrs: dict[str, str],
                     value: CellValue, ref: str) -> str:
        p = sh.p
        if value is None:
            return f"<{p}c{X.render_attrs(attrs)}/>"
        if isinstance(value, str):
            if len(value) > X.MAX_CELL_CHARS // 2 and X.utf16_len(value) > X.MAX_CELL_CHARS:
                raise self._at(sh, ref, f"the text is {X.utf16_len(value)} characters long; "
                               f"Excel cells hold at most {X.MAX_CELL_CHARS}",
                               "shorten the text")
            bad = None if value.isascii() else X.UNSTORABLE_RE.search(value)
            if bad:
                what = ("an unpaired surrogate character" if bad.group(0) < "\ue000"
                        else f"U+{ord(bad.group(0)):04X}, which Excel cannot store")
                raise self._at(sh, ref, f"the text holds {what}",
                               "fix the text's encoding or remove that character")
            attrs["t"] = "inlineStr"
            return f"<{p}c{X.render_attrs(attrs)}>{X.inline_string(value, p)}</{p}c>"
        if isinstance(value, bool):
            attrs["t"] = "b"
            return f"<{p}c{X.render_attrs(attrs)}><{p}v>{int(value)}</{p}v></{p}c>"
        if isinstance(value, int | float):
            if isinstance(value, float) and not math.isfinite(value):
                raise self._at(sh, ref, f"{value} is not a number Excel can store",
                               "write a finite number or text")
            return f"<{p}c{X.render_attrs(attrs)}><{p}v>{value!r}</{p}v></{p}c>"
        if isinstance(value, dt.date):
            if isinstance(value, dt.datetime) and value.tzinfo is not None:
                raise self._at(sh, ref, "the date has a time zone; Excel dates have none",
                               "convert it to local time without tzinfo first")
            serial = X.excel_serial(value, self.date1904)
            if serial is None:
                raise self._at(sh, ref, f"{value} is before the workbook's first date "
                               f"({'1904' if self.date1904 else '1900'}-01-01)",
                               "write it as text instead")
            key = (pos[1], int(attrs.get("s", "0")), isinstance(serial, float))
            date_style = sh.date_styles.get(key)
            if date_style is None:
                date_style = sh.date_styles[key] = self._date_style(sh, pos, *key[1:])
            attrs["s"] = str(date_style)
            return f"<{p}c{X.render_attrs(attrs)}><{p}v>{serial!r}</{p}v></{p}c>"
        raise self._at(sh, ref, f"cannot write a {type(value).__name__} value",
                       "write text, a number, a date or nothing")

    def _date_style(self, sh: SheetPart, pos: tuple[int, int], style: int,
                    has_time: bool) -> int:
        """A date cell's format: its own or its column's when they show dates; else `style`
        with the date format the sheet's other dates use (`_sheet_date_fmt`, found once per
        sheet), else ``yyyy-mm-dd`` (a date and time: built-in format 22)."""
        styles = self._styles_obj()
        if styles.is_date(style):
            return style
        cs = sh.col_style(pos[1])
        if cs is not None and styles.is_date(cs):
            return cs
        if has_time:
            return styles.with_date_format(style, 22)
        if sh.date_fmt is None:  # found once per sheet
            sh.date_fmt = self._sheet_date_fmt(sh, pos[0])
        return styles.with_date_format(style, sh.date_fmt)

    def _sheet_date_fmt(self, sh: SheetPart, row_num: int) -> int:
        """The number format most dates use in row `row_num` or else in the sheet's first 50
        rows; ``yyyy-mm-dd`` (added to styles.xml if needed) when they hold no dates."""
        styles = self._styles_obj()
        for nums in ([row_num], sh.row_nums[:50]):
            used: Counter[int] = Counter()
            for num in nums:
                row = sh.row(num)
                for start in sh.starts(row):
                    m = _S_ATTR.match(sh.text, start)
                    s = int(m.group(1)) if m else 0
                    if s and styles.is_date(s):
                        used[styles.num_fmt(s)] += 1
            if used:
                return used.most_common(1)[0][0]
        return styles.fmt_id(ISO_DATE)

    def add_columns(self, sheet: str, header_row: int, headers: list[str],
                    like: Mapping[str, str] | None = None,
                    min_widths: Mapping[str, float] | None = None) -> dict[str, str]:
        """Make sure each header exists on `header_row`; return header -> column letter.

        Existing headers are reused (re-runs add nothing). New ones are appended right of the
        last used header cell, or right of the Excel table whose header is on that row, in
        which case the table's range, autoFilter and tableColumns grow to cover them.

        A new column looks like its neighbours: it copies the header cell's format, the width
        and each row's cell format from the column `like` names for its header (a letter;
        default: the last column before the new ones), at least `min_widths` of its header
        (and the header's length when the header format does not wrap). Ranges that ended at
        the old right edge are widened to the new one (see `ftc_office.xlsx.layout`).
        """
        sh = self._sheet(sheet)
        table, known, next_col = self._header_columns(sh, header_row)
        old_edge = next_col - 1
        result: dict[str, str] = {}
        for header in headers:
            if header.lower() in known:
                result[header] = X.col_letter(known[header.lower()])
                continue
            ref = f"{X.col_letter(next_col)}{header_row}"
            self._check_new_header(sh, table, header, next_col, ref)
            template = X.col_number(like[header]) if like and header in like else old_edge
            if template >= 1:
                sh.like[next_col] = template
            sh.own_headers.add((header_row, next_col))
            self.set(sh.name, ref, header)
            if table is not None:
                self._extend_table(table, header)
            sh.new_widths[next_col] = self._new_width(sh, header_row, template, header,
                                                      (min_widths or {}).get(header, 0.0))
            known[header.lower()] = next_col
            result[header] = X.col_letter(next_col)
            next_col += 1
        if old_edge >= 1 and next_col - 1 > old_edge:
            r1, r2 = (table.r1, table.r2) if table is not None else (
                header_row, max([header_row, *sh.row_nums]))
            sh.grow_edge(old_edge, next_col - 1, r1, r2)
        return result

    def _header_columns(self, sh: SheetPart, header_row: int
                        ) -> tuple[Table | None, dict[str, int], int]:
        """The table whose header is on `header_row` (if any), the known headers (folded) ->
        column, and the first free column right of them."""
        table = next((t for t in sh.tables if t.header_rows and t.r1 == header_row), None)
        if table is not None:
            if table.query:
                raise WritebackError(self._where(sh.name, f"{header_row}:{header_row}"),
                                     f"table {table.name!r} is filled by an external query",
                                     "add the columns in Excel or use another sheet")
            known = {n.lower(): table.c1 + i for i, n in enumerate(table.columns)}
            return table, known, table.c2 + 1
        values = self.row_values(sh.name, header_row)
        known = {}
        for letter, v in values.items():
            if isinstance(v, str):
                known.setdefault(v.strip().lower(), X.col_number(letter))
        return None, known, max((X.col_number(c) for c in values), default=0) + 1

    def _check_new_header(self, sh: SheetPart, table: Table | None, header: str, col: int,
                          ref: str) -> None:
        where = self._where(sh.name, ref)
        if not header or header != header.strip() or re.search(r"[\x00-\x1f]", header) \
                or len(header) > 255:
            raise WritebackError(where, f"{header!r} is not a usable column header",
                                 "use 1-255 characters without line breaks or edge spaces")
        if col > X.MAX_COL:
            raise WritebackError(where, "the sheet has no columns left", "use another sheet")
        if self.get(sh.name, ref) not in (None, ""):
            raise WritebackError(where, "the cell where the new header would go is not "
                                 "empty", "make room right of the header row, or add the "
                                 "column in Excel")
        if table is not None:
            self._check_table_room(sh, table, col, where)

    def _new_width(self, sh: SheetPart, header_row: int, template: int, header: str,
                   minimum: float) -> float:
        """The width of a new column: its template's (Excel's default 8.43 when unset), at
        least `minimum`, and wide enough for the header unless the header cell wraps."""
        width = max((sh.col_width(template) if template >= 1 else None) or 8.43, minimum)
        cell = sh.cell(sh.row(header_row), template) if template >= 1 else None
        style = int(cell.attrs.get("s", "0")) if cell is not None else 0
        if not (style and self.styles_part and self._styles_obj().wraps(style)):
            width = max(width, round(len(header) * 1.1 + 2, 1))
        return width

    def append_rows(self, sheet: str, rows: list[list[CellValue]],
                    styles: Sequence[int | None] = ()) -> int:
        """Append `rows` (values from column A) after the sheet's last used row; return the
        number of the first appended row. None leaves a cell empty; `styles` gives the cell
        format of each column (None: the usual one). A table ending at the last used row
        grows to cover the new rows."""
        sh = self._sheet(sheet)
        first = self.last_row(sh.name) + 1
        if first + len(rows) - 1 > X.MAX_ROW:
            raise WritebackError(f"{self.where}, sheet {sh.name!r}",
                                 f"the sheet has no room for {len(rows)} more row(s)",
                                 "archive old rows to another workbook")
        for i, values in enumerate(rows):
            if len(values) > X.MAX_COL:
                raise WritebackError(f"{self.where}, sheet {sh.name!r}",
                                     "a row has more than 16,384 values", "write fewer values")
            for c, value in enumerate(values, start=1):
                if value is not None:
                    style = styles[c - 1] if c <= len(styles) else None
                    self.set(sh.name, f"{X.col_letter(c)}{first + i}", value, style)
        if rows:
            self._grow_table_rows(sh, first, first + len(rows) - 1)
        return first

    def cell_format(self, *, date: str | None = None, bold: bool = False,
                    wrap: bool = False) -> int:
        """The index of a cell format (derived from the workbook's default one) showing dates
        as `date` (a format code such as ``yyyy-mm-dd``), bold and/or wrapped."""
        styles = self._styles_obj()
        return styles.derived(0, fmt_id=styles.fmt_id(date) if date else None, bold=bold,
                              wrap=wrap)

    def save(self, dest: Path) -> None:
        """Write the patched package to `dest` (use `atomic_replace` to replace the original)."""
        self._widen_filter_names()
        changed: dict[str, Iterable[bytes]] = {}
        added: dict[str, bytes] = {}
        formulas = self.has_calc_chain
        for sheet in {id(s): s for s in self._sheets.values()}.values():
            if sheet.part in self._parts_added:
                added[sheet.part] = b"".join(sheet.render())
            elif sheet.edits:
                changed[sheet.part] = sheet.render()
            formulas = formulas or sheet.has_formulas()
        if not formulas:
            for name in self.sheet_parts:
                if name not in self._sheets:
                    formulas = self._sheet(name).has_formulas()
                    if formulas:
                        break
        if self._styles is not None and self._styles.changed:
            changed[self._styles_obj_part()] = [self._styles.render()]
        for name, text in self._tables_changed.items():
            changed[name] = [text.encode("utf-8")]
        for name, text in self._parts_changed.items():
            changed[name] = [text.encode("utf-8")]
        for name, data in self._parts_added.items():
            added.setdefault(name, data)
        if formulas and (changed or added):
            wb_name = self.zip.find(self.wb_part)
            assert wb_name is not None
            wb = full_calc_on_load(self._text(wb_name))
            if wb is not None:
                changed[wb_name] = [wb]
        with open(dest, "wb") as out:
            self.zip.write(out, changed, added)


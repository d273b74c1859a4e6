"""Excel tables (ListObjects) of a package: growing one, and giving a new sheet one.

`TableEditor` widens a table by a column (`_extend_table`: its range, autoFilter and
tableColumns), lengthens it when rows are appended right below it (`_grow_table_rows`), and
adds a table to a worksheet it creates itself (`_new_table`: a new ``xl/tables/tableN.xml``,
the sheet's relationships part and one ``[Content_Types].xml`` Override). Every other part
stays byte-identical. `totals_rows` names the rows of a sheet that are tables' totals rows
(``totalsRowCount``), which a reader must not take for data.
"""

from __future__ import annotations

import posixpath
import re

from ftc_office.errors import WritebackError
from ftc_office.xlsx import cells as X
from ftc_office.xlsx.layout import widen_filter_names
from ftc_office.xlsx.parts import MAIN_NS, SheetPart, Table
from ftc_office.xlsx.sheets import SheetAdder, _insert_before_close
from ftc_office.xlsx.workbook import REL_NS, WorkbookPackage

TABLE_REL = f"{REL_NS}/table"
TABLE_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.table+xml"
PKG_REL_NS = "http://schemas.openxmlformats.org/package/2006/relationships"
_REF_RE = r"""(\bref\s*=\s*["'])([^"']*)(["'])"""


def totals_rows(pkg: WorkbookPackage, sheet: str) -> set[int]:
    """The row numbers (1-based) of the totals rows of the tables on `sheet`: the last
    ``totalsRowCount`` rows of each table's range, whether or not a label says "Total"."""
    part = pkg.zip.find(pkg.sheet_parts.get(sheet, ""))
    if part is None:
        return set()
    out: set[int] = set()
    for typ, tpart in pkg._rels(pkg._rels_of(part)).values():
        if typ.endswith("/table") and pkg.zip.find(tpart) is not None:
            try:
                table = pkg._table(tpart)
            except WritebackError:
                continue  # a table part write-back refuses is reported there, not here
            out.update(range(table.r2 - table.totals_rows + 1, table.r2 + 1))
    return out


class TableEditor(SheetAdder):
    """A workbook package whose tables can grow, and whose new sheets can have one."""

    def _check_table_room(self, sh: SheetPart, table: Table, col: int, where: str) -> None:
        for other in sh.tables:
            if other is not table and other.c1 <= col <= other.c2 and not (
                    other.r2 < table.r1 or other.r1 > table.r2):
                raise WritebackError(where, f"table {table.name!r} cannot grow: table "
                                     f"{other.name!r} is in the way", "move one of the tables")
        for r1, c1, r2, c2 in sh.merges:
            if c1 <= col <= c2 and not (r2 < table.r1 or r1 > table.r2):
                raise WritebackError(where, f"table {table.name!r} cannot grow: merged cells "
                                     f"{X.format_range(r1, c1, r2, c2)} are in the way",
                                     "unmerge them in Excel")

    def _widen_filter_names(self) -> None:
        """Widen the hidden ``_xlnm._FilterDatabase`` names of sheets whose autoFilter
        `add_columns` widened (a pending change of workbook.xml)."""
        names = self._all_sheet_names()
        for sh in {id(s): s for s in self._sheets.values()}.values():
            if not sh.widen or sh.name not in names:
                continue
            wb_name = self.zip.find(self.wb_part)
            assert wb_name is not None
            text = widen_filter_names(self._text(wb_name), names.index(sh.name), sh.widen)
            if text is not None:
                self._parts_changed[wb_name] = text

    def _table_text(self, table: Table) -> tuple[str, str]:
        """(stored name, current text) of a table part."""
        if table.part in self._parts_added:
            return table.part, self._parts_added[table.part].decode("utf-8")
        name = self.zip.find(table.part)
        assert name is not None
        return name, self._tables_changed.get(name) or self.zip.read(name).decode("utf-8")

    def _store_table(self, name: str, text: str) -> None:
        if name in self._parts_added:
            self._parts_added[name] = text.encode("utf-8")
        else:
            self._tables_changed[name] = text

    def _set_table_range(self, text: str, r2: int, c2: int) -> str:
        """A table part's text with its ref and autoFilter ref ending at (r2, c2)."""
        def widen(m: re.Match[str]) -> str:
            rng = X.parse_range(m.group(2))
            assert rng is not None
            return f"{m.group(1)}{X.format_range(rng[0], rng[1], r2, c2)}{m.group(3)}"

        root = re.search(r"<(?:([A-Za-z_][\w.-]*):)?table\b[^>]*>", text)
        assert root is not None
        head = re.sub(_REF_RE, widen, root.group(0), count=1)
        text = text[:root.start()] + head + text[root.end():]
        p = f"{root.group(1)}:" if root.group(1) else ""
        af = re.search(rf"<{re.escape(p)}autoFilter\b[^>]*>", text)
        if af is not None:
            tag = re.sub(_REF_RE, widen, af.group(0), count=1)
            text = text[:af.start()] + tag + text[af.end():]
        return text

    def _extend_table(self, table: Table, header: str) -> None:
        name, text = self._table_text(table)
        new_c2 = table.c2 + 1
        text = self._set_table_range(text, table.r2, new_c2)
        root = re.search(r"<(?:([A-Za-z_][\w.-]*):)?table\b", text)
        p = f"{root.group(1)}:" if root and root.group(1) else ""
        ep = re.escape(p)
        cols = re.search(rf"<{ep}tableColumns\b([^>]*)>(.*?)</{ep}tableColumns>", text, re.S)
        if cols is None:
            raise self._fail(f"table part {table.part} has no tableColumns")
        ids = [int(i) for i in re.findall(r"""\bid\s*=\s*["'](\d+)""", cols.group(2))]
        attrs = X.parse_attrs(cols.group(1))
        attrs["count"] = str(len(table.columns) + 1)
        new = (f"<{p}tableColumns{X.render_attrs(attrs)}>{cols.group(2)}"
               f'<{p}tableColumn id="{max(ids, default=0) + 1}" name="{X.escape_attr(header)}"/>'
               f"</{p}tableColumns>")
        text = text[:cols.start()] + new + text[cols.end():]
        self._store_table(name, text)
        table.c2 = new_c2
        table.columns.append(header)

    def _grow_table_rows(self, sh: SheetPart, first: int, last: int) -> None:
        """Lengthen each table without a totals row that reaches down to row `first` - 1 (or
        past it) and starts in column A, so rows appended from `first` to `last` are in it."""
        for table in sh.tables:
            if table.totals_rows or table.query or table.c1 != 1 or table.r2 < first - 1 \
                    or table.r2 >= last:
                continue
            name, text = self._table_text(table)
            self._store_table(name, self._set_table_range(text, last, table.c2))
            table.r2 = last

    def ensure_table_sheet(self, name: str, headers: list[str], widths: list[float],
                           styles: list[int | None], header_style: int,
                           table_style: str) -> None:
        """`ensure_sheet`, and when the sheet is new: its header cells in `header_style`,
        its columns in `styles` (new cells take them) and an Excel table over it
        (`table_style`, autoFilter) that grows as rows are appended."""
        if not self.ensure_sheet(name, headers, widths, styles, header_style):
            return
        sh = self._sheets[name]
        parts = self._new_table(sh, headers, table_style)
        text = sh.text.replace("</worksheet>", parts + "</worksheet>")
        new = SheetPart(sh.name, sh.part, text.encode("utf-8"), self.where)
        new.tables = sh.tables
        self._sheets[name] = new

    def _new_table(self, sh: SheetPart, headers: list[str], style: str) -> str:
        """Give sheet `sh` (a sheet this package adds) a table over its header row and one
        row below; return the ``<tableParts>`` element the sheet XML must carry."""
        taken = {m.name.lower() for m in self.zip.members} | {n.lower() for n in
                                                               self._parts_added}
        tables = posixpath.join(posixpath.dirname(self.wb_part), "tables")
        n = 1
        while posixpath.join(tables, f"table{n}.xml").lower() in taken:
            n += 1
        part = posixpath.join(tables, f"table{n}.xml")
        ids: list[int] = [0]
        names: set[str] = set()
        for member in self.zip.members:
            if re.search(r"(?i)(^|/)tables/[^/]+\.xml$", member.name):
                head = self.zip.read(member.name)[:2000].decode("utf-8", "replace")
                ids += [int(i) for i in re.findall(r"""<(?:\w+:)?table\b[^>]*?\bid=["'](\d+)""",
                                                    head)]
                names.update(v.casefold() for v in re.findall(
                    r"""\b(?:name|displayName)=["']([^"']*)""", head))
        base = re.sub(r"\W", "_", sh.name)
        tname, k = base, 2
        while tname.casefold() in names:
            tname, k = f"{base}{k}", k + 1
        ref = X.format_range(1, 1, 2, len(headers))
        columns = "".join(f'<tableColumn id="{i}" name="{X.escape_attr(h)}"/>'
                          for i, h in enumerate(headers, start=1))
        self._parts_added[part] = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<table xmlns="{MAIN_NS}" id="{max(ids) + 1}" name="{tname}" '
            f'displayName="{tname}" ref="{ref}" headerRowCount="1"><autoFilter ref="{ref}"/>'
            f'<tableColumns count="{len(headers)}">{columns}</tableColumns>'
            f'<tableStyleInfo name="{X.escape_attr(style)}" showFirstColumn="0" '
            'showLastColumn="0" showRowStripes="1" showColumnStripes="0"/></table>').encode()
        folder, base_name = posixpath.split(sh.part)
        self._parts_added[posixpath.join(folder, "_rels", f"{base_name}.rels")] = (
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            f'<Relationships xmlns="{PKG_REL_NS}"><Relationship Id="rId1" Type="{TABLE_REL}" '
            f'Target="../tables/table{n}.xml"/></Relationships>').encode()
        ct_name = self.zip.find("[Content_Types].xml")
        assert ct_name is not None
        self._parts_changed[ct_name] = _insert_before_close(
            self._text(ct_name), "Types",
            f'<{{p}}Override PartName="/{part}" ContentType="{TABLE_TYPE}"/>', self._fail)
        sh.tables.append(Table(part, tname, 1, 1, 2, len(headers), 1, 0, list(headers), False))
        return '<tableParts count="1"><tablePart r:id="rId1"/></tableParts>'

"""The layout edits a new column brings to a worksheet, as text splices.

When `XlsxPatcher.add_columns` adds columns at the right edge of a table, two things outside
``sheetData`` follow, so the sheet looks as if a careful person had added them:

- the new columns get a width (a ``<col>`` element; an existing element spanning the column
  is split so its other columns keep their width and style);
- ranges that ended at the table's old right edge and span several columns (row-wide
  conditional formats, data validations, the sheet's own autoFilter), on rows that overlap
  the table, now end at its new edge. A range on one column only stays as it is: it is that
  column's rule. Both plain ``sqref`` attributes and the ``<xm:sqref>`` of x14 extensions
  are widened.

Every other byte of the sheet is kept.
"""

from __future__ import annotations

import re

from ftc_office.xlsx import cells as X

Splice = tuple[int, int, str]  # (start, end, replacement) in the sheet text


def layout_splices(text: str, p: str, widths: dict[int, float],
                   widen: dict[int, tuple[int, int, int]]) -> list[Splice]:
    """The splices giving columns their `widths` and widening ranges per `widen`
    (original right edge -> (first row, last row, new edge))."""
    out: list[Splice] = []
    if widths:
        out.append(_cols_splice(text, p, widths))
    if widen:
        out.extend(_widen_splices(text, p, widen))
    return out


def _col_xml(p: str, lo: int, hi: int, attrs: dict[str, str]) -> str:
    return f"<{p}col{X.render_attrs({**attrs, 'min': str(lo), 'max': str(hi)})}/>"


def _cols_splice(text: str, p: str, widths: dict[int, float]) -> Splice:
    ep = re.escape(p)
    block = re.search(rf"<{ep}cols\b[^>]*>(.*?)</{ep}cols>", text, re.S)
    new_cols = {c: {"width": f"{w:g}", "customWidth": "1"} for c, w in sorted(widths.items())}
    if block is None:
        sd = re.search(rf"<{ep}sheetData\b", text)
        assert sd is not None
        inner = "".join(_col_xml(p, c, c, a) for c, a in new_cols.items())
        return sd.start(), sd.start(), f"<{p}cols>{inner}</{p}cols>"
    parts: list[str] = []
    pos = block.start(1)
    pending = dict(new_cols)
    for m in re.finditer(rf"<{ep}col\b([^>]*?)/?>(?:</{ep}col>)?", block.group(1)):
        start, end = block.start(1) + m.start(), block.start(1) + m.end()
        attrs = X.parse_attrs(m.group(1))
        lo, hi = int(attrs.pop("min", "0")), int(attrs.pop("max", "0"))
        for c in [c for c in pending if c < lo]:
            parts.append(text[pos:start] + _col_xml(p, c, c, pending.pop(c)))
            pos = start
        inside = [c for c in pending if lo <= c <= hi]
        if not inside:
            continue
        pieces, at = [], lo
        for c in inside:
            if at < c:
                pieces.append(_col_xml(p, at, c - 1, attrs))
            pieces.append(_col_xml(p, c, c, {**attrs, **pending.pop(c)}))
            at = c + 1
        if at <= hi:
            pieces.append(_col_xml(p, at, hi, attrs))
        parts.append(text[pos:start] + "".join(pieces))
        pos = end
    parts.append(text[pos:block.end(1)])
    parts.extend(_col_xml(p, c, c, a) for c, a in pending.items())
    return block.start(1), block.end(1), "".join(parts)


def _widen_sqref(value: str, widen: dict[int, tuple[int, int, int]], single: bool) -> str:
    """A space-separated list of ranges with those that ended at an old edge widened."""
    out = []
    for ref in value.split():
        rng = X.parse_range(ref)
        if rng is not None and rng[3] in widen and (single or rng[1] < rng[3]):
            r1, r2, edge = widen[rng[3]]
            if rng[0] <= r2 and rng[2] >= r1:
                ref = X.format_range(rng[0], rng[1], rng[2], edge)
        out.append(ref)
    return " ".join(out)


def _widen_splices(text: str, p: str, widen: dict[int, tuple[int, int, int]]
                   ) -> list[Splice]:
    ep = re.escape(p)
    out: list[Splice] = []
    sd_end = text.find("</" + p + "sheetData>")
    tail = max(sd_end, 0)
    attr_re = re.compile(rf"<{ep}(conditionalFormatting|dataValidation|autoFilter)\b[^>]*?"
                         r"""\b(sqref|ref)\s*=\s*["']([^"']*)["']""")
    for m in attr_re.finditer(text, tail):
        if (m.group(1) == "autoFilter") != (m.group(2) == "ref"):
            continue
        new = _widen_sqref(m.group(3), widen, m.group(1) == "autoFilter")
        if new != m.group(3):
            out.append((m.start(3), m.end(3), new))
    ext = text.find(f"<{p}extLst", tail)
    if ext >= 0:
        for m in re.finditer(r"<((?:[A-Za-z_][\w.-]*:)?)sqref>([^<]*)</\1sqref>", text[ext:]):
            new = _widen_sqref(m.group(2), widen, False)
            if new != m.group(2):
                out.append((ext + m.start(2), ext + m.end(2), new))
    return out


_DEFINED_NAME = re.compile(r"(<(?:[A-Za-z_][\w.-]*:)?definedName\b([^>]*)>)([^<]*)(<)")


def widen_filter_names(wb_text: str, sheet_index: int,
                       widen: dict[int, tuple[int, int, int]]) -> str | None:
    """workbook.xml with the sheet's ``_xlnm._FilterDatabase`` (the name Excel keeps beside
    a sheet's autoFilter) widened like the autoFilter itself, or None when nothing changes."""
    def repl(m: re.Match[str]) -> str:
        attrs = X.parse_attrs(m.group(2))
        if attrs.get("name") != "_xlnm._FilterDatabase" or \
                attrs.get("localSheetId") != str(sheet_index):
            return m.group(0)
        where, bang, ref = m.group(3).rpartition("!")
        rng = X.parse_range(ref)
        if not bang or rng is None or rng[3] not in widen or rng[1] >= rng[3]:
            return m.group(0)
        first, _last, edge = widen[rng[3]]
        if rng[0] > _last or rng[2] < first:
            return m.group(0)
        new = (f"${X.col_letter(rng[1])}${rng[0]}:${X.col_letter(edge)}${rng[2]}")
        return f"{m.group(1)}{where}!{new}{m.group(4)}"

    text = _DEFINED_NAME.sub(repl, wb_text)
    return None if text == wb_text else text

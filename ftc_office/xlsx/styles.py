"""styles.xml for a surgical write-back: which cell formats show dates, and derived formats.

`Styles` reads the number formats, fonts and cell formats (``cellXfs``) of a workbook and
adds what a write-back needs, appending only: a copy of a cell format with another number
format, a bold font or wrapped text (`derived`), and a custom number format such as
``yyyy-mm-dd`` when the workbook has none (`fmt_id`). What the workbook already holds is
reused, never appended again: a cell format or a font equal to the one needed (same
attributes, any order, same children) is returned as is, so every stamping run of a tracker
leaves styles.xml as the first one did. Existing entries keep their indexes and bytes;
`render` splices the added ones and the updated counts into the original text.
"""

from __future__ import annotations

import re

from ftc_office.errors import WritebackError
from ftc_office.xlsx import cells as X

FIX_RESAVE = "open it in Excel, save it as an Excel Workbook (.xlsx) and run again"
ISO_DATE = "yyyy-mm-dd"


class Styles:
    """styles.xml: date formats, and cell formats derived from existing ones."""

    def __init__(self, text: str, where: str) -> None:
        self.text = text
        self.where = where
        root = re.search(r"<(?:([A-Za-z_][\w.-]*):)?styleSheet\b[^>]*>", text)
        if root is None:
            raise WritebackError(where, "styles.xml has no styleSheet", FIX_RESAVE)
        self.root_end = root.end()
        self.p = f"{root.group(1)}:" if root.group(1) else ""
        p = re.escape(self.p)
        self.formats: dict[int, str] = {}
        for m in re.finditer(rf"<{p}numFmt\b([^>]*?)/?>", text):
            a = X.parse_attrs(m.group(1))
            if "numFmtId" in a:
                self.formats[int(a["numFmtId"])] = X.xml_unescape(a.get("formatCode", ""))
        self.numfmts_match = re.search(rf"<{p}numFmts\b([^>]*?)(?:/>|>(.*?)</{p}numFmts>)",
                                       text, re.S)
        xfs = re.search(rf"<{p}cellXfs\b([^>]*)>(.*?)</{p}cellXfs>", text, re.S)
        if xfs is None:
            raise WritebackError(where, "styles.xml has no cell formats (cellXfs)", FIX_RESAVE)
        self.xfs_match = xfs
        self.xfs = [m.group(0) for m in re.finditer(
            rf"<{p}xf\b[^>]*?(?:/>|>.*?</{p}xf>)", xfs.group(2), re.S)]
        self.fonts_match = re.search(rf"<{p}fonts\b([^>]*)>(.*?)</{p}fonts>", text, re.S)
        self.fonts = [m.group(0) for m in re.finditer(
            rf"<{p}font\b[^>]*?(?:/>|>.*?</{p}font>)",
            self.fonts_match.group(2) if self.fonts_match else "", re.S)]
        self.added: list[str] = []
        self._is_date: dict[int, bool] = {}
        self.added_fonts: list[str] = []
        self.added_fmts: dict[int, str] = {}
        self.clones: dict[tuple[int, int | None, bool, bool], int] = {}
        self.bold_fonts: dict[int, int] = {}
        self.changed = False

    def _xf(self, s: int) -> str:
        n = len(self.xfs)
        if 0 <= s < n:
            return self.xfs[s]
        return self.added[s - n] if n <= s < n + len(self.added) else f"<{self.p}xf/>"

    def num_fmt(self, s: int) -> int:
        """The numFmtId of cell format `s` (0 if unknown)."""
        m = re.search(r"""\bnumFmtId\s*=\s*["'](\d+)""", self._xf(s))
        return int(m.group(1)) if m else 0

    def is_date(self, s: int) -> bool:
        """Whether cell format `s` shows a date (formats are only ever added, so the answer
        for an index is kept)."""
        known = self._is_date.get(s)
        if known is None:
            fid = self.num_fmt(s)
            known = X.is_date_format(fid, self.formats.get(fid))
            if 0 <= s < len(self.xfs) + len(self.added):
                self._is_date[s] = known
        return known

    def wraps(self, s: int) -> bool:
        """Whether cell format `s` wraps its text."""
        return re.search(r"""\bwrapText\s*=\s*["'](?:1|true)["']""", self._xf(s)) is not None

    def fmt_id(self, code: str) -> int:
        """The id of the number format `code`, adding a custom one when the workbook has none."""
        for fid, have in self.formats.items():
            if have == code:
                return fid
        fid = max([163, *self.formats]) + 1
        self.formats[fid] = code
        self.added_fmts[fid] = code
        self.changed = True
        return fid

    def with_date_format(self, s: int, fmt_id: int) -> int:
        """Index of a copy of cell format `s` whose number format is `fmt_id`."""
        return self.derived(s, fmt_id=fmt_id)

    def derived(self, s: int, *, fmt_id: int | None = None, bold: bool = False,
                wrap: bool = False) -> int:
        """Index of a copy of cell format `s` with number format `fmt_id` (when given), a
        bold font and/or wrapped text; the same request returns the same index."""
        key = (s, fmt_id, bold, wrap)
        if key in self.clones:
            return self.clones[key]
        base = self._xf(s)
        tag_end = base.index(">") + 1
        tag = base[:tag_end]
        self_closing = tag.endswith("/>")
        body = "" if self_closing else base[tag_end:-len(f"</{self.p}xf>")]
        attrs = X.parse_attrs(tag[len(self.p) + 3:])
        for name in ("numFmtId", "fontId", "fillId", "borderId", "xfId"):
            attrs.setdefault(name, "0")
        if fmt_id is not None:
            attrs["numFmtId"] = str(fmt_id)
            attrs["applyNumberFormat"] = "1"
        if bold:
            attrs["fontId"] = str(self._bold_font(int(attrs["fontId"])))
            attrs["applyFont"] = "1"
        if wrap:
            body = _with_wrap(body, self.p)
            attrs["applyAlignment"] = "1"
        xml = f"<{self.p}xf{X.render_attrs(attrs)}"
        xml = f"{xml}>{body}</{self.p}xf>" if body else f"{xml}/>"
        index = _find_same(self.xfs + self.added, xml, self.p, _XF_DEFAULTS)
        if index is None:
            self.added.append(xml)
            index = len(self.xfs) + len(self.added) - 1
        self.clones[key] = index
        self.changed = self.changed or index >= len(self.xfs)
        return index

    def _bold_font(self, font_id: int) -> int:
        if font_id in self.bold_fonts:
            return self.bold_fonts[font_id]
        fonts = self.fonts + self.added_fonts
        if self.fonts_match is None:
            raise WritebackError(self.where, "styles.xml has no fonts", FIX_RESAVE)
        font = fonts[font_id] if 0 <= font_id < len(fonts) else f"<{self.p}font/>"
        if re.search(rf"<{re.escape(self.p)}b\b(?![^>]*\bval\s*=\s*[\"'](?:0|false))", font):
            return font_id
        open_end = font.index(">") + 1
        bold = f"<{self.p}b/>"
        if font[:open_end].endswith("/>"):
            new = f"{font[:open_end - 2].rstrip()}>{bold}</{self.p}font>"
        else:
            new = font[:open_end] + bold + font[open_end:]
        index = _find_same(fonts, new, self.p, {})
        if index is None:
            self.added_fonts.append(new)
            index = len(fonts)
        self.bold_fonts[font_id] = index
        return index

    def render(self) -> bytes:
        """styles.xml with the added formats, fonts and cell formats and updated counts."""
        splices: list[tuple[int, int, str]] = []
        if self.added_fmts:
            new_fmts = "".join(f'<{self.p}numFmt numFmtId="{fid}" formatCode="'
                               f'{X.escape_attr(code)}"/>' for fid, code in
                               self.added_fmts.items())
            m = self.numfmts_match
            if m is None:
                splices.append((self.root_end, self.root_end,
                                f'<{self.p}numFmts count="{len(self.added_fmts)}">{new_fmts}'
                                f"</{self.p}numFmts>"))
            else:
                attrs = X.parse_attrs(m.group(1))
                have = len(re.findall(rf"<{re.escape(self.p)}numFmt\b", m.group(2) or ""))
                attrs["count"] = str(have + len(self.added_fmts))
                splices.append((m.start(), m.end(), f"<{self.p}numFmts{X.render_attrs(attrs)}>"
                                f"{m.group(2) or ''}{new_fmts}</{self.p}numFmts>"))
        if self.added_fonts and self.fonts_match is not None:
            m = self.fonts_match
            attrs = X.parse_attrs(m.group(1))
            attrs["count"] = str(len(self.fonts) + len(self.added_fonts))
            splices.append((m.start(), m.end(), f"<{self.p}fonts{X.render_attrs(attrs)}>"
                            f"{m.group(2)}{''.join(self.added_fonts)}</{self.p}fonts>"))
        m = self.xfs_match
        attrs = X.parse_attrs(m.group(1))
        attrs["count"] = str(len(self.xfs) + len(self.added))
        splices.append((m.start(), m.end(), f"<{self.p}cellXfs{X.render_attrs(attrs)}>"
                        f"{m.group(2)}{''.join(self.added)}</{self.p}cellXfs>"))
        out, pos = [], 0
        for start, end, new in sorted(splices):
            out += [self.text[pos:start], new]
            pos = end
        out.append(self.text[pos:])
        return "".join(out).encode("utf-8")


#: the attributes an ``<xf>`` has when they are left out
_XF_DEFAULTS = {"numFmtId": "0", "fontId": "0", "fillId": "0", "borderId": "0", "xfId": "0"}
_TRUE_FALSE = {"true": "1", "false": "0"}


def _element_key(xml: str, p: str, defaults: dict[str, str]) -> tuple[object, ...]:
    """What an element means, whatever its spelling: its attributes (defaults filled in,
    true/false as 1/0, any order) and each child's, in order, with whitespace between
    elements ignored."""
    out: list[object] = []
    for m in re.finditer(r"<([A-Za-z_][\w.:-]*)\b([^>]*?)/?>", xml):
        attrs = {k: _TRUE_FALSE.get(v, v) for k, v in X.parse_attrs(m.group(2)).items()}
        if not out:
            attrs = {**defaults, **attrs}
        out.append((m.group(1).removeprefix(p), tuple(sorted(attrs.items()))))
    return tuple(out)


def _find_same(existing: list[str], xml: str, p: str, defaults: dict[str, str]) -> int | None:
    """The index of the first element of `existing` that means the same as `xml`, if any."""
    key = _element_key(xml, p, defaults)
    return next((i for i, have in enumerate(existing)
                 if _element_key(have, p, defaults) == key), None)


def _with_wrap(body: str, p: str) -> str:
    """An xf's inner XML with ``wrapText="1"`` on its alignment (added when it has none)."""
    m = re.search(rf"<{re.escape(p)}alignment\b([^>]*?)(/?)>", body)
    if m is None:
        return f'<{p}alignment vertical="top" wrapText="1"/>' + body
    attrs = X.parse_attrs(m.group(1))
    attrs["wrapText"] = "1"
    return body[:m.start()] + f"<{p}alignment{X.render_attrs(attrs)}{m.group(2)}>" + \
        body[m.end():]

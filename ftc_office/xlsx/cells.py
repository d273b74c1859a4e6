"""Small, pure helpers for patching SpreadsheetML text: cell references, cell-text escaping,
attribute handling, date serials and date number formats.

Everything here works on text fragments; nothing here parses a whole part. The string
escaping follows ECMA-376 Part 1, 22.4.2.4 (``ST_Xstring``): characters XML cannot carry are
written as ``_xHHHH_`` and a literal ``_xHHHH_`` in the text gets its underscore written as
``_x005F_`` so a reader does not decode it.
"""

from __future__ import annotations

import datetime as dt
import functools
import re

CellValue = str | int | float | dt.date | dt.datetime | None

MAX_ROW = 1_048_576
MAX_COL = 16_384
MAX_CELL_CHARS = 32_767

# characters a cell cannot store: lone surrogates, U+FFFE, U+FFFF
UNSTORABLE_RE = re.compile("[\ud800-\udfff\ufffe\uffff]")
_REF_RE = re.compile(r"^\$?([A-Za-z]{1,3})\$?([1-9][0-9]{0,6})$")
_ATTR_RE = re.compile(r"""([\w:.-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CTRL = "\x00-\x08\x0b\x0c\x0d\x0e-\x1f"
_CTRL_RE = re.compile(f"[{_CTRL}]")
# A literal "_xHHHH_" in the text, or "_xHHHH" followed by a character we will encode (which
# starts with "_"): its underscore must be escaped, or a reader would decode it.
_LITERAL_ESCAPE_RE = re.compile(f"_(?=x[0-9A-Fa-f]{{4}}(?:_|[{_CTRL}]))")
_DECODE_RE = re.compile(r"_x([0-9A-Fa-f]{4})_")
_ENTITY_RE = re.compile(r"&(#x[0-9A-Fa-f]+|#[0-9]+|amp|lt|gt|quot|apos);")
_ENTITIES = {"amp": "&", "lt": "<", "gt": ">", "quot": '"', "apos": "'"}
_BUILTIN_DATE_FORMATS = frozenset([*range(14, 23), *range(27, 37), *range(45, 48),
                                   *range(50, 59)])
_FORMAT_NOISE_RE = re.compile(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.')


@functools.lru_cache(maxsize=4096)
def col_letter(col: int) -> str:
    """Column number (1-based) to letters: 1 -> A, 28 -> AB (the one implementation)."""
    letters = ""
    while col:
        col, rem = divmod(col - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


@functools.lru_cache(maxsize=4096)
def col_number(letters: str) -> int:
    """Column letters to number (1-based): A -> 1, AB -> 28 (case-insensitive)."""
    n = 0
    for ch in letters.upper():
        n = n * 26 + ord(ch) - 64
    return n


class _ColNumbers(dict[str, int]):
    """Column letters -> number, computed once per distinct spelling (a sheet has few)."""

    def __missing__(self, letters: str) -> int:
        n = self[letters] = col_number(letters)
        return n


COL_NUMBERS = _ColNumbers()  # COL_NUMBERS["AB"] == 28


def parse_ref(ref: str) -> tuple[int, int] | None:
    """An A1 reference to (row, col), or None if it is not a valid single-cell reference."""
    m = _REF_RE.match(ref.strip())
    if not m:
        return None
    row, col = int(m.group(2)), COL_NUMBERS[m.group(1)]
    if row > MAX_ROW or col > MAX_COL:
        return None
    return row, col


def parse_range(ref: str) -> tuple[int, int, int, int] | None:
    """An A1 range ("B2:D9" or "B2") to (row1, col1, row2, col2), or None if malformed."""
    first, _, last = ref.strip().partition(":")
    a = parse_ref(first)
    b = parse_ref(last) if last else a
    if a is None or b is None:
        return None
    return min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1])


def format_range(r1: int, c1: int, r2: int, c2: int) -> str:
    """(row1, col1, row2, col2) to "A1:B2" (or "A1" for one cell)."""
    a = f"{col_letter(c1)}{r1}"
    b = f"{col_letter(c2)}{r2}"
    return a if a == b else f"{a}:{b}"


def sheet_ref(sheet: str, ref: str) -> str:
    """Sheet!REF as Excel writes it, quoting sheet names that need it."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_.]*", sheet):
        return f"{sheet}!{ref}"
    return "'" + sheet.replace("'", "''") + f"'!{ref}"


def parse_attrs(tag: str) -> dict[str, str]:
    """The attributes of one start tag, in order, with XML entities decoded."""
    return {m.group(1): xml_unescape(m.group(2) if m.group(2) is not None else m.group(3))
            for m in _ATTR_RE.finditer(tag)}


def render_attrs(attrs: dict[str, str]) -> str:
    """Attributes back to text (leading space included), values escaped for double quotes."""
    return "".join([f' {k}="{v if v.isalnum() else escape_attr(v)}"' for k, v in attrs.items()])


def escape_attr(value: str) -> str:
    """Escape a value for a double-quoted XML attribute."""
    value = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    if '"' in value or "\n" in value or "\r" in value or "\t" in value:
        value = value.replace('"', "&quot;").replace("\n", "&#10;").replace(
            "\r", "&#13;").replace("\t", "&#9;")
    return value


def xml_unescape(text: str) -> str:
    """Decode the five XML entities and numeric character references."""
    if "&" not in text:
        return text

    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name.startswith("#x"):
            return chr(int(name[2:], 16))
        if name.startswith("#"):
            return chr(int(name[1:]))
        return _ENTITIES[name]

    return _ENTITY_RE.sub(repl, text)


def encode_cell_text(text: str) -> str:
    """Text for a ``<t>`` element: ``_xHHHH_`` escapes, then XML escaping of & < >."""
    if "_" in text:
        text = _LITERAL_ESCAPE_RE.sub("_x005F_", text)
    if _CTRL_RE.search(text):
        text = _CTRL_RE.sub(lambda m: f"_x{ord(m.group(0)):04X}_", text)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


@functools.lru_cache(maxsize=4096)  # a status or a date's text repeats down a column
def inline_string(text: str, p: str = "") -> str:
    """The ``<is>`` element of an inline string cell holding `text` (elements prefixed `p`)."""
    space = ' xml:space="preserve"' if needs_preserve(text) else ""
    return f"<{p}is><{p}t{space}>{encode_cell_text(text)}</{p}t></{p}is>"


def decode_cell_text(text: str) -> str:
    """Inverse of `encode_cell_text` for the content of a ``<t>`` element."""
    return _DECODE_RE.sub(lambda m: chr(int(m.group(1), 16)), xml_unescape(text))


def needs_preserve(text: str) -> bool:
    """Whether a ``<t>`` needs xml:space="preserve" to keep its whitespace."""
    return text != text.strip() or "\n" in text or "\t" in text or "  " in text


def utf16_len(text: str) -> int:
    """Length as Excel counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


CLIPPED_MARK = " […]"


def clip_cell_text(text: str) -> str:
    """`text` cut to fit one cell: at most `MAX_CELL_CHARS` UTF-16 code units (as Excel
    counts, so a character outside the BMP counts twice), ending in `CLIPPED_MARK` when cut.
    A cut never splits a surrogate pair; text that fits is returned as it is."""
    if utf16_len(text) <= MAX_CELL_CHARS:
        return text
    room = MAX_CELL_CHARS - utf16_len(CLIPPED_MARK)
    cut = text.encode("utf-16-le", "surrogatepass")[:room * 2]
    return cut.decode("utf-16-le", "ignore") + CLIPPED_MARK


def excel_serial(value: dt.date, date1904: bool) -> float | int | None:
    """The Excel serial number of a date or naive datetime, or None if Excel cannot show it."""
    if isinstance(value, dt.datetime):
        moment = value
    else:
        moment = dt.datetime(value.year, value.month, value.day)
    base = dt.datetime(1904, 1, 1) if date1904 else dt.datetime(1899, 12, 31)
    delta = moment - base
    days = delta.days
    if days < (0 if date1904 else 1):
        return None
    if not date1904 and days >= 60:
        days += 1  # Excel counts the non-existent 1900-02-29
    if not isinstance(value, dt.datetime) or (delta.seconds == 0 and delta.microseconds == 0):
        return days
    return days + (delta.seconds + delta.microseconds / 1e6) / 86400


def from_serial(serial: float, date1904: bool) -> dt.datetime:
    """The datetime for an Excel serial number (inverse of `excel_serial`)."""
    if date1904:
        base = dt.datetime(1904, 1, 1)
    elif serial < 61:
        base = dt.datetime(1899, 12, 31)
    else:
        base = dt.datetime(1899, 12, 30)
    return base + dt.timedelta(microseconds=round(serial * 86400e6 / 1000) * 1000)


def is_date_format(num_fmt_id: int, format_code: str | None) -> bool:
    """Whether a number format shows a date (built-in id or custom code with d/m/y tokens)."""
    if format_code is None:
        return num_fmt_id in _BUILTIN_DATE_FORMATS
    code = _FORMAT_NOISE_RE.sub("", format_code.split(";")[0]).lower()
    if code.strip() == "general":
        return False
    return any(ch in code for ch in "dmy")

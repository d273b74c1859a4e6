"""A plain-text table laid out as rich lays out `plan`'s, without rich's per-cell machinery.

`plan` prints one rich ``Table`` per step (``box=None``, ``pad_edge=False``, padding (0, 1),
no expand, a left-justified title, header style and colour off). On 10,000 tenants rich took
8 of plan's 12 seconds, nearly all of it rendering 50,000 cells through segments. This
module reproduces the same text for that one configuration:

* column widths by rich's own rule: each column as wide as its widest cell (plus padding),
  clamped to the terminal; when the table is too wide, rich's `Table._collapse_widths`
  narrows the wrappable columns and its `ratio_reduce` the rest (both copied here: importing
  ``rich.table`` alone cost 50 ms);
* a cell that fits its column is its text padded with spaces; a cell that does not is
  wrapped as rich's ``Text.wrap`` wraps it (word wrap by a copy of rich's `divide_line`, "…"
  for a word or a no-wrap cell too long), by rich itself for text with wide characters;
* a row as tall as its tallest cell, a blank line after each table.

Text is measured in terminal cells: by ``len`` when every character is one cell wide in
rich's own table (ASCII, Latin, Greek, Cyrillic at once; others asked of rich once each), by
rich's ``cell_len`` otherwise (CJK and emoji are two cells wide); `lay_out` returns None for
text that is not printable (tabs, line breaks, control characters) or a terminal narrower
than `MIN_WIDTH`, and the caller renders that table with rich. The copied functions are rich
internals: tests/test_textable.py renders generated tables both ways and compares the text.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_WIDTH = 20  # below this, rich's corner cases (padding wider than a column) apply


@dataclass(frozen=True)
class Column:
    """A column: its header and whether its cells may wrap."""

    header: str
    no_wrap: bool = False


def lay_out(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
            width: int) -> list[str] | None:
    """The table's lines (trailing spaces kept, as rich leaves them), or None when rich must
    render it (text that is not printable, a terminal narrower than `MIN_WIDTH`)."""
    texts = [c.header for c in columns]
    if width < MIN_WIDTH or not _plain("".join([title, *texts, *itertools.chain(*rows)])):
        return None  # one test of every character at once (`_plain` holds for each part)
    n = len(columns)
    pads = [(0 if i == 0 else 1, 0 if i == n - 1 else 1) for i in range(n)]
    widths = _widths(columns, rows, pads, width)
    table_width = sum(widths)
    inner = [w - left - right for w, (left, right) in zip(widths, pads, strict=True)]
    if min(inner) < 1:
        return None  # a column squeezed to its padding: rich's corner case
    out = list(_lines(title, table_width, "fold", False))  # a title folds long words
    lefts = [" " * left for left, _ in pads]
    rights = [" " * right for _, right in pads]
    specs = list(zip(inner, (c.no_wrap for c in columns), lefts, rights, strict=True))
    #: a row whose cells all fit their columns, padded by one format: it is `table_width`
    #: characters long exactly then (a longer cell makes it longer: `format` never cuts)
    fmt = "".join(f"{left}{{:<{w}}}{right}" for w, _, left, right in specs)
    joined = "".join(f"{left}{{}}{right}" for _, _, left, right in specs)  # padded lines
    for row in (texts, *rows):
        line = fmt.format(*row)
        if len(line) == table_width and (line.isascii() or _narrow(line)):
            out.append(line)  # most rows: one line, each cell padded (`_lines`)
            continue
        cells = [_lines(cell, w, "ellipsis", no_wrap)
                 for cell, (w, no_wrap, _, _) in zip(row, specs, strict=True)]
        height = max(map(len, cells))
        padded = [lines if len(lines) == height else (*lines, *[" " * w] * (height - len(lines)))
                  for lines, (w, _, _, _) in zip(cells, specs, strict=True)]
        out.extend(map(joined.format, *padded))  # line k: each cell's line k
    out.append("")
    return out


def _plain(text: str) -> bool:
    """One line of printable text (no tab, line break or control character)."""
    return text.isprintable()


#: characters one terminal cell wide by rich's own table (`rich.cells`'s single-cell ranges:
#: printable ASCII, Latin-1 and the Latin extensions, Greek and Cyrillic; and the marks
#: ftc-office's own texts use, such as "≥" in a plan's next step, so that a plan does not
#: import rich to measure them: 30 ms); text made only of them is measured by ``len`` (a
#: test checks each against rich's `cell_len`)
SINGLE_CELL = frozenset([*(chr(c) for a, b in ((0x20, 0x7E), (0xA0, 0xAC), (0xAE, 0x2FF),
                                                (0x370, 0x482)) for c in range(a, b + 1)),
                         *"≥≤…—–→←‘’“”•✓✗€"])
_single = SINGLE_CELL.issuperset


@functools.lru_cache(maxsize=4096)
def _one_cell(ch: str) -> bool:
    """Whether rich measures the character one cell wide (outside `SINGLE_CELL`: "≥", "…",
    typographic quotes are; CJK, emoji and combining marks are not; rich measures a zero-width
    joiner or variation selector with its neighbours)."""
    from rich.cells import get_character_cell_size

    return ch not in "\u200d\ufe0f" and get_character_cell_size(ch) == 1


def _narrow(text: str) -> bool:
    """Every character of `text` is one terminal cell wide, as rich measures it."""
    return text.isascii() or _single(text) or all(map(_one_cell, set(text) - SINGLE_CELL))


def _len(text: str) -> int:
    """The terminal cells `text` takes (rich's measure; its length for narrow text)."""
    if _narrow(text):
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def _widths(columns: Sequence[Column], rows: Sequence[Sequence[str]],
            pads: list[tuple[int, int]], width: int) -> list[int]:
    """Each column's width, padding included (rich's `Table._calculate_column_widths`)."""
    widths = []
    for i, col in enumerate(columns):
        extra = pads[i][0] + pads[i][1]
        inner = width - extra
        cells = [row[i] for row in rows]
        longest = max(_len(col.header), max(map(len if "".join(cells).isascii() else _len,
                                                cells), default=0))  # ASCII: a cell a char
        widths.append(min(min(longest, inner) + extra, width) or 1)
    if sum(widths) > width:
        widths = _collapse_widths(widths, [not c.no_wrap for c in columns], width)
        if sum(widths) > width:
            widths = _ratio_reduce(sum(widths) - width, [1] * len(widths), widths, widths)
    return widths


def _collapse_widths(widths: list[int], wrapable: list[bool], max_width: int) -> list[int]:
    """rich's `Table._collapse_widths` (rich 13–15): narrow the widest wrappable columns, in
    steps, until the table fits (importing ``rich.table`` cost `plan` 50 ms)."""
    total = sum(widths)
    excess = total - max_width
    if any(wrapable):
        while total and excess > 0:
            widest = max(w for w, wrap in zip(widths, wrapable, strict=True) if wrap)
            second = max(w if wrap and w != widest else 0
                         for w, wrap in zip(widths, wrapable, strict=True))
            ratios = [1 if w == widest and wrap else 0
                      for w, wrap in zip(widths, wrapable, strict=True)]
            if not any(ratios) or widest == second:
                break
            widths = _ratio_reduce(excess, ratios, [min(excess, widest - second)] * len(widths),
                                   widths)
            total = sum(widths)
            excess = total - max_width
    return widths


def _ratio_reduce(total: int, ratios: list[int], maximums: list[int], values: list[int]
                  ) -> list[int]:
    """rich's `rich._ratio.ratio_reduce`: take `total` off `values` in proportion to
    `ratios`, at most `maximums` from each."""
    ratios = [r if m else 0 for r, m in zip(ratios, maximums, strict=True)]
    total_ratio = sum(ratios)
    if not total_ratio:
        return values[:]
    left = total
    out = []
    for ratio, maximum, value in zip(ratios, maximums, values, strict=True):
        if ratio and total_ratio > 0:
            taken = min(maximum, round(ratio * left / total_ratio))
            out.append(value - taken)
            left -= taken
            total_ratio -= ratio
        else:
            out.append(value)
    return out


def _lines(text: str, width: int, overflow: str, no_wrap: bool) -> Sequence[str]:
    """`text` as lines of exactly `width` cells: padded when it fits, else wrapped by
    `_wrap` (cached: workload lists and next steps repeat down a plan)."""
    n = len(text) if text.isascii() else _len(text)  # ASCII, most cells: one cell each
    if n <= width:
        return (text + " " * (width - n),)
    return _wrap(text, width, overflow, no_wrap)


_CONSOLE: Any = None


@functools.lru_cache(maxsize=8192)
def _wrap(text: str, width: int, overflow: str, no_wrap: bool) -> tuple[str, ...]:
    """`text`, longer than `width`, wrapped as rich wraps it, left-justified (padded lines;
    a word longer than a line is cut with "…" or folded, as `overflow` says)."""
    if overflow == "ellipsis" and _narrow(text):
        return _wrap_single(text, width, no_wrap)
    global _CONSOLE
    from rich.console import Console
    from rich.text import Text

    if _CONSOLE is None:
        _CONSOLE = Console(width=max(width, 1), color_system=None, force_terminal=False,
                           highlight=False, markup=False, emoji=False)
    lines = Text(text).wrap(_CONSOLE, width, justify="left",
                            overflow=overflow, no_wrap=no_wrap)  # type: ignore[arg-type]
    return tuple(line.plain + " " * (width - _len(line.plain)) for line in lines)


def _wrap_single(text: str, width: int, no_wrap: bool) -> tuple[str, ...]:
    """``Text.wrap`` for one line of narrow text (`_narrow`), left-justified, overflow "ellipsis",
    as string operations: `_breaks` places the breaks; each piece loses the trailing spaces
    past the width, a piece still too long is cut to ``width - 1`` characters and "…"."""
    cuts = [] if no_wrap else _breaks(text, width)
    bounds = [0, *cuts, len(text)]
    out = []
    for a, b in itertools.pairwise(bounds):
        piece = text[a:b]
        if not no_wrap and len(piece) > width:  # Text.rstrip_end
            excess = len(piece) - width
            spaces = len(piece) - len(piece.rstrip())
            piece = piece[:len(piece) - min(spaces, excess)]
        if len(piece) > width:
            piece = piece[:width - 1] + "…"
        out.append(piece + " " * (width - len(piece)))
    return tuple(out)


_WORD = re.compile(r"\s*\S+\s*")  # rich's `rich._wrap.re_word`: a word and the spaces after


def _breaks(text: str, width: int) -> list[int]:
    """rich's `divide_line(text, width, fold=False)` for narrow text: where each new
    line starts. A word goes to a new line when it does not fit the rest of this one; a word
    longer than a line gets a line of its own (cut later)."""
    if "  " not in text and text[:1] != " " and text[-1:] != " " and text.isprintable():
        return _single_spaced_breaks(text, width)
    out: list[int] = []
    offset = 0
    for m in _WORD.finditer(text):
        start, word = m.start(), m.group()
        length = len(word.rstrip())
        if width - offset >= length:
            offset += len(word)
        elif length > width or (offset and start):
            if start:
                out.append(start)
            offset = len(word)
    return out


def _single_spaced_breaks(text: str, width: int) -> list[int]:
    """`_breaks` for printable text whose words are one space apart (no space at either
    end; the space is then its only white space): a line from `s` holds the words that end
    by ``s + width``, so each break is found by looking at that one place, not at every
    word (a plan's 3,000 wrapped cells took 0.03 s word by word)."""
    out: list[int] = []
    start, n = 0, len(text)
    while start + width < n:
        limit = start + width
        if text[limit] == " ":  # a word ends exactly at the limit: the next one starts a line
            start = limit + 1
        else:
            word = text.rfind(" ", start, limit) + 1  # where the word across the limit starts
            if word <= start:  # the line's only word, longer than a line: it stays alone
                after = text.find(" ", limit)
                if after == -1:
                    break
                word = after + 1
            start = word
        out.append(start)
    return out

"""A plain-text table laid out as rich lays out `plan`'s, without rich's per-cell machinery.

`plan` prints one rich ``Table`` per step (``box=None``, ``pad_edge=False``, padding (0, 1),
no expand, a left-justified title, header style and colour off). On 10,000 tenants rich took
8 of plan's 12 seconds, nearly all of it rendering 50,000 cells through segments. This
module reproduces the same text for that one configuration:

* column widths by rich's own rule: each column as wide as its widest cell (plus padding),
  clamped to the terminal; when the table is too wide, `Table._collapse_widths` narrows the
  wrappable columns and `ratio_reduce` the rest (both rich's functions, called here);
* a cell that fits its column is its text padded with spaces; a cell that does not is
  wrapped by rich's own ``Text.wrap`` (word wrap, "…" for a word or a no-wrap cell too long);
* a row as tall as its tallest cell, a blank line after each table.

Text is measured in terminal cells by rich's own ``cell_len`` (CJK and emoji are two cells
wide); `lay_out` returns None for text that is not printable (tabs, line breaks, control
characters) or a terminal narrower than `MIN_WIDTH`, and the caller renders that table with
rich. ``_collapse_widths``, ``ratio_reduce`` and ``divide_line`` are rich internals:
tests/test_textable.py renders generated tables both ways and compares the text.
"""

from __future__ import annotations

import functools
import itertools
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
    if width < MIN_WIDTH or not _plain(title) or not all(map(_plain, texts)) or not all(
            _plain(cell) for row in rows for cell in row):
        return None
    n = len(columns)
    pads = [(0 if i == 0 else 1, 0 if i == n - 1 else 1) for i in range(n)]
    widths = _widths(columns, rows, pads, width)
    table_width = sum(widths)
    inner = [w - left - right for w, (left, right) in zip(widths, pads, strict=True)]
    if min(inner) < 1:
        return None  # a column squeezed to its padding: rich's corner case
    out = list(_lines(title, table_width, "fold", False))  # a title folds long words
    for row in (texts, *rows):
        cells = [_lines(cell, w, "ellipsis", col.no_wrap)
                 for cell, w, col in zip(row, inner, columns, strict=True)]
        height = max(map(len, cells))
        for k in range(height):
            out.append("".join(
                " " * left + (lines[k] if k < len(lines) else " " * w) + " " * right
                for lines, w, (left, right) in zip(cells, inner, pads, strict=True)))
    out.append("")
    return out


def _plain(text: str) -> bool:
    """One line of printable text (no tab, line break or control character)."""
    return text.isprintable()


def _len(text: str) -> int:
    """The terminal cells `text` takes (rich's measure; one per character for ASCII)."""
    if text.isascii():
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
        longest = max([_len(col.header), *(_len(row[i]) for row in rows)])
        widths.append(min(min(longest, inner) + extra, width) or 1)
    if sum(widths) > width:
        from rich._ratio import ratio_reduce
        from rich.table import Table

        widths = Table._collapse_widths(widths, [not c.no_wrap for c in columns], width)
        if sum(widths) > width:
            widths = ratio_reduce(sum(widths) - width, [1] * len(widths), widths, widths)
    return widths


def _lines(text: str, width: int, overflow: str, no_wrap: bool) -> Sequence[str]:
    """`text` as lines of exactly `width` cells: padded when it fits, else wrapped by
    `_wrap` (cached: workload lists and next steps repeat down a plan)."""
    n = _len(text)
    if n <= width:
        return (text + " " * (width - n),)
    return _wrap(text, width, overflow, no_wrap)


_CONSOLE: Any = None


@functools.lru_cache(maxsize=8192)
def _wrap(text: str, width: int, overflow: str, no_wrap: bool) -> tuple[str, ...]:
    """`text`, longer than `width`, wrapped as rich wraps it, left-justified (padded lines;
    a word longer than a line is cut with "…" or folded, as `overflow` says)."""
    if text.isascii() and overflow == "ellipsis":
        return _wrap_ascii(text, width, no_wrap)
    global _CONSOLE
    from rich.console import Console
    from rich.text import Text

    if _CONSOLE is None:
        _CONSOLE = Console(width=max(width, 1), color_system=None, force_terminal=False,
                           highlight=False, markup=False, emoji=False)
    lines = Text(text).wrap(_CONSOLE, width, justify="left",
                            overflow=overflow, no_wrap=no_wrap)  # type: ignore[arg-type]
    return tuple(line.plain + " " * (width - _len(line.plain)) for line in lines)


def _wrap_ascii(text: str, width: int, no_wrap: bool) -> tuple[str, ...]:
    """``Text.wrap`` for one line of ASCII, left-justified, overflow "ellipsis", as string
    operations: rich's `divide_line` places the breaks; each piece loses the trailing spaces
    past the width, a piece still too long is cut to ``width - 1`` characters and "…"."""
    from rich._wrap import divide_line

    cuts = [] if no_wrap else divide_line(text, width, fold=False)
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

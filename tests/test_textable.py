"""`plan`'s table laid out by `cli.textable` is the text rich lays out, character for character.

The reference is the rich-based renderer `plan_table` used before (one ``Table`` per step:
``box=None``, ``pad_edge=False``, the same columns with their ``ratio`` and ``no_wrap``).
Generated tables cover short and long cells, words longer than their column, runs of
spaces, accents, CJK and emoji (two cells wide), empty cells and terminals from 16 to 200
columns; a table `lay_out` declines (control characters, a squeezed column) must still come
out the same through the rich fallback. Not timed: bench/README.md has the figures.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

from hypothesis import example, given, settings
from hypothesis import strategies as st
from rich.console import Console
from rich.table import Table

from ftc_office.cli.textable import SINGLE_CELL, Column, lay_out
from ftc_office.cli.views import PLAN_COLUMNS, _rich_table

RATIOS = {"Customer": 2, "Workloads": 2, "Next": 3}  # as the old plan_table set them


def _reference(title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]],
               width: int) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False,
                      highlight=False, markup=False, emoji=False)
    tbl = Table(title=title, title_justify="left", box=None, pad_edge=False,
                header_style="", title_style="")
    for col in columns:
        tbl.add_column(col.header, no_wrap=col.no_wrap, ratio=RATIOS.get(col.header))
    for row in rows:
        tbl.add_row(*row)
    console.print(tbl)
    console.print()
    return _clean(out.getvalue())


def _clean(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.rstrip("\n").splitlines())


def _columns(wide: bool) -> list[Column]:
    return [Column(h, no_wrap) for h, no_wrap, only_wide in PLAN_COLUMNS if wide or not only_wide]


WORDS = st.sampled_from([
    "Contoso", "Exchange Online,", "SharePoint", "Online", "a", "-", "", "EMEA", "unassign",
    "the", "FM", "ATU:", "waiting for the move to", "Supercalifragilisticexpialidocious",
    "x" * 45, "Müller", "Équipe", "北京微软", "東京", "🙂", "naïve", "I’m", "Lopez,", "Maria",
    "ines.moreau", "2026-11-26", "B12:", "is", "empty", "a.very.long.address.local.part",
    "Ελληνικά", "≥ 10%", "“quoted”", "…", "e\u0301", "👍🏽", "Москва", "Łódź", "Øresund",
    "Ærø-Şişli", "ñandú", "x" * 12 + "é" * 30])
CELL = st.lists(WORDS, max_size=7).map(" ".join) | st.lists(WORDS, max_size=3).map("  ".join)


@st.composite
def tables(draw: st.DrawFn) -> tuple[list[Column], list[list[str]], int, str]:
    wide = draw(st.booleans())
    columns = _columns(wide)
    rows = draw(st.lists(st.lists(CELL, min_size=len(columns), max_size=len(columns)),
                         min_size=1, max_size=6))
    width = draw(st.integers(16, 200))
    title = draw(st.sampled_from(["send_atu (3)", "await_queue_confirmation (12)",
                                  "x" * 70]))
    return columns, rows, width, title


@settings(max_examples=400, deadline=None)
@given(tables())
@example(([Column("Customer"), Column("FM", True)], [["Contoso " * 30, "x" * 300]], 60,
          "send_atu (1)"))
def test_lay_out_is_rich_s_layout(case: tuple[list[Column], list[list[str]], int, str]
                                  ) -> None:
    columns, rows, width, title = case
    expected = _reference(title, columns, rows, width)
    lines = lay_out(title, columns, rows, width)
    assert _clean("\n".join(lines or _rich_table(title, columns, rows, width))) == expected


def test_the_fast_layout_is_taken_for_plain_text() -> None:
    columns = _columns(False)
    rows = [["Contoso Ltd", "Exchange Online, SharePoint Online, Teams", "ines.moreau",
             "EMEA", "ATU: Exchange Online, SharePoint Online, Microsoft Teams"]] * 3
    for width in (40, 80, 100, 200):
        lines = lay_out("send_atu (3)", columns, rows, width)
        assert lines is not None
        assert _clean("\n".join(lines)) == _reference("send_atu (3)", columns, rows, width)


def test_single_cell_characters_are_one_cell_in_rich() -> None:
    """Text made of `SINGLE_CELL` characters is measured by len: rich must agree on each."""
    from rich.cells import cell_len

    wrong = [c for c in sorted(SINGLE_CELL) if c.isprintable() and cell_len(c) != 1]
    assert wrong == []
    assert "é" in SINGLE_CELL and "Ж" in SINGLE_CELL and "東" not in SINGLE_CELL
    assert "≥" in SINGLE_CELL and "…" in SINGLE_CELL


def test_a_plan_of_the_marks_ftc_office_writes_does_not_import_rich() -> None:
    """A table whose cells hold only `SINGLE_CELL` text, "≥" and "…" included (a plan's
    next steps), is measured without rich (importing it cost `plan` 30 ms); text with a
    wider character asks rich (the probe can see the import)."""
    import subprocess
    import sys

    probe = ("import sys\n"
             "from ftc_office.cli.textable import Column, lay_out\n"
             "cols = [Column('Customer'), Column('Next')]\n"
             "lay_out('t (1)', cols, [['Contoso', sys.argv[1]]], 40)\n"
             "print('rich' in sys.modules)\n")
    seen = [subprocess.run([sys.executable, "-c", probe, text], capture_output=True,
                           text=True, encoding="utf-8", check=True).stdout.strip()
            for text in ("due ≥ 90 days after the discussion…", "東京 office")]
    assert seen == ["False", "True"]


def test_the_copied_rich_functions_equal_rich_s() -> None:
    from rich._ratio import ratio_reduce
    from rich._wrap import divide_line

    from ftc_office.cli.textable import _breaks, _collapse_widths, _ratio_reduce

    texts = ["", "a", "Contoso  Ltd ", "  lead", "x" * 40 + " y", "ATU: Exchange Online, "
             "SharePoint Online, Microsoft Teams to EMEA", "Ελληνικά Москва Łódź " * 4]
    for text in texts:
        for width in range(1, 50):
            assert _breaks(text, width) == divide_line(text, width, fold=False), (text, width)
    for widths, wrap, most in [([10, 30, 12, 8, 60], [False, True, True, False, True], 80),
                               ([5, 5, 5], [True, True, True], 9), ([40, 40], [False, False], 50),
                               ([22, 41, 41, 17, 9, 30, 77], [1, 0, 0, 1, 1, 0, 0], 100)]:
        flags = [bool(w) for w in wrap]
        assert _collapse_widths(widths, flags, most) == Table._collapse_widths(widths, flags,
                                                                               most)
        assert _ratio_reduce(sum(widths) - most, [1] * len(widths), widths, widths) == \
            ratio_reduce(sum(widths) - most, [1] * len(widths), widths, widths)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "bb", "Contoso", "Online,", "x" * 45, "Ελληνικά", "≥",
                                 "…", "SharePoint", "ATU:", "y" * 12, "B12:"]),
                min_size=1, max_size=14).map(" ".join), st.integers(1, 60))
def test_single_spaced_text_breaks_where_rich_breaks_it(text: str, width: int) -> None:
    """The one-look-per-line breaks of single-spaced text (most of a plan's cells) are
    rich's, long words and words ending exactly at the width included."""
    from rich._wrap import divide_line

    from ftc_office.cli.textable import _breaks, _single_spaced_breaks

    assert _single_spaced_breaks(text, width) == divide_line(text, width, fold=False)
    assert _breaks(text, width) == divide_line(text, width, fold=False)


def test_control_characters_go_to_rich() -> None:
    columns = _columns(False)
    rows = [["Contoso\tLtd", "Exchange\nOnline", "ines", "EMEA", "-"]]
    assert lay_out("send_atu (1)", columns, rows, 100) is None
    assert _clean("\n".join(_rich_table("send_atu (1)", columns, rows, 100))) == _reference(
        "send_atu (1)", columns, rows, 100)

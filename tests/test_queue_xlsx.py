"""The queue-move workbook's text writer against openpyxl's, part by part and byte for byte.

:mod:`ftc_office.compose.queue_xlsx` replaced an openpyxl ``Workbook`` (kept as
``tests/queue_sheet_reference.py``); the attachment must stay the same bytes, so a message's
content hash, the ledger's record of it and a returned copy's reading do not change.
"""

from __future__ import annotations

import datetime as dt
import io
import zipfile
from typing import Any

import openpyxl
import pytest
import queue_sheet_reference as reference
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ftc_office.compose import queue_sheet
from ftc_office.compose.queue_xlsx import _cell

AS_OF = dt.date(2026, 11, 26)
FIELDS = [f for _t, f, _c in queue_sheet.COLUMNS if f]
# text as trackers hold it, with what escaping and whitespace handling must get right; no
# control characters (both writers drop them, tested apart) and no lone surrogates or
# U+FFFE/U+FFFF (openpyxl's serialiser refused them; the text writer drops them)
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\ufffe\uffff",
                             min_codepoint=9), max_size=60) | st.sampled_from(
    ["", " ", "  lead", "trail ", "a & b <c> \"d\" 'e'", "=SUM(A1)", "+1", "-x", "@me",
     "line\nbreak", "tab\there", "cr\rhere", "_x0041_", "Contoso, Fabrikam  ", "Ünïcødé ✓"])
DATES = st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2099, 12, 31))
VALUE = TEXT | DATES | st.none()


def _members(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(i.filename, z.read(i)) for i in z.infolist()]


def _same(rows: list[dict[str, Any]], key: str) -> None:
    ours = queue_sheet.queue_rows_xlsx(rows, AS_OF, key)
    theirs = reference.queue_rows_xlsx(rows, AS_OF, key)
    pinned = openpyxl.__version__ == "3.1.5"  # its version is in app.xml
    for (name, a), (name_b, b) in zip(_members(ours), _members(theirs), strict=True):
        assert name == name_b
        if name != "docProps/app.xml" or pinned:
            assert a == b, name
    if pinned:
        assert ours == theirs  # the zip too: member headers, times, permissions


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({f: VALUE for f in FIELDS}), max_size=6),
       st.sampled_from(["", "queue_move.q.2026-11-26.abc", "k&<>\"'"]))
def test_every_part_is_the_bytes_openpyxl_wrote(rows: list[dict[str, Any]], key: str) -> None:
    _same(rows, key)


def test_a_realistic_request_is_the_same_bytes() -> None:
    rows = [{"tenant_id": f"{i:08x}-0000-4000-8000-000000000000", "customer": f"Contoso {i}",
             "queue": "FTOP Disengaged", "fm": "" if i % 5 else "fm@contoso.com",
             "workloads": "Teams, SharePoint Online, Exchange Online, Intune" * (i % 3),
             "disengaged": AS_OF, "next_action_date": dt.date(2027, 12, 31)}
            for i in range(40)]
    _same(rows, "queue_move.ftop.2026-11-26.0123456789")


def test_columns_past_z_and_without_moved_on(monkeypatch: pytest.MonkeyPatch) -> None:
    cols = tuple((f"Col {i}", f"k{i}", 12) for i in range(1, 29))
    monkeypatch.setattr(queue_sheet, "COLUMNS", cols)
    _same([{f"k{i}": f"v{i}" for i in range(1, 29)}], "k")
    _same([], "")


def test_unstorable_characters_are_dropped() -> None:
    row = {f: "" for f in FIELDS} | {"customer": "Con\x00to\ud800so\ufffe\uffff\x0b Ltd"}
    data = queue_sheet.queue_rows_xlsx([row], AS_OF)
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws is not None
    assert ws["B2"].value == "Contoso  Ltd"


def test_a_cell_refuses_what_the_sheet_cannot_hold() -> None:
    with pytest.raises(TypeError, match="A2"):
        _cell("A2", 2, dt.datetime(2026, 1, 1))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="A2"):
        _cell("A2", 2, True)

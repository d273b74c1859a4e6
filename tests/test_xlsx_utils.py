"""The one implementation of each spreadsheet utility: column letters past Z, Excel's
32,767-character cell limit in UTF-16 units (astral characters count twice), safe file names
shared by the outbox and the preview, and the atomic write."""

from __future__ import annotations

import datetime as dt
import io
import shutil
import stat
import zipfile
from pathlib import Path

import openpyxl
import pytest
from python_calamine import CalamineWorkbook

from ftc_office.atomic import atomic_write_bytes
from ftc_office.compose import queue_sheet
from ftc_office.filenames import safe_filename
from ftc_office.xlsx.cells import (
    CLIPPED_MARK,
    MAX_CELL_CHARS,
    clip_cell_text,
    col_letter,
    col_number,
    utf16_len,
)
from ftc_office.xlsx.patch import XlsxPatcher

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx"


@pytest.mark.parametrize(("number", "letters"), [
    (1, "A"), (26, "Z"), (27, "AA"), (28, "AB"), (52, "AZ"), (53, "BA"), (702, "ZZ"),
    (703, "AAA"), (16_384, "XFD")])
def test_column_letters_past_z(number: int, letters: str) -> None:
    assert col_letter(number) == letters
    assert col_number(letters) == number
    assert col_number(letters.lower()) == number


def test_column_letters_round_trip_every_column() -> None:
    assert all(col_number(col_letter(n)) == n for n in range(1, 16_385))


def test_queue_sheet_table_spans_columns_past_z(monkeypatch: pytest.MonkeyPatch) -> None:
    """The attachment's table range was built with chr(64 + n): '[' for a 27th column."""
    cols = tuple((f"Col {i}", f"k{i}", 10) for i in range(1, 29))
    monkeypatch.setattr(queue_sheet, "COLUMNS", cols)
    data = queue_sheet.queue_rows_xlsx([{f"k{i}": f"v{i}" for i in range(1, 29)}],
                                       dt.date(2026, 11, 26))
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        table = z.read("xl/tables/table1.xml").decode()
    assert 'ref="A1:AB2"' in table
    ws = openpyxl.load_workbook(io.BytesIO(data))["Queue moves"]
    assert ws["AB2"].value == "v28"


def test_clip_counts_utf16_units_so_astral_text_fits() -> None:
    """20,000 emoji are 20,000 code points but 40,000 UTF-16 units: over Excel's limit."""
    text = "\U0001F600" * 20_000
    clipped = clip_cell_text(text)
    assert utf16_len(clipped) <= MAX_CELL_CHARS
    assert clipped.endswith(CLIPPED_MARK)
    assert clipped[:-len(CLIPPED_MARK)] == "\U0001F600" * ((MAX_CELL_CHARS - 4) // 2)


def test_clip_keeps_text_that_fits_and_fills_bmp_text_to_the_limit() -> None:
    assert clip_cell_text("x" * MAX_CELL_CHARS) == "x" * MAX_CELL_CHARS
    assert clip_cell_text("\U0001F600" * (MAX_CELL_CHARS // 2)) == "\U0001F600" * (
        MAX_CELL_CHARS // 2)
    clipped = clip_cell_text("x" * (MAX_CELL_CHARS + 1))
    assert utf16_len(clipped) == MAX_CELL_CHARS


def test_astral_text_clipped_at_the_limit_is_written(tmp_path: Path) -> None:
    """Before, write-back cut by code points (len() > 32767), so astral text under 32,767
    code points reached the patcher over the limit and the cell was refused every run."""
    path = tmp_path / "t.xlsx"
    shutil.copyfile(SAMPLE, path)
    patcher = XlsxPatcher(path)
    sheet = patcher.sheet_names()[0]
    text = clip_cell_text("a\U0001F600" * 15_000)  # 45,000 UTF-16 units
    patcher.set(sheet, "AZ3", text)
    out = tmp_path / "out.xlsx"
    patcher.save(out)
    rows = CalamineWorkbook.from_path(str(out)).get_sheet_by_name(sheet).to_python(
        skip_empty_area=False)
    assert rows[2][col_number("AZ") - 1] == text


def test_atomic_write_bytes_replaces_and_keeps_or_forces_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.eml"
    atomic_write_bytes(target, b"one", mode=0o600)
    assert target.read_bytes() == b"one"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.chmod(0o640)
    atomic_write_bytes(target, b"two")
    assert target.read_bytes() == b"two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.eml"]  # no temporary file left


def test_preview_names_eml_files_as_the_outbox() -> None:
    from ftc_office.backends.outbox import safe_filename as outbox_name
    from ftc_office.preview import eml_name

    class FakeJob:
        key = "ATU.t1/teams:ABC"

    name = eml_name(FakeJob())  # type: ignore[arg-type]
    assert name == outbox_name(FakeJob.key) == safe_filename(FakeJob.key)


def test_queue_sheet_cells_are_formatted_by_column_and_date() -> None:
    """The queue sheet copies one formatted cell's style per (column, date or not): every
    data cell must still read back with its column's font, wrap, fill and border, and a date
    format exactly where it holds a date (or is the Moved On column)."""
    fields = [f for _t, f, _c in queue_sheet.COLUMNS if f]
    rows = [{f: (dt.date(2026, 1, 1 + i % 27) if (i + j) % 3 == 0 else
                 None if (i + j) % 5 == 0 else f"v{i}") for j, f in enumerate(fields)}
            for i in range(40)]
    data = queue_sheet.queue_rows_xlsx(rows, dt.date(2026, 11, 26), "k")
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws is not None
    titles = [t for t, _f, _c in queue_sheet.COLUMNS]
    dated = 0
    for row in ws.iter_rows(min_row=2):
        for cell, (title, field, _cap) in zip(row, queue_sheet.COLUMNS, strict=True):
            assert cell.font.name == queue_sheet.FONT_NAME and cell.font.sz == 11
            assert not cell.font.b and cell.alignment.wrap_text
            is_date = isinstance(cell.value, dt.datetime)
            dated += is_date
            expected = "yyyy-mm-dd" if is_date or (field is None and title ==
                                                  queue_sheet.MOVED_ON) else "General"
            assert cell.number_format == expected, (cell.coordinate, cell.value)
            assert (cell.fill.fgColor.rgb == "00FFF7D6") == (field is None)
            assert (cell.border.left.style == "thin") == (field is None)
    assert dated > 10 and queue_sheet.MOVED_ON in titles

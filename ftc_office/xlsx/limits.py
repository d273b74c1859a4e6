"""Checks an .xlsx/.xlsm package passes before any parser sees it, and the limits they apply.

`check_package` refuses, with one `TrackerError` naming the file: a missing file or a folder,
the wrong extension (.xls, .csv, ...), an encrypted (OLE) file, a file that is not a zip or
is damaged, a package without a workbook part, zip bombs (a part inflating more than
`MAX_RATIO` times, or `MAX_UNCOMPRESSED` bytes in all), parts declaring a DTD (XML bombs),
and worksheets whose cell references span more than `MAX_CELLS` cells (python-calamine holds
a sheet as a dense grid and cannot refuse one itself).
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ftc_office.errors import FtcError, TrackerError, exception_kind
from ftc_office.xlsx.cells import col_number

MAX_UNCOMPRESSED = 400 * 1024 * 1024  # bytes, all parts together
MAX_RATIO = 200  # a part that inflates more than this is treated as a zip bomb
# calamine holds a sheet as a dense grid (~32 bytes a cell) and cannot refuse one itself: a
# single stray cell at XFD1048576 makes it abort the process; one at Z1048576 cost 1.1 GB.
MAX_CELLS = 5_000_000
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
READABLE = (".xlsx", ".xlsm")

# ``r`` attributes of cells (letters + digits) and rows (digits). The quick pass looks only at
# columns past Z and rows past 99,999, which a normal tracker barely has; its patterns start
# with the literal ``r="`` (5x faster to search than ``\sr="``) and so also match attributes
# that merely end in r: an upper bound, never less than the exact pass finds.
_CELL_REF = re.compile(rb'\sr="([A-Za-z]+)([0-9]+)"')
_ANY_ROW = re.compile(rb'\sr="[A-Za-z]*([0-9]+)"')
_WIDE_COL = re.compile(rb'r="([A-Za-z]{2,})[0-9]')
_FAR_ROW = re.compile(rb'r="[A-Za-z]*([0-9]{6,})"')


def check_package(path: Path) -> None:
    """Refuse anything that is not a sane .xlsx/.xlsm package, with one clear message."""
    where = str(path)
    _check_file(path, where)
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            _check_parts(infos, where)
            _check_sizes(infos, where)
            _check_dtds(zf, infos, where)
            _check_extents(zf, infos, where)
    except TrackerError:
        raise
    except Exception as exc:  # BadZipFile, zlib.error, EOFError, OSError, NotImplementedError…
        raise TrackerError(where, f"the workbook is damaged ({exception_kind(exc)})",
                           "open it in Excel (it may offer a repair) and save it again") from None


def check_extent(end: tuple[int, int] | None, where: str,
                 error: type[FtcError] = TrackerError) -> None:
    """Refuse a sheet whose last cell `end` (0-based row and column, as python-calamine's
    ``sheet.end`` gives it) makes a grid of more than `MAX_CELLS` cells."""
    if end is not None and (end[0] + 1) * (end[1] + 1) > MAX_CELLS:
        raise error(where, f"the sheet spans {end[0] + 1} rows × {end[1] + 1} columns",
                    "delete the empty rows and columns below and right of the data")


def _check_file(path: Path, where: str) -> None:
    """The file exists, is an .xlsx/.xlsm by name and a zip (not OLE) by signature."""
    if not path.exists():
        raise TrackerError(where, "file not found", "check the path (quote it if it has spaces)")
    if path.is_dir():
        raise TrackerError(where, "this is a folder, not a workbook",
                           "give the .xlsx file, or a glob such as 'trackers/*.xlsx'")
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise TrackerError(where, "old Excel 97-2003 (.xls) workbooks are not supported",
                           "open it in Excel and save it as .xlsx (File → Save As)")
    if suffix == ".csv":
        raise TrackerError(where, "CSV files are not trackers",
                           "keep the tracker as an .xlsx workbook (CSV loses types and sheets)")
    if suffix not in READABLE:
        raise TrackerError(where, f"'{suffix or path.name}' is not an Excel workbook",
                           "give an .xlsx or .xlsm file")
    try:
        with path.open("rb") as fh:
            head = fh.read(8)
    except OSError as exc:
        raise TrackerError(where, f"cannot be opened ({exc.strerror or exc})",
                           "check that it exists and that you may read it") from None
    if head.startswith(OLE_MAGIC):
        raise TrackerError(where, "the workbook is password-protected (encrypted)",
                           "save an unprotected copy in Excel (File → Info → Protect Workbook)")
    if not head.startswith(b"PK"):
        raise TrackerError(where, "not a valid .xlsx file (not a zip package)",
                           "open it in Excel and save it again as .xlsx")


def _check_parts(infos: list[zipfile.ZipInfo], where: str) -> None:
    names = {i.filename for i in infos}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise TrackerError(where, "the package has no workbook part",
                           "open it in Excel and save it again as .xlsx")


def _check_sizes(infos: list[zipfile.ZipInfo], where: str) -> None:
    """No part inflates like a zip bomb, and all parts together stay in bounds."""
    total = 0
    for info in infos:
        total += info.file_size
        if info.file_size > 1_000_000 and info.file_size > MAX_RATIO * max(
                info.compress_size, 1):
            raise TrackerError(where, f"part {info.filename} inflates "
                               f"{info.file_size // max(info.compress_size, 1)}x "
                               "(a zip bomb?)", "do not process this file")
    if total > MAX_UNCOMPRESSED:
        raise TrackerError(where, f"the workbook unpacks to {total // 2**20} MB",
                           "split the tracker; trackers are expected below 400 MB")


def _check_dtds(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], where: str) -> None:
    """No XML part starts with a DTD (Excel never writes one)."""
    for info in infos:
        if info.filename.endswith((".xml", ".rels")) and info.file_size:
            with zf.open(info) as part:
                start = part.read(2048)
            if b"<!DOCTYPE" in start or b"<!ENTITY" in start:
                raise TrackerError(where, f"part {info.filename} declares a DTD "
                                   "(Excel never writes one; an XML bomb?)",
                                   "do not process this file")


def _check_extents(zf: zipfile.ZipFile, infos: list[zipfile.ZipInfo], where: str) -> None:
    """No worksheet's references span more than `MAX_CELLS` cells."""
    for info in infos:
        if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
            rows, cols = _part_extent(zf, info)
            if rows * cols > MAX_CELLS:
                raise TrackerError(where, f"sheet {_sheet_name(zf, info.filename)!r} "
                                   f"spans {rows} rows × {cols} columns",
                                   "delete the empty rows and columns below and right "
                                   "of the data (Ctrl+End shows the last used cell)")


def _part_extent(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[int, int]:
    """(rows, columns) that a worksheet part's references reach; an upper bound when it is
    far below MAX_CELLS, exact otherwise (streamed: ~5 ms per MB of sheet XML)."""
    rows, cols = _scan_part(zf, info, exact=False)
    if rows * cols <= MAX_CELLS:
        return rows, cols
    return _scan_part(zf, info, exact=True)


def _scan_part(zf: zipfile.ZipFile, info: zipfile.ZipInfo, exact: bool) -> tuple[int, int]:
    max_r, max_c = (0, 0) if exact else (99_999, 26)
    tail = b""
    with zf.open(info) as part:
        while True:
            chunk = part.read(1 << 20)
            data = tail + chunk
            cut = data.rfind(b"<") if chunk else len(data)
            body, tail = (data[:cut], data[cut:]) if cut > 0 else (data, b"")
            rows = (_ANY_ROW if exact else _FAR_ROW).findall(body)
            if rows:
                max_r = max(max_r, *map(int, rows))
            cols = {c for c, _ in _CELL_REF.findall(body)} if exact else set(
                _WIDE_COL.findall(body))
            if cols:
                max_c = max(max_c, *(col_number(c.decode("ascii")) for c in cols))
            if not chunk:
                return max_r, max_c


def _sheet_name(zf: zipfile.ZipFile, part: str) -> str:
    """The sheet name of a worksheet part (best effort: the part name when not found)."""
    try:
        rels = zf.read("xl/_rels/workbook.xml.rels").decode("utf-8", "replace")
        book = zf.read("xl/workbook.xml").decode("utf-8", "replace")
    except Exception:
        return part
    target = part.removeprefix("xl/")
    for rel in re.findall(r"<(?:[\w.-]+:)?Relationship\b[^>]*>", rels):
        tgt = re.search(r'\bTarget="([^"]*)"', rel)
        rid = re.search(r'\bId="([^"]*)"', rel)
        if tgt and rid and tgt[1].lstrip("/").removeprefix("xl/") == target:
            for sheet in re.findall(r"<(?:[\w.-]+:)?sheet\b[^>]*>", book):
                name = re.search(r'\bname="([^"]*)"', sheet)
                if name and re.search(rf'\b(?:[\w.-]+:)?id="{re.escape(rid[1])}"', sheet):
                    return name[1]
    return part

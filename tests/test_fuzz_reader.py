"""Mutation fuzz of the tracker reader: every input either reads or raises TrackerError.

Four small valid trackers (plain; with an Excel table; with title rows, a first sheet that is
not the tracker and extra columns; one with every column typed wrongly) are mutated at the
byte level (flips, inserts, deletes, truncation), at the XML level (decompressed parts
mutated and re-zipped: byte noise, spans cut or doubled, huge numbers and cell references,
wrong cell types, an empty sheet, a dimension of 1,048,576 rows, duplicate headers, DTDs)
and at the package level (parts swapped, dropped, stored, emptied).

``load_tracker(path, Settings())`` must return or raise ``TrackerError``; anything else fails
the test with the seed. Reproduce one case with ``FTC_FUZZ_SEED=<seed> FTC_FUZZ_N=1``;
run longer with ``FTC_FUZZ_N=200000``.
"""

from __future__ import annotations

import io
import os
import random
import re
import time
import traceback
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import DEFAULT_COLUMNS, make_tracker, row

from ftc_office.config import Settings
from ftc_office.errors import TrackerError
from ftc_office.tracker.builder import load_tracker

N = int(os.environ.get("FTC_FUZZ_N", "15000"))
BASE_SEED = int(os.environ.get("FTC_FUZZ_SEED", "20261126"))

Parts = dict[str, bytes]


def base_trackers(folder: Path) -> list[tuple[str, bytes, Parts]]:
    """(name, file bytes, parts) of the valid trackers that get mutated."""
    wrong: dict[str, Any] = {c: v for c, v in zip(DEFAULT_COLUMNS, [
        12.5, True, 3, "many", "x", "maybe", 7, "not-an-address", 1.5, "perhaps", "a@@b",
        "03/04/2026", 44, "TRUE", "next week", 0, "yes", -1, 46000, "?", 3.14, "soon", 0, 1,
        "2026-02-30", "=1+1"], strict=True)}
    built = [
        ("plain", make_tracker(folder / "plain.xlsx", [
            row("t-1"), row("t-1", "Exchange Online"), row("t-2", seats=500, active_users=49)])),
        ("table", make_tracker(folder / "table.xlsx", [
            row("t-1", discussion_date="2026-05-01", atu_sent="2026-04-01"),
            row("t-3", region="APAC", account_team="a@microsoft.com; b@microsoft.com")],
            table=True)),
        ("titles", make_tracker(folder / "titles.xlsx", [
            row("t-4", no_blockers="Yes", seats="1,200"), row("t-5", region="Mars")],
            header_row=4, extra_sheets=("Summary",), extra_columns=("Partner", "Comments"))),
        ("wrong-types", make_tracker(folder / "wrong.xlsx", [wrong, row("t-9")])),
    ]
    out = []
    for name, path in built:
        with zipfile.ZipFile(path) as zf:
            out.append((name, path.read_bytes(), {n: zf.read(n) for n in zf.namelist()}))
    return out


def zip_bytes(parts: Parts, rnd: random.Random) -> bytes:
    buf = io.BytesIO()
    method = zipfile.ZIP_STORED if rnd.random() < 0.2 else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(buf, "w", method, compresslevel=1) as zf:
        for name, data in parts.items():
            zf.writestr(name, data)
    return buf.getvalue()


# --- byte-level mutations of the zip file -----------------------------------------------

def flip(data: bytes, rnd: random.Random) -> bytes:
    b = bytearray(data)
    for _ in range(rnd.choice((1, 1, 2, 4, 16))):
        i = rnd.randrange(len(b))
        b[i] = rnd.randrange(256) if rnd.random() < 0.5 else b[i] ^ (1 << rnd.randrange(8))
    return bytes(b)


def insert(data: bytes, rnd: random.Random) -> bytes:
    i = rnd.randrange(len(data) + 1)
    return data[:i] + rnd.randbytes(rnd.choice((1, 2, 7, 64))) + data[i:]


def delete(data: bytes, rnd: random.Random) -> bytes:
    i = rnd.randrange(len(data))
    return data[:i] + data[i + rnd.choice((1, 3, 30, 500)):]


def truncate(data: bytes, rnd: random.Random) -> bytes:
    return data[: rnd.randrange(len(data))]


BYTE_MUTATORS: list[Callable[[bytes, random.Random], bytes]] = [flip, insert, delete, truncate]


# --- XML-level mutations of one decompressed part ---------------------------------------

HUGE = ["99999999999999999999", "1e308", "-1", "0", "4294967296", "1048577", "-0", "NaN",
        "1E+400", "", " ", "&#0;", "\u00e9", "\ud7ff"]
CELL_TYPES = [b't="b"', b't="e"', b't="s"', b't="str"', b't="d"', b't="n"', b't="inlineStr"',
              b't="zz"', b""]
VALUES = [b"<v>1</v>", b"<v>99</v>", b"<v>#N/A</v>", b"<v>2026-13-45T99:99</v>", b"<v></v>",
          b"<v>1e308</v>", b"<v>-1</v>", b"<v>abc</v>", b"<is><t>x</t></is>", b"<f>1+1</f>",
          b"<v>4294967297</v>", b'<is><t xml:space="preserve">  </t></is>', b""]


def xml_noise(data: bytes, rnd: random.Random) -> bytes:
    return rnd.choice(BYTE_MUTATORS)(data, rnd) if data else data


def xml_cut_or_double(data: bytes, rnd: random.Random) -> bytes:
    if len(data) < 2:
        return data
    i = rnd.randrange(len(data))
    j = min(len(data), i + rnd.choice((5, 50, 400)))
    return data[:i] + data[j:] if rnd.random() < 0.5 else data[:j] + data[i:j] + data[j:]


def xml_numbers(data: bytes, rnd: random.Random) -> bytes:
    spots = [m.span() for m in re.finditer(rb"\d+", data)]
    if not spots:
        return data
    i, j = rnd.choice(spots)
    return data[:i] + rnd.choice(HUGE).encode("utf-8", "surrogatepass") + data[j:]


def xml_cell_types(data: bytes, rnd: random.Random) -> bytes:
    """Rewrite some cells with another type and value (wrong types in every column)."""
    def swap(m: re.Match[bytes]) -> bytes:
        if rnd.random() < 0.3:
            return m[0]
        return b"<c " + m[1] + b" " + rnd.choice(CELL_TYPES) + b">" + rnd.choice(VALUES) + b"</c>"
    return re.sub(rb'<c (r="[A-Z]+\d+")[^>]*?(?:/>|>.*?</c>)', swap, data, flags=re.S)


def xml_refs(data: bytes, rnd: random.Random) -> bytes:
    spots = [m.span(1) for m in re.finditer(rb'\sr="([A-Z]*\d+)"', data)]
    if not spots:
        return data
    i, j = rnd.choice(spots)
    ref = rnd.choice([b"A1", b"XFD1048576", b"Z1048576", b"A0", b"AAAA1", b"1", b"A",
                      b"B2", b"A99999999", b"ZZ300", b"a5"])
    return data[:i] + ref + data[j:]


def xml_empty_sheet(data: bytes, rnd: random.Random) -> bytes:
    return re.sub(rb"<sheetData>.*</sheetData>", b"<sheetData/>", data, flags=re.S)


def xml_dimension(data: bytes, rnd: random.Random) -> bytes:
    ref = rnd.choice([b"A1:Z1048576", b"A1:XFD1048576", b"A1", b"ZZZ:1", b""])
    return re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="' + ref + b'"', data)


def xml_duplicate_headers(data: bytes, rnd: random.Random) -> bytes:
    texts = re.findall(rb"<t>([^<]*)</t>", data)
    if len(texts) < 2:
        return data
    a, b = rnd.sample(texts, 2)
    return data.replace(b"<t>" + a + b"</t>", b"<t>" + b + b"</t>", 1)


def xml_dtd(data: bytes, rnd: random.Random) -> bytes:
    decl = rnd.choice([b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa">]>', b"<!DOCTYPE x SYSTEM "
                       b'"file:///etc/passwd">', b'<!ENTITY b "b">'])
    at = data.find(b"?>") + 2 if b"?>" in data[:200] else 0
    return data[:at] + decl + data[at:]


def xml_encoding(data: bytes, rnd: random.Random) -> bytes:
    return rnd.choice([data.decode("utf-8", "replace").encode("utf-16"), b"\xef\xbb\xbf" + data,
                       data.replace(b'encoding="UTF-8"', b'encoding="ebcdic"'),
                       data.replace(b"<", b"<x:", 1), b"\x00" + data])


XML_MUTATORS: list[Callable[[bytes, random.Random], bytes]] = [
    xml_noise, xml_cut_or_double, xml_numbers, xml_cell_types, xml_refs, xml_empty_sheet,
    xml_dimension, xml_duplicate_headers, xml_dtd, xml_encoding,
]
SHEET_WEIGHT = 0.7  # most XML mutations go to the tracker sheet, the rest to any part


def mutate_xml(parts: Parts, rnd: random.Random) -> bytes:
    parts = dict(parts)
    sheets = [n for n in parts if n.startswith("xl/worksheets/sheet")]
    for _ in range(rnd.choice((1, 1, 1, 2, 3))):
        name = rnd.choice(sheets) if rnd.random() < SHEET_WEIGHT else rnd.choice(list(parts))
        parts[name] = rnd.choice(XML_MUTATORS)(parts[name], rnd)
    return zip_bytes(parts, rnd)


def mutate_package(parts: Parts, rnd: random.Random) -> bytes:
    parts = dict(parts)
    names = list(parts)
    choice = rnd.randrange(4)
    if choice == 0:  # swap two parts
        a, b = rnd.sample(names, 2)
        parts[a], parts[b] = parts[b], parts[a]
    elif choice == 1:  # drop one
        del parts[rnd.choice(names)]
    elif choice == 2:  # empty one
        parts[rnd.choice(names)] = b""
    else:  # an unexpected extra part (or a second copy under another case)
        extra = rnd.choice(names)
        parts[extra.upper()] = parts[extra]
    return zip_bytes(parts, rnd)


def mutate(base: tuple[str, bytes, Parts], rnd: random.Random) -> bytes:
    _, data, parts = base
    kind = rnd.random()
    if kind < 0.35:
        return rnd.choice(BYTE_MUTATORS)(data, rnd)
    if kind < 0.85:
        return mutate_xml(parts, rnd)
    return mutate_package(parts, rnd)


# --- the properties -----------------------------------------------------------------------

def run_case(bases: list[tuple[str, bytes, Parts]], seed: int, target: Path,
             settings: Settings) -> str | None:
    """Mutate and load one input; a description of the failure, or None when it is fine."""
    rnd = random.Random(seed)
    base = bases[seed % len(bases)]
    target.write_bytes(mutate(base, rnd))
    try:
        load_tracker(target, settings)
    except TrackerError as exc:
        if not str(exc).startswith(f"{target}"):
            return f"seed {seed} ({base[0]}): TrackerError without the file: {exc}"
    except BaseException as exc:  # pyo3 PanicException is not an Exception
        if isinstance(exc, KeyboardInterrupt):
            raise
        tb = "".join(traceback.format_exception(exc)[-3:])
        return f"seed {seed} ({base[0]}): {type(exc).__module__}.{type(exc).__name__}: {tb}"
    return None


def test_base_trackers_are_readable(tmp_path: Path) -> None:
    for name, _, _ in base_trackers(tmp_path):
        records = load_tracker(tmp_path / ("wrong.xlsx" if name == "wrong-types"
                                           else f"{name}.xlsx"), Settings())
        assert records.tenants, name
        if name == "wrong-types":
            assert len(records.all_problems) > 10


@pytest.mark.slow
def test_mutated_trackers_read_or_raise_tracker_error(tmp_path: Path) -> None:
    bases = base_trackers(tmp_path)
    target = tmp_path / "mutant.xlsx"
    settings = Settings()
    failures: list[str] = []
    start = time.perf_counter()
    for i in range(N):
        failure = run_case(bases, BASE_SEED + i, target, settings)
        if failure:
            failures.append(failure)
    elapsed = time.perf_counter() - start
    print(f"fuzz: {N} mutated trackers in {elapsed:.1f} s, {len(failures)} failures")
    assert not failures, (f"{len(failures)} of {N} inputs escaped as other exceptions "
                          "(reproduce: FTC_FUZZ_SEED=<seed> FTC_FUZZ_N=1):\n"
                          + "\n".join(failures[:20]))


REGRESSIONS = {
    # one stray cell at the last cell of the sheet made calamine abort the whole process
    "far-cell": (b"</sheetData>", b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
                                  b"</sheetData>"),
    # a cell at the last row took 1.1 GB and 5 s before the size check could refuse it
    "far-row": (b"</sheetData>", b'<row r="1048576"><c r="Z1048576"><v>1</v></c></row>'
                                 b"</sheetData>"),
}


@pytest.mark.parametrize("case", list(REGRESSIONS))
def test_regressions(tmp_path: Path, case: str) -> None:
    old, new = REGRESSIONS[case]
    _, _, parts = base_trackers(tmp_path)[0]
    parts = dict(parts)
    parts["xl/worksheets/sheet1.xml"] = parts["xl/worksheets/sheet1.xml"].replace(old, new)
    target = tmp_path / "case.xlsx"
    target.write_bytes(zip_bytes(parts, random.Random(0)))
    with pytest.raises(TrackerError, match="spans 1048576 rows"):
        load_tracker(target, Settings())

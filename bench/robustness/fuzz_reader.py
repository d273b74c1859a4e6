"""Long mutation fuzz of the tracker reader: every input reads or raises TrackerError.

    .venv/bin/python bench/robustness/fuzz_reader.py [-n 100000] [--procs 2] [--seed S]
        [--json FILE]

Inputs (by seed; the same seed gives the same input):
- the four generated trackers of ``tests/test_fuzz_reader.py`` and every real workbook in
  ``tests/data/excel/`` (Excel, POI, excelize and calamine files), mutated with the test's
  byte, XML and package mutators (bit flips, inserts, deletes, truncated zips; XML noise,
  wrong cell types in every column, huge numbers and references, empty sheets, a dimension
  of 1,048,576 rows, duplicate headers, DTDs, other encodings; parts swapped, dropped,
  emptied, duplicated);
- XML bombs (billion laughs and quadratic blow-up in the sheet, shared strings, workbook
  and content types; external entities), zip bombs (one part inflating 1,000x), a last-row
  / last-column cell, a header row duplicated 1,000 times, 100,000 empty rows.

Each input goes through ``ftc_office.tracker.builder.load_tracker(path, Settings())``. Counted:
inputs tried, read, refused with TrackerError, and escaped (any other exception, pyo3
panics included) — the figure, which must be 0. Also: the slowest input and the peak RSS of
the workers. Failures are printed with their seed: reproduce with ``-n 1 --seed SEED``.
"""

from __future__ import annotations

import argparse
import io
import json
import multiprocessing as mp
import os
import random
import resource
import sys
import tempfile
import time
import traceback
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))

import test_fuzz_reader as tf  # noqa: E402  (the test's mutators and base trackers)

from ftc_office.config import Settings  # noqa: E402
from ftc_office.errors import TrackerError  # noqa: E402
from ftc_office.tracker.builder import load_tracker  # noqa: E402

Base = tuple[str, bytes, dict[str, bytes]]

LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;")
                                                  * 10) for i in range(1, 10))
          + b"]>")
QUADRATIC = (b'<?xml version="1.0"?><!DOCTYPE q [<!ENTITY a "' + b"a" * 50_000 + b'">]>')
XXE = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'


def real_bases() -> list[Base]:
    out = []
    for path in sorted((ROOT / "tests" / "data" / "excel").glob("*.xls*")):
        data = path.read_bytes()
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            out.append((path.name, data, {n: zf.read(n) for n in zf.namelist()}))
    return out


def _bomb(data: bytes, rnd: random.Random) -> bytes:
    """Put a DTD bomb in front of a part's root element and reference it in the content."""
    decl = rnd.choice([LAUGHS, QUADRATIC, XXE])
    ref = {LAUGHS: b"&lol9;", QUADRATIC: b"&a;" * 2000, XXE: b"&e;"}[decl]
    body = data.split(b"?>", 1)[1] if data.startswith(b"<?xml") else data
    spots = [i for i in range(len(body)) if body[i:i + 3] in (b"<t>", b"<v>")]
    if spots:
        i = rnd.choice(spots) + 3
        body = body[:i] + ref + body[i:]
    return decl + body


def special(base: Base, rnd: random.Random) -> bytes:
    """Bombs and giant shapes the generic mutators rarely reach."""
    _, _, parts = base
    parts = dict(parts)
    sheets = [n for n in parts if n.startswith("xl/worksheets/sheet")] or list(parts)
    kind = rnd.randrange(6)
    if kind == 0:  # XML bomb in a sheet, the shared strings, the workbook or the types
        names = [*sheets, "xl/sharedStrings.xml", "xl/workbook.xml", "[Content_Types].xml"]
        name = rnd.choice([n for n in names if n in parts])
        parts[name] = _bomb(parts[name], rnd)
        return tf.zip_bytes(parts, rnd)
    if kind == 1:  # zip bomb: 60 MB of one byte inflating ~1,000x
        name = rnd.choice(sheets)
        parts[name] = parts[name] + b" " * (60 * 1024 * 1024)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
            for n, d in parts.items():
                zf.writestr(n, d)
        return buf.getvalue()
    sheet = rnd.choice(sheets)
    xml = parts[sheet]
    if kind == 2:  # a stray cell at the far corner (or far row / far column)
        ref, r = rnd.choice([(b"XFD1048576", b"1048576"), (b"A1048576", b"1048576"),
                             (b"XFD2", b"2"), (b"ZZ999999", b"999999")])
        xml = xml.replace(b"</sheetData>", b'<row r="' + r + b'"><c r="' + ref
                          + b'"><v>1</v></c></row></sheetData>')
    elif kind == 3:  # the header row repeated 1,000 times (duplicate headers everywhere)
        first = xml.find(b"<row ")
        end = xml.find(b"</row>", first) + 6
        if first > 0 and end > 6:
            xml = xml[:end] + xml[first:end] * 1000 + xml[end:]
    elif kind == 4:  # 100,000 empty rows, then data
        rows = b"".join(b'<row r="%d"/>' % i for i in range(50, 100_050))
        xml = xml.replace(b"</sheetData>", rows + b"</sheetData>")
    else:  # a dimension claiming the whole sheet, and a wrong-typed value in every cell
        xml = tf.xml_dimension(tf.xml_cell_types(xml, rnd), rnd)
    parts[sheet] = xml
    return tf.zip_bytes(parts, rnd)


_BASES: list[Base] = []
_SETTINGS = Settings()
_DIR: Path | None = None


def _init() -> None:
    global _DIR
    _DIR = Path(tempfile.mkdtemp(prefix="fuzz-reader-"))
    _BASES.extend(tf.base_trackers(_DIR))
    _BASES.extend(real_bases())


def make_input(seed: int) -> tuple[str, bytes]:
    rnd = random.Random(seed)
    base = _BASES[seed % len(_BASES)]
    if rnd.random() < 0.06:
        return f"{base[0]}/special", special(base, rnd)
    return base[0], tf.mutate(base, rnd)


def run_one(seed: int) -> tuple[int, str, str | None, float]:
    """(seed, outcome ok|refused|escaped, detail, seconds)."""
    assert _DIR is not None
    name, data = make_input(seed)
    target = _DIR / f"mutant-{os.getpid()}.xlsx"
    target.write_bytes(data)
    start = time.perf_counter()
    try:
        load_tracker(target, _SETTINGS)
        outcome, detail = "ok", None
    except TrackerError:
        outcome, detail = "refused", None
    except BaseException as exc:  # pyo3 PanicException is not an Exception
        if isinstance(exc, KeyboardInterrupt):
            raise
        outcome = "escaped"
        detail = f"seed {seed} ({name}): " + "".join(traceback.format_exception(exc)[-3:])
    return seed, outcome, detail, time.perf_counter() - start


def worker_rss(_: int) -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("-n", type=int, default=100_000)
    ap.add_argument("--procs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1_000_000)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    counts = {"ok": 0, "refused": 0, "escaped": 0}
    failures: list[str] = []
    slowest = (0.0, -1)
    start = time.perf_counter()
    with mp.get_context("fork").Pool(args.procs, initializer=_init) as pool:
        seeds = range(args.seed, args.seed + args.n)
        for i, (seed, outcome, detail, secs) in enumerate(
                pool.imap_unordered(run_one, seeds, chunksize=64), 1):
            counts[outcome] += 1
            if detail:
                failures.append(detail)
                print(detail, file=sys.stderr)
            slowest = max(slowest, (secs, seed))
            if i % 10_000 == 0:
                print(f"{i} inputs, {counts}, {time.perf_counter() - start:.0f} s", flush=True)
        rss = max(pool.map(worker_rss, range(args.procs * 4)))
    wall = time.perf_counter() - start
    bases = [b[0] for b in (_init_names())]
    result: dict[str, Any] = {
        "date": time.strftime("%Y-%m-%d"), "inputs": args.n, "seed": args.seed,
        "procs": args.procs, **counts, "wall_s": round(wall, 1),
        "slowest_s": round(slowest[0], 2), "slowest_seed": slowest[1],
        "worker_peak_rss_mb": round(rss / 1024), "bases": bases, "failures": failures[:50],
    }
    print(json.dumps({k: v for k, v in result.items() if k != "failures"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 1 if counts["escaped"] else 0


def _init_names() -> list[Base]:
    if not _BASES:
        _init()
    return _BASES


if __name__ == "__main__":
    sys.exit(main())

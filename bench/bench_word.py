"""Time per Word attachment: docxtpl (`render_docx`) against the fast path (issue 17).

    .venv/bin/python bench/bench_word.py {fast,docxtpl} [-n 300]

Renders the built-in ATU brief ``n`` times for ``n`` different customers (A4, the FM as
author, the as-of date), after one warm-up document, in this process; prints one JSON line:
``{"per_doc_ms": …, "wall": seconds for n, "cpu": …, "rss_mb": VmHWM}``. bench/compare.py
runs it in fresh processes, interleaved.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ftc_office.compose.docx_fast import render_docx_fast  # noqa: E402
from ftc_office.rendering.word import DocxFinish, render_docx  # noqa: E402

TEMPLATE = ROOT / "templates" / "word" / "atu_brief.docx"
FINISH = DocxFinish(page="A4", author="Maria Lopez", date=dt.date(2026, 11, 26))


def context(i: int) -> dict[str, object]:
    """A tenant's template context (the shape `compose.context` gives the brief)."""
    tenant = {"customer": f"Contoso & Partners {i}", "id": f"tenant-{i}", "region": "EMEA",
              "fm": "maria@microsoft.com", "fm_name": "Lopez, Maria", "seats": 1000 + i,
              "active_users": 500 + i, "queue": "FastTrack EMEA",
              "milestone": {"reason": f"{1000 + i} seats licensed"},
              "workloads": [{"name": "Teams", "discussion_date": dt.date(2026, 11, 2)},
                            {"name": "SharePoint", "discussion_date": None}]}
    return {"tenant": tenant, "covered": [{"name": "Teams"}], "as_of": dt.date(2026, 11, 26)}


def main(argv: list[str] | None = None) -> int:
    """Render and print the timing."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["fast", "docxtpl"])
    ap.add_argument("-n", type=int, default=300)
    args = ap.parse_args(argv)
    render = render_docx_fast if args.mode == "fast" else render_docx
    render(TEMPLATE, context(-1), "warm-up", FINISH)  # the fast path learns the package
    t0, c0 = time.perf_counter(), time.process_time()
    for i in range(args.n):
        render(TEMPLATE, context(i), f"tenant {i}", FINISH)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    status = Path("/proc/self/status").read_text().splitlines()
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    print(json.dumps({"per_doc_ms": 1000 * wall / args.n, "wall": wall, "cpu": cpu,
                      "cpu_per_doc_ms": 1000 * cpu / args.n, "rss_mb": peak / 1024}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

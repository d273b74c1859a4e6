"""Every stage beside its anchor, in one command: fresh processes, interleaved A B A B.

    .venv/bin/pip install -e ".[bench]"        # once: mailmerge for the render anchor
    .venv/bin/python bench/compare.py [--rows 10000] [--runs 5] [--run-runs 1] [--no-write]

Stages (ours | anchor, both on the same data, each a fresh interpreter):

* start-up: ``python -m ftc_office --version`` | ``python -c pass``, beside
  ``python -c "import click"`` (the command-line library alone: what no command avoids)
* plan: ``ftc-office plan TRACKER`` (whole process) | python-calamine reading the same sheet
* render: text + HTML mail for every due message, written as .eml (bench_render.py's
  *plain* child: read, plan, compose, write) | awdeorio's mailmerge ``--dry-run`` on a CSV
  export of the same due messages (whole process)
* write-back: XlsxPatcher, 3 columns x ROWS rows | openpyxl load + the same edits + save
  (bench_writeback.py's children; time measured inside each child from open to saved file)
* Word attachment: the fast path (`compose.docx_fast`) | docxtpl + python-docx
  (`rendering.word.render_docx`), 300 documents each in bench_word.py's child, time per
  document measured inside the child
* run: ``ftc-office run`` from scratch (empty ledger and outbox, pickup mode) in a folder on
  the disk | the same run in a folder in RAM (``--ram-dir``, /dev/shm by default where it
  exists): what the run costs without the disk's latency (every fsync, every new file)

Reports medians and min-max of wall time, the median peak memory (the child's own peak RSS
from ``wait4``, or the sampled peak of it and its worker processes together when larger:
bench/treemem.py) and the 1-minute load average when the stage ended (the machine is shared),
then writes the table into bench/README.md between the ``compare`` markers
(unless ``--no-write``). Nothing is installed at run time; a missing mailmerge is reported.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from treemem import TreeMemory

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = "2026-11-26"
PY = sys.executable
START, END = "<!-- compare:start -->", "<!-- compare:end -->"

Cmd = Callable[[], tuple[list[str], Path]]  # fresh (argv, cwd) for each run


def timed(argv: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> tuple[float, float, str]:
    """Run one child; (wall seconds, its peak memory in MB, stdout's last line). The peak is
    the larger of its own peak RSS (from wait4) and the sampled peak of it and its
    descendants together (bench/treemem.py)."""
    env = dict(os.environ, FTC_OFFICE_DATA_DIR=str(cwd / "data"),
               FTC_OFFICE_CONFIG_DIR=str(cwd / "cfg"), PYTHONPATH=str(ROOT))
    env.pop("FTC_OFFICE_CONFIG", None)
    with tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=err)
        assert proc.stdout is not None
        with TreeMemory(proc.pid) as tree:  # the run's compose-ahead workers count too
            out = proc.stdout.read()
            proc.stdout.close()
            _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode not in ok:
            err.seek(0)
            raise SystemExit(f"child failed ({proc.returncode}): {' '.join(argv)}\n"
                             f"{err.read().decode()[-2000:]}")
    lines = out.decode("utf-8", "replace").strip().splitlines()
    return wall, max(usage.ru_maxrss / 1024, tree.peak_mb), lines[-1] if lines else ""


def interleave(ours: Cmd, anchor: Cmd | None, runs: int, inner: bool = False,
               extra: Cmd | None = None) -> dict[str, list[tuple[float, float]]]:
    """A B A B ... (A B C A B C with ``extra``); each run (wall s, MB). ``inner``: the child
    prints its own JSON timing."""
    res: dict[str, list[tuple[float, float]]] = {"ours": [], "anchor": [], "extra": []}
    for _ in range(runs):
        for side, make in (("ours", ours), ("anchor", anchor), ("extra", extra)):
            if make is None:
                continue
            argv, cwd = make()
            # plan and run exit 1 for the generated tracker's deliberately invalid tenants
            lenient = "plan" in argv or "run" in argv
            wall, rss, last = timed(argv, cwd, (0, 1) if lenient else (0,))
            if inner:
                data = json.loads(last)
                wall, rss = data.get("per_doc_ms", data["wall"]), data["rss_mb"]
            res[side].append((wall, rss))
    return res


def summary(runs: list[tuple[float, float]], unit: str = "s") -> str:
    """'median s (min–max), MB'."""
    if not runs:
        return "—"
    walls = [w for w, _ in runs]
    mb = statistics.median(r for _, r in runs)
    return (f"{statistics.median(walls):.3f} {unit} ({min(walls):.2f}–{max(walls):.2f}), "
            f"{mb:.0f} MB")


def med(runs: list[tuple[float, float]]) -> float:
    """Median wall time."""
    return statistics.median(w for w, _ in runs) if runs else float("nan")


class Stages:
    """The command pairs, on data prepared once in ``work``."""

    def __init__(self, work: Path, rows: int, ram: Path | None = None) -> None:
        self.work, self.rows, self.n, self.ram = work, rows, 0, ram
        self.tracker = work / "tracker.xlsx"
        self.csv = work / "due.csv"
        self.wb_src = work / f"tracker-{rows}.xlsx"  # bench_writeback reads ROWS from the name
        self.mailmerge = shutil.which("mailmerge", path=str(Path(PY).parent))

    def prepare(self) -> None:
        """The tracker, the CSV of its due messages, the write-back tracker (children)."""
        timed([PY, str(HERE / "make_tracker.py"), str(self.rows), str(self.tracker)], self.work)
        timed([PY, str(HERE / "bench_render.py"), "--export", str(self.tracker),
               str(self.csv)], self.work)
        code = ("import sys; sys.path.insert(0, sys.argv[1]); from pathlib import Path; "
                "from bench_writeback import make_tracker; "
                "make_tracker(Path(sys.argv[2]), int(sys.argv[3]))")
        timed([PY, "-c", code, str(HERE), str(self.wb_src), str(self.rows)], self.work)
        from bench_render import MM_CONFIG, MM_TEMPLATE  # plain strings; no heavy imports

        (self.work / "mm_template.txt").write_text(MM_TEMPLATE, encoding="utf-8")
        (self.work / "mm_server.conf").write_text(MM_CONFIG, encoding="utf-8")

    def fresh(self, name: str, under: Path | None = None) -> Path:
        """A new empty folder for one run (in ``work``, or ``under``)."""
        self.n += 1
        folder = (under or self.work) / f"{name}-{self.n}"
        folder.mkdir()
        return folder

    def startup(self) -> tuple[list[str], Path]:
        return [PY, "-m", "ftc_office", "--version"], self.work

    def bare(self) -> tuple[list[str], Path]:
        return [PY, "-c", "pass"], self.work

    def click_alone(self) -> tuple[list[str], Path]:
        return [PY, "-c", "import click"], self.work

    def plan(self) -> tuple[list[str], Path]:
        return [PY, "-m", "ftc_office", "plan", str(self.tracker), "--as-of", AS_OF], self.work

    def calamine(self) -> tuple[list[str], Path]:
        code = ("import sys; from python_calamine import CalamineWorkbook; "
                "rows = CalamineWorkbook.from_path(sys.argv[1]).get_sheet_by_index(0)"
                ".to_python(); print(len(rows))")
        return [PY, "-c", code, str(self.tracker)], self.work

    def render(self) -> tuple[list[str], Path]:
        return [PY, str(HERE / "bench_render.py"), "--child", "plain", str(self.tracker),
                str(self.fresh("render"))], self.work

    def mailmerge_run(self) -> tuple[list[str], Path]:
        assert self.mailmerge
        return [self.mailmerge, "--template", str(self.work / "mm_template.txt"), "--database",
                str(self.csv), "--config", str(self.work / "mm_server.conf"), "--dry-run",
                "--no-limit", "--output-format", "raw"], self.work

    def patcher(self) -> tuple[list[str], Path]:
        return [PY, str(HERE / "bench_writeback.py"), "--child", "patcher", str(self.wb_src),
                str(self.fresh("wb") / "out.xlsx")], self.work

    def openpyxl(self) -> tuple[list[str], Path]:
        return [PY, str(HERE / "bench_writeback.py"), "--child", "openpyxl", str(self.wb_src),
                str(self.fresh("wb") / "out.xlsx")], self.work

    def word_fast(self) -> tuple[list[str], Path]:
        return [PY, str(HERE / "bench_word.py"), "fast", "-n", "300"], self.work

    def word_docxtpl(self) -> tuple[list[str], Path]:
        return [PY, str(HERE / "bench_word.py"), "docxtpl", "-n", "300"], self.work

    def run(self, under: Path | None = None) -> tuple[list[str], Path]:
        folder = self.fresh("run", under)
        shutil.copyfile(self.tracker, folder / "tracker.xlsx")
        return [PY, "-m", "ftc_office", "run", "tracker.xlsx", "--as-of", AS_OF,
                "--no-dry-run", "--yes", "--outbox", "outbox", "--outbox-mode", "pickup"], folder

    def run_in_ram(self) -> tuple[list[str], Path]:
        """The same run, its folder (tracker, outbox, ledger, backups) in RAM; the folder
        before it there is removed first (a run's files are ~60 MB)."""
        assert self.ram is not None
        for old in self.ram.glob("run-*"):
            shutil.rmtree(old, ignore_errors=True)
        return self.run(self.ram)


def measure(st: Stages, runs: int, run_runs: int) -> list[tuple[str, ...]]:
    """Every stage; rows of (stage, ours, anchor, target, met?, load when it ended)."""
    rows: list[tuple[str, ...]] = []

    def add(*row: str) -> None:
        rows.append((*row, f"{os.getloadavg()[0]:.1f}"))
        print(" | ".join(rows[-1]), flush=True)

    r = interleave(st.startup, st.bare, runs, extra=st.click_alone)
    add("start-up (`--version`) vs `python -c pass`", summary(r["ours"]),
        f"{summary(r['anchor'])}; `import click` alone: {summary(r['extra'])}", "≤ 0.12 s",
        _yes(med(r["ours"]) <= 0.12))
    r = interleave(st.plan, st.calamine, runs)
    ok = med(r["ours"]) <= 0.8 and med(r["ours"]) <= 4 * med(r["anchor"])
    add("`plan` (whole process) vs calamine reading the sheet", summary(r["ours"]),
        summary(r["anchor"]), "≤ 0.8 s and ≤ 4× the bare read", _yes(ok))
    if st.mailmerge:
        r = interleave(st.render, st.mailmerge_run, runs)
        add("render text + HTML mail, due messages, whole process vs mailmerge dry run "
            "(same messages, CSV)", summary(r["ours"]), summary(r["anchor"]),
            "≤ 1/1.5 of mailmerge's time", _yes(med(r["ours"]) * 1.5 <= med(r["anchor"])))
    else:
        add("render text + HTML mail vs mailmerge", "—",
            "mailmerge not installed (`pip install -e .[bench]`)", "", "not measured")
    r = interleave(st.word_fast, st.word_docxtpl, runs, inner=True)
    add("Word attachment, per document (inside the child, 300 documents) vs docxtpl",
        summary(r["ours"], "ms"), summary(r["anchor"], "ms"), "≤ 1 ms, same document",
        _yes(med(r["ours"]) <= 1.0))
    r = interleave(st.patcher, st.openpyxl, runs, inner=True)
    add(f"write-back, 3 columns × {st.rows:,} rows vs openpyxl load + edit + save "
        "(inside the child)", summary(r["ours"]), summary(r["anchor"]),
        "≤ 0.1× openpyxl's time", _yes(med(r["ours"]) <= 0.1 * med(r["anchor"])))
    r = interleave(st.run, st.run_in_ram if st.ram else None, run_runs)
    fast, small = med(r["ours"]) <= 12, statistics.median(m for _, m in r["ours"]) <= 150
    ram = (f"{summary(r['anchor'])}: the same run in a folder in RAM ({st.ram.parent})"
           if st.ram else "—")
    add("`run` from scratch to the outbox (pickup), its folder on the disk", summary(r["ours"]),
        ram, "≤ 12 s, ≤ 150 MB", _yes(fast) if fast == small
        else f"time {_yes(fast)}, memory {_yes(small)}")
    return rows


def _yes(ok: bool) -> str:
    return "yes" if ok else "**no**"


def table(rows: list[tuple[str, ...]], args: argparse.Namespace) -> str:
    """The Markdown section for bench/README.md."""
    load = os.getloadavg()
    head = (f"Command: `.venv/bin/python bench/compare.py --rows {args.rows} --runs {args.runs}"
            f" --run-runs {args.run_runs}` ({dt.date.today().isoformat()}; Python "
            f"{platform.python_version()}, {platform.system()} {platform.machine()}, "
            f"{os.cpu_count()} CPUs shared with other sessions, load average "
            f"{load[0]:.1f} at the end, {_cpu()}). Tracker from "
            f"`bench/make_tracker.py {args.rows}`; "
            "each figure is the median wall time of fresh processes run interleaved (ours, "
            "anchor, ours, anchor …), min–max in brackets, the median peak memory (the "
            "process's own peak RSS, or its and its workers' sampled PSS together when "
            "larger), and the load average when the stage ended.\n\n")
    lines = ["| stage | ours | anchor, same run | target | met? | load |",
             "|---|---|---|---|---|---|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return head + "\n".join(lines) + "\n"


def _cpu() -> str:
    """The processor's model name (Linux), or the platform's word for it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def write_readme(text: str) -> None:
    """Replace the section between the markers (or append one)."""
    readme = HERE / "README.md"
    old = readme.read_text(encoding="utf-8")
    block = f"{START}\n{text}{END}"
    if START in old and END in old:
        new = old[:old.index(START)] + block + old[old.index(END) + len(END):]
    else:
        new = old.rstrip("\n") + "\n\n## Every stage beside its anchor (`bench/compare.py`)\n\n" \
            + block + "\n"
    readme.write_text(new, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    """Prepare the data, measure every stage, print and record the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=5, help="runs per side for the quick stages")
    ap.add_argument("--run-runs", type=int, default=1, help="runs of the whole `run`")
    ap.add_argument("--no-write", action="store_true", help="print only; leave README alone")
    shm = Path("/dev/shm")
    ap.add_argument("--ram-dir", default=str(shm) if shm.is_dir() and os.access(shm, os.W_OK)
                    else "", help="a RAM folder for the run beside the disk's ('' for none; "
                    "default /dev/shm where it exists)")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(HERE))
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-compare-"))
        ram = (Path(stack.enter_context(tempfile.TemporaryDirectory(
            prefix="bench-compare-", dir=args.ram_dir))) if args.ram_dir else None)
        st = Stages(Path(tmp), args.rows, ram)
        st.prepare()
        text = table(measure(st, args.runs, args.run_runs), args)
    print(text)
    if not args.no_write:
        write_readme(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())

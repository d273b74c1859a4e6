"""Benchmark: render every due message of a large tracker, and awdeorio's mailmerge beside it.

Usage:  python bench/bench_render.py [--rows 2500,5000,10000] [--profile] [--keep DIR]

For each size, ``bench/make_tracker.py N`` writes a tracker; then, each in a fresh child
process (the parent imports only the standard library, so a child's ``ru_maxrss`` is its
own, read with ``os.wait4``):

* ``read``   — read + plan only (the memory the tracker itself takes);
* ``full``   — what ``ftc-office preview`` does: read + plan, ``compose_all`` (text, HTML,
  Word brief / summary, queue-move .xlsx), then one ``.eml`` per message (``write_eml``);
* ``plain``  — the same with mailers that have no attachments (a plain text + HTML email,
  the like-for-like comparison with mailmerge);
* ``stream`` — ``full``, but each tenant's jobs are written as soon as they are composed
  (memory does not hold every message of the run);
* ``mailmerge`` — ``mailmerge --dry-run --no-limit --output-format raw`` on a CSV export of
  the same due messages (one row per ATU / follow-up message) with a multipart/alternative
  template of the same size as our ATU text and HTML bodies. Its stdout goes to /dev/null.

``--profile`` runs the ``full`` and ``plain`` children of the largest size under cProfile
and prints where the time goes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
AS_OF = "2026-11-26"

MM_TEMPLATE = """TO: {{email}}
CC: {{cc}}
FROM: {{fm}}
SUBJECT: FastTrack enablement complete: {{customer}} – {{workload}} – please hold the completion review
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="boundary"

--boundary
Content-Type: text/plain; charset=utf-8

Hello {{team_names}},

FastTrack has completed the enablement of {{workload}} for {{customer}} (tenant {{tenant_id}}).

Milestone evidence: {{milestone}}.

What we ask of you:
  1. Please hold the engagement completion review with the customer during your existing cadence with them.
  2. Please support the customer through the engagement completion process, and let me know of any concern or unique scenario they raise.

After the review I will disengage from {{customer}}: the tenant moves to the {{queue}} queue, and the customer can ask FastTrack for help at any time with a new Request for Assistance (RFA).

Thank you for your support,
{{fm_name}}
FastTrack Manager · {{fm}}

--boundary
Content-Type: text/html; charset=utf-8

<html><body style="font-family: 'Segoe UI', Calibri, Arial, sans-serif; font-size: 11pt;">
<h1 style="font-size: 15pt; color: #0f4a85;">Enablement complete: {{customer}} – {{workload}}</h1>
<p>Hello {{team_names}},</p>
<p>FastTrack has completed the enablement of <strong>{{workload}}</strong> for <strong>{{customer}}</strong> (tenant {{tenant_id}}).</p>
<div style="background-color: #eef4fb; border-left: 4px solid #0f4a85; padding: 8px 12px;"><strong>Milestone evidence:</strong> {{milestone}}.</div>
<h2 style="font-size: 12pt; color: #0f4a85;">What we ask of you</h2>
<ol>
  <li>Please hold the <strong>engagement completion review</strong> with the customer during your existing cadence with them.</li>
  <li>Please support the customer through the engagement completion process, and let me know of any concern or unique scenario they raise.</li>
</ol>
<p>After the review I will disengage from {{customer}}: the tenant moves to the <strong>{{queue}}</strong> queue.</p>
<table style="border-collapse: collapse;"><tr><th>Customer</th><td>{{customer}}</td></tr><tr><th>Tenant ID</th><td>{{tenant_id}}</td></tr><tr><th>Workload</th><td>{{workload}}</td></tr></table>
<p>Thank you for your support,<br>{{fm_name}}<br>FastTrack Manager · <a href="mailto:{{fm}}">{{fm}}</a></p>
</body></html>

--boundary--
"""
MM_CONFIG = "[smtp_server]\nhost = localhost\nport = 25\nratelimit = 0\n"


# ---- children (run in a fresh interpreter) ---------------------------------------------------

def _vmhwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _plain_mailers(folder: Path) -> None:
    """The built-in mailers without their [[attachments]] tables."""
    from ftc_office.mailers import builtin_root

    folder.mkdir(parents=True, exist_ok=True)
    for src in (builtin_root() / "mailers").glob("*.toml"):
        out, skip = [], False
        for line in src.read_text(encoding="utf-8").splitlines():
            if line.startswith("[[attachments]]"):
                skip = True
                continue
            if skip and line.startswith("["):
                skip = False
            if not skip:
                out.append(line)
        (folder / src.name).write_text("\n".join(out) + "\n", encoding="utf-8")


def child(mode: str, tracker: Path, out: Path) -> dict[str, Any]:
    import datetime as dt

    from ftc_office.console import tune_collector

    tune_collector()  # as the command line sets it (ftc_office.cli.main)
    from ftc_office.compose.composer import Composer, compose_all
    from ftc_office.config import PathSettings, Settings
    from ftc_office.planning import load_workspace, plan_workspace
    from ftc_office.preview import write_eml

    as_of = dt.date.fromisoformat(AS_OF)
    settings = Settings()
    if mode == "plain":
        _plain_mailers(out / "_mailers")
        settings = Settings(paths=PathSettings(mailers=str(out / "_mailers")))
    now = dt.datetime(2026, 11, 26, 9, 0, tzinfo=dt.UTC)
    t0 = time.perf_counter()
    ws = load_workspace([tracker], settings)
    plans = plan_workspace(ws, as_of)
    t1 = time.perf_counter()
    if mode == "read":
        return {"mode": mode, "tenants": len(plans), "jobs": 0, "messages": 0, "failures": 0,
                "read_plan_s": t1 - t0, "compose_s": 0.0, "write_s": 0.0, "total_s": t1 - t0,
                "vmhwm_mb": _vmhwm_mb()}
    composer = Composer(settings, as_of)
    n_msg = n_jobs = n_fail = 0
    t_write = 0.0
    if mode == "stream":
        from ftc_office.errors import FtcError

        failed = set()
        for p in plans:
            try:
                jobs = composer.compose_tenant(p)
            except FtcError:
                n_fail += 1
                failed.add(p.tenant.tenant_id)
                continue
            tw = time.perf_counter()
            for job in jobs:
                n_jobs += 1
                n_msg += write_eml(job, out, now) is not None
            t_write += time.perf_counter() - tw
        moves = composer.compose_queue_moves([p for p in plans
                                              if p.tenant.tenant_id not in failed])
        n_fail += len(moves.failures)
        tw = time.perf_counter()
        for job in moves.jobs:
            n_jobs += 1
            n_msg += write_eml(job, out, now) is not None
        t_write += time.perf_counter() - tw
        t2 = time.perf_counter() - t_write
        t3 = t2 + t_write
    else:
        comp = compose_all(composer, plans)
        t2 = time.perf_counter()
        for job in comp.jobs:
            n_msg += write_eml(job, out, now) is not None
        t3 = time.perf_counter()
        n_jobs, n_fail = len(comp.jobs), len(comp.failures)
    return {"mode": mode, "tenants": len(plans), "jobs": n_jobs, "messages": n_msg,
            "failures": n_fail, "read_plan_s": t1 - t0, "compose_s": t2 - t1,
            "write_s": t3 - t2, "total_s": t3 - t0, "vmhwm_mb": _vmhwm_mb()}


def person_name(email: str) -> str:
    """A display name from an address ("jane.doe@x" -> "Jane Doe"), for the CSV only."""
    return " ".join(p.capitalize() for p in email.partition("@")[0].replace("_", ".").split(".")
                    if p)


def export_csv(tracker: Path, csv_path: Path) -> dict[str, Any]:
    """One CSV row per due ATU / follow-up message, with the values the template needs."""
    import csv
    import datetime as dt

    from ftc_office.config import Settings
    from ftc_office.planning import load_workspace, plan_workspace
    from ftc_office.playbook import ActionKind

    settings = Settings()
    plans = plan_workspace(load_workspace([tracker], settings), dt.date.fromisoformat(AS_OF))
    n = 0
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["email", "cc", "fm", "fm_name", "team_names", "customer", "tenant_id",
                    "workload", "milestone", "queue"])
        for p in plans:
            t = p.tenant
            for a in p.actions:
                if a.kind not in (ActionKind.ATU, ActionKind.CUSTOMER_FOLLOWUP):
                    continue
                to = [x.email for x in (t.account_team if a.kind == ActionKind.ATU
                                        else t.customer_contacts)]
                fm = t.fm.email if t.fm else ""
                reason = p.milestone.reason if p.milestone else ""
                w.writerow([", ".join(to), fm, fm, person_name(fm),
                            " and ".join(person_name(x) for x in to), t.customer, t.tenant_id,
                            a.workload.name if a.workload else "", reason, p.queue or ""])
                n += 1
    return {"rows": n}


# ---- parent -----------------------------------------------------------------------------------

def spawn(args: list[str], stdout: Any = subprocess.PIPE, profile: Path | None = None,
          program: str | None = None) -> tuple[float, float, str]:
    """Run a child; return (wall seconds, its own peak RSS in MB from wait4, stdout)."""
    cmd = ([program] if program else
           [sys.executable, *(["-m", "cProfile", "-o", str(profile)] if profile else [])])
    cmd += args
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=stdout, stderr=subprocess.PIPE, cwd=ROOT)
    data = proc.stdout.read() if stdout == subprocess.PIPE and proc.stdout else b""
    err = proc.stderr.read() if proc.stderr else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child failed ({proc.returncode}): {' '.join(cmd)}\n{err.decode()}")
    return wall, usage.ru_maxrss / 1024, data.decode()


def run_size(n: int, work: Path, profile: bool) -> list[dict[str, Any]]:
    tracker = work / f"tracker-{n}.xlsx"
    if not tracker.exists():
        spawn([str(HERE / "make_tracker.py"), str(n), str(tracker)])
    rows = []
    for mode in ("read", "full", "plain", "stream"):
        out = work / f"out-{n}-{mode}"
        prof = (work / f"profile-{mode}.pstats" if profile and mode in ("full", "plain")
                else None)
        wall, rss, text = spawn([__file__, "--child", mode, str(tracker), str(out)],
                                profile=prof)
        res = json.loads(text.strip().splitlines()[-1])
        res.update(rows_in=n, wall_s=wall, maxrss_mb=rss, eml_files=len(list(out.glob("*.eml"))))
        rows.append(res)
        if prof:
            import pstats

            print(f"\n--- cProfile, {mode}, {n} rows (top 25 by cumulative time) ---")
            pstats.Stats(str(prof)).sort_stats("cumulative").print_stats(25)
            pstats.Stats(str(prof)).sort_stats("tottime").print_stats(15)
    csv_path = work / f"due-{n}.csv"
    _w, _r, text = spawn([__file__, "--export", str(tracker), str(csv_path)])
    n_csv = json.loads(text.strip().splitlines()[-1])["rows"]
    (work / "mm_template.txt").write_text(MM_TEMPLATE, encoding="utf-8")
    (work / "mm_server.conf").write_text(MM_CONFIG, encoding="utf-8")
    mailmerge = Path(sys.executable).parent / "mailmerge"
    with open(os.devnull, "wb") as null:
        wall, rss, _ = spawn(["--template", str(work / "mm_template.txt"),
                              "--database", str(csv_path), "--config",
                              str(work / "mm_server.conf"), "--dry-run", "--no-limit",
                              "--output-format", "raw"], stdout=null, program=str(mailmerge))
    rows.append({"mode": "mailmerge", "rows_in": n, "messages": n_csv, "total_s": wall,
                 "wall_s": wall, "maxrss_mb": rss})
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="2500,5000,10000")
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--keep", type=Path, help="work folder to keep (default: a temp folder)")
    ap.add_argument("--child", nargs=3, metavar=("MODE", "TRACKER", "OUT"))
    ap.add_argument("--export", nargs=2, metavar=("TRACKER", "CSV"))
    args = ap.parse_args()
    if args.child:
        mode, tracker, out = args.child
        print(json.dumps(child(mode, Path(tracker), Path(out))))
        return 0
    if args.export:
        print(json.dumps(export_csv(Path(args.export[0]), Path(args.export[1]))))
        return 0
    sizes = [int(s) for s in args.rows.split(",")]
    with tempfile.TemporaryDirectory(prefix="bench-render-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        results = []
        for n in sizes:
            results.extend(run_size(n, work, args.profile and n == max(sizes)))
    print(f"\n{platform.python_version()} {platform.machine()} {os.cpu_count()} CPUs, "
          f"{time.strftime('%Y-%m-%d')}")
    print("| rows | variant | messages (.eml) | read+plan s | compose s | write s | total s "
          "| msg/s (compose+write) | wall s | peak RSS MB (ru_maxrss / VmHWM) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in results:
        if r["mode"] == "mailmerge":
            print(f"| {r['rows_in']} | mailmerge dry run | {r['messages']} | – | – | – | – | "
                  f"{r['messages'] / r['wall_s']:.0f} (whole process) | {r['wall_s']:.2f} | "
                  f"{r['maxrss_mb']:.0f} |")
            continue
        render = r["compose_s"] + r["write_s"]
        if r["mode"] == "read":
            print(f"| {r['rows_in']} | read + plan only | – | {r['read_plan_s']:.2f} | – | – | "
                  f"{r['total_s']:.2f} | – | {r['wall_s']:.2f} | {r['maxrss_mb']:.0f} / "
                  f"{r['vmhwm_mb']:.0f} |")
            continue
        print(f"| {r['rows_in']} | {r['mode']} | {r['messages']} ({r['eml_files']}) | "
              f"{r['read_plan_s']:.2f} | {r['compose_s']:.2f} | {r['write_s']:.2f} | "
              f"{r['total_s']:.2f} | {r['messages'] / render:.0f} | {r['wall_s']:.2f} | "
              f"{r['maxrss_mb']:.0f} / {r['vmhwm_mb']:.0f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())

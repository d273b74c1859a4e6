"""The review page, checked in a real browser (Debian's chromium, headless).

`preview --out DIR` writes a static page that must load without a console error or a
request leaving the page (its CSP allows nothing but itself), and whose counts equal the
run's own (the dry run's JSON report over the same tracker and date).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from runhelpers import ftc

from ftc_office.mailers import builtin_root

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
AS_OF = "2026-11-26"
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed "
                                "(.ci/run installs Debian's chromium when it can)")


def chromium(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    return subprocess.run([CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu",
                           "--hide-scrollbars", "--enable-logging=stderr", "--v=0",
                           f"--user-data-dir={cwd / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


def test_the_review_page_loads_clean_and_counts_what_the_run_does(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = tmp_path / "tracker.xlsx"
    shutil.copyfile(builtin_root() / "samples" / "tracker.xlsx", tracker)
    out = tmp_path / "review"
    ftc("preview", str(tracker), "--as-of", AS_OF, "--out", str(out))
    page = (out / "index.html").as_uri()
    dom = chromium("--dump-dom", page, cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    errors = [line for line in dom.stderr.splitlines()
              if "CONSOLE" in line or "Refused to" in line or "Uncaught" in line]
    assert errors == []
    counts = {m[1]: int(m[2]) for m in re.finditer(
        r'data-count="([^"]+)" data-value="(\d+)"', dom.stdout)}
    ftc("run", str(tracker), "--as-of", AS_OF, "--report", "dry.json")
    report = json.loads((tmp_path / "dry.json").read_text(encoding="utf-8"))
    messages = counts["Emails to account teams"] + counts["Customer follow-ups"] + \
        counts["Queue-move messages"]
    assert messages == report["messages_sent"] + report["messages_drafted"] > 0
    assert counts["Notes only (no ATU)"] + counts["Notes only (FM unassigned)"] == \
        report["notes_recorded"] > 0
    invalid = sum(1 for t in report["tenants"] if t["step_before"] == "invalid")
    assert counts["Invalid tenants"] == invalid > 0
    # every invalid tenant is in Needs attention, with its cell
    for t in report["tenants"]:
        if t["step_before"] == "invalid":
            assert t["tenant_id"] in dom.stdout
    assert "Needs attention" in dom.stdout and str(tracker) in dom.stdout
    shot = tmp_path / "page.png"
    taken = chromium(f"--screenshot={shot}", "--window-size=390,1200", page, cwd=tmp_path)
    assert taken.returncode == 0 and shot.stat().st_size > 10_000

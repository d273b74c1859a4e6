"""The team lead's dashboard (`ftc-office report --html`), checked in a real browser.

Headless Chromium (Debian's ``chromium``; the browser tests skip, saying why, without it)
loads the page written for the bundled sample: nothing on its console (a request the page
tried to make is a Content-Security-Policy violation logged there), a screenshot at 1280 and
at 390 px, and every count in the DOM equal to what `plan --json` says for the same tracker
and date. The ledger section is checked against a real run's ledger.
"""

from __future__ import annotations

import html
import importlib.util
import json
import shutil
import subprocess
import sys
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from ftc_office.ledger import Ledger
from tests.runhelpers import ftc, run

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "tracker.xlsx"
AS_OF = "2026-11-26"

_spec = importlib.util.spec_from_file_location(
    "dashboard_screenshots", ROOT / "scripts" / "dashboard_screenshots.py")
assert _spec and _spec.loader
shots = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = shots
_spec.loader.exec_module(shots)


class Cells(HTMLParser):
    """Every element's attributes, and any reference that could leave the page."""

    def __init__(self) -> None:
        super().__init__()
        self.attrs: list[dict[str, str]] = []
        self.tags: Counter[str] = Counter()
        self.outside: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        d = {k: v or "" for k, v in attrs}
        self.attrs.append(d)
        self.tags[tag] += 1
        for k in ("src", "href", "srcset", "action", "xlink:href"):
            if k in d and not d[k].startswith(("#", "data:")):
                self.outside.append(f"<{tag} {k}={d[k]}>")


def parse(page: str) -> Cells:
    cells = Cells()
    cells.feed(page)
    return cells


def dom_counts(cells: Cells) -> dict[str, dict[str, Counter[str]]]:
    """group → key → step → count, from the data attributes of the matrix cells."""
    out: dict[str, dict[str, Counter[str]]] = {}
    for a in cells.attrs:
        if "data-step" in a:
            out.setdefault(a["data-group"], {}).setdefault(a["data-key"], Counter())[
                a["data-step"]] = int(a["data-count"])
    return out


def json_counts(plans: list[dict[str, object]]) -> dict[str, dict[str, Counter[str]]]:
    """The same numbers, counted here from `plan --json`'s list (an independent count)."""
    out: dict[str, dict[str, Counter[str]]] = {"team": {"team": Counter()}, "fm": {},
                                                "region": {}}
    for p in plans:
        step = str(p["next_step"])
        out["team"]["team"][step] += 1
        out["fm"].setdefault(str(p["fm"] or "-"), Counter())[step] += 1
        out["region"].setdefault(str(p["region"] or "-"), Counter())[step] += 1
    return out


def nonzero(d: dict[str, dict[str, Counter[str]]]) -> dict[str, dict[str, dict[str, int]]]:
    return {g: {k: {s: n for s, n in c.items() if n} for k, c in keys.items()}
            for g, keys in d.items()}


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    tracker = tmp_path / "tracker.xlsx"
    shutil.copyfile(SAMPLE, tracker)
    return tracker


@pytest.fixture
def browser() -> str:
    found = shots.find_chromium()
    if found is None:
        reason = "no Chromium (/usr/bin/chromium): apt-get install chromium to run this test"
        print(reason)
        pytest.skip(reason)
    return found


def report(tracker: Path, out: Path) -> str:
    result = ftc("report", str(tracker), "--as-of", AS_OF, "--html", str(out))
    assert result.exit_code == 0, result.output
    return out.read_text("utf-8")


def test_the_sample_dashboard_in_chromium_matches_plan_json(sample: Path, tmp_path: Path,
                                                            browser: str) -> None:
    page = tmp_path / "dashboard.html"
    report(sample, page)
    plan = ftc("plan", str(sample), "--as-of", AS_OF, "--json")
    assert plan.exit_code == 0
    pngs = {w: tmp_path / f"dashboard-{w}.png" for w in (1280, 390)}
    seen = shots.browse(browser, page, pngs)
    assert seen.console == []
    cells = parse(seen.dom)
    assert cells.outside == [] and cells.tags["script"] == 0 and cells.tags["link"] == 0
    expected = json_counts(json.loads(plan.stdout))
    assert nonzero(dom_counts(cells)) == nonzero(expected)
    assert sum(expected["team"]["team"].values()) == 60
    from PIL import Image

    for width, png in pngs.items():
        with Image.open(png) as img:
            assert img.size[0] == width and img.size[1] > 1000


def test_the_console_check_sees_a_request_the_page_tries(sample: Path, tmp_path: Path,
                                                         browser: str) -> None:
    """The check above can fail: a page that reaches out is blocked and logged."""
    page = tmp_path / "dashboard.html"
    text = report(sample, page)
    page.write_text(text.replace("</main>", '<img src="https://cdn.example.com/x.png"></main>'),
                    "utf-8")
    seen = shots.browse(browser, page)
    assert any("cdn.example.com" in line for line in seen.console)
    assert parse(seen.dom).outside == ["<img src=https://cdn.example.com/x.png>"]


def test_every_chart_has_a_text_alternative(sample: Path, tmp_path: Path) -> None:
    text = report(sample, tmp_path / "d.html")
    cells = parse(text)
    svgs = [a for a in cells.attrs if a.get("class") == "chart"]
    assert len(svgs) == 4
    assert all(a["role"] == "img" for a in svgs)
    labels = [html.unescape(a["aria-label"]) for a in svgs]
    assert labels[0].startswith("Tenants per step: not eligible 7, send ATU 14")
    assert all(any(ch.isdigit() for ch in label) for label in labels)
    assert cells.tags["title"] == 1 + len(svgs)
    ids = [a["id"] for a in cells.attrs if "id" in a]
    assert len(ids) == len(set(ids)), "two charts share an id"


def test_the_ledger_section_counts_a_real_run_per_fm(sample: Path, tmp_path: Path,
                                                     user_dirs: Path) -> None:
    after = tmp_path / "after-run.html"
    # exit 1: the sample's 4 invalid tenants
    assert run(sample, AS_OF, tmp_path / "outbox", "--dashboard", str(after)).exit_code == 1
    assert "data-ledger" in after.read_text("utf-8")
    with Ledger.open(user_dirs / "data") as ledger:
        entries = ledger.entries()
        ledger.transition(entries[0].key, "refused", error="550 no such user")
        entries = ledger.entries()
    text = report(sample, tmp_path / "d.html")
    cells = parse(text)
    team = {a["data-state"]: int(a["data-count"]) for a in cells.attrs
            if a.get("data-fm") == "team"}
    assert team["sent"] == sum(1 for e in entries if e.state == "sent") > 0
    assert team["refused"] == 1
    per_fm = Counter()
    for a in cells.attrs:
        if "data-state" in a and a["data-fm"] != "team":
            per_fm[a["data-state"]] += int(a["data-count"])
    assert per_fm["sent"] >= team["sent"]  # a queue move counts once per FM it names


def test_waiting_longest_first_and_invalid_with_their_cell(sample: Path, tmp_path: Path) -> None:
    text = report(sample, tmp_path / "d.html")
    cells = parse(text)
    days = [int(a["data-days"]) for a in cells.attrs if a.get("data-days")]
    assert days and days[:5] == sorted(days[:5], reverse=True)
    assert "Tracker!D11" in text and "'lots' is not a whole number" in html.unescape(text)


def test_a_wrong_output_name_is_refused_with_where_and_what_to_do(sample: Path,
                                                                  tmp_path: Path) -> None:
    result = ftc("report", str(sample), "--html", str(tmp_path / "d.txt"))
    assert result.exit_code == 2
    assert "d.txt: the dashboard is an HTML file" in result.output
    assert "give a file name ending in .html" in result.output


def test_plan_and_check_do_not_import_the_chart_library(sample: Path) -> None:
    code = ("import sys; from click.testing import CliRunner; from ftc_office.cli.main import cli;"
            f"CliRunner().invoke(cli, ['plan', {str(sample)!r}, '--json']);"
            f"CliRunner().invoke(cli, ['check', {str(sample)!r}]);"
            "print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_run_refuses_a_dashboard_name_before_it_sends(sample: Path, tmp_path: Path) -> None:
    result = run(sample, AS_OF, tmp_path / "outbox", "--dashboard", str(tmp_path / "d.pdf"))
    assert result.exit_code == 2 and "give a file name ending in .html" in result.output
    assert not (tmp_path / "outbox").exists()

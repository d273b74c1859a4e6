"""Regenerate the dashboard screenshots in docs/screenshots/ (and check the page as it goes).

    .venv/bin/python scripts/dashboard_screenshots.py [--out docs/screenshots]

Copies the bundled sample into a temporary folder, runs it once for real with the outbox
backend (so the ledger section has something to show), writes the dashboard with
`ftc-office report`, and has headless Chromium (/usr/bin/chromium, or $FTC_CHROMIUM) take a
screenshot at 1280 and 390 px wide: dashboard-1280.png and dashboard-390.png. It fails when
the page logs anything to the console (a Content-Security-Policy violation is logged there:
a request the page tried to make). tests/test_dashboard.py uses the helpers below.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
AS_OF = "2026-11-26"
WIDTHS = (1280, 390)
TALL = 9000  # the window is this tall; the white below the page is trimmed


def find_chromium() -> str | None:
    """Chromium's executable, or None."""
    for name in (os.environ.get("FTC_CHROMIUM"), "/usr/bin/chromium", "chromium",
                 "chromium-browser"):
        if name and (found := shutil.which(name)):
            return found
    return None


@dataclass
class Browsed:
    """What headless Chromium made of a page: its DOM after load and its console lines."""

    dom: str
    console: list[str]


def _chromium(browser: str, page: Path, profile: Path,
              *args: str) -> subprocess.CompletedProcess[str]:
    """Run headless Chromium on a local page; no DNS resolves, so nothing can go out."""
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           "--disable-extensions", "--hide-scrollbars", f"--user-data-dir={profile}",
           "--host-resolver-rules=MAP * ~NOTFOUND", "--enable-logging=stderr", "--v=0",
           *args, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=180, check=False)


def console_lines(stderr: str) -> list[str]:
    """The page's console messages in Chromium's log (errors, CSP violations, logs)."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


def browse(browser: str, page: Path, shots: dict[int, Path] | None = None) -> Browsed:
    """Load the page: its DOM, its console, and a screenshot per width when asked."""
    with tempfile.TemporaryDirectory() as tmp:
        run = _chromium(browser, page, Path(tmp) / "profile", "--dump-dom")
        console = console_lines(run.stderr)
        for width, png in (shots or {}).items():
            shot = _chromium(browser, page, Path(tmp) / f"profile{width}",
                             f"--window-size={width},{TALL}", f"--screenshot={png}")
            console += console_lines(shot.stderr)
            if not png.exists():
                raise RuntimeError(f"{png}: Chromium wrote no screenshot: {shot.stderr[-500:]}")
            trim(png)
    return Browsed(run.stdout, console)


def trim(png: Path, margin: int = 24) -> None:
    """Cut the white below the page's last non-white row (the window is taller)."""
    from PIL import Image, ImageChops

    with Image.open(png) as img:
        rgb = img.convert("RGB")
    diff = ImageChops.difference(rgb, Image.new("RGB", rgb.size, (255, 255, 255)))
    box = diff.getbbox()
    if box:
        rgb.crop((0, 0, rgb.width, min(rgb.height, box[3] + margin))).save(png, optimize=True)


def sample_dashboard(folder: Path) -> Path:
    """The sample, run once for real into ``folder`` (outbox, own ledger), and its
    dashboard: the page a team lead sees after a Friday run."""
    tracker = folder / "tracker.xlsx"
    shutil.copyfile(ROOT / "samples" / "tracker.xlsx", tracker)
    env = {**os.environ, "FTC_OFFICE_DATA_DIR": str(folder / "data")}
    env.pop("FTC_OFFICE_CONFIG", None)
    cli = [sys.executable, "-m", "ftc_office"]
    subprocess.run([*cli, "run", str(tracker), "--as-of", AS_OF, "--no-dry-run", "--yes",
                    "--backend", "outbox", "--outbox", str(folder / "outbox")],
                   env=env, cwd=folder, check=True, capture_output=True)
    page = folder / "dashboard.html"
    subprocess.run([*cli, "report", str(tracker), "--as-of", AS_OF, "--html", str(page)],
                   env=env, cwd=folder, check=True, capture_output=True)
    return page


def main(argv: list[str] | None = None) -> int:
    """Write the screenshots; exit 1 when Chromium is missing or the page logs anything."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = ap.parse_args(argv)
    browser = find_chromium()
    if browser is None:
        print("no Chromium found: install Debian's chromium or set FTC_CHROMIUM", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = sample_dashboard(Path(tmp))
        shots = {w: args.out / f"dashboard-{w}.png" for w in WIDTHS}
        result = browse(browser, page, shots)
    for line in result.console:
        print(f"console: {line}", file=sys.stderr)
    for png in shots.values():
        print(png)
    return 1 if result.console else 0


if __name__ == "__main__":
    sys.exit(main())

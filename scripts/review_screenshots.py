"""Regenerate docs/screenshots/review-*.png: the review page of the bundled sample.

Runs `ftc-office preview` on a copy of samples/tracker.xlsx as of 2026-11-26 into a temporary
folder and photographs index.html with headless chromium at 1280 and 390 px.

    .venv/bin/python scripts/review_screenshots.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "screenshots"


def main() -> int:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        print("chromium is not installed (apt-get install chromium)", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        tracker = work / "tracker.xlsx"
        shutil.copyfile(ROOT / "samples" / "tracker.xlsx", tracker)
        subprocess.run([sys.executable, "-m", "ftc_office", "preview", str(tracker),
                        "--as-of", "2026-11-26", "--out", str(work / "review")],
                       check=False, cwd=work, env={"FTC_OFFICE_DATA_DIR": str(work / "data"),
                                                   "PATH": "/usr/bin:/bin"})
        page = (work / "review" / "index.html").as_uri()
        for width, height in ((1280, 2200), (390, 2000)):
            target = OUT / f"review-{width}.png"
            subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--hide-scrollbars", f"--user-data-dir={work / 'profile'}",
                            f"--window-size={width},{height}", f"--screenshot={target}", page],
                           check=True, capture_output=True, timeout=120)
            print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())

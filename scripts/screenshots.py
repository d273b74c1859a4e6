"""Screenshots of what recipients get: docs/screenshots/*.png, regenerated from the sample.

Runs `ftc-office demo` on the bundled sample in a temporary folder, then, for each mail kind
(the longest message of the kind, so every part of the template shows):

- its HTML body in headless Chromium at 1000 px (a desktop reading pane) and 390 px (a
  phone), cut to the height of the content: ``<kind>-1000.png``, ``<kind>-390.png``;
- the first page of each Word attachment through LibreOffice (PDF, then PNG with pdftoppm,
  or LibreOffice's own PNG export without it): ``<kind>-docx.png``.

Needs chromium (or chromium-browser / google-chrome) and soffice on PATH. Deterministic: the
demo runs as of a fixed date and every tool gets a fresh profile in the temporary folder.

    python scripts/screenshots.py [--out docs/screenshots]
"""

from __future__ import annotations

import argparse
import email
import email.policy
import re
import shutil
import subprocess
import sys
import tempfile
from email.message import EmailMessage
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("atu", "customer_followup", "queue_move")
WIDTHS = (1000, 390)
MAX_HEIGHT = 4000
# appended to a copy of the body (never to the message): the page's height after layout at
# the given width, read back with --dump-dom, so the screenshot ends where the mail ends
# (the width is set on the root because --dump-dom lays out at least 500 px wide)
MEASURE = ('<script>document.documentElement.style.width = "{width}px"; '
           'document.body.setAttribute("data-height", '
           'String(document.documentElement.scrollHeight));</script>')


def tool(*names: str) -> str:
    """The first of ``names`` found on PATH, or exit saying what to install."""
    for name in names:
        found = shutil.which(name)
        if found:
            return found
    sys.exit(f"scripts/screenshots.py: {names[0]} not found — install it (e.g. apt-get "
             f"install {names[0]}) and run again")


def run_demo(work: Path) -> Path:
    """The demo's outbox folder, after `ftc-office demo` on the bundled sample."""
    out = work / "demo"
    done = subprocess.run([sys.executable, "-m", "ftc_office", "demo", "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)
    if not (out / "outbox").is_dir():
        sys.exit(f"scripts/screenshots.py: the demo wrote no outbox (exit {done.returncode}):"
                 f"\n{done.stderr}\nfix the demo and run again")
    return out / "outbox"


def longest_of_each_kind(outbox: Path) -> dict[str, EmailMessage]:
    """Kind → its message with the longest HTML body (ties: the first file name)."""
    best: dict[str, tuple[int, EmailMessage]] = {}
    for path in sorted(outbox.rglob("*.eml")):
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        assert isinstance(msg, EmailMessage)
        kind = str(msg.get("X-FTC-Message-Key") or path.name).split(".", 1)[0]
        size = len(html_of(msg))
        if kind in KINDS and (kind not in best or size > best[kind][0]):
            best[kind] = (size, msg)
    missing = [k for k in KINDS if k not in best]
    if missing:
        sys.exit(f"scripts/screenshots.py: the demo wrote no {', '.join(missing)} message — "
                 "check the sample and the mailers")
    return {k: m for k, (_, m) in best.items()}


def html_of(msg: EmailMessage) -> str:
    """The message's HTML body."""
    part = msg.get_body(("html",))
    return str(part.get_content()) if part is not None else ""


def chromium(browser: str, profile: Path, width: int, height: int, *args: str
             ) -> subprocess.CompletedProcess[str]:
    """One headless Chromium run at ``width`` x ``height``, with its own profile."""
    return subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--force-device-scale-factor=1", "--no-first-run", f"--user-data-dir={profile}",
         f"--window-size={width},{height}", *args],
        check=True, capture_output=True, text=True, timeout=120)


def shoot_html(browser: str, html: str, work: Path, target: Path, width: int) -> None:
    """``html`` at ``width`` px wide, as tall as its content, into ``target``."""
    page = work / f"{target.stem}.html"
    page.write_text(html.replace("</body>", MEASURE.format(width=width) + "</body>"),
                    encoding="utf-8")
    dom = chromium(browser, work / "profile", width, 800, "--dump-dom", page.as_uri()).stdout
    found = re.search(r'data-height="(\d+)"', dom)
    height = min(int(found.group(1)), MAX_HEIGHT) if found else 1400
    page.write_text(html, encoding="utf-8")
    chromium(browser, work / "profile", width, height, f"--screenshot={target}", page.as_uri())


def shoot_docx(soffice: str, data: bytes, work: Path, target: Path) -> None:
    """The first page of a Word document into ``target``."""
    docs = work / "docx"
    docs.mkdir(exist_ok=True)
    src = docs / f"{target.stem}.docx"
    src.write_bytes(data)
    office = [soffice, f"-env:UserInstallation={(work / 'lo-profile').as_uri()}", "--headless"]
    pdftoppm = shutil.which("pdftoppm")
    if pdftoppm:
        subprocess.run([*office, "--convert-to", "pdf", "--outdir", str(docs), str(src)],
                       check=True, capture_output=True, timeout=300)
        subprocess.run([pdftoppm, "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile",
                        str(src.with_suffix(".pdf")), str(target.with_suffix(""))],
                       check=True, capture_output=True, timeout=120)
    else:
        subprocess.run([*office, "--convert-to", "png", "--outdir", str(docs), str(src)],
                       check=True, capture_output=True, timeout=300)
        shutil.copyfile(src.with_suffix(".png"), target)


def main() -> None:
    """Run the demo and write every screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args()
    browser = tool("chromium", "chromium-browser", "google-chrome")
    soffice = tool("soffice", "libreoffice")
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ftc-screens-") as tmp:
        work = Path(tmp)
        for kind, msg in longest_of_each_kind(run_demo(work)).items():
            for width in WIDTHS:
                target = args.out / f"{kind}-{width}.png"
                shoot_html(browser, html_of(msg), work, target, width)
                print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)
            for att in msg.iter_attachments():
                if str(att.get_filename() or "").lower().endswith(".docx"):
                    target = args.out / f"{kind}-docx.png"
                    shoot_docx(soffice, att.get_content(), work, target)
                    print(target.relative_to(ROOT) if target.is_relative_to(ROOT) else target)


if __name__ == "__main__":
    main()

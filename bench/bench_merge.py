"""Benchmark: `ftc-office merge --no-dry-run` of N rows, to the outbox and to local SMTP,
beside awdeorio's mailmerge sending the same rows to the same server.

Run from the project folder (mailmerge is optional: ``.venv/bin/pip install mailmerge``)::

    .venv/bin/python bench/bench_merge.py [-n 10000]

Each run is the real command line in a child process (start-up included), with a fresh
ledger. The SMTP server is aiosmtpd on 127.0.0.1 in this process (a thread). ftc-office
records every message in the ledger (intent and result, each an fsync'd commit) and writes
the status afterwards (``NAME.status.csv`` for the CSV data; the *Merge Status* column for
the ``.xlsx`` run); mailmerge opens one SMTP connection per message and keeps no record.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from openpyxl import Workbook


class Counting:
    """aiosmtpd handler that counts accepted messages."""

    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.count += 1
        return "250 OK"


class _FreePort(Controller):
    """Listens on port 0 and learns the port the OS gave it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


def data_files(folder: Path, n: int) -> tuple[Path, Path]:
    """The same rows as CSV and as .xlsx."""
    rows = [[f"Person {i}", f"p{i}@contoso.com", 10 + i % 90] for i in range(n)]
    path = folder / "data.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["name", "email", "seats"])
        w.writerows(rows)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["name", "email", "seats"])
    for r in rows:
        ws.append(r)
    wb.save(folder / "data.xlsx")
    return path, folder / "data.xlsx"


def ours(folder: Path, data: Path, backend: str, port: int) -> float:
    """Seconds for one ftc-office merge run in a child process."""
    work = Path(tempfile.mkdtemp(dir=folder))
    tpl = work / "mailing"
    tpl.mkdir()
    (tpl / "subject.txt").write_text("Your {{ seats }} seats, {{ name }}", encoding="utf-8")
    (tpl / "body.txt").write_text("Hello {{ name }},\n\nyou have {{ seats }} seats.\n",
                                  encoding="utf-8")
    (work / "ftc-office.toml").write_text(
        '[mail]\nsender = "fm@contoso.com"\n[delivery.smtp]\nhost = "127.0.0.1"\n'
        f'port = {port}\nsecurity = "none"\nhelo_domain = "localhost"\n', encoding="utf-8")
    copy = work / data.name
    shutil.copyfile(data, copy)
    env = dict(os.environ, FTC_OFFICE_DATA_DIR=str(work / "data"),
               FTC_OFFICE_CONFIG_DIR=str(work / "cfg"),
               FTC_OFFICE_CONFIG=str(work / "ftc-office.toml"))
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ftc_office", "merge", "--template", str(tpl),
                    "--data", str(copy), "--no-dry-run", "--yes", "--backend", backend,
                    "--outbox", str(work / "outbox")], env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def theirs(folder: Path, data: Path, port: int) -> float | None:
    """Seconds for mailmerge sending the same rows (None when it is not installed)."""
    exe = shutil.which("mailmerge") or str(Path(sys.executable).parent / "mailmerge")
    if not Path(exe).exists():
        return None
    (folder / "mm_template.txt").write_text(
        "TO: {{email}}\nSUBJECT: Your {{seats}} seats, {{name}}\nFROM: fm@contoso.com\n\n"
        "Hello {{name}},\n\nyou have {{seats}} seats.\n", encoding="utf-8")
    (folder / "mm_server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\n", encoding="utf-8")
    start = time.perf_counter()
    subprocess.run([exe, "--no-dry-run", "--no-limit", "--output-format", "raw",
                    "--template", str(folder / "mm_template.txt"), "--database", str(data),
                    "--config", str(folder / "mm_server.conf")], check=True, cwd=folder,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    """Run every configuration once and print messages per second."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=10_000)
    n = ap.parse_args().n
    handler = Counting()
    server = _FreePort(handler, hostname="127.0.0.1", port=0)
    server.start()
    port = server.port
    print(f"{n} rows, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            csv_path, xlsx_path = data_files(folder, n)
            for label, run in (
                    ("ftc-office merge → outbox (CSV)", lambda: ours(folder, csv_path,
                                                                      "outbox", port)),
                    ("ftc-office merge → outbox (.xlsx + status column)",
                     lambda: ours(folder, xlsx_path, "outbox", port)),
                    ("ftc-office merge → SMTP (CSV)", lambda: ours(folder, csv_path, "smtp",
                                                                    port)),
                    ("mailmerge → SMTP (CSV)", lambda: theirs(folder, csv_path, port))):
                before = handler.count
                took = run()
                if took is None:
                    print(f"{label:52} not installed")
                    continue
                smtp = handler.count - before
                print(f"{label:52} {took:7.1f} s  {n / took:7.0f} msg/s"
                      + (f"  ({smtp} received)" if smtp else ""))
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""Helpers for end-to-end tests: run the real CLI in-process, read trackers and outboxes back.

Nothing here replaces our code: the CLI runs for real (click's CliRunner), trackers are read
back with openpyxl (an independent reader), ``.eml`` files with the email package.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Any, cast

from click.testing import CliRunner, Result
from openpyxl import load_workbook

from ftc_office.cli.main import cli


def on_pty(args: list[str], columns: int | None = None,
           env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``ftc-office ARGS`` in a subprocess with stderr on a pseudo-terminal (``columns``
    wide when given); its exit code and everything the terminal received."""
    import fcntl
    import os
    import struct
    import subprocess
    import sys
    import termios

    main, child = os.openpty()
    if columns:
        fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
    try:
        proc = subprocess.run([sys.executable, "-m", "ftc_office", *args],
                              stdout=subprocess.DEVNULL, stderr=child,
                              stdin=subprocess.DEVNULL, timeout=300, check=False, env=env)
        os.close(child)
        out = b""
        while True:
            try:
                chunk = os.read(main, 65536)
            except OSError:  # EIO: the child side is closed and drained
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(main)
    return proc.returncode, out.decode("utf-8", "replace")


def ftc(*args: str, input: str | None = None) -> Result:
    """Run ``ftc-office ARGS`` in-process; exceptions are not caught (a crash is a failure)."""
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result


def run(tracker: Path, as_of: str, outbox: Path, *extra: str) -> Result:
    """``ftc-office run TRACKER --as-of D --no-dry-run --outbox DIR --yes`` plus extras."""
    return ftc("run", str(tracker), "--as-of", as_of, "--no-dry-run",
               "--outbox-mode", "pickup", "--outbox", str(outbox),
               "--yes", *extra)


def _values(path: Path, sheet: str) -> list[tuple[Any, ...]]:
    """Every row of a sheet as values, read once (read-only mode: no styles kept). The
    sheet's recorded dimension is ignored, so no cell outside it is cut off."""
    wb = load_workbook(path, read_only=True)
    try:
        ws = wb[sheet]
        ws.reset_dimensions()
        return [tuple(r) for r in ws.iter_rows(values_only=True)]
    finally:
        wb.close()


def _header(path: Path, values: list[tuple[Any, ...]]) -> tuple[int, dict[str, int]]:
    for r, row_values in enumerate(values[:30], 1):
        if "Tenant ID" in row_values:
            return r, {str(v): i + 1 for i, v in enumerate(row_values) if v is not None}
    raise AssertionError(f"{path}: no header row with 'Tenant ID'")


def header_map(path: Path, sheet: str = "Tracker") -> tuple[int, dict[str, int]]:
    """(header row, {header text: column number}) of the tracker sheet."""
    return _header(path, _values(path, sheet))


def rows(path: Path, sheet: str = "Tracker") -> dict[tuple[str, str], dict[str, Any]]:
    """{(tenant id, workload): {header: value}} as openpyxl reads the saved file."""
    values = _values(path, sheet)
    hr, cols = _header(path, values)
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for row_values in values[hr:]:
        def cell(c: int, row_values: tuple[Any, ...] = row_values) -> Any:
            return row_values[c - 1] if c <= len(row_values) else None

        tid = cell(cols["Tenant ID"])
        if tid is None:
            continue
        found = {h: cell(c) for h, c in cols.items()}
        out[(str(tid), str(found["Workload"]))] = found
    return out


def set_cells(path: Path, changes: dict[tuple[str, str], dict[str, Any]],
              sheet: str = "Tracker") -> None:
    """A person editing the tracker in Excel: set cells by (tenant, workload) and header."""
    wb = load_workbook(path)
    ws = wb[sheet]
    hr, cols = _header(path, [tuple(c.value for c in r) for r in ws.iter_rows(max_row=30)])
    done: set[tuple[str, str]] = set()
    for r in range(hr + 1, ws.max_row + 1):
        key = (str(ws.cell(row=r, column=cols["Tenant ID"]).value),
               str(ws.cell(row=r, column=cols["Workload"]).value))
        for header, value in changes.get(key, {}).items():
            cell = ws.cell(row=r, column=cols[header])
            cell.value = value  # ws.cell(value=None) would leave the old value
            if isinstance(value, dt.date):
                cell.number_format = "yyyy-mm-dd"
            done.add(key)
    missing = set(changes) - done
    assert not missing, f"rows not found: {missing}"
    wb.save(path)


def at(day: str) -> dt.datetime:
    """How openpyxl reads back a real Excel date written for ``day``."""
    return dt.datetime.fromisoformat(day)


@functools.lru_cache(maxsize=1024)
def _parsed(data: bytes) -> EmailMessage:
    # keyed by the file's exact bytes: a test that reads the same outbox again (each day of
    # a scenario) does not parse unchanged files twice; any changed byte parses afresh
    return cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(data))


def emls(folder: Path) -> dict[str, EmailMessage]:
    """Every ``.eml`` in the outbox by file name, parsed (treat the messages as read-only:
    the same bytes give the same object)."""
    if not folder.is_dir():
        return {}
    return {p.name: _parsed(p.read_bytes()) for p in sorted(folder.glob("*.eml"))}


def addresses(msg: EmailMessage, header: str) -> list[str]:
    """The bare addresses of one header, in order."""
    value = msg.get(header)
    if value is None:
        return []
    return [a.addr_spec for a in value.addresses]


def xlsx_rows(data: bytes) -> list[dict[str, Any]]:
    """The rows of the first sheet of an .xlsx attachment as dicts by header."""
    wb = load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    values = list(ws.iter_rows(values_only=True))
    headers = [str(h) for h in values[0]]
    return [dict(zip(headers, r, strict=True)) for r in values[1:]]


def attachment(msg: EmailMessage, suffix: str) -> tuple[str, bytes]:
    """The one attachment whose file name ends with ``suffix``."""
    found = [(str(p.get_filename()), p.get_content()) for p in msg.iter_attachments()
             if str(p.get_filename()).endswith(suffix)]
    assert len(found) == 1, [p.get_filename() for p in msg.iter_attachments()]
    return found[0]


class Delegating:
    """Base for a test backend that wraps a real one (``self.inner``): everything it does not
    override — open, close, deliver, lookup — goes to the real backend unchanged."""

    inner: Any

    def open(self) -> None:
        self.inner.open()

    def close(self) -> None:
        self.inner.close()

    def deliver(self, message: Any, prepared: Any = None) -> Any:
        return self.inner.deliver(message, prepared)

    def lookup(self, sought: Any) -> Any:
        return self.inner.lookup(sought)


def smtp_config(folder: Path, server: Any) -> None:
    """An ftc-office.toml in ``folder`` sending through ``server`` (tests/smtpserver.py)."""
    (folder / "ftc-office.toml").write_text(
        "[delivery]\nbackend = \"smtp\"\n[delivery.smtp]\nhost = \"127.0.0.1\"\n"
        f"port = {server.port}\nsecurity = \"none\"\nhelo_domain = \"localhost\"\n"
        "timeout = 5.0\n", encoding="utf-8")

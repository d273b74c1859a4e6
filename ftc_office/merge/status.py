"""The status column: each row's outcome, projected from the ledger onto the data file.

An ``.xlsx``/``.xlsm`` gets a *Merge Status* column (created at the table's right end,
styled like its neighbour) through the tracker's write-back engine: only those cells are
patched, every other part stays byte-identical, a backup goes to the data folder, the file
is replaced atomically, and a workbook open in Excel is refused. Any other data file (CSV,
``.xls``, ``.ods``) is never rewritten: the status goes to ``NAME.status.csv`` beside it.
Rows are matched by their key, never by position, so the projection is safe to repeat.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ftc_office.atomic import atomic_replace, atomic_write_bytes, backup, remove_stale_temps
from ftc_office.errors import WritebackError
from ftc_office.faults import crashpoint
from ftc_office.jobs import State
from ftc_office.ledger import Entry
from ftc_office.merge.data import DataRow, MergeData, read_data
from ftc_office.paths import data_dir
from ftc_office.tracker_lock import owner_of
from ftc_office.xlsx.patch import XlsxPatcher

PATCHABLE = (".xlsx", ".xlsm")
KeyOf = Callable[[MergeData, DataRow], str | None]
DEFAULT_COLUMN = "Merge Status"


@dataclass
class StatusWrite:
    """What one status write did."""

    path: str
    cells: int = 0
    backup: str | None = None


def status_text(entry: Entry) -> str | None:
    """The words for one ledger entry (None: nothing to say yet)."""
    when = dt.datetime.fromisoformat(entry.updated_at).astimezone()
    if entry.state == State.SENT:
        return f"Sent {when:%Y-%m-%d %H:%M}"
    if entry.state == State.DRAFTED:
        return "Drafted"
    if entry.state == State.REFUSED:
        return f"Refused: {entry.error or 'by the provider'}"
    if entry.state == State.FAILED:
        return f"Failed (retried by the next run): {entry.error or ''}".rstrip(": ")
    if entry.state in (State.SENDING, State.UNKNOWN):
        return "In doubt: see 'ftc-office status'"
    if entry.state == State.SKIPPED:
        return "Skipped"
    return None


def check_writable(path: Path, force: bool) -> None:
    """Refuse, before anything is sent, a workbook open in Excel (unless ``force``)."""
    if path.suffix.lower() not in PATCHABLE:
        return
    owner = owner_of(path)
    if owner and not force:
        raise WritebackError(str(path), f"the workbook is open in Excel by {owner} "
                             f"(~${path.name} exists); nothing was sent",
                             "close it and run the merge again (or --force if the owner "
                             "file is stale)")


def write_status(path: Path, sheet: str, key_of: KeyOf, texts: dict[str, str],
                 column: str = DEFAULT_COLUMN, data: Path | None = None,
                 force: bool = False, header_row: int | None = None) -> StatusWrite:
    """Write ``texts`` (ledger key → status) to the rows whose key it is; the file is read
    afresh (its header on ``header_row`` when given) and each row's key computed by
    ``key_of`` (rows matched by key, not position)."""
    fresh = read_data(path, None if path.suffix.lower() == ".csv" else sheet, header_row)
    keys = {r.number: k for r in fresh.rows if (k := key_of(fresh, r))}
    if path.suffix.lower() not in PATCHABLE:
        return _write_csv(path, keys, texts)
    check_writable(path, force)
    patcher = XlsxPatcher(path)
    letter = fresh.letters.get(column) or patcher.add_columns(
        fresh.sheet, fresh.header_row, [column])[column]
    done = StatusWrite(str(path))
    for row in fresh.rows:
        text = texts.get(keys.get(row.number, ""))
        if text is None or str(row.values.get(column, "")) == text:
            continue
        patcher.set(fresh.sheet, f"{letter}{row.number}", text)
        done.cells += 1
    if done.cells or column not in fresh.letters:
        done.backup = str(_replace(path, patcher, data))
    return done


def _replace(path: Path, patcher: XlsxPatcher, data: Path | None) -> Path:
    remove_stale_temps(path)  # left by a killed run; we hold the data file's lock
    saved = backup(path, (data or data_dir()) / "backups")

    def save(tmp: Path) -> None:
        patcher.save(tmp)
        crashpoint("during_writeback")

    atomic_replace(path, save)
    crashpoint("after_replace")  # replaced; a rerun projects the same statuses again
    return saved


def status_csv_path(path: Path) -> Path:
    """``NAME.status.csv`` beside the data file."""
    return path.with_name(f"{path.stem}.status.csv")


def _write_csv(path: Path, keys: dict[int, str], texts: dict[str, str]) -> StatusWrite:
    target = status_csv_path(path)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(["Row", "Ledger Key", "Merge Status"])
    n = 0
    for number, key in sorted(keys.items()):
        if key in texts:
            writer.writerow([number, key, texts[key]])
            n += 1
    atomic_write_bytes(target, out.getvalue().encode("utf-8-sig"))
    return StatusWrite(str(target), n)

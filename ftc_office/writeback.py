"""Write-back: a projection of the ledger onto the tracker, safe to re-run.

For every finished job whose stamps are not yet in the workbook, the tracker is re-read (rows
are matched by Tenant ID and workload at write time, never by row number), missing output
columns are added at the right end of the table, and only the target cells are patched
inside the package (every other part stays byte-identical). The original is backed up to
the per-user data folder first, and replaced atomically.

Conflicts: a date/"done" cell that someone else filled with a different value is reported
and left alone. Text columns the toolkit owns (Engagement Note, FTOP Status, Service Status,
Target Queue) are overwritten with the newest value. Every note is also appended, once, to
the workbook's ``Notes`` sheet (created if missing; ``FTC Notes`` when the workbook's own
``Notes`` sheet is something else): see `ftc_office.notes_sheet`.

One tracker, many copies: a job's stamps name the tracker by the copy they were recorded
through (its path key) and by the workbook's travelling ID (``FtcOfficeTrackerId``), and the
ledger keeps which copies each job was written to. A copy gets every job of its tracker not
yet written to it, whoever sent it through whichever copy (another FM's synced copy, the
lead's run). Restored copies: a job written to this copy before whose stamp the cell lacks
now (an older version restored from OneDrive's version history) is stamped again, counted in
``restored`` — into an empty cell, or one still holding a value an earlier job stamped there
(an older note); any other value is a person's deliberate change and stays, unreported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ftc_office.atomic import atomic_replace, backup, remove_stale_temps
from ftc_office.config import Settings
from ftc_office.errors import Problem, WritebackError
from ftc_office.faults import crashpoint
from ftc_office.fields import FIELDS, header_for
from ftc_office.ledger import Entry, Ledger
from ftc_office.ledger.entry import stamp_for
from ftc_office.notes_sheet import append_notes
from ftc_office.paths import data_dir, tracker_id
from ftc_office.tracker.outputs import output_columns_to_add
from ftc_office.tracker.reader import SheetRead, forget_ahead, read_sheet
from ftc_office.tracker_lock import check_replaceable
from ftc_office.values import to_text
from ftc_office.xlsx.cells import clip_cell_text, col_letter
from ftc_office.xlsx.patch import XlsxPatcher

OWNED_TEXT = ("engagement_note", "ftop_status", "service_status", "target_queue")
DATE_WIDTH = 12.0  # a new date column shows yyyy-mm-dd in full (no ###)
TEXT_WIDTH = 24.0  # a new text column (ATU Status, Engagement Note) shows a phrase


@dataclass
class WritebackResult:
    """What one write-back did to one tracker."""

    tracker: str
    cells: int = 0
    jobs: int = 0
    added_columns: list[str] = field(default_factory=list)
    notes: int = 0  # rows appended to the Notes sheet
    conflicts: list[Problem] = field(default_factory=list)
    backup: str | None = None
    restored: int = 0  # stamps written here before, missing now (an older copy restored)


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's content, in hex."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _same(current: Any, value: Any) -> bool:
    if current is None or current == "":
        return value is None or value == ""
    if isinstance(value, dt.date):
        if isinstance(current, dt.datetime):
            return current.date() == value
        if isinstance(current, dt.date):
            return current == value
        return to_text(current) == value.isoformat()
    return to_text(current) == to_text(value)


Rows = dict[str, list[tuple[int, str, dict[str, Any]]]]  # tenant (folded) -> rows


def write_back(tracker: Path, ledger: Ledger, settings: Settings, *, force: bool = False,
               entries: list[Entry] | None = None, data: Path | None = None,
               restore: bool = True) -> WritebackResult:
    """Project this tracker's finished jobs onto it (backups in ``data``): every job not yet
    written to this copy, whoever sent it through whichever copy of the tracker (see
    `Ledger.of_tracker`); with ``restore``, also the stamps of jobs written to it before that
    its cells lack now — an older version restored — into empty cells only (`_Stamper.cell`).
    ``entries`` given: exactly those, as not yet written."""
    key = tracker_id(tracker)  # how the ledger names this copy; the ID names the tracker
    uid = ledger.identities.get(key)
    t = settings.tracker
    pending: list[Entry] = []
    try:
        pending, written = _pending(ledger, key, uid, entries, restore)
    finally:
        if not pending:  # nothing to stamp, or the ledger failed: a read the caller started
            forget_ahead(tracker)  # ahead (`read_ahead`) is not wanted
    result = WritebackResult(str(tracker))
    if not pending:
        return result
    stamped = {s["field"] for e in pending for s in e.stamps if s["tracker"] == key}
    sheet = read_sheet(tracker, t.sheet, t.max_header_row, t.headers,
                       keep=stamped | {"customer", "workload"})
    rows_by_tenant = _rows_by_tenant(sheet)
    sheet = replace(sheet, rows=[])  # the rows live on in rows_by_tenant, as far as needed
    patcher = XlsxPatcher(tracker)
    columns = _output_columns(patcher, sheet, stamped, settings, result)
    stamper = _Stamper(patcher, sheet, key, columns, rows_by_tenant, result,
                       restores=any(e.key in written for e in pending))
    keys, noted = _stamp_entries(stamper, pending, written, uid, result)
    # the entries are let go before the notes and the save, the write-back's peak (14 MB
    # of entries at 10,000 rows)
    del pending
    customers = {t: to_text(rows[0][2].get("customer") or "") for t, rows in
                 rows_by_tenant.items()}
    del rows_by_tenant, stamper
    result.notes = append_notes(patcher, key, noted, customers, result.conflicts)
    del noted
    if result.cells or result.added_columns or result.notes:
        check_replaceable(tracker, force)
        before_hash, after_hash = _replace(tracker, patcher, result, data)
    elif not keys:
        return result
    else:
        before_hash = after_hash = sha256_file(tracker)
    ledger.mark_written(keys, key, result.backup, before_hash, after_hash, result.cells,
                        [str(c) for c in result.conflicts], uid=uid, restored=result.restored)
    return result


def _pending(ledger: Ledger, key: str, uid: str | None, entries: list[Entry] | None,
             restore: bool) -> tuple[list[Entry], set[str]]:
    """The entries to stamp on this copy (each naming it by `key`, `_here`), and the keys of
    those written to it before: `entries` as not yet written, else the ledger's."""
    written: set[str] = set()
    if entries is None:
        found, written = ledger.of_tracker(key, uid)
        entries = [e for e in found if restore or e.key not in written]
    return [_here(e, key, uid) for e in entries], written


def _stamp_entries(stamper: _Stamper, pending: list[Entry], written: set[str],
                   uid: str | None, result: WritebackResult) -> tuple[list[str], list[Entry]]:
    """Stamp every pending entry; return the keys to mark written (the entries written now,
    and those named by this copy's path that take the tracker's ID now that they are in it)
    and the entries whose notes go to the Notes sheet."""
    written_keys, noted = [], []
    for entry in pending:
        before = result.restored
        ok = stamper.entry(entry, restoring=entry.key in written)
        if entry.key not in written:
            noted.append(entry)
            if ok:
                written_keys.append(entry.key)
        elif result.restored > before:  # a restored copy lacks its notes too
            noted.append(entry)
    result.jobs = len(written_keys)
    adopt = [e.key for e in pending if uid and uid not in e.tracker_ids
             and (e.key in written or e.key in written_keys)]
    return list(dict.fromkeys(written_keys + adopt)), noted


def _here(entry: Entry, copy: str, uid: str | None) -> Entry:
    """The entry with its stamps for this tracker named by this copy's path key (a stamp
    recorded through another copy names that copy, and the tracker's ID)."""
    if all(s["tracker"] == copy or not stamp_for(s, copy, uid) for s in entry.stamps):
        return entry
    return replace(entry, stamps=[{**s, "tracker": copy} if stamp_for(s, copy, uid) else s
                                  for s in entry.stamps])


def _rows_by_tenant(sheet: SheetRead) -> Rows:
    """Case-folded tenant ID -> (row number, workload, field values) of each of its rows
    (the sheet is read with the values write-back compares and the customer only)."""
    rows_by_tenant: Rows = {}
    for raw in sheet.rows:
        tid = raw.values.get("tenant_id")
        if tid is None:
            continue
        wl = raw.values.get("workload")
        rows_by_tenant.setdefault(to_text(tid).casefold(), []).append(
            (raw.number, to_text(wl) if wl is not None else "", raw.values))
    return rows_by_tenant


def _output_columns(patcher: XlsxPatcher, sheet: SheetRead, stamped: set[str],
                    settings: Settings, result: WritebackResult) -> dict[str, str]:
    """Field -> column letter, adding the output columns the `stamped` fields (this copy's
    stamps) need and lack."""
    missing = output_columns_to_add(stamped, sheet.columns)  # all, in the canonical order
    columns = {f: col_letter(c + 1) for f, c in sheet.columns.items()}
    if missing:
        headers = [header_for(f, settings.tracker.headers) for f in missing]
        like = {h: col_letter(c + 1) for f, h in zip(missing, headers, strict=True)
                if (c := _neighbour(sheet, f)) is not None}
        widths = {h: DATE_WIDTH if _is_date(f) else TEXT_WIDTH
                  for f, h in zip(missing, headers, strict=True)}
        added = patcher.add_columns(sheet.sheet, sheet.header_row, headers, like, widths)
        for f, h in zip(missing, headers, strict=True):
            columns[f] = added[h]
        result.added_columns = headers
    return columns


def _is_date(name: str) -> bool:
    return FIELDS[name].kind in ("date", "mark")


def _neighbour(sheet: SheetRead, name: str) -> int | None:
    """The column (0-based) a new output column copies its look from: the rightmost output
    column of the same sort (dates or text), else the rightmost column of that sort."""
    for outputs_only in (True, False):
        found = [c for f, c in sheet.columns.items() if _is_date(f) == _is_date(name)
                 and (FIELDS[f].output or not outputs_only)]
        if found:
            return max(found)
    return None


class _Stamper:
    """Stamps jobs onto one sheet; remembers the cells this write-back set (``ours``: a later
    job's stamp may replace them) and the row values as it left them."""

    def __init__(self, patcher: XlsxPatcher, sheet: SheetRead, key: str,
                 columns: dict[str, str], rows_by_tenant: Rows,
                 result: WritebackResult, restores: bool = True) -> None:
        self.patcher, self.sheet, self.key, self.columns = patcher, sheet, key, columns
        self.rows_by_tenant, self.result = rows_by_tenant, result
        self.ours: set[str] = set()
        # ref -> values earlier jobs stamped there, which only a job restoring its stamps
        # asks about: not kept when none ``restores`` (25,000 cells of a 10,000-row run)
        self.recorded: dict[str, list[Any]] | None = {} if restores else None

    def entry(self, entry: Entry, restoring: bool = False) -> bool:
        """Patch the cells of one job's stamps on this tracker; False when one could not be
        written (its tenant is gone or a cell was refused), so the job is retried later.
        ``restoring``: the job was written to this copy before; only cells now empty are
        stamped again (counted in ``result.restored``), a tenant gone is not reported."""
        ok = True
        for s in entry.stamps:
            if s["tracker"] != self.key:
                continue
            value: Any = dt.date.fromisoformat(s["value"]) if s["is_date"] else s["value"]
            if isinstance(value, str):
                value = clip_cell_text(value)  # before comparing: a rerun finds the clip
            targets = [r for r in self.rows_by_tenant.get(s["tenant_id"].casefold(), [])
                       if s["workload"] is None
                       or r[1].casefold() == s["workload"].casefold()]
            if not targets and not restoring:
                self.result.conflicts.append(Problem(
                    f"{self.sheet.path}, {self.sheet.sheet}", f"tenant {s['tenant_id']}"
                    f"{' / ' + s['workload'] if s['workload'] else ''} is no longer in the "
                    "tracker", "restore the row, then run 'ftc-office writeback' again"))
                ok = False
                continue
            cells = self.result.cells
            for number, _wl, current in targets:
                ref = f"{self.columns[s['field']]}{number}"
                ok = self.cell(ref, s["field"], current, value, restoring) and ok
            if restoring and self.result.cells > cells:
                self.result.restored += 1
        return ok

    def cell(self, ref: str, name: str, current: dict[str, Any], value: Any,
             restoring: bool) -> bool:
        """Write one stamp unless the cell already holds it or someone else's value (a
        conflict; when ``restoring``, any value but one an earlier job stamped there: a
        person changed it on purpose, left as is, not reported); False only when the
        patcher refused the cell. ``current`` is the row as this write-back left it."""
        cur = current.get(name)
        earlier = [] if self.recorded is None else self.recorded.setdefault(ref, [])
        earlier.append(value)
        if _same(cur, value):
            return True
        if cur not in (None, "") and ref not in self.ours:
            if restoring and not any(_same(cur, v) for v in earlier[:-1]):
                return True
            if name not in OWNED_TEXT:
                self.result.conflicts.append(Problem(
                    self.sheet.where(ref), f"holds {to_text(cur)!r}, someone else's value; "
                    f"ftc-office wanted {to_text(value)!r}", "left as is — check which "
                    "is right and correct the cell by hand if needed"))
                return True
        try:
            self.patcher.set(self.sheet.sheet, ref, value)
        except WritebackError as exc:
            # one refused cell (a formula, a merged cell...) must not block every
            # other stamp of the tracker; the job stays unwritten and is retried
            self.result.conflicts.append(exc.problem)
            return False
        self.result.cells += 1
        current[name] = value
        self.ours.add(ref)
        return True


def _replace(tracker: Path, patcher: XlsxPatcher, result: WritebackResult,
             data: Path | None) -> tuple[str, str]:
    """Back the tracker up (in ``data``/backups), then replace it atomically with the
    patched package; return its SHA-256 before and after."""
    remove_stale_temps(tracker)  # left by a run killed mid-write; we hold the run lock
    before = sha256_file(tracker)
    bdir = (data or data_dir()) / "backups"
    bpath = backup(tracker, bdir)
    result.backup = str(bpath)

    def save(tmp: Path) -> None:
        patcher.save(tmp)
        crashpoint("during_writeback")  # backup made, new file written, not yet in place

    try:
        atomic_replace(tracker, save)
    except PermissionError:
        raise WritebackError(str(tracker), "cannot replace the workbook (read-only, or open "
                             "in another program)", "close it / make it writable and run "
                             "'ftc-office writeback' again; nothing was lost") from None
    crashpoint("after_replace")  # the workbook is replaced, the ledger not yet told
    return before, sha256_file(tracker)


__all__ = ["WritebackResult", "crashpoint", "write_back"]

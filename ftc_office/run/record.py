"""Record: project what the ledger finished onto each tracker (read fresh, saved once)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from ftc_office.config import Settings
from ftc_office.errors import FtcError
from ftc_office.ledger import Ledger
from ftc_office.run.plan import restored_notice
from ftc_office.run.report import RunReport
from ftc_office.tracker.reader import read_ahead
from ftc_office.writeback import write_back


def write_trackers(paths: Sequence[Path], ledger: Ledger, settings: Settings,
                   report: RunReport, *, force: bool = False, data: Path | None = None,
                   restore: Collection[Path] = (), stamped: Collection[Path] = ()) -> None:
    """Write every finished job not yet written to each tracker copy onto it, and, for the
    trackers in ``restore`` (the plan found stamps a restored copy lacks), those too; a
    tracker with nothing to write is not even opened. Problems become report errors; the
    other trackers go on. The ledger is made durable first (`Ledger.sync`): a workbook
    never shows a result a power cut could still take from the ledger.

    A tracker in ``stamped`` or ``restore`` (this run finished jobs for it) starts being read
    before the write-back asks the ledger what to stamp (`read_ahead`: python-calamine reads
    beside that query, 0.3 s each at 10,000 rows)."""
    ledger.sync()
    t = settings.tracker
    for p in paths:
        if p in stamped or p in restore:
            read_ahead(p, t.sheet, t.max_header_row, t.headers)
        try:
            wb = write_back(p, ledger, settings, force=force, data=data, restore=p in restore)
        except FtcError as exc:
            report.errors.append(str(exc))
            continue
        if wb.restored:
            report.notices.append(restored_notice(p, wb.restored))
        if wb.cells or wb.jobs or wb.conflicts:
            report.writebacks.append(wb)
        # a cell left alone (someone else's value, a formula) is told to the person
        report.errors.extend(f"not written: {c}" for c in wb.conflicts)

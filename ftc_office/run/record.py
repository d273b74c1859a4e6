"""Record: project what the ledger finished onto each tracker (read fresh, saved once)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from pathlib import Path

from ftc_office.config import Settings
from ftc_office.errors import FtcError
from ftc_office.ledger import Ledger
from ftc_office.run.plan import restored_notice
from ftc_office.run.report import RunReport
from ftc_office.writeback import write_back


def write_trackers(paths: Sequence[Path], ledger: Ledger, settings: Settings,
                   report: RunReport, *, force: bool = False, data: Path | None = None,
                   restore: Collection[Path] = ()) -> None:
    """Write every finished job not yet written to each tracker copy onto it, and, for the
    trackers in ``restore`` (the plan found stamps a restored copy lacks), those too; a
    tracker with nothing to write is not even opened. Problems become report errors; the
    other trackers go on. The ledger is made durable first (`Ledger.sync`): a workbook
    never shows a result a power cut could still take from the ledger."""
    ledger.sync()
    for p in paths:
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

"""One run at a time per tracker: a lock per tracker in the local data folder."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path

from filelock import FileLock, Timeout

from ftc_office.errors import LedgerError
from ftc_office.ledger import Ledger
from ftc_office.paths import data_dir


def lock_trackers(paths: Sequence[Path], stack: ExitStack, data: Path | None = None) -> None:
    """One lock per tracker (in the data folder ``data``), taken in a fixed order."""
    folder = (data or data_dir()) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    for p in sorted({str(x.resolve()) for x in paths}):
        digest = hashlib.sha256(p.casefold().encode()).hexdigest()[:16]
        lock = FileLock(str(folder / f"{digest}.lock"), timeout=0)
        try:
            stack.enter_context(lock)
        except Timeout:
            raise LedgerError(p, "another ftc-office run is working on this tracker",
                              "wait for it to finish, then run again") from None


@contextmanager
def locked_ledger(paths: Sequence[Path], data: Path | None = None) -> Iterator[Ledger]:
    """The ledger in ``data`` (default: the data folder), opened while holding the run lock
    of every tracker in ``paths``."""
    with ExitStack() as stack:
        lock_trackers(paths, stack, data)
        ledger = Ledger.open(data)
        stack.callback(ledger.close)
        yield ledger

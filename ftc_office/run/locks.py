"""One run at a time per tracker: a file lock per tracker in the local data folder, or, when
the ledger is shared, a PostgreSQL advisory lock that holds across machines.

Opening the ledger for some trackers also tells it each one's travelling ID (`identity`), so
the entries a run records name the tracker by it as well as by this copy's path."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from filelock import FileLock, Timeout

from ftc_office.errors import LedgerError
from ftc_office.ledger import Ledger
from ftc_office.paths import data_dir, tracker_id
from ftc_office.run.identity import tracker_identity


def _busy(where: str) -> LedgerError:
    return LedgerError(where, "another ftc-office run is working on this tracker",
                       "wait for it to finish, then run again")


def lock_trackers(paths: Sequence[Path], stack: ExitStack, data: Path | None = None,
                  ledger: Ledger | None = None) -> None:
    """One lock per tracker, taken in a fixed order: in the shared ``ledger`` when it is
    one (held until it closes; keyed by the workbook's identity, see `identity`), else a
    file in the data folder ``data``."""
    names = sorted({str(x.resolve()) for x in paths})
    try_lock = getattr(ledger, "try_lock_tracker", None)
    if ledger is not None and ledger.shared and try_lock is not None:
        # one lock per workbook identity (its copies on other machines share it), in order
        ids = sorted((tracker_identity(Path(p)) or p.casefold(), p) for p in names)
        for identity, p in ids:
            if identity.startswith("tracker:"):
                ledger.identities[tracker_id(p)] = identity
            if not try_lock(identity):
                raise _busy(p)
        return
    if ledger is not None:  # a personal ledger names a workbook's ID if it has one
        for p in names:
            if (found := tracker_identity(Path(p), create=False)) is not None:
                ledger.identities[tracker_id(p)] = found
    folder = (data or data_dir()) / "locks"
    folder.mkdir(parents=True, exist_ok=True)
    for p in names:
        digest = hashlib.sha256(p.casefold().encode()).hexdigest()[:16]
        lock = FileLock(str(folder / f"{digest}.lock"), timeout=0)
        try:
            stack.enter_context(lock)
        except Timeout:
            raise _busy(p) from None


@contextmanager
def locked_ledger(paths: Sequence[Path], data: Path | None = None,
                  settings: Any = None) -> Iterator[Ledger]:
    """The configured ledger (see `Ledger.open`; SQLite in ``data`` by default), opened
    while holding the run lock of every tracker in ``paths``."""
    with ExitStack() as stack:
        ledger = Ledger.open(data, settings)
        stack.callback(ledger.close)
        lock_trackers(paths, stack, data, ledger)
        yield ledger

"""What the SQLite ledger's fsyncs cost per message and per note-only step (issue 17).

    .venv/bin/python bench/bench_ledger_sync.py [-n 200] [--rounds 5]

A message is what a run commits for it: ``plan``, the claim ``transition(sending)``, the
prepared mark (SMTP and O365 record one), the result ``transition(sent)``; a note-only step
is ``plan`` + ``transition(done)``. Three policies, interleaved round by round, each in a new
folder on the same disk (the home folder, not a RAM disk):

- ``all FULL``: every commit fsyncs the WAL (the ledger before per-transaction durability);
- ``per tx``: the ledger as it is (FULL for the claim and the prepared mark, NORMAL for
  the planned row, the result and ``done``; see ``ftc_office.ledger.core``);
- ``all NORMAL``: no commit fsyncs (the floor; not safe: a claim lost to a power cut).

Medians over the rounds, min–max, and the load average at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ftc_office.jobs import Job
from ftc_office.ledger.sqlite import SqliteLedger


class AllFull(SqliteLedger):
    """Every transaction durable (as before)."""

    @contextmanager
    def _tx(self, key: str | None = None, durable: bool = True) -> Iterator[Any]:
        with super()._tx(key, True) as db:
            yield db


class AllNormal(SqliteLedger):
    """No transaction durable (the floor)."""

    @contextmanager
    def _tx(self, key: str | None = None, durable: bool = True) -> Iterator[Any]:
        with super()._tx(key, False) as db:
            yield db


POLICIES: dict[str, type[SqliteLedger]] = {"all FULL": AllFull, "per tx": SqliteLedger,
                                           "all NORMAL": AllNormal}


def timed(ledger: SqliteLedger, n: int, prefix: str, note: bool) -> float:
    """Milliseconds per message (plan, claim, prepared, sent) or per note (plan, done)."""
    batch = [Job(f"{prefix}.{i}", "atu", (f"t-{i}",), None, (), (), f"job {i}")
             for i in range(n)]
    t0 = time.perf_counter()
    for job in batch:
        ledger.plan(job, "bench")
        if note:
            ledger.transition(job.key, "done")
            continue
        ledger.transition(job.key, "sending")
        ledger.record_prepared(job.key, f"id-{job.key}")
        ledger.transition(job.key, "sent", provider_id=f"id-{job.key}")
    ledger.sync()
    return (time.perf_counter() - t0) / n * 1000


def main(argv: list[str] | None = None) -> int:
    """Interleave the policies; print the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args(argv)
    res: dict[tuple[str, bool], list[float]] = {(p, note): [] for p in POLICIES
                                                for note in (False, True)}
    with tempfile.TemporaryDirectory(prefix="bench-sync-", dir=Path.home()) as tmp:
        for r in range(args.rounds):
            for (name, note), out in res.items():
                ledger = POLICIES[name](Path(tmp) / f"{name}-{note}-{r}" / "ledger.sqlite3")
                out.append(timed(ledger, args.n, f"r{r}", note))
                ledger.close()
    for (name, note), ms in res.items():
        what = "note-only step (plan + done)" if note else \
            "message (plan + claim + prepared + sent)"
        print(f"{name:>10}: {statistics.median(ms):6.2f} ms per {what}, "
              f"{min(ms):.2f}–{max(ms):.2f}")
    print(f"load average {os.getloadavg()[0]:.2f}; n={args.n}, rounds={args.rounds}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

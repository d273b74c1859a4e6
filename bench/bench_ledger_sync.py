"""What ``synchronous=FULL`` costs the SQLite ledger per message (issue 17).

    .venv/bin/python bench/bench_ledger_sync.py [-n 200] [--rounds 3]

One message is three commits (``plan``, the claim ``transition(sending)``, the result
``transition(sent)``), as in bench_ledger.py. Each round measures the personal ledger as
opened (WAL, ``synchronous=FULL``: every commit fsyncs the WAL) and the same with
``synchronous=NORMAL`` (the WAL is fsynced only at checkpoints), interleaved, each in a new
folder on the same disk; medians over the rounds, with the load average.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench_ledger import per_message

from ftc_office.ledger.sqlite import SqliteLedger


def main(argv: list[str] | None = None) -> int:
    """Interleave FULL and NORMAL; print the medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    res: dict[str, list[float]] = {"FULL": [], "NORMAL": []}
    with tempfile.TemporaryDirectory(prefix="bench-sync-", dir=Path.home()) as tmp:
        for r in range(args.rounds):
            for mode in res:
                ledger = SqliteLedger(Path(tmp) / f"{mode}-{r}" / "ledger.sqlite3")
                ledger.db.execute(f"PRAGMA synchronous={mode}")
                res[mode].append(per_message(ledger, args.n, f"{mode}{r}") * 1000)
                ledger.close()
    for mode, ms in res.items():
        print(f"{mode}: {statistics.median(ms):.2f} ms per message (plan + claim + result), "
              f"min {min(ms):.2f}, max {max(ms):.2f}; load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

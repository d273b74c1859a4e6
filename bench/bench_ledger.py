"""Benchmark: the ledger's cost per message (plan + claim + result), SQLite against the
shared PostgreSQL ledger, and claims per second with 8 concurrent workers.

Run from the project folder (needs Debian's PostgreSQL binaries; as root the server runs
as ``nobody``)::

    .venv/bin/python bench/bench_ledger.py [-n 500]

A real server is started in a temporary folder with its durable defaults (fsync on,
synchronous commit), on 127.0.0.1. Each message is three commits: ``plan`` (the entry),
``transition(sending)`` (the claim, serialised per key) and ``transition(sent)``. The
concurrency figure runs 8 processes, each with its own connection and claimant, over one
shared set of keys: every key is claimed exactly once, the others are refused.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from pgserver import running_postgres

from ftc_office.errors import LedgerError
from ftc_office.jobs import Job
from ftc_office.ledger import Claimant, Ledger
from ftc_office.ledger.postgres import PostgresLedger, init_schema
from ftc_office.ledger.sqlite import SqliteLedger


def jobs(n: int, prefix: str) -> list[Job]:
    """``n`` note-like jobs (the ledger's cost does not depend on the message)."""
    return [Job(f"{prefix}.{i}", "atu", (f"t-{i}",), None, (), (), f"job {i}")
            for i in range(n)]


def per_message(ledger: Ledger, n: int, prefix: str) -> float:
    """Seconds per message for plan + claim + result."""
    batch = jobs(n, prefix)
    t0 = time.perf_counter()
    for job in batch:
        ledger.plan(job, "bench")
        ledger.transition(job.key, "sending")
        ledger.transition(job.key, "sent")
    return (time.perf_counter() - t0) / n


def worker(url: str, n: int, w: int, prefix: str, out: mp.Queue) -> None:  # type: ignore[type-arg]
    ledger = PostgresLedger(url, Claimant(f"w{w}", f"host-{w}", os.getpid(), f"s{w}"))
    won = 0
    t0 = time.perf_counter()
    for job in jobs(n, prefix or f"own{w}"):
        try:
            ledger.plan(job, "bench")
            ledger.transition(job.key, "sending")
        except LedgerError:
            continue
        won += 1
        ledger.transition(job.key, "sent")
    out.put((won, time.perf_counter() - t0))
    ledger.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=500)
    ap.add_argument("--workers", type=int, default=8)
    n = ap.parse_args().n
    workers = ap.parse_args().workers
    print(f"Python {platform.python_version()}, {platform.system()} {platform.machine()}, "
          f"{os.cpu_count()} CPUs; n={n}")
    with tempfile.TemporaryDirectory() as tmp:
        me = Claimant("bench", "here", os.getpid(), "s")
        sqlite = SqliteLedger(Path(tmp) / "ledger.sqlite3", me)
        s = per_message(sqlite, n, "sqlite")
        sqlite.close()
        print(f"SQLite (WAL, synchronous=FULL): {s * 1000:.2f} ms/message "
              f"({1 / s:.0f} messages/s)")
    with running_postgres(fsync=True) as server:
        os.environ["PGPASSWORD"] = server.password
        url = server.new_database()
        init_schema(url)
        pg = PostgresLedger(url, me)
        p = per_message(pg, n, "pg")
        pg.close()
        print(f"PostgreSQL (fsync on, 127.0.0.1): {p * 1000:.2f} ms/message "
              f"({1 / p:.0f} messages/s); {p / s:.1f}x SQLite")
        won, wall = race(url, n, workers, "")
        print(f"{workers} workers, each its own {n} keys: {won} claimed in {wall:.2f} s = "
              f"{won / wall:.0f} messages (plan+claim+result)/s")
        won, wall = race(url, n, workers, "race")
        print(f"{workers} workers racing for the same {n} keys: {won} claimed (must be {n}); "
              f"{n * workers} attempts in {wall:.2f} s = {n * workers / wall:.0f} attempts/s")


def race(url: str, n: int, workers: int, prefix: str) -> tuple[int, float]:
    """(keys claimed in all, wall seconds) for ``workers`` processes."""
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=worker, args=(url, n, w, prefix, q)) for w in range(workers)]
    t0 = time.perf_counter()
    for proc in procs:
        proc.start()
    results = [q.get() for _ in procs]
    wall = time.perf_counter() - t0
    for proc in procs:
        proc.join()
    return sum(r[0] for r in results), wall


if __name__ == "__main__":
    main()

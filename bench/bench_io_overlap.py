"""Would overlapping a run's durable writes pay? (issue 17, seventh round)

    python3 bench/bench_io_overlap.py

Per message, what a run to the outbox makes durable: the claim commit (SQLite WAL,
``synchronous=FULL``), the ``.eml`` written atomically (mkstemp, write, fsync, rename,
fsync of the folder), the result commit. 800 messages done in sequence, then with each file
write on a second thread overlapping the next message's claim; milliseconds per message,
two rounds. Files go to a fresh folder under /tmp, removed afterwards.
"""

from __future__ import annotations

import os
import queue
import shutil
import sqlite3
import tempfile
import threading
import time
from pathlib import Path

N = 800
DATA = os.urandom(20000)  # about an outbox message


def write_file(folder: Path, i: int) -> None:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp")
    os.write(fd, DATA)
    os.fsync(fd)
    os.close(fd)
    os.replace(tmp, folder / f"m{i}.eml")
    dfd = os.open(folder, os.O_RDONLY)
    os.fsync(dfd)
    os.close(dfd)


def setup() -> tuple[Path, sqlite3.Connection]:
    base = Path(tempfile.mkdtemp(dir="/tmp"))
    (base / "out").mkdir()
    db = sqlite3.connect(base / "l.sqlite3", isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=FULL")
    db.execute("CREATE TABLE j(k TEXT PRIMARY KEY, s TEXT)")
    return base, db


def commit(db: sqlite3.Connection, i: int, state: str) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT OR REPLACE INTO j VALUES (?,?)", (f"k{i}", state))
    db.execute("COMMIT")


def sequential() -> float:
    base, db = setup()
    t = time.perf_counter()
    for i in range(N):
        commit(db, i, "sending")
        write_file(base / "out", i)
        commit(db, i, "sent")
    took = time.perf_counter() - t
    db.close()
    shutil.rmtree(base)
    return took


def pipelined() -> float:
    """Message i's file is written on a thread while message i+1 is claimed."""
    base, db = setup()
    t = time.perf_counter()
    todo: queue.Queue[int | None] = queue.Queue(1)
    done: queue.Queue[int] = queue.Queue()

    def io() -> None:
        while (i := todo.get()) is not None:
            write_file(base / "out", i)
            done.put(i)

    thread = threading.Thread(target=io)
    thread.start()
    for i in range(N):
        commit(db, i, "sending")
        todo.put(i)
        if i:
            commit(db, done.get(), "sent")
    commit(db, done.get(), "sent")
    todo.put(None)
    thread.join()
    took = time.perf_counter() - t
    db.close()
    shutil.rmtree(base)
    return took


def main() -> None:
    for _ in range(2):
        a, b = sequential(), pipelined()
        print(f"sequential {a / N * 1000:.2f} ms/msg   pipelined {b / N * 1000:.2f} ms/msg")


if __name__ == "__main__":
    main()

"""A compose-ahead worker (:mod:`ftc_office.run.ahead`): reads the settings, the date
and its tenants' plans from stdin, one by one, and writes each tenant's composition to
stdout, in order (with each message's MIME written but for its Date when the backend hands
over MIME and the run is behind).

It composes up to ``AHEAD`` tenants beyond what the run has read (a thread writes them to
the pipe, which holds only a few), so it keeps working while the run waits on the disk.
It writes a message's MIME only while the run is behind (`PREPARE_WHEN` compositions ready
and not yet read, as on a disk that makes every file durable); when the run is waiting for
it, the run writes the MIME itself, the same bytes (`backends.wire`), and the two processes
share the work.
Started as ``python -c`` by the run, never by hand. It ignores Ctrl-C (the run, which gets
it too, decides) and ends quietly when the run stops reading.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import queue
import signal
import sys
import threading
from typing import IO

from ftc_office.backends.wire import prepare
from ftc_office.compose.composer import Composer, compose_all

AHEAD = 64  # compositions held for the run at most (a few MB)
#: compositions ready and not yet read by the run from which the worker writes MIME too: a
#: 10,000-row run in a RAM folder waited 3 s (py-spy) for a worker that wrote every message's
#: MIME; on this machine's disk the run stays behind and the worker writes nearly all of it
PREPARE_WHEN = 16


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    answers: queue.Queue[bytes | None] = queue.Queue(AHEAD)
    writer = threading.Thread(target=_write, args=(answers, sys.stdout.buffer), daemon=True)
    writer.start()
    with contextlib.suppress(EOFError):  # the run stopped writing
        _compose(sys.stdin.buffer, answers)
    answers.put(None)
    writer.join()
    os._exit(0)  # no interpreter shutdown: nothing of the run's is flushed or closed here


def _compose(feed: IO[bytes], answers: queue.Queue[bytes | None]) -> None:
    settings, as_of, wire, count = pickle.load(feed)
    composer = Composer(settings, as_of)
    for _ in range(count):
        plan = pickle.load(feed)
        try:
            comp = compose_all(composer, [plan], queue_moves=False)
        except Exception as exc:  # a bug: the run composes this tenant itself and
            answers.put(pickle.dumps(("error", repr(exc))))  # raises it, with its traceback
            return
        if wire and answers.qsize() >= PREPARE_WHEN:  # the run is behind: the message's bytes
            # but the Date, so the run only adds that line; else the run, waiting, writes them
            for job in comp.jobs:
                if job.message is not None:
                    prepare(job.message)
        answer = ("ok", comp.jobs, [problem for _tenant, problem in comp.failures])
        answers.put(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


def _write(answers: queue.Queue[bytes | None], out: IO[bytes]) -> None:
    """Hand the answers to the run in order; when it stopped reading, end the worker."""
    try:
        while (data := answers.get()) is not None:
            out.write(data)
            out.flush()
    except OSError:  # the run stopped reading (it ended, or composes the rest itself)
        os._exit(0)

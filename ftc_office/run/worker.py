"""A compose-ahead worker (:mod:`ftc_office.run.ahead`): reads the settings, the date
and its tenants' plans from stdin, one by one, and writes each tenant's composition to
stdout, in order (with each message's MIME body encoded when the backend hands over MIME).

Started as ``python -c`` by the run, never by hand. It ignores Ctrl-C (the run, which gets
it too, decides) and ends quietly when the run stops reading.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys

from ftc_office.backends.wire import prepare
from ftc_office.compose.composer import Composer, compose_all


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    out = sys.stdout.buffer
    try:
        feed = sys.stdin.buffer
        settings, as_of, wire, count = pickle.load(feed)
        composer = Composer(settings, as_of)
        for _ in range(count):
            plan = pickle.load(feed)
            try:
                comp = compose_all(composer, [plan], queue_moves=False)
            except Exception as exc:  # a bug: the run composes this tenant itself and
                pickle.dump(("error", repr(exc)), out)  # raises it with its traceback
                out.flush()
                break
            if wire:  # the body of each message's MIME, so the run only writes its headers
                for job in comp.jobs:
                    if job.message is not None:
                        prepare(job.message)
            answer = ("ok", comp.jobs, [problem for _tenant, problem in comp.failures])
            pickle.dump(answer, out, protocol=pickle.HIGHEST_PROTOCOL)
            out.flush()
    except (BrokenPipeError, EOFError):  # the run stopped reading, or never wrote
        pass
    os._exit(0)  # no interpreter shutdown: nothing of the run's is flushed or closed here

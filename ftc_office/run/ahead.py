"""Compose ahead: a large pass's tenants composed by worker processes while the run sends.

A run spends most of its time waiting for the disk (each message is made durable before the
next goes) and composing (Jinja, the Word attachment, CSS inlining): one can overlap the
other. The run composes the first ``compose_head`` due tenants itself while the workers
start (``python -c`` of :mod:`ftc_office.run.worker`, the same on Windows and Linux),
and reads the rest from them in the pass's order, each worker holding every
``compose_workers``-th tenant. A worker runs at most :data:`~ftc_office.run.worker.AHEAD`
tenants ahead of what the run has read (a few MB), then waits.

The workers only compose: they never touch the ledger, a backend or a workbook, so a crash
or Ctrl-C there cannot send or record anything. Whatever goes wrong with a worker — it
raised, it died, its answer does not unpickle — the run composes the remaining tenants
itself, in the same order, so an error shows exactly as it would without workers.
"""

from __future__ import annotations

import contextlib
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import IO

from ftc_office.compose.composer import Composer, Composition, compose_all
from ftc_office.playbook import TenantPlan
from ftc_office.steps import Step

#: the worker's first line: take the run's import path, then run the worker
BOOT = ("import pickle, sys; sys.path[:] = pickle.load(sys.stdin.buffer); "
        "from ftc_office.run.worker import main; main()")


def tenant_batches(composer: Composer, plans: Sequence[TenantPlan], wire: bool = False
                   ) -> Iterator[Composition]:
    """The per-tenant jobs (ATU, notes, follow-ups, unassignment), one tenant at a time, in
    the order of ``plans``; composed ahead by workers when the pass is large enough, which
    with ``wire`` also write each message's MIME but its Date (:func:`backends.wire.prepare`)."""
    due = [p for p in plans if p.actions and p.step != Step.REQUEST_QUEUE_MOVE]
    opt = composer.settings.run
    ahead = due[opt.compose_head:] if opt.compose_workers > 0 else []
    workers = _start(composer, ahead, opt.compose_workers, wire) if ahead else []
    try:
        for p in due[:len(due) - len(ahead)]:
            yield compose_all(composer, [p], queue_moves=False)
        for n, p in enumerate(ahead):
            comp = _receive(workers[n % len(workers)], p) if workers else None
            if comp is None:  # no worker, or it failed: compose here, from now on
                _stop(workers)
                workers = []
                comp = compose_all(composer, [p], queue_moves=False)
            yield comp
    finally:
        _stop(workers)


class _Worker:
    """One worker process, and the thread that hands it its tenants' plans one by one (the
    pipe holds a few; the thread waits while the worker composes)."""

    def __init__(self, head: tuple[object, ...], plans: Sequence[TenantPlan]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", BOOT], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL)
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.out: IO[bytes] = self.proc.stdout
        self.feeder = threading.Thread(target=_feed, args=(self.proc.stdin, head, plans),
                                       name="compose-ahead-feed", daemon=True)
        self.feeder.start()


def _feed(pipe: IO[bytes], head: tuple[object, ...], plans: Sequence[TenantPlan]) -> None:
    """The import path, (settings, date, wire, how many plans), then each plan."""
    try:
        for item in (sys.path, head, *plans):
            pickle.dump(item, pipe, protocol=pickle.HIGHEST_PROTOCOL)
        pipe.flush()
    except Exception:  # the worker ended first (OSError), or a plan does not pickle: the
        pass  # worker stops at the closed pipe and the run composes the rest itself
    finally:
        with contextlib.suppress(OSError):
            pipe.close()


def _start(composer: Composer, plans: Sequence[TenantPlan], count: int, wire: bool
           ) -> list[_Worker]:
    """Start ``count`` workers (fewer for a short list); [] if they cannot start."""
    count = min(count, len(plans))
    workers: list[_Worker] = []
    if not sys.executable:  # an embedded interpreter: nothing to start
        return workers
    try:
        for w in range(count):
            mine = plans[w::count]
            workers.append(_Worker((composer.settings, composer.as_of, wire, len(mine)),
                                   mine))
    except (OSError, ValueError):  # no processes here: compose in the run
        _stop(workers)
        return []
    return workers


def _receive(worker: _Worker, plan: TenantPlan) -> Composition | None:
    """The worker's composition of ``plan``'s tenant; None if the worker failed."""
    try:
        answer = pickle.load(worker.out)
    except Exception:  # EOF (it died), a truncated or foreign answer: compose here
        return None
    if not isinstance(answer, tuple) or answer[0] != "ok":
        return None  # it raised: composing here raises the same error with its traceback
    jobs, problems = answer[1], answer[2]
    return Composition(list(jobs), [(plan.tenant, problem) for problem in problems])


def _stop(workers: list[_Worker]) -> None:
    for w in workers:
        if w.proc.poll() is None:
            w.proc.kill()
        w.proc.wait()
        w.out.close()
        w.feeder.join(timeout=5)

"""Fault injection for the crash campaign: named points where a run can be killed.

The campaign (``tests/crash/``) sets ``FTC_OFFICE_CRASH_AT`` and checks that a rerun after
the kill sends nothing twice and loses nothing. Unset, every point does nothing.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "FTC_OFFICE_CRASH_AT"
_crash_hits: dict[str, int] = {}


def crashpoint(name: str) -> None:
    """Fault injection for the crash campaign: die at once (SIGKILL, no cleanup) when
    ``FTC_OFFICE_CRASH_AT`` names this point (``after_intent``), or its Nth visit
    (``after_intent@3``). Points: before_intent, after_intent, after_prepared (o365: the
    draft is recorded, not yet sent), after_response, during_writeback, after_replace.
    Does nothing when the variable is unset."""
    wanted = os.environ.get(CRASH_ENV)
    if not wanted or not hasattr(signal, "SIGKILL"):
        return
    point, _, nth = wanted.partition("@")
    if point != name:
        return
    _crash_hits[name] = _crash_hits.get(name, 0) + 1
    if _crash_hits[name] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)

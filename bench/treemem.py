"""The peak memory of a process and its descendants together (Linux), sampled while it runs.

A run composes in worker processes, so the peak RSS of one process (``ru_maxrss``, or
``VmHWM``) no longer says what the run holds. :class:`TreeMemory` samples, every
``interval`` seconds, the proportional set size (``Pss`` in ``/proc/PID/smaps_rollup``:
pages shared between processes counted once in total) of the process and every descendant,
and keeps the largest sum. A sample can miss a peak shorter than the interval; callers
report the larger of this and the main process's own exact peak.
"""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path


def _descendants(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        for task in Path(f"/proc/{p}/task").glob("*"):
            with contextlib.suppress(OSError):  # it ended meanwhile
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return out


def _pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


class TreeMemory:
    """``with TreeMemory(pid) as m: ...`` then ``m.peak_mb``: the largest sampled sum."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        self.pid, self.interval = pid, interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            total = sum(_pss_kb(p) for p in _descendants(self.pid))
            self.peak_kb = max(self.peak_kb, total)
            self._stop.wait(self.interval)

    def __enter__(self) -> TreeMemory:
        if Path("/proc/self/smaps_rollup").is_file():
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024

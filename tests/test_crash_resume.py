"""A fast crash campaign: `python -m ftc_office run` is SIGKILLed at each named point, then
rerun to completion; no message twice, no record lost, the tracker opens.

The real campaign (samples/tracker.xlsx, several visits per point, random moments) is
bench/robustness/crash_campaign.py; this test reuses its machinery on a small tracker.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from builders import make_tracker, row

CAMPAIGN = Path(__file__).resolve().parents[1] / "bench" / "robustness" / "crash_campaign.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_campaign", CAMPAIGN)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["crash_campaign"] = module
    spec.loader.exec_module(module)
    return module


cc = _load()

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")


@pytest.fixture(scope="module")
def small_tracker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ATUs, a note, a last follow-up that makes disengagement due in the same run (several
    passes and write-backs), and a queue move."""
    done = {"atu_sent": dt.date(2026, 10, 1), "discussion_date": dt.date(2026, 10, 8)}
    return make_tracker(tmp_path_factory.mktemp("crash") / "tracker.xlsx", [
        row("t-atu", "Teams"), row("t-atu", "Intune"),
        row("t-note", "Teams", account_team=None),
        row("t-last", "Teams", **done), row("t-last", "Exchange Online", **done,
                                            customer_email_sent=dt.date(2026, 10, 9)),
        row("t-move", "Teams", region="APJ", **done, customer_email_sent=dt.date(2026, 10, 9)),
    ], header_row=2, table=True)


@pytest.fixture(scope="module")
def smtp() -> Iterator[Any]:
    ctl, sink = cc.start_smtp()
    try:
        yield ctl, sink
    finally:
        ctl.stop()


@pytest.fixture(scope="module")
def baselines(small_tracker: Path, smtp: Any, tmp_path_factory: pytest.TempPathFactory
              ) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("baseline")
    out = {"outbox": cc.baseline(base, small_tracker, "outbox", None),
           "smtp": cc.baseline(base, small_tracker, "smtp", smtp)}
    assert len(out["outbox"].keys) == 5  # 2 ATUs, 1 follow-up, 2 queue moves (EMEA, APJ)
    assert len(out["smtp"].keys) == 5
    return out


CASES = [("outbox", p) for p in cc.POINTS] + [("smtp", "after_intent"),
                                              ("smtp", "after_response"),
                                              ("smtp", "during_writeback")]


@pytest.mark.parametrize(("backend", "point"), CASES)
def test_killed_at_a_point_then_rerun_sends_each_message_once_and_stamps_it(
        backend: str, point: str, small_tracker: Path, smtp: Any, baselines: dict[str, Any],
        tmp_path: Path) -> None:
    nth = "2" if point in ("after_intent", "after_response") else "1"
    t = cc.trial(tmp_path, small_tracker, backend, baselines[backend],
                 smtp if backend == "smtp" else None, crash_at=f"{point}@{nth}")
    assert t.killed, t
    assert (t.duplicates, t.lost_records, t.lost_mail, t.unreadable) == (0, 0, 0, 0), t.detail
    assert t.cells_differing == 0, t.detail
    if backend == "smtp" and point in ("after_intent", "after_response"):
        assert t.resolved == 1  # the person was asked about exactly the interrupted one

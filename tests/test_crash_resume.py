"""A fast crash campaign: `python -m ftc_office run` is SIGKILLed at each named point, then
rerun to completion; no message twice, no record lost, the tracker opens.

The real campaign (samples/tracker.xlsx, several visits per point, random moments) is
bench/robustness/crash_campaign.py; this test uses the same machinery (tests/crashlib.py) on a
small tracker.

O365: each trial has its own fake Graph on 127.0.0.1 on a :class:`ManualClock` that moves
only when the harness waits out the grace: a Sent Items copy appears 60 simulated seconds
after its send, the child's ``sent_items_grace`` is 600 s. So the rerun after a kill always
sees the copy missing inside the grace (``unknown``), and the rerun after the grace always
finds it, however slow the machine (see ``pass_the_grace`` in crashlib). The nine o365 points
run side by side (the children mostly wait on HTTP), then one test per point checks its
figures. The campaign tests are marked ``slow``; the withdraw test is not.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import crashlib as cc
import pytest
from builders import make_tracker, row
from fakegraph import FakeGraph, ManualClock, seed_token_cache
from fakegraph import fake_graph_fixture as fake_graph_fixture  # the fixture
from O365.utils.token import MemoryTokenBackend

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.o365 import O365Backend, SendLog
from ftc_office.config import O365Settings
from ftc_office.message import OutgoingMessage

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")

# simulated seconds (ManualClock): the copy's lag, and a grace far above the real time a
# trial takes (the child checks it on its wall clock against its aged send log)
SENT_ITEMS_DELAY = 60.0
GRACE = 600.0


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
    # 1 ATU (its two workloads share it), 1 follow-up, 2 queue moves (EMEA, APJ)
    assert len(out["outbox"].keys) == 4
    assert len(out["smtp"].keys) == 4
    return out


CASES = [("outbox", p) for p in cc.POINTS] + [("smtp", "after_intent"),
                                              ("smtp", "after_response"),
                                              ("smtp", "during_writeback")]


@pytest.mark.slow
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


O365_CASES = cc.O365_POINTS + cc.SERVER_POINTS


@pytest.fixture(scope="module")
def o365_trials(small_tracker: Path, tmp_path_factory: pytest.TempPathFactory
                ) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("o365")
    ref = cc.baseline(base, small_tracker, "o365", None)
    assert len(ref.keys) == 4  # as the baselines above

    def one(point: str) -> Any:
        nth = "2" if point not in cc.WB_POINTS else "1"
        return cc.trial(base, small_tracker, "o365", ref, None, crash_at=f"{point}@{nth}",
                        sent_items_delay=SENT_ITEMS_DELAY, grace=GRACE, clock=ManualClock())

    with ThreadPoolExecutor(max_workers=len(O365_CASES)) as pool:
        return dict(zip(O365_CASES, pool.map(one, O365_CASES), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("point", O365_CASES)
def test_o365_killed_at_a_point_then_rerun_sends_each_message_once_and_stamps_it(
        point: str, o365_trials: dict[str, Any]) -> None:
    t = o365_trials[point]
    assert t.killed, t
    assert (t.duplicates, t.lost_records, t.lost_mail, t.unreadable) == (0, 0, 0, 0), t.detail
    assert t.cells_differing == 0, t.detail
    assert t.stray_drafts == 0, t.detail  # an unsent draft left by the kill was withdrawn
    assert t.resolved == 0, t.detail  # never a person: the look-ups decide everything
    if point in ("after_response", "send_done"):
        # sent, the copy not yet in Sent Items at the rerun: unknown, then found after the
        # grace
        assert t.grace_waits == 1, t
        assert t.reruns == 2, t
    if point == "send_received":
        # the send was requested, the draft never sent: unknown inside the grace (Exchange
        # might still be moving it), withdrawn and sent afresh after it
        assert t.grace_waits == 1, t
        assert t.reruns == 2, t
    if point in ("after_prepared", "draft_created"):
        assert t.reruns == 1, t  # the unsent draft is replaced within the first rerun


@pytest.mark.slow
def test_a_grace_shorter_than_the_sent_items_lag_sends_twice_and_the_harness_sees_it(
        small_tracker: Path, tmp_path: Path) -> None:
    """The duplicate detector works: with the copy appearing later than the grace (a wrong
    configuration), the rerun after the grace finds nothing, the grace is over, so it sends
    again, and the fake Graph counts the key twice."""
    ref = cc.baseline(tmp_path, small_tracker, "o365", None)
    t = cc.trial(tmp_path, small_tracker, "o365", ref, None, crash_at="send_done@1",
                 sent_items_delay=2 * GRACE, grace=GRACE, clock=ManualClock())
    assert t.killed and t.grace_waits == 1, t
    assert t.duplicates == 1, t.detail
    assert any(d.startswith("sent 2 times: ") for d in t.detail), t.detail


def test_withdraw_deletes_an_unsent_draft_only_in_send_mode_and_past_the_grace(
        fake_graph: FakeGraph, tmp_path: Path) -> None:
    """The fix found by the campaign: a kill between the draft and its send left the message
    `drafted` for ever in send mode (never sent). The rerun now withdraws the unsent draft
    and sends afresh; not within the grace of a send request, never in draft mode."""
    now = [1_000_000.0]

    def backend(mode: str) -> O365Backend:
        tokens = MemoryTokenBackend()
        seed_token_cache(tokens, None, client_id=cc.O365_CLIENT, scopes=["Mail.ReadWrite"],
                         expires_in=10 * 86400, access_token="at", refresh_token="rt")
        settings = O365Settings(client_id=cc.O365_CLIENT, graph_url=fake_graph.url,
                                mode=mode, timeout=2.0, sent_items_grace=60.0)  # type: ignore[arg-type]
        return O365Backend(settings, clock=lambda: now[0], token_backend=tokens,
                           requests_delay_ms=0, send_log=SendLog(tmp_path / f"{mode}.sqlite"))

    m = OutgoingMessage(key="atu.t1.teams.abc", kind="atu", audience="internal",
                        to=(parse_address("ann@microsoft.com"),), subject="s", text="t",
                        html="<p>t</p>")
    drafting = backend("draft")
    draft_id = drafting.deliver(m).provider_id
    assert drafting.withdraw(Sought.of(m, draft_id)) is Status.DRAFTED  # the draft is the result
    assert list(fake_graph.drafts) == [draft_id]

    sending = backend("send")
    assert sending.lookup(Sought.of(m, draft_id)) is Status.DRAFTED
    sending.send_log.record(sending.mailbox_key, now[0], 1, m.key)  # a send was requested
    assert sending.withdraw(Sought.of(m, draft_id)) is Status.UNKNOWN  # Exchange may still move it
    assert list(fake_graph.drafts) == [draft_id]
    now[0] += 61
    assert sending.withdraw(Sought.of(m)) is None  # found by key, deleted: safe to send again
    assert fake_graph.drafts == {} and fake_graph.sent == []
    for b in (drafting, sending):
        b.close()
        b.send_log.close()

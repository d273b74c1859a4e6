"""The 50-row merge (Cc, Bcc, per-row attachments) killed at named and random points and
rerun, through aiosmtpd and through the fake Graph with the real O365 library: each row's
message exactly once, the status column filled for every row, rows inserted and re-sorted
between the runs change nothing. Children are real ``python -m ftc_office merge`` processes
(tests/crashlib.py), killed with SIGKILL."""

from __future__ import annotations

import random
import shutil
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from crashlib import KillingGraph, child, pending, prepare, resolve_unknowns, start_smtp
from fakegraph import ManualClock
from test_merge_send import people, statuses, workbook

ROWS = 50
FINAL = ROWS + 2  # after reshuffle()


def merge_args(backend: str) -> list[str]:
    """The merge every child runs (cwd: the trial's folder)."""
    return ["merge", "reminder", "data.xlsx", "--cc-column", "Cc", "--bcc-column", "Bcc",
            "--attach-column", "Files", "--no-dry-run", "--yes", "--outbox-mode", "pickup",
            "--backend", backend]


def folder(base: Path, backend: str, port: int | None = None,
           graph: KillingGraph | None = None) -> Path:
    """A trial folder: config (crashlib.prepare), template, attachments, 50 rows."""
    seed = base / "seed.xlsx"
    workbook(seed, people(ROWS))
    work = prepare(base, seed, backend, port, graph, grace=0.0)
    shutil.move(work / "tracker.xlsx", work / "data.xlsx")
    tpl = work / "reminder"
    tpl.mkdir()
    (tpl / "subject.txt").write_text("Reminder for {{ name }}", encoding="utf-8")
    (tpl / "body.md").write_text("Hello **{{ name }}**, renewal {{ renewal | date }}.\n",
                                 encoding="utf-8")
    (work / "files").mkdir()
    for i in range(5):
        (work / "files" / f"a{i}.txt").write_text(f"attachment {i}\n", encoding="utf-8")
    (work / "files" / "big.bin").write_bytes(bytes(range(256)) * 200)
    return work


def reshuffle(data: Path, rng: random.Random) -> None:
    """Insert two new rows among the others and re-sort them all: the rerun must go on by
    key, never by position (52 rows from here on)."""
    rows = people(ROWS + 2)
    rng.shuffle(rows)
    workbook(data, rows)


def finish(work: Path, backend: str, received: Any, graph: KillingGraph | None = None
           ) -> None:
    """Rerun until the merge exits 0, resolving what stays unknown as a person would."""
    for _ in range(6):
        rc, killed, out = child(work, merge_args(backend), graph=graph)
        assert not killed, out
        if rc == 0:
            return
        resolve_unknowns(work, set(received()))
    raise AssertionError(f"did not finish: {out}")


@pytest.fixture
def smtp() -> Iterator[tuple[Any, Any]]:
    ctl, sink = start_smtp()
    yield ctl, sink
    ctl.stop()


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_fifty_rows_killed_at_random_moments_over_smtp(tmp_path: Path, seed: int,
                                                       smtp: tuple[Any, Any]) -> None:
    ctl, sink = smtp
    rng = random.Random(seed)
    work = folder(tmp_path, "smtp", ctl.port)
    point = f"after_response@{rng.randint(3, 20)}"
    _rc, killed, out = child(work, merge_args("smtp"), crash_at=point)
    assert killed, out
    reshuffle(work / "data.xlsx", rng)
    for _ in range(2):  # killed after a random delay, twice
        child(work, merge_args("smtp"), kill_after=rng.uniform(0.8, 2.5))
        resolve_unknowns(work, sink.settled())
    finish(work, "smtp", sink.settled)
    counts = Counter(sink.keys)
    assert len(counts) == FINAL and set(counts.values()) == {1}, counts.most_common(3)
    st = statuses(work / "data.xlsx")
    assert len(st) == FINAL and all(str(s).startswith("Sent ") for s in st.values()), st


@pytest.mark.slow
@pytest.mark.parametrize("kills", [("send_done@7", "draft_created@5", "after_prepared@4"),
                                   ("after_response@12", "send_received@3", "during_writeback")])
def test_fifty_rows_killed_and_rerun_through_the_fake_graph(tmp_path: Path,
                                                            kills: tuple[str, ...]) -> None:
    graph = KillingGraph(sent_items_delay=0.0, clock=ManualClock())
    graph.start()
    try:
        work = folder(tmp_path, "o365", graph=graph)
        for n, point in enumerate(kills):
            _rc, killed, out = child(work, merge_args("o365"), crash_at=point, graph=graph)
            assert killed, f"{point}: {out}"
            if n == 0:
                reshuffle(work / "data.xlsx", random.Random(7))
        finish(work, "o365", graph.sent_keys, graph)
        counts = Counter(graph.sent_keys())
        assert len(counts) == FINAL and set(counts.values()) == {1}, counts.most_common(3)
        tos = Counter(m.data["toRecipients"][0]["emailAddress"]["address"] for m in graph.sent)
        assert set(tos.values()) == {1} and len(tos) == FINAL
        assert not graph.drafts  # no unsent draft left behind
        assert not pending(work, ("unknown", "sending", "failed", "drafted"))
        st = statuses(work / "data.xlsx")
        assert all(str(s).startswith("Sent ") for s in st.values()), st
        p3 = next(m for m in graph.sent
                  if m.data["toRecipients"][0]["emailAddress"]["address"] == "p3@contoso.com")
        assert [r["emailAddress"]["address"] for r in p3.data["bccRecipients"]] == [
            "audit3@fabrikam.com"]
        assert [r["emailAddress"]["address"] for r in p3.data["ccRecipients"]] == [
            "cc3@contoso.com"]
        assert [a["name"] for a in p3.attachments] == ["a3.txt"]
    finally:
        graph.stop()

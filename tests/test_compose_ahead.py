"""Compose-ahead workers (`run.ahead`): a run with them sends, records and stamps exactly
what a run without them does; a worker that cannot start, dies or raises leaves the run
composing itself (an error shows as it would without workers); closing a pass early leaves
no worker behind; a run killed while its worker composes, then rerun, sends each message
once (the crash campaign's harness)."""

from __future__ import annotations

import datetime as dt
import os
import re
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import crashlib as cc
import pytest
from builders import make_tracker, row
from runhelpers import run

from ftc_office.backends import wire
from ftc_office.compose.composer import Composer
from ftc_office.config import RunSettings, Settings, load_settings
from ftc_office.errors import ConfigError
from ftc_office.planning import load_workspace, plan_workspace
from ftc_office.run import ahead, worker
from ftc_office.steps import Step

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx"
AS_OF = dt.date(2026, 11, 26)
DATE = "Thu, 26 Nov 2026 09:00:00 +0000"
WORKERS = "[run]\ncompose_workers = {workers}\ncompose_head = {head}\n"


def _run(folder: Path, workers: int, head: int, monkeypatch: pytest.MonkeyPatch
         ) -> dict[str, object]:
    """A real run of the sample from scratch; what it leaves, paths made relative."""
    folder.mkdir()
    tracker = folder / "tracker.xlsx"
    tracker.write_bytes(SAMPLE.read_bytes())
    config = folder / "ftc-office.toml"
    config.write_text(WORKERS.format(workers=workers, head=head), encoding="utf-8")
    monkeypatch.setenv("FTC_OFFICE_CONFIG", str(config))
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(folder / "data"))
    result = run(tracker, "2026-11-26", folder / "outbox")
    assert result.exit_code in (0, 1), result.output  # the sample has invalid tenants
    db = sqlite3.connect(folder / "data" / "ledger.sqlite3")
    jobs = db.execute("SELECT key, state, content_hash, stamps, notes FROM jobs ORDER BY key"
                      ).fetchall()
    db.close()
    eml = {p.name: b"".join(line for line in p.read_bytes().splitlines(keepends=True)
                            if not line.startswith(b"Date:"))
           for p in sorted((folder / "outbox").glob("*.eml"))}
    output = re.sub(r"\d{8}-\d{6}-\d{6}", "TIME", result.output)  # the backup's name
    return {"output": output.replace(str(folder), "F"),
            "jobs": [tuple(str(v).replace(str(folder), "F") for v in j) for j in jobs],
            "eml": eml, "tracker": _parts(tracker)}


def _parts(path: Path) -> dict[str, bytes]:
    import zipfile

    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


@pytest.mark.skipif(sys.platform == "win32", reason="the interpreter probe is a sh script")
def test_a_run_with_workers_leaves_what_a_run_without_them_leaves(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alone = _run(tmp_path / "alone", 0, 100, monkeypatch)
    # the workers' interpreter, through a script that counts how many start
    started = tmp_path / "started"
    script = tmp_path / "python"
    script.write_text(f'#!/bin/sh\necho >> "{started}"\nexec "{sys.executable}" "$@"\n')
    script.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(script))
    # every due tenant in the workers, one of them; the head here and two workers
    one = _run(tmp_path / "one", 1, 0, monkeypatch)
    assert started.read_text().count("\n") >= 1
    two = _run(tmp_path / "two", 2, 3, monkeypatch)
    assert started.read_text().count("\n") >= 3
    assert len(alone["eml"]) >= 20  # type: ignore[arg-type]
    for other in (one, two):
        assert other["jobs"] == alone["jobs"]
        assert other["eml"] == alone["eml"]
        assert other["tracker"] == alone["tracker"]
        assert other["output"] == alone["output"]


@pytest.mark.parametrize("executable", ["/bin/false", "/nonexistent/python"])
def test_a_worker_that_cannot_start_or_dies_leaves_the_run_composing_itself(
        executable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    alone = _run(tmp_path / "alone", 0, 100, monkeypatch)
    monkeypatch.setattr(sys, "executable", executable)  # the interpreter the worker runs
    broken = _run(tmp_path / "broken", 1, 2, monkeypatch)
    assert broken == alone


def _plans(tmp_path: Path) -> tuple[Composer, list[object]]:
    tracker = tmp_path / "tracker.xlsx"
    tracker.write_bytes(SAMPLE.read_bytes())
    settings = Settings(run=RunSettings(compose_workers=1, compose_head=0))
    plans = plan_workspace(load_workspace([tracker], settings), AS_OF)
    due = [p for p in plans if p.actions and p.step not in (Step.REQUEST_QUEUE_MOVE,
                                                            Step.INVALID)]
    return Composer(settings, AS_OF), list(due)


def test_a_worker_that_raises_makes_the_run_raise_the_same_error_itself(
        tmp_path: Path) -> None:
    composer, due = _plans(tmp_path)
    # not a plan: composing it fails with an AttributeError, in the worker and here
    bogus = SimpleNamespace(actions=("x",), step=Step.SEND_ATU, tenant=None)
    batches = ahead.tenant_batches(composer, [*due[:3], bogus, *due[3:5]])  # type: ignore[list-item]
    got = [next(batches) for _ in range(3)]
    assert [c.jobs[0].key for c in got] == [
        composer.compose_tenant(p)[0].key for p in due[:3]]  # type: ignore[arg-type]
    with pytest.raises(AttributeError):
        next(batches)


@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_plan_that_does_not_pickle_is_composed_by_the_run_quietly(
        tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    import threading

    composer, due = _plans(tmp_path)
    object.__setattr__(due[2], "lock", threading.Lock())  # what pickle refuses
    got = [c.jobs for c in ahead.tenant_batches(composer, due)]  # type: ignore[arg-type]
    want = [composer.compose_tenant(p) for p in due]  # type: ignore[arg-type]
    assert [[j.key for j in js] for js in got] == [[j.key for j in js] for js in want]
    assert capfd.readouterr().err == ""  # no thread's traceback


def _children() -> set[int]:
    out: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        text = (task / "children").read_text()
        out.update(int(pid) for pid in text.split())
    return out


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
def test_closing_a_pass_early_leaves_no_worker_behind(tmp_path: Path) -> None:
    composer, due = _plans(tmp_path)
    before = _children()
    batches = ahead.tenant_batches(composer, due)  # type: ignore[arg-type]
    first = next(batches)
    assert first.jobs
    assert _children() - before  # the worker is running
    batches.close()  # what the run does when the person declines or --limit is reached
    assert _children() - before == set()


def test_the_worker_answers_each_tenant_in_order_and_ends_on_an_error(
        tmp_path: Path) -> None:
    """The worker's own protocol, in a real process: plans in, compositions out."""
    import pickle

    composer, due = _plans(tmp_path)
    bogus = SimpleNamespace(actions=("x",), step=Step.SEND_ATU, tenant=None)
    plans = [due[0], bogus, due[1]]
    feed = b"".join(pickle.dumps(x) for x in (sys.path, (composer.settings, AS_OF, True, 3),
                                               *plans))
    proc = subprocess.run([sys.executable, "-c", ahead.BOOT], input=feed,
                          capture_output=True, timeout=120, check=True)
    import io

    out = io.BytesIO(proc.stdout)
    first = pickle.load(out)
    assert first[0] == "ok" and first[1][0].key == composer.compose_tenant(due[0])[0].key
    message = first[1][0].message
    # the reader keeps up (never 16 ready): the run is left to write the MIME
    assert wire._PARTS not in message.__dict__
    assert wire.wire_bytes(message, DATE) == wire.wire_bytes(replace(message), DATE)
    assert pickle.load(out)[0] == "error"
    assert out.read() == b""  # it stopped at the error


@pytest.mark.parametrize(("ready", "written"), [(0, False), (worker.PREPARE_WHEN, True)])
def test_the_worker_writes_mime_ahead_only_while_the_run_is_behind(
        tmp_path: Path, ready: int, written: bool) -> None:
    """With `PREPARE_WHEN` compositions ready and not read, the run is behind (its disk makes
    each file durable): the worker writes each message's MIME but its Date too. With fewer,
    the run is waiting for it and writes the MIME itself. The bytes are the same either way."""
    import io
    import pickle
    import queue

    composer, due = _plans(tmp_path)
    feed = io.BytesIO(b"".join(pickle.dumps(x) for x in ((composer.settings, AS_OF, True, 2),
                                                         *due[:2])))
    answers: queue.Queue[bytes | None] = queue.Queue()
    for _ in range(ready):  # compositions the run has not read yet
        answers.put(b"")
    worker._compose(feed, answers)
    got = [answers.get() for _ in range(ready + 2)][ready:]
    got = [pickle.loads(data) for data in got if data is not None]
    messages = [j.message for kind, jobs, _ in got for j in jobs if j.message is not None]
    assert [kind for kind, _, _ in got] == ["ok", "ok"] and messages
    assert {wire._PARTS in m.__dict__ for m in messages} == {written}
    fresh = [j.message for p in due[:2] for j in composer.compose_tenant(p)  # type: ignore[arg-type]
             if j.message is not None]
    assert [wire.wire_bytes(m, DATE) for m in messages] == [
        wire.wire_bytes(m, DATE) for m in fresh]


def _worker_processes(under: Path) -> list[str]:
    """Compose-ahead workers still running in a folder under ``under``."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes()
            cwd = Path(os.readlink(proc / "cwd"))
        except OSError:
            continue
        if b"ftc_office.run.worker" in cmd and cwd.is_relative_to(under):
            found.append(proc.name)
    return found


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="reads /proc")
@pytest.mark.parametrize("point", ["after_intent", "after_response"])
def test_a_run_killed_while_its_worker_composes_then_rerun_sends_each_message_once(
        point: str, tmp_path: Path) -> None:
    config = WORKERS.format(workers=1, head=0)
    done = {"atu_sent": dt.date(2026, 10, 1), "discussion_date": dt.date(2026, 10, 8)}
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        *(row(f"t-atu-{n}", "Teams") for n in range(4)),
        row("t-note", "Teams", account_team=None),
        row("t-last", "Teams", **done),
        row("t-move", "Teams", region="APJ", **done, customer_email_sent=dt.date(2026, 10, 9)),
    ])
    ref = cc.baseline(tmp_path / "base", tracker, "outbox", None, config=config)
    t = cc.trial(tmp_path / "trial", tracker, "outbox", ref, None, crash_at=f"{point}@3",
                 config=config)
    assert t.killed, t
    assert (t.duplicates, t.lost_records, t.lost_mail, t.unreadable) == (0, 0, 0, 0), t.detail
    assert t.cells_differing == 0, t.detail
    deadline = time.monotonic() + 10  # an orphaned worker ends when its pipes close
    while _worker_processes(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _worker_processes(tmp_path) == []


def test_a_negative_worker_count_is_a_config_error_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "ftc-office.toml"
    config.write_text("[run]\ncompose_workers = -1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(config)
    assert "run.compose_workers" in str(err.value) and "0 or more" in str(err.value)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="process groups and /proc")
def test_ctrl_c_while_the_worker_composes_then_rerun_writes_each_message_once(
        tmp_path: Path) -> None:
    """Ctrl-C at a terminal reaches the run and its worker (one process group): the run
    stops with 130 and its message, the worker goes with it, and the rerun writes every
    other message once, leaving the files already written untouched."""
    import signal

    make = Path(__file__).resolve().parents[1] / "bench" / "make_tracker.py"
    subprocess.run([sys.executable, str(make), "600", str(tmp_path / "tracker.xlsx")],
                   check=True, capture_output=True, timeout=300)
    (tmp_path / "ftc-office.toml").write_text(WORKERS.format(workers=1, head=0),
                                              encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if k not in ("FTC_OFFICE_CRASH_AT", "FTC_OFFICE_CONFIG")}
    env["FTC_OFFICE_DATA_DIR"] = str(tmp_path / "data")
    args = [sys.executable, "-m", "ftc_office", "run", "tracker.xlsx", "--as-of",
            "2026-11-26", "--no-dry-run", "--yes", "--outbox", "outbox",
            "--outbox-mode", "pickup"]
    outbox = tmp_path / "outbox"
    # its own process group, as a terminal's foreground job; SIGINT not inherited ignored
    proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while len(list(outbox.glob("*.eml"))) < 20 and time.monotonic() < deadline:
        assert proc.poll() is None, "the run ended before it could be interrupted"
        time.sleep(0.01)
    assert _worker_processes(tmp_path)  # the worker is composing
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert b"Traceback" not in err and b"interrupted" in err
    first = {p.name: p.stat().st_ino for p in outbox.glob("*.eml")}
    deadline = time.monotonic() + 10
    while _worker_processes(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _worker_processes(tmp_path) == []
    rerun = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, timeout=600)
    assert rerun.returncode in (0, 1), rerun.stderr[-2000:]  # 1: invalid tenants
    after = {p.name: p.stat().st_ino for p in outbox.glob("*.eml")}
    assert len(after) > len(first) >= 20
    assert all(after[n] == ino for n, ino in first.items())  # none written twice
    db = sqlite3.connect(tmp_path / "data" / "ledger.sqlite3")
    states = dict(db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall())
    db.close()
    assert states.get("sent", 0) == len(after)
    assert set(states) <= {"sent", "done"}

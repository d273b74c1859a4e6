"""`plan` and `check` start reading their first tracker before they load the playbook
(`tracker.reader.read_ahead`): the read they start is the one `read_sheet` returns, a file
changed since is read again, and what the package check refuses is said where the read is
asked for, exactly as without reading ahead."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from builders import make_tracker, row

from ftc_office.errors import TrackerError
from ftc_office.tracker import reader
from ftc_office.tracker.reader import read_ahead, read_sheet

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "tracker.xlsx"


def test_the_read_started_ahead_is_the_one_read_sheet_returns(tmp_path: Path) -> None:
    plain = read_sheet(SAMPLE)
    read_ahead(SAMPLE)
    assert len(reader._AHEAD) == 1
    taken = read_sheet(SAMPLE)
    assert reader._AHEAD == {}  # taken over, once
    assert taken == plain
    assert len(taken.rows) > 10


def test_other_arguments_read_anew(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    make_tracker(path, [row("t-1"), row("t-2", "Intune")])
    read_ahead(path, max_header_row=30)
    assert len(read_sheet(path, max_header_row=5).rows) == 2  # not the read ahead
    assert reader._AHEAD == {}  # and the unused one is let go


def test_a_file_changed_after_the_read_ahead_is_read_again(tmp_path: Path) -> None:
    path = tmp_path / "t.xlsx"
    make_tracker(path, [row("t-1")])
    read_ahead(path)
    make_tracker(path, [row("t-1"), row("t-2"), row("t-3")])
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert [r.values["tenant_id"] for r in read_sheet(path).rows] == ["t-1", "t-2", "t-3"]
    assert reader._AHEAD == {}


@pytest.mark.parametrize("name, content", [
    ("missing.xlsx", None),
    ("notes.csv", b"a,b\n"),
    ("damaged.xlsx", b"PK\x03\x04 not really a zip"),
])
def test_what_the_check_refuses_is_raised_by_the_read(tmp_path: Path, name: str,
                                                      content: bytes | None) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(TrackerError) as plain:
        read_sheet(path)
    read_ahead(path)  # says nothing yet
    with pytest.raises(TrackerError) as ahead:
        read_sheet(path)
    assert str(ahead.value) == str(plain.value)
    assert reader._AHEAD == {}


def test_a_run_s_write_back_takes_over_its_read_and_one_with_nothing_to_do_drops_it(
        tmp_path: Path) -> None:
    """The write-back starts reading the tracker before it asks the ledger what to stamp:
    after a run nothing read ahead is left behind, nor after a write-back with nothing to
    stamp (its read is dropped, not kept for the life of the process)."""
    import shutil

    from runhelpers import run

    from ftc_office.config import load_settings
    from ftc_office.ledger import Ledger
    from ftc_office.writeback import write_back

    tracker = tmp_path / "tracker.xlsx"
    shutil.copyfile(SAMPLE, tracker)
    result = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert "written" in result.output.lower(), result.output
    assert reader._AHEAD == {}
    ledger = Ledger.open()
    try:
        nothing = write_back(tracker, ledger, load_settings(None), entries=[])
    finally:
        ledger.close()
    assert nothing.cells == 0
    assert reader._AHEAD == {}


def test_a_rerun_with_nothing_to_write_reads_its_tracker_once(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    """The write-back reads ahead only a tracker this run stamped: a rerun that finished
    nothing reads the tracker for its plan and does not open it again (`write_trackers`:
    "a tracker with nothing to write is not even opened"), while the first run read it
    twice, the second time started ahead of the write-back."""
    import shutil

    from runhelpers import run

    tracker = tmp_path / "tracker.xlsx"
    shutil.copyfile(SAMPLE, tracker)
    reads: list[Path] = []
    start = reader._Loading.__init__

    def counted(self: reader._Loading, path: Path, *args: object) -> None:
        reads.append(Path(path))
        start(self, path, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(reader._Loading, "__init__", counted)
    first = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert "written" in first.output.lower(), first.output
    assert reads == [tracker, tracker]
    reads.clear()
    again = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert "0 error(s)" in again.output, again.output
    assert reads == [tracker]
    assert reader._AHEAD == {}


PROBE = """
import json, runpy, sys
from ftc_office.tracker import reader
seen = []
start = reader._Loading.__init__
def probe(self, *args, **kwargs):
    seen.append(sorted(m for m in ("ftc_office.planning", "ftc_office.playbook",
                                   "ftc_office.run.api") if m in sys.modules))
    start(self, *args, **kwargs)
reader._Loading.__init__ = probe
import atexit
atexit.register(lambda: print(json.dumps(seen), file=sys.stderr))
sys.argv = ["ftc-office", *sys.argv[1:]]
runpy.run_module("ftc_office", run_name="__main__")
"""


@pytest.mark.parametrize("command", [["plan", "--as-of", "2026-11-26"], ["check"]])
def test_plan_and_check_start_reading_before_loading_the_playbook(tmp_path: Path,
                                                                  command: list[str]) -> None:
    env = {**os.environ, "FTC_OFFICE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-c", PROBE, command[0], str(SAMPLE), *command[1:]],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    started = json.loads(proc.stderr.strip().splitlines()[-1])
    assert started == [[]]  # one read, started before either was imported


def test_a_real_run_starts_reading_before_loading_the_run(tmp_path: Path) -> None:
    """`run --no-dry-run`: the first read (of two: the plan's, the write-back's) starts
    before the run's machinery is imported; a dry run reads copies, so nothing ahead."""
    import shutil

    tracker = tmp_path / "tracker.xlsx"
    shutil.copyfile(SAMPLE, tracker)
    env = {**os.environ, "FTC_OFFICE_DATA_DIR": str(tmp_path / "data")}
    args = ["run", str(tracker), "--as-of", "2026-11-26", "--outbox", str(tmp_path / "out"),
            "--outbox-mode", "pickup", "--yes"]
    started = []
    for extra in (["--no-dry-run"], []):
        proc = subprocess.run([sys.executable, "-c", PROBE, *args, *extra], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300, env=env)
        assert proc.returncode in (0, 1), proc.stderr
        started.append(json.loads(proc.stderr.strip().splitlines()[-1]))
    real, dry = started
    assert real[0] == [] and len(real) == 2  # the write-back's read: after the run's import
    assert dry[0] != []  # the dry run's reads start once the run is loaded

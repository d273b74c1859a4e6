"""`plan` and `check` end their process right after their output (`console.end_now`): the
output is whole, the exit code is the command's, exit handlers run; a stream that cannot be
flushed leaves the usual exit to report it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftc_office import console
from ftc_office.cli.main import cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "tracker.xlsx"
BAD = ROOT / "tests" / "data" / "bad_trackers" / "active_users_na.xlsx"

# the console entry point (`main`), with an exit handler that leaves a mark
WRAPPER = ("import atexit, pathlib, runpy, sys\n"
           "mark = pathlib.Path(sys.argv[1])\n"
           "atexit.register(lambda: mark.write_text('ran'))\n"
           "sys.argv = ['ftc-office', *sys.argv[2:]]\n"
           "runpy.run_module('ftc_office', run_name='__main__')\n")


def _entry(tmp_path: Path, *args: str, wrapper: str = WRAPPER
           ) -> tuple[subprocess.CompletedProcess[str], Path]:
    mark = tmp_path / "atexit.txt"
    env = {**os.environ, "FTC_OFFICE_DATA_DIR": str(tmp_path / "data"),
           "PYTHONIOENCODING": "utf-8", "COLUMNS": "100"}
    proc = subprocess.run([sys.executable, "-c", wrapper, str(mark), *args], cwd=tmp_path,
                          capture_output=True, text=True, encoding="utf-8", timeout=120,
                          env=env)
    return proc, mark


@pytest.mark.parametrize(("args", "code"), [
    (["plan", str(SAMPLE), "--as-of", "2026-11-26"], 0),
    (["plan", str(SAMPLE), "--as-of", "2026-11-26", "--json"], 0),
    (["check", str(BAD), "--as-of", "2026-11-26"], 1),
])
def test_the_entry_point_gives_the_whole_output_and_the_exit_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], code: int) -> None:
    proc, mark = _entry(tmp_path, *args)
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.chdir(tmp_path)
    inproc = CliRunner().invoke(cli, args)
    assert (proc.returncode, inproc.exit_code) == (code, code)
    assert proc.stdout == inproc.stdout and proc.stdout  # every line, as Click wrote it
    assert mark.read_text() == "ran"  # exit handlers still run


def test_a_stream_that_cannot_be_flushed_leaves_the_usual_exit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A stdout that cannot be flushed (a closed pipe) makes `end_now` return (the caller
    then exits as usual, and Python reports the stream) instead of ending the process."""
    class Broken(io.StringIO):
        def flush(self) -> None:
            raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(sys, "stdout", Broken())
    console.end_now(0)  # still here



@pytest.mark.parametrize("command", ["plan", "check"])
def test_the_collector_is_paused_for_the_command_and_runs_again_after(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str) -> None:
    """`plan` and `check` read and print with the cyclic collector off (`collector_paused`);
    it is on again once the command has returned (Click's test runner, an embedding)."""
    import gc

    from ftc_office import planning

    seen: list[bool] = []
    real = planning.load_workspace

    def watched(*args: object, **kwargs: object) -> object:  # the real one, observed
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(planning, "load_workspace", watched)
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(tmp_path / "data"))
    assert gc.isenabled()
    result = CliRunner().invoke(cli, [command, str(SAMPLE), "--as-of", "2026-11-26"])
    assert result.exit_code in (0, 1), result.output
    assert seen == [False] and gc.isenabled()


@pytest.mark.parametrize(("args", "enabled"), [
    (["plan", str(SAMPLE), "--as-of", "2026-11-26"], "False"),
    (["check", str(BAD), "--as-of", "2026-11-26"], "False"),
    (["--version"], "True"),  # no paused collector: the probe does see it on
])
def test_a_command_that_ends_the_process_does_not_turn_the_collector_on_again(
        tmp_path: Path, args: list[str], enabled: str) -> None:
    """At the console entry point `plan` and `check` end the process with their output, so
    the collector paused for them stays off (its first collection would walk every object
    read, for nothing). In-process (the test above) it is turned on again."""
    wrapper = WRAPPER.replace("import atexit,", "import atexit, gc,").replace(
        "mark.write_text('ran')", "mark.write_text(str(gc.isenabled()))")
    assert wrapper != WRAPPER
    proc, mark = _entry(tmp_path, *args, wrapper=wrapper)
    assert proc.returncode in (0, 1), proc.stderr
    assert mark.read_text() == enabled

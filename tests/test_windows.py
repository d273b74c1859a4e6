"""Windows at the boundary: every command survives a cp1252/cp437/ASCII stdout, and the
atomic replace retries a rename another program (OneDrive, an antivirus) refuses."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ftc_office import atomic
from ftc_office.atomic import atomic_replace
from ftc_office.console import _fallback
from ftc_office.errors import WritebackError

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "tracker.xlsx"


def _commands(t: str, out: Path) -> list[list[str]]:
    tpl = out / "mailing"
    return [
        ["--help"], ["check", t], ["plan", t], ["plan", t, "--json"],
        ["preview", t, "--out", str(out / "preview")], ["run", t], ["send", t],
        ["merge", "--template", str(tpl), "--data", t], ["status"], ["history"],
        ["resolve", "--help"], ["init", "--path", str(out / "ftc-office.toml")],
    ]


@pytest.mark.parametrize("encoding", ["cp1252", pytest.param("cp437", marks=pytest.mark.slow),
                                      pytest.param("ascii", marks=pytest.mark.slow)])
def test_every_command_survives_a_narrow_encoding(encoding: str, tmp_path: Path) -> None:
    tracker = tmp_path / "tracker.xlsx"
    shutil.copy(SAMPLE, tracker)
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    env.pop("FTC_OFFICE_DEBUG", None)
    commands = _commands(str(tracker), tmp_path)
    if encoding == "cp1252":
        commands.append(["demo", "--help"])
    for args in commands:
        proc = subprocess.run([sys.executable, "-m", "ftc_office", *args], cwd=tmp_path,
                              env=env, capture_output=True, timeout=120)
        err = proc.stderr.decode(encoding, "replace")
        assert proc.returncode != 3, (args, err)
        assert "internal error" not in err, (args, err)
        assert "Traceback" not in err, (args, err)
        if args[-1] == "--json":
            assert isinstance(json.loads(proc.stdout.decode(encoding)), list)


def test_fallback_spells_characters_in_ascii() -> None:
    text = "≥ 1000 — ok → ✓ “x” é ☃"
    assert text.encode("ascii", _register()) == b'>= 1000 - ok -> ok "x" e ?'


def _register() -> str:
    import codecs

    codecs.register_error("test-ftc", _fallback)
    return "test-ftc"


def _flaky_replace(failures: int, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = os.replace

    def replace(src: object, dst: object) -> None:
        calls.append(1)
        if len(calls) <= failures:
            raise PermissionError(13, "The process cannot access the file because it is "
                                  "being used by another process", str(dst))
        real(src, dst)  # type: ignore[arg-type]

    monkeypatch.setattr(atomic.os, "replace", replace)
    monkeypatch.setattr(atomic, "RETRY_DELAYS", (0.0,) * len(atomic.RETRY_DELAYS))
    return calls


def test_replace_retries_a_sharing_violation(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tracker.xlsx"
    target.write_bytes(b"old")
    calls = _flaky_replace(3, monkeypatch)
    atomic_replace(target, lambda tmp: tmp.write_bytes(b"new"))
    assert target.read_bytes() == b"new" and len(calls) == 4


def test_replace_gives_up_with_the_original_intact(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "tracker.xlsx"
    target.write_bytes(b"old")
    calls = _flaky_replace(100, monkeypatch)
    with pytest.raises(WritebackError) as info:
        atomic_replace(target, lambda tmp: tmp.write_bytes(b"new"))
    assert len(calls) == len(atomic.RETRY_DELAYS) + 1
    assert "in use by another program" in str(info.value)
    assert "original is intact" in str(info.value)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["tracker.xlsx"]


def test_retry_delays_stay_short() -> None:
    assert len(atomic.RETRY_DELAYS) >= 5 and sum(atomic.RETRY_DELAYS) < 4

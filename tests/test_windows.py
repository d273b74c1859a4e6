"""Windows at the boundary: every command survives a cp1252/cp437/cp850/ASCII stdout, and the
atomic replace retries a rename another program (OneDrive, an antivirus) refuses.

Each command runs as a subprocess with ``PYTHONIOENCODING`` set, which is what Python does
on Windows when output is redirected (the ANSI or OEM code page). cp1252 runs every command
in the default suite (about a minute: ``run``, ``send`` and ``demo`` are whole dry runs);
cp437, cp850 and ASCII run them all under ``-m slow``, and ``plan`` in ASCII, the narrowest,
stays in the default suite.
"""

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
#: every command the issue lists (#19), each with arguments that make it do its work
COMMANDS = ("--help", "check", "plan", "plan --json", "preview", "run", "send", "merge",
            "status", "history", "resolve", "init", "demo")


def _mailing(out: Path) -> tuple[Path, Path]:
    """A mail-merge template and data full of characters no code page has."""
    tpl = out / "mailing"
    tpl.mkdir()
    (tpl / "subject.txt").write_text("≥ 3 seats — {{ first_name }} ☃", encoding="utf-8")
    (tpl / "body.md").write_text("Hello {{ first_name }} → **{{ seats }}** “seats” ✓\n",
                                 encoding="utf-8")
    data = out / "contacts.csv"
    data.write_text("First Name,Email,Seats\nZoë ☃,zoe@contoso.com,3\nŁukasz,lk@contoso.com,"
                    "5\n", encoding="utf-8")
    return tpl, data


def _args(command: str, tracker: Path, out: Path) -> list[str]:
    t = str(tracker)
    if command == "merge":
        tpl, data = _mailing(out)
        return ["merge", "--template", str(tpl), "--data", str(data), "--to-column", "Email",
                "--out", str(out / "merged")]
    return {
        "--help": ["--help"], "check": ["check", t], "plan": ["plan", t],
        "plan --json": ["plan", t, "--json"],
        "preview": ["preview", t, "--out", str(out / "preview")],
        "run": ["run", t], "send": ["send", t], "status": ["status"], "history": ["history"],
        "resolve": ["resolve", "atu.no-such-key", "--sent"],
        "init": ["init", "--path", str(out / "ftc-office.toml")],
        "demo": ["demo", "--out", str(out / "demo")],
    }[command]


def _survives(encoding: str, commands: tuple[str, ...], tmp_path: Path) -> None:
    tracker = tmp_path / "tracker.xlsx"
    shutil.copy(SAMPLE, tracker)
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    env.pop("FTC_OFFICE_DEBUG", None)
    for command in commands:
        args = _args(command, tracker, tmp_path)
        proc = subprocess.run([sys.executable, "-m", "ftc_office", *args], cwd=tmp_path,
                              env=env, capture_output=True, timeout=180)
        err = proc.stderr.decode(encoding, "replace")
        assert proc.returncode in (0, 1), (command, proc.returncode, err)
        assert "internal error" not in err, (command, err)
        assert "Traceback" not in err, (command, err)
        proc.stdout.decode(encoding)  # every byte is in the code page
        if command == "plan --json":
            assert isinstance(json.loads(proc.stdout.decode(encoding)), list)


@pytest.mark.parametrize("encoding", [
    "cp1252", *(pytest.param(e, marks=pytest.mark.slow) for e in ("cp437", "cp850", "ascii"))])
def test_every_command_survives_a_narrow_encoding(encoding: str, tmp_path: Path) -> None:
    _survives(encoding, COMMANDS, tmp_path)


def test_plan_survives_ascii(tmp_path: Path) -> None:
    """The narrowest stream, on the two commands the issue saw crash (``≥`` in ``plan``)."""
    _survives("ascii", ("plan", "plan --json"), tmp_path)


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

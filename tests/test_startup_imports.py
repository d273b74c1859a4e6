"""Start-up stays light: ``--version``, ``plan`` and ``check`` load none of the heavy libraries.

Each command runs in a fresh interpreter through a tiny wrapper that records, at exit, which
of the heavy top-level packages ended up in ``sys.modules``.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "samples" / "tracker.xlsx"
HEAVY = ("openpyxl", "docxtpl", "docx", "O365", "matplotlib", "psycopg", "rich")
#: modules `plan` and `check` need only when there is a ledger to read (or a message to make)
LEDGER = ("ftc_office.ledger", "ftc_office.message", "email.message")

WRAPPER = """
import atexit, json, runpy, sys
heavy = {heavy!r}
def report():
    found = sorted({{m.split(".")[0] for m in sys.modules}} & set(heavy))
    with open({out!r}, "w") as f:
        json.dump(found, f)
    with open({out!r} + ".ledger", "w") as f:
        json.dump(sorted(set(sys.modules) & set({ledger!r})), f)
atexit.register(report)
sys.argv = ["ftc-office", *{args!r}]
runpy.run_module("ftc_office", run_name="__main__")
"""


def _heavy_imported(tmp_path: Path, args: list[str]) -> tuple[list[str], int]:
    out = tmp_path / "modules.json"
    code = WRAPPER.format(heavy=HEAVY, ledger=LEDGER, out=str(out), args=args)
    env = {**os.environ, "FTC_OFFICE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, timeout=120, env=env)
    return json.loads(out.read_text()), proc.returncode


def test_importing_the_cli_loads_no_heavy_library() -> None:
    code = ("import sys, ftc_office.cli.main; "
            f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.strip() == "[]"


@pytest.mark.parametrize("args", [
    ["--version"],
    ["plan", str(SAMPLE), "--as-of", "2026-11-26", "--json"],
    ["plan", str(SAMPLE), "--as-of", "2026-11-26"],
    ["check", str(SAMPLE)],
], ids=["version", "plan-json", "plan-table", "check"])
def test_light_commands_load_no_heavy_library(tmp_path: Path, args: list[str]) -> None:
    found, code = _heavy_imported(tmp_path, args)
    assert code in (0, 1)  # check and plan exit 1 for the sample's deliberate problems
    # the sample's plan table is laid out without rich (its text is all one cell wide:
    # tests/test_textable.py); the other heavy libraries never load
    assert found == []
    if args[0] != "--version":  # no ledger in the data folder: none of it is imported
        assert json.loads((tmp_path / "modules.json.ledger").read_text()) == []


def test_plan_with_a_ledger_imports_it(tmp_path: Path) -> None:
    """The probe above can fail: once a ledger exists, `plan` reads it (and imports it)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "ledger.sqlite3").write_bytes(b"")
    _heavy_imported(tmp_path, ["plan", str(SAMPLE), "--as-of", "2026-11-26", "--json"])
    assert "ftc_office.ledger" in json.loads((tmp_path / "modules.json.ledger").read_text())


def test_the_wrapper_sees_a_heavy_import(tmp_path: Path) -> None:
    """The probe can fail: a command that composes Word attachments does load docxtpl."""
    found, _ = _heavy_imported(tmp_path, ["preview", str(SAMPLE), "--as-of", "2026-11-26",
                                          "--out", str(tmp_path / "p")])
    assert "docxtpl" in found


def test_a_run_with_queue_moves_does_not_load_openpyxl(tmp_path: Path) -> None:
    """The queue-move workbook is written as text (compose/queue_xlsx.py): a run that sends
    queue moves and Word attachments and writes back loads no openpyxl (34 MB with numpy)."""
    tracker = tmp_path / "tracker.xlsx"
    tracker.write_bytes(SAMPLE.read_bytes())
    found, code = _heavy_imported(tmp_path, [
        "run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run", "--yes",
        "--outbox", str(tmp_path / "outbox")])
    assert code in (0, 1)
    sent = list((tmp_path / "outbox").rglob("*.eml"))
    assert any(p.name.startswith("queue_move.") for p in sent)
    assert "docxtpl" in found and "openpyxl" not in found


def test_version_imports_only_click_and_the_cli_entry(tmp_path: Path) -> None:
    """``--version`` loads no command module at all (each is imported when it runs)."""
    code = ("import runpy, sys; sys.argv = ['ftc-office', '--version']\n"
            "try:\n    runpy.run_module('ftc_office', run_name='__main__')\n"
            "except SystemExit:\n    pass\n"
            "print(sorted(m for m in sys.modules if m.startswith('ftc_office')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, check=True)
    assert proc.stdout.strip().splitlines()[-1] == (
        "['ftc_office', 'ftc_office.cli', 'ftc_office.cli.main', 'ftc_office.console']")


def test_the_cli_names_the_config_file_as_config_does() -> None:
    from ftc_office.cli.main import CONFIG_NAME
    from ftc_office.config import CONFIG_NAME as real

    assert real == CONFIG_NAME


def test_plan_without_a_ledger_loads_none_of_the_run(tmp_path: Path) -> None:
    """`plan` reads the ledger only when there is one: without, neither the write-back nor
    the run's plan and report are imported (about 50 ms of `plan`'s start; the ledger package
    itself is, for the setting that names a shared ledger)."""
    # printed by an exit handler: `plan` ends its process right after them (`end_now`)
    code = ("import atexit, runpy, sys; sys.argv = ['ftc-office', 'plan', sys.argv[1], "
            "'--as-of', '2026-11-26', '--json']\n"
            "atexit.register(lambda: print(sorted(m for m in sys.modules "
            "if m.startswith('ftc_office'))))\n"
            "runpy.run_module('ftc_office', run_name='__main__')")
    env = {**os.environ, "FTC_OFFICE_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.run([sys.executable, "-c", code, str(SAMPLE)], capture_output=True,
                          text=True, timeout=120, check=True, cwd=tmp_path, env=env)
    loaded = set(ast.literal_eval(proc.stdout.strip().splitlines()[-1]))
    assert "ftc_office.planning" in loaded  # the probe sees the command's own modules
    assert not loaded & {"ftc_office.writeback", "ftc_office.run.report", "ftc_office.run.plan",
                         "ftc_office.run.identity", "ftc_office.notes_sheet",
                         "ftc_office.xlsx.patch"}

"""A tracker's identity travels with the file: an ID in the workbook's custom document
properties, written once and surgically; with a shared ledger the run lock is keyed by it,
so two machines' copies of one workbook never run at once."""

from __future__ import annotations

import shutil
import zipfile
from contextlib import ExitStack
from pathlib import Path

import pytest
from builders import make_tracker, row
from openpyxl import load_workbook
from openpyxl.packaging.custom import StringProperty
from runhelpers import run

from ftc_office.errors import LedgerError
from ftc_office.ledger import Ledger
from ftc_office.run.identity import PROPERTY, tracker_identity
from ftc_office.run.locks import lock_trackers
from ftc_office.xlsx.custom_props import add_property, read_property

pytest_plugins = ["pgserver"]


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_the_id_is_added_once_and_every_other_part_keeps_its_bytes(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path / "t.xlsx", [row("t-1")])
    before = members(tracker)
    assert "docProps/custom.xml" not in before and read_property(tracker, PROPERTY) is None
    first = tracker_identity(tracker)
    assert first is not None and first.startswith("tracker:")
    after = members(tracker)
    assert set(after) - set(before) == {"docProps/custom.xml"}
    changed = {n for n in before if before[n] != after[n]}
    assert changed == {"[Content_Types].xml", "_rels/.rels"}
    assert b"custom-properties+xml" in after["[Content_Types].xml"]
    # Excel's reader (openpyxl here) sees the property; the workbook still loads
    wb = load_workbook(tracker)
    assert [(p.name, p.value) for p in wb.custom_doc_props.props] == [
        (PROPERTY, first.removeprefix("tracker:"))]
    # once: the same ID again, the file untouched
    data = tracker.read_bytes()
    assert tracker_identity(tracker) == first and tracker.read_bytes() == data
    # a copy is the same tracker
    copy = Path(shutil.copy(tracker, tmp_path / "copy.xlsx"))
    assert tracker_identity(copy) == first


def test_an_existing_custom_part_gets_one_more_property_only(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1")])
    wb = load_workbook(path)
    wb.custom_doc_props.append(StringProperty(name="Owner", value="EMEA & APJ"))
    wb.save(path)
    before = members(path)
    assert add_property(path, PROPERTY, "abc") == "abc"
    after = members(path)
    assert {n for n in before if before[n] != after[n]} == {"docProps/custom.xml"}
    assert set(after) == set(before)
    assert read_property(path, "Owner") == "EMEA & APJ"
    assert read_property(path, PROPERTY) == "abc"
    assert add_property(path, PROPERTY, "other") == "abc"  # never changed


def test_a_workbook_open_in_excel_is_not_written(tmp_path: Path) -> None:
    path = make_tracker(tmp_path / "t.xlsx", [row("t-1")])
    (tmp_path / "~$t.xlsx").write_bytes(b"\x05Alice")
    data = path.read_bytes()
    assert tracker_identity(path) is None and path.read_bytes() == data


def test_copies_of_one_workbook_share_the_run_lock_of_a_shared_ledger(
        pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    alice = make_tracker(tmp_path / "alice.xlsx", [row("t-1")])
    tracker_identity(alice)  # written by the first run, then synced to bob's copy
    bob = Path(shutil.copy(alice, tmp_path / "bob.xlsx"))
    with ExitStack() as stack:
        holder = stack.enter_context(Ledger.open())
        lock_trackers([alice], stack, ledger=holder)
        out = run(bob, "2026-11-26", tmp_path / "out")
        assert out.exit_code == 1
        assert "another ftc-office run is working on this tracker" in out.stderr
        with ExitStack() as inner, pytest.raises(LedgerError):
            lock_trackers([bob], inner, ledger=inner.enter_context(Ledger.open()))
    assert run(bob, "2026-11-26", tmp_path / "out").exit_code == 0


def test_a_personal_ledger_never_writes_the_id(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "t.xlsx", [row("t-1")])
    assert run(tracker, "2026-11-26", tmp_path / "out").exit_code == 0
    assert read_property(tracker, PROPERTY) is None

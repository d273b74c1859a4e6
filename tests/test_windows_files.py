"""Files that survive Windows, on Linux: Windows' behaviour simulated at the boundary.

Path logic runs through ``ntpath`` (long and UNC paths); the outbox and the write-back run
on real folders whose names a OneDrive user has (spaces, accents, deep nesting); device
names (``CON``, ``NUL``…) and names differing only in case are checked the way Windows
compares them; a sharing violation is a fake ``os.replace`` raising what Windows raises.
"""

from __future__ import annotations

import ntpath
import os
import shutil
from pathlib import Path

import pytest
from runhelpers import run

from ftc_office import atomic
from ftc_office.addresses import parse_address
from ftc_office.atomic import atomic_replace, atomic_write_bytes
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.outbox import OutboxBackend
from ftc_office.errors import WritebackError
from ftc_office.filenames import attachment_filename, reserved, safe_filename
from ftc_office.message import OutgoingMessage
from ftc_office.paths import MAX_PATH, extended_path

SAMPLE = Path(__file__).resolve().parent.parent / "samples" / "tracker.xlsx"
DEVICES = ["CON", "PRN", "AUX", "NUL", "COM1", "COM9", "LPT1", "LPT9", "CONIN$", "CONOUT$"]


def message(key: str) -> OutgoingMessage:
    return OutgoingMessage(key=key, kind="atu", audience="internal",
                           to=(parse_address("ann@microsoft.com"),), subject="Done",
                           text=key, html=f"<p>{key}</p>")


# -- long and UNC paths (ntpath) ---------------------------------------------------------

def test_a_short_path_is_only_normalised() -> None:
    path = "C:/Users/Zoë/OneDrive - Contoso Ltd/FastTrack/./tracker.xlsx"
    assert extended_path(path) == r"C:\Users\Zoë\OneDrive - Contoso Ltd\FastTrack\tracker.xlsx"


def test_a_long_drive_path_gets_the_extended_prefix() -> None:
    deep = "C:/Users/ann/OneDrive - Contoso Ltd/" + "/".join(["Équipe FastTrack"] * 20)
    path = f"{deep}/../tracker.xlsx"
    got = extended_path(path)
    assert len(path) > 260
    assert got.startswith("\\\\?\\C:\\Users\\ann\\OneDrive - Contoso Ltd\\Équipe FastTrack\\")
    assert "/" not in got and "\\..\\" not in got  # the prefix turns Win32's normalising off
    assert got.endswith("\\Équipe FastTrack\\tracker.xlsx")
    assert ntpath.splitdrive(got[4:])[0] == "C:"


def test_a_long_unc_path_gets_the_unc_prefix() -> None:
    share = r"\\fileserver\Team Share" + "\\" + "\\".join(["Région EMEA"] * 25)
    got = extended_path(share + r"\tracker.xlsx")
    assert got.startswith("\\\\?\\UNC\\fileserver\\Team Share\\Région EMEA\\")
    assert got.endswith("\\tracker.xlsx") and len(got) > 260


def test_a_short_unc_path_keeps_its_form() -> None:
    assert extended_path(r"\\server\share\FastTrack\tracker.xlsx") == \
        r"\\server\share\FastTrack\tracker.xlsx"


@pytest.mark.parametrize("path", ["tracker.xlsx", r"team\tracker.xlsx", r"\\?\C:\x" + "y" * 300,
                                  r"\rooted\no\drive.xlsx"])
def test_relative_and_prefixed_paths_are_left_alone(path: str) -> None:
    assert extended_path(path) == path


def test_the_threshold_leaves_room_for_a_file_name() -> None:
    at = "C:\\" + "a" * (MAX_PATH - 3)
    assert extended_path(at).startswith("\\\\?\\")
    assert not extended_path(at[:-1]).startswith("\\\\?\\")


def test_outbox_in_a_folder_over_260_characters(tmp_path: Path) -> None:
    folder = tmp_path.joinpath(*["OneDrive - Contoso Ltd", *["Équipe FastTrack ü"] * 14])
    assert len(str(folder)) > 260
    outbox = OutboxBackend(folder, mode="pickup")
    msg = message("atu.contoso.teams.abc123")
    result = outbox.deliver(msg)
    assert result.status == Status.SENT
    assert msg.message_id().encode() in Path(str(result.provider_id)).read_bytes()
    assert outbox.lookup(Sought(msg.key, msg.message_id(), result.provider_id)) == Status.SENT


# -- OneDrive folders with spaces and non-ASCII names --------------------------------------

def test_a_run_in_a_onedrive_folder_writes_back_and_backs_up(tmp_path: Path) -> None:
    folder = tmp_path / "OneDrive - Contoso Ltd" / "Équipe FastTrack (Zoë & Łukasz)"
    folder.mkdir(parents=True)
    tracker = folder / "tracker ü 2026.xlsx"
    shutil.copy(SAMPLE, tracker)
    before = tracker.read_bytes()
    result = run(tracker, "2026-11-26", folder / "boîte d'envoi")
    assert result.exit_code == 1, result.output  # the sample's four invalid rows
    assert f"{tracker}: 288 cell(s) written" in result.output
    assert tracker.read_bytes() != before
    assert list((folder / "boîte d'envoi").glob("*.eml"))
    assert [p.name for p in folder.iterdir() if p.name.endswith(".tmp")] == []


# -- reserved device names ------------------------------------------------------------------

@pytest.mark.parametrize("name", [*DEVICES, "con", "Nul", "nul.txt", "COM1.tar.gz", "LPT1 ",
                                  "con .docx", "aux.", "CON.docx", "prn.Report.xlsx"])
def test_windows_device_names_are_recognised(name: str) -> None:
    assert reserved(name)


@pytest.mark.parametrize("name", ["CONTOSO.docx", "console.docx", "COM10", "LPT0x", "nullify",
                                  "a.CON", "Contoso NUL.docx"])
def test_ordinary_names_are_not_devices(name: str) -> None:
    assert not reserved(name)


@pytest.mark.parametrize("name", [*DEVICES, "nul.docx", "Con.docx", "COM1 .xlsx", "aux. .pdf",
                                  "LPT3.Report.docx"])
def test_an_attachment_never_gets_a_device_name(name: str) -> None:
    got = attachment_filename(name)
    assert not reserved(got), got
    assert got.lstrip("_").split(".")[0].strip().upper() == name.split(".")[0].strip().upper()


@pytest.mark.parametrize("key", [*DEVICES, "con.teams.abc", "NUL.x", "com1", "Aux"])
def test_an_outbox_file_never_gets_a_device_name(key: str, tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path)
    msg = message(key)
    result = outbox.deliver(msg)
    name = Path(str(result.provider_id)).name
    assert result.status == Status.DRAFTED and not reserved(name), name
    assert outbox.lookup(Sought(key, msg.message_id(), None)) == Status.DRAFTED


# -- case-insensitive collisions in the outbox folder ----------------------------------------

CASE_KEYS = ["merge.Contoso.ann.1", "merge.contoso.ann.1", "merge.CONTOSO.ANN.1",
             "atu.Fabrikam.Teams.abc", "atu.fabrikam.teams.abc"]


def test_keys_differing_only_in_case_never_share_a_file_on_windows(tmp_path: Path) -> None:
    """Windows compares names ignoring case: every key's file differs from every other's
    after case folding, and each file still carries its own message."""
    outbox = OutboxBackend(tmp_path)
    msgs = [message(k) for k in CASE_KEYS]
    paths = [Path(str(outbox.deliver(m).provider_id)) for m in msgs]
    folded = {ntpath.normcase(p.name) for p in paths}
    assert len(folded) == len(CASE_KEYS), sorted(p.name for p in paths)
    for m, p in zip(msgs, paths, strict=True):
        assert m.message_id().encode() in p.read_bytes()
        assert outbox.lookup(Sought(m.key, m.message_id(), None)) == Status.DRAFTED


def test_the_same_key_twice_replaces_its_own_file(tmp_path: Path) -> None:
    outbox = OutboxBackend(tmp_path)
    first = outbox.deliver(message("atu.Fabrikam.Teams.abc"))
    second = outbox.deliver(message("atu.Fabrikam.Teams.abc"))
    assert first.provider_id == second.provider_id
    assert len(list(tmp_path.iterdir())) == 1


@pytest.mark.parametrize("pair", [("Report.docx", "report.docx"), ("a:b.docx", "a_b.docx")])
def test_safe_names_of_distinct_keys_differ_ignoring_case(pair: tuple[str, str]) -> None:
    a, b = (safe_filename(k) for k in pair)
    assert ntpath.normcase(a) != ntpath.normcase(b)


# -- sharing violations (a fake os.replace raising Windows' errors) ---------------------------

class WinError(PermissionError):
    """What Windows raises for a file another program holds: winerror 32 (sharing
    violation) or 5 (access denied, e.g. Excel's lock), errno EACCES."""

    def __init__(self, winerror: int, path: str) -> None:
        super().__init__(13, "The process cannot access the file because it is being used by "
                         "another process", path)
        self.winerror = winerror


@pytest.mark.parametrize("winerror", [32, 5])
def test_a_held_file_is_retried_then_left_intact(winerror: int, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "OneDrive - Contoso" / "Équipe"
    folder.mkdir(parents=True)
    target = folder / "tracker.xlsx"
    target.write_bytes(b"the original")
    os.chmod(target, 0o640)
    tries: list[str] = []

    def held(src: str, dst: str) -> None:
        tries.append(dst)
        raise WinError(winerror, dst)

    monkeypatch.setattr(atomic.os, "replace", held)
    monkeypatch.setattr(atomic, "RETRY_DELAYS", (0.0,) * len(atomic.RETRY_DELAYS))
    with pytest.raises(WritebackError) as info:
        atomic_replace(target, lambda tmp: tmp.write_bytes(b"half of a new file"))
    assert len(tries) == len(atomic.RETRY_DELAYS) + 1
    assert str(info.value).startswith(str(target))
    assert "in use by another program" in str(info.value)
    assert target.read_bytes() == b"the original"
    assert oct(target.stat().st_mode & 0o777) == oct(0o640)
    assert sorted(p.name for p in folder.iterdir()) == ["tracker.xlsx"]


def test_an_error_that_is_no_sharing_violation_is_not_retried(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ERROR_FILENAME_EXCED_RANGE (206): retrying cannot help, so it is raised at once."""
    target = tmp_path / "x.eml"
    tries: list[str] = []

    def too_long(src: str, dst: str) -> None:
        tries.append(dst)
        exc = FileNotFoundError(2, "The filename or extension is too long", dst)
        exc.winerror = 206  # type: ignore[attr-defined]
        raise exc

    monkeypatch.setattr(atomic.os, "replace", too_long)
    with pytest.raises(FileNotFoundError):
        atomic_write_bytes(target, b"x")
    assert len(tries) == 1 and list(tmp_path.iterdir()) == []

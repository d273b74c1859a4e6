"""Outbox specifics: file names that work on Windows, atomic writes, lookup by Message-ID."""

from __future__ import annotations

import dataclasses
import os
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.memory import MemoryBackend
from ftc_office.backends.outbox import MAX_STEM, OutboxBackend, safe_filename
from ftc_office.backends.wire import wire_bytes
from ftc_office.errors import DeliveryError
from ftc_office.message import OutgoingMessage


def make(key: str = "atu.t1.teams.abc123", text: str = "hi") -> OutgoingMessage:
    return OutgoingMessage(key=key, kind="atu", audience="internal",
                           to=(parse_address("ann@microsoft.com"),), subject="Done",
                           text=text, html=f"<p>{text}</p>")


def test_a_plain_key_keeps_its_name() -> None:
    assert safe_filename("atu.t1.teams.abc123") == "atu.t1.teams.abc123.eml"


@pytest.mark.parametrize("key", ['a:b*c?d"e<f>g|h', "trailing.", "CON", "con.t1", "LPT9.x",
                                 "COM1", "Mixed.Case", "x" * 300, "a/b\\c", "nul"])
def test_unsafe_keys_become_windows_safe_and_distinct(key: str) -> None:
    name = safe_filename(key)
    stem = name.removesuffix(".eml")
    assert not set(':*?"<>|/\\') & set(name)
    assert stem == stem.rstrip(". ")
    assert len(stem) <= MAX_STEM
    assert stem.split(".")[0].upper() not in {"CON", "NUL", "LPT9", "COM1"}
    assert name != safe_filename(key + "_")  # the digest keeps look-alike keys apart


def test_keys_differing_only_in_case_get_different_files() -> None:
    assert safe_filename("abc").lower() != safe_filename("ABC").lower()


def test_deliver_writes_the_file_atomically(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path / "out", "pickup")
    msg = make()
    result = backend.deliver(msg)
    assert result.status is Status.SENT
    assert result.provider_id == str(tmp_path / "out" / "atu.t1.teams.abc123.eml")
    assert os.listdir(tmp_path / "out") == ["atu.t1.teams.abc123.eml"]  # no temp file left
    assert backend.lookup(Sought.of(msg, result.provider_id)) is Status.SENT
    assert backend.lookup(Sought.of(msg)) is Status.SENT


def test_drafts_open_in_outlook_as_unsent_and_count_as_drafted(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path / "out")  # drafts is the default
    msg = dataclasses.replace(make(), sender=parse_address("Alex Wilber <alexw@microsoft.com>"))
    result = backend.deliver(msg)
    assert result.status is Status.DRAFTED  # nothing was sent: never recorded as sent
    data = Path(result.provider_id or "").read_bytes()
    # Outlook opens an .eml with X-Unsent: 1 as an editable draft with a Send button
    assert data.startswith(b"X-Unsent: 1\r\n")
    parsed = BytesParser(policy=default).parsebytes(data)
    assert parsed["X-Unsent"] == "1"
    assert parsed["From"] == "Alex Wilber <alexw@microsoft.com>"
    assert data.endswith(wire_bytes(msg, parsed["Date"]))  # then the very message
    assert backend.lookup(Sought.of(msg, result.provider_id)) is Status.DRAFTED


def test_pickup_files_are_the_wire_bytes_and_count_as_sent(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path / "out", "pickup")
    result = backend.deliver(make())
    data = Path(result.provider_id or "").read_bytes()
    assert result.status is Status.SENT and b"X-Unsent" not in data


def test_lookup_sees_changed_content_as_not_there(tmp_path: Path) -> None:
    backend = OutboxBackend(tmp_path)
    backend.deliver(make(text="old"))
    assert backend.lookup(Sought.of(make(text="new"))) is None
    assert backend.lookup(Sought.of(make(key="other"))) is None


def test_an_uncreatable_folder_raises_as_nothing_was_written(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(DeliveryError, match="outbox folder"):
        OutboxBackend(blocker / "outbox").deliver(make())


def test_a_folder_removed_during_a_run_is_made_again(tmp_path: Path) -> None:
    """The folder is made when first needed (not checked before every message): one removed
    between two messages is made again, and a file in its place stops delivery."""
    folder = tmp_path / "out"
    backend = OutboxBackend(folder, "pickup")
    assert backend.deliver(make(key="a")).status is Status.SENT  # never opened: made now
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    assert backend.deliver(make(key="b")).status is Status.SENT
    assert os.listdir(folder) == ["b.eml"]
    for p in folder.iterdir():
        p.unlink()
    folder.rmdir()
    folder.write_text("a file where the folder was")
    with pytest.raises(DeliveryError, match="outbox folder"):
        backend.deliver(make(key="c"))


def test_memory_backend_scripted_outcomes() -> None:
    backend = MemoryBackend(outcomes={"lost": Status.UNKNOWN, "bad": Status.FAILED_PERMANENT})
    assert backend.deliver(make(key="lost")).status is Status.UNKNOWN
    assert backend.deliver(make(key="bad")).status is Status.FAILED_PERMANENT
    assert [d.message.key for d in backend.delivered] == ["lost"]
    assert backend.lookup(Sought.of(make(key="lost"))) is Status.SENT
    assert backend.lookup(Sought.of(make(key="bad"))) is None
    assert backend.lookup(Sought.of(dataclasses.replace(make(key="lost"), text="changed"))) is None

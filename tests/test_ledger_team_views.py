"""Who sent what, from where, on the shared ledger: ``status`` and ``history`` filtered by FM
(``--fm``) and by tracker (``--tracker``), where a tracker is its identity, not one copy's
path — the lead asking about bob's copy sees what alice sent through hers, since both copies
carry the same ``FtcOfficeTrackerId``. Real PostgreSQL, the real CLI.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest
from builders import make_tracker, row
from runhelpers import emls, ftc, run

from ftc_office.ledger.entry import Entry
from ftc_office.run.identity import tracker_identity

pytest_plugins = ["pgserver"]

AS_OF = "2026-11-26"


@pytest.fixture
def copies(pg_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """alice's and bob's synced copies of one tracker (the ID written once, then synced);
    alice has run over hers from laptop-a."""
    monkeypatch.chdir(tmp_path)
    for fm in ("alice", "bob"):
        (tmp_path / fm).mkdir()
    first = make_tracker(tmp_path / "alice" / "tracker.xlsx",
                         [row("t-1", "Teams"), row("t-2", "Teams")])
    uid = tracker_identity(first)
    second = Path(shutil.copy(first, tmp_path / "bob" / "tracker.xlsx"))
    assert uid and tracker_identity(second, create=False) == uid
    monkeypatch.setenv("FTC_OFFICE_USER", "alice")
    monkeypatch.setenv("FTC_OFFICE_HOST", "laptop-a")
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(tmp_path / "alice" / "data"))
    result = run(first, AS_OF, tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert len(emls(tmp_path / "out")) == 2
    monkeypatch.setenv("FTC_OFFICE_USER", "lead")  # from here on the lead asks
    monkeypatch.setenv("FTC_OFFICE_HOST", "desk-l")
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(tmp_path / "lead" / "data"))
    return [first, second]


def counts(text: str) -> dict[str, int]:
    """The ``  STATE N`` lines of ``status``."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if line.startswith("  ") and len(parts) == 2 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def test_status_counts_only_the_entries_of_the_fm_asked_about(copies: list[Path]) -> None:
    everyone = ftc("status")
    assert counts(everyone.stdout) == {"sent": 2}
    alice = ftc("status", "--fm", "alice")
    assert alice.exit_code == 0 and counts(alice.stdout) == {"sent": 2}
    assert "only claimed by alice" in alice.stdout
    bob = ftc("status", "--fm", "bob")
    assert counts(bob.stdout) == {} and "(empty)" in bob.stdout


def test_history_names_who_sent_from_which_host_and_filters_by_fm(copies: list[Path]) -> None:
    lines = ftc("history", "--fm", "alice").stdout.splitlines()
    sent = [ln for ln in lines if " sent " in f" {ln} "]
    assert len(sent) == 2 and all("alice@laptop-a" in ln for ln in sent)
    assert ftc("history", "--fm", "lead").stdout == ""
    assert ftc("history", "--fm", "ALICE").stdout.splitlines() == lines  # any case


def test_the_tracker_filter_by_this_copys_path(copies: list[Path], tmp_path: Path) -> None:
    assert counts(ftc("status", "--tracker", str(copies[0])).stdout) == {"sent": 2}
    assert len(ftc("history", "--tracker", str(copies[0])).stdout.splitlines()) >= 4
    other = make_tracker(tmp_path / "other.xlsx", [row("t-9", "Teams")])
    assert counts(ftc("status", "--tracker", str(other)).stdout) == {}
    assert ftc("history", "--tracker", str(other)).stdout == ""


@pytest.mark.skipif("tracker_ids" not in {f.name for f in dataclasses.fields(Entry)},
                    reason="the ledger records no tracker IDs yet (they come with the "
                    "write-back by tracker ID)")
def test_the_tracker_filter_by_identity_finds_sends_through_another_copy(
        copies: list[Path]) -> None:
    bob_copy = str(copies[1])  # nothing was ever sent through this path
    assert counts(ftc("status", "--tracker", bob_copy).stdout) == {"sent": 2}
    lines = ftc("history", "--tracker", bob_copy, "--fm", "alice").stdout.splitlines()
    assert sum(" sent " in f" {ln} " for ln in lines) == 2
    assert all("alice@laptop-a" in ln for ln in lines)

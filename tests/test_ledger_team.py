"""A team on one shared ledger, for real: separate processes (two FMs with their own synced
copies of one tracker and their own data folders, and their lead over both copies) run at
the same time through SMTP to a local aiosmtpd, with the ledger on a real PostgreSQL.
Every logical message must arrive exactly once — also when runs are SIGKILLed at random
moments and run again.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections import Counter
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from builders import make_tracker, row
from runhelpers import smtp_config

from ftc_office.ledger import Ledger

if TYPE_CHECKING:
    from smtpserver import SmtpServer

pytest_plugins = ["smtpserver", "pgserver"]

TENANTS = 12


def team(tmp_path: Path, smtp: SmtpServer) -> tuple[list[Path], dict[str, dict[str, str]]]:
    """Two FMs' copies of one tracker; the environment of alice, bob and their lead."""
    smtp_config(tmp_path, smtp)
    original = make_tracker(tmp_path / "tracker.xlsx",
                            [row(f"t-{i:02d}", "Teams") for i in range(TENANTS)])
    copies = []
    for fm in ("alice", "bob"):
        (tmp_path / fm).mkdir()
        copies.append(Path(shutil.copy(original, tmp_path / fm / "tracker.xlsx")))
    envs = {}
    for user, host in (("alice", "laptop-a"), ("bob", "laptop-b"), ("lead", "desk-l")):
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
        env.update(FTC_OFFICE_USER=user, FTC_OFFICE_HOST=host,
                   FTC_OFFICE_DATA_DIR=str(tmp_path / "data" / user),
                   FTC_OFFICE_CONFIG=str(tmp_path / "ftc-office.toml"))
        envs[user] = env
    return copies, envs


def start(env: dict[str, str], trackers: list[Path]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "ftc_office", "run", *map(str, trackers),
                             "--as-of", "2026-11-26", "--no-dry-run", "--yes"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def message_ids(smtp: SmtpServer) -> Counter[str]:
    parser = BytesParser(policy=default_policy)
    return Counter(str(parser.parsebytes(r.data)["Message-ID"]) for r in
                   smtp.handler.received)


def runs(copies: list[Path], envs: dict[str, dict[str, str]]) -> list[tuple[str, list[Path]]]:
    return [("alice", [copies[0]]), ("bob", [copies[1]]), ("lead", copies)]


def test_two_fms_and_their_lead_at_once_send_every_message_once(
        pg_url: str, tmp_path: Path, smtp_plain: SmtpServer) -> None:
    copies, envs = team(tmp_path, smtp_plain)
    procs = [start(envs[who], trackers) for who, trackers in runs(copies, envs)]
    outs = [p.communicate(timeout=240)[0].decode() for p in procs]
    assert all(p.returncode in (0, 1) for p in procs), outs
    assert "Traceback" not in "".join(outs)
    # a message met while another run held it is reported, not sent; reruns finish the rest
    for who, trackers in runs(copies, envs):
        p = start(envs[who], trackers)
        out = p.communicate(timeout=240)[0].decode()
        # the lead's run over both synced copies sees each tenant twice: those are reported
        # as invalid (exit 1) and sent by the FMs' own runs
        assert p.returncode == (1 if who == "lead" else 0), out
        assert "Traceback" not in out
    ids = message_ids(smtp_plain)
    assert len(ids) == TENANTS and set(ids.values()) == {1}, ids.most_common(3)
    with Ledger.open() as ledger:
        sent = ledger.entries(("sent",))
    assert len(sent) == TENANTS
    assert {e.claimed_by for e in sent} <= {"alice", "bob", "lead"}


@pytest.mark.slow
def test_random_kills_and_reruns_never_send_twice(
        pg_url: str, tmp_path: Path, smtp_plain: SmtpServer) -> None:
    copies, envs = team(tmp_path, smtp_plain)
    rng = random.Random(13)
    kills = 0
    for _round in range(6):
        procs = [start(envs[who], trackers) for who, trackers in runs(copies, envs)]
        time.sleep(rng.uniform(0.8, 2.5))
        for p in procs:
            if p.poll() is None and rng.random() < 0.7:
                p.send_signal(signal.SIGKILL)
                kills += 1
        for p in procs:
            p.communicate(timeout=240)
    for who, trackers in runs(copies, envs):  # the last, undisturbed reruns
        start(envs[who], trackers).communicate(timeout=240)
    ids = message_ids(smtp_plain)
    assert set(ids.values()) <= {1}, ids.most_common(3)  # never twice
    with Ledger.open() as ledger:
        states = Counter(e.state for e in ledger.entries())
    # every message is sent, or (killed after its data went out) waits for a person
    assert states["sent"] + states["unknown"] + states["sending"] == TENANTS, states
    assert len(ids) >= states["sent"]
    assert kills > 0

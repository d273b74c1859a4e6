"""The shared ledger's password from the system keyring (``ledger.use_keyring = true``):
service ``ftc-office-ledger``, the URL's user. A real keyring backend that needs no desktop
(keyrings.alt's plaintext file, chosen with ``PYTHON_KEYRING_BACKEND`` as a user would),
stored with the real ``keyring set`` command, against a real PostgreSQL role that logs in
with a password (scram-sha-256). PGPASSWORD holds a wrong password and ~/.pgpass is absent,
so only the keyring can let the login in.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from builders import make_tracker, row
from test_ledger import AS_OF

from ftc_office.config import load_settings
from ftc_office.ledger import Claimant, Ledger
from ftc_office.ledger.postgres import PostgresLedger

if TYPE_CHECKING:
    from pgserver import PgServer

pytest_plugins = ["pgserver"]

SERVICE = "ftc-office-ledger"
SECRET = "kr-secret-Ω"  # test-only password of the local role
_roles = itertools.count(1)


def role_and_database(postgres: PgServer) -> tuple[str, str]:
    """A login role with a password, owning a fresh empty database; (role, its URL)."""
    role = f"fm_{os.getpid()}_{next(_roles)}"
    postgres.admin(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'")
    db = f"kr_{role}"
    postgres.admin(f"CREATE DATABASE {db} OWNER {role}")
    return role, postgres.url(db, user=role)


def environment(tmp_path: Path, url: str, use_keyring: bool = True) -> dict[str, str]:
    """A child's environment: the file keyring in tmp_path, a wrong PGPASSWORD, no pgpass,
    and a config naming the ledger (no password in it)."""
    config = tmp_path / "ftc-office.toml"
    config.write_text(f'[ledger]\nurl = "{url}"\nuse_keyring = {str(use_keyring).lower()}\n',
                      encoding="utf-8")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "FTC_OFFICE_", "PG"))}
    env.update(PYTHON_KEYRING_BACKEND="keyrings.alt.file.PlaintextKeyring",
               XDG_DATA_HOME=str(tmp_path / "xdg"), HOME=str(tmp_path / "home"),
               PGPASSWORD="not-the-password", PGPASSFILE=str(tmp_path / "no-pgpass"),
               FTC_OFFICE_CONFIG=str(config), FTC_OFFICE_DATA_DIR=str(tmp_path / "data"))
    return env


def keyring_set(env: dict[str, str], user: str, password: str) -> None:
    """``keyring set ftc-office-ledger USER``, the password typed on its standard input."""
    subprocess.run([sys.executable, "-m", "keyring", "set", SERVICE, user], env=env,
                   input=password + "\n", text=True, check=True, capture_output=True)


def ftc(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ftc_office", *args], env=env, text=True,
                          capture_output=True, timeout=120)


def test_init_and_status_log_in_with_the_password_from_the_keyring(
        postgres: PgServer, tmp_path: Path) -> None:
    role, url = role_and_database(postgres)
    env = environment(tmp_path, url)
    keyring_set(env, role, SECRET)
    init = ftc(env, "ledger", "init")
    assert init.returncode == 0, init.stderr
    assert f"ledger postgresql://{role}@127.0.0.1:{postgres.port}/" in init.stdout
    assert "schema created at version" in init.stdout
    status = ftc(env, "status")
    assert status.returncode == 0, status.stderr
    assert SECRET not in status.stdout + status.stderr + init.stdout + init.stderr
    assert SECRET not in (tmp_path / "ftc-office.toml").read_text(encoding="utf-8")


def test_without_use_keyring_the_keyring_is_not_read(postgres: PgServer,
                                                     tmp_path: Path) -> None:
    role, url = role_and_database(postgres)
    env = environment(tmp_path, url, use_keyring=False)
    keyring_set(env, role, SECRET)
    out = ftc(env, "ledger", "init")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "the server refused the credentials; nothing was sent" in out.stderr
    assert "ledger.use_keyring = true" in out.stderr  # the hint names the keyring too


def test_no_password_in_the_keyring_is_one_line_with_the_command_to_store_it(
        postgres: PgServer, tmp_path: Path) -> None:
    role, url = role_and_database(postgres)
    out = ftc(environment(tmp_path, url), "status")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert f"no password stored for {SERVICE} / {role}; nothing was sent" in out.stderr
    assert f"keyring set {SERVICE} {role}" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_a_wrong_password_in_the_keyring_names_the_keyring_in_the_fix(
        postgres: PgServer, tmp_path: Path) -> None:
    role, url = role_and_database(postgres)
    env = environment(tmp_path, url)
    keyring_set(env, role, "not-it-either")
    out = ftc(env, "status")
    assert out.returncode != 0
    assert "Traceback" not in out.stderr
    assert "the server refused the credentials; nothing was sent" in out.stderr
    assert f"keyring set {SERVICE} {role}" in out.stderr


def test_the_lease_renewer_logs_in_with_the_keyring_password_too(
        postgres: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyrings.alt.file import PlaintextKeyring

    from ftc_office.compose.composer import Composer, compose_all
    from ftc_office.ledger.postgres import init_schema
    from ftc_office.planning import load_workspace, plan_workspace

    role, url = role_and_database(postgres)
    env = environment(tmp_path, url)
    for name in ("PGPASSWORD", "PGPASSFILE", "FTC_OFFICE_LEDGER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGPASSFILE", env["PGPASSFILE"])
    store = PlaintextKeyring()
    store.file_path = str(tmp_path / "keyring_pass.cfg")  # type: ignore[misc]
    store.set_password(SERVICE, role, SECRET)
    previous = keyring.get_keyring()
    keyring.set_keyring(store)
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1", "Teams")])
    settings = load_settings(None)
    (job,) = compose_all(Composer(settings, AS_OF), plan_workspace(
        load_workspace([tracker], settings), AS_OF)).jobs
    (tmp_path / "ftc-office.toml").write_text(
        f'[ledger]\nurl = "{url}"\nuse_keyring = true\nlease_seconds = 0.6\n'
        'user = "alice"\n', encoding="utf-8")
    try:
        configured = load_settings(tmp_path / "ftc-office.toml")
        init_schema(url, SECRET)
        monkeypatch.setenv("FTC_OFFICE_HOST", "laptop-a")
        alice = Ledger.open(tmp_path / "data", configured)
        bob = PostgresLedger(url, Claimant("bob", "laptop-b", 2, "b"), password=SECRET)
        try:
            alice.plan(job, "outbox")
            alice.transition(job.key, "sending")
            time.sleep(1.5)  # longer than the lease: only the renewer keeps it live
            entry = bob.get(job.key)
            assert entry is not None and entry.claimed_by == "alice"
            assert bob.live(entry), "the renewer could not log in: the lease lapsed"
        finally:
            alice.close()
            bob.close()
    finally:
        keyring.set_keyring(previous)

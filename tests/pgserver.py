"""A real PostgreSQL for tests: Debian's binaries (initdb, pg_ctl) in a temporary folder,
listening on 127.0.0.1 and a unix socket in that folder, for the whole session.

Use with ``pytest_plugins = ["pgserver"]``. Fixtures:

- ``postgres``: the server (skips, saying why, when the binaries are absent);
- ``pg_url``: a fresh database with the ledger schema (``ftc-office ledger init``) for one
  test; ``FTC_OFFICE_LEDGER_URL`` and ``PGPASSWORD`` point at it, so every ledger the test
  opens (the CLI's too) is that database.

TCP logins need a password (scram-sha-256), which comes from ``PGPASSWORD`` as it would on
an FM's machine. initdb refuses to run as root: as root the server runs as ``nobody``.
"""

from __future__ import annotations

import glob
import itertools
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_USER = "ftc"
PG_PASSWORD = "pg-test-pw"  # test-only credential of the local server
_names = itertools.count(1)


def pg_bin() -> Path | None:
    """The folder of initdb/pg_ctl: ``FTC_TEST_PG_BIN``, Debian's newest, or the PATH."""
    env = os.environ.get("FTC_TEST_PG_BIN")
    if env:
        return Path(env)
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                   key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0)
    if found:
        return Path(found[-1]).parent
    which = shutil.which("initdb")
    return Path(which).parent if which else None


@dataclass
class PgServer:
    """A running server: superuser ``PG_USER`` with ``PG_PASSWORD`` on 127.0.0.1:port."""

    port: int
    folder: Path
    password: str = PG_PASSWORD

    def url(self, db: str = "postgres", user: str = PG_USER) -> str:
        """A URL without password (it comes from PGPASSWORD)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{db}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser (autocommit)."""
        import psycopg

        with psycopg.connect(self.url(), password=PG_PASSWORD, autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new_database(self) -> str:
        """A fresh empty database; its URL."""
        name = f"ledger_{os.getpid()}_{next(_names)}"
        self.admin(f"CREATE DATABASE {name}")
        return self.url(name)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_postgres(fsync: bool = False) -> Iterator[PgServer]:
    """Start a server in a temporary folder, stop and remove it afterwards. Raises
    FileNotFoundError when the binaries are absent. ``fsync=False`` suits tests only."""
    bindir = pg_bin()
    if bindir is None or not (bindir / "pg_ctl").exists():
        raise FileNotFoundError("PostgreSQL binaries not found (apt-get install postgresql, "
                                "or set FTC_TEST_PG_BIN)")
    as_user: list[str] = []
    folder = Path(tempfile.mkdtemp(prefix="ftc-pg-"))
    if os.geteuid() == 0:  # initdb refuses root: run the server as nobody
        if not shutil.which("runuser"):
            raise FileNotFoundError("running as root without runuser")
        as_user = ["runuser", "-u", "nobody", "--"]
        shutil.chown(folder, "nobody")
    (folder / "pw").write_text(PG_PASSWORD)
    os.chmod(folder / "pw", 0o644)
    data, port = folder / "data", _free_port()
    subprocess.run([*as_user, str(bindir / "initdb"), "-D", str(data), "-U", PG_USER,
                    "--pwfile", str(folder / "pw"), "--auth-local=trust",
                    "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync"],
                   check=True, capture_output=True)
    opts = (f"-c listen_addresses=127.0.0.1 -p {port} -k {folder} -c max_connections=100"
            + ("" if fsync else " -c fsync=off -c full_page_writes=off"))
    subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l",
                    str(folder / "log"), "-w", "-t", "60", "start"], check=True,
                   capture_output=True)
    try:
        yield PgServer(port, folder)
    finally:
        subprocess.run([*as_user, str(bindir / "pg_ctl"), "-D", str(data), "-m", "immediate",
                        "-w", "stop"], capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgServer]:
    """A PostgreSQL server for the session (see the module's docstring)."""
    server = running_postgres()
    try:
        started = server.__enter__()
    except FileNotFoundError as exc:
        pytest.skip(f"{exc}: the shared-ledger tests need a real PostgreSQL server")
    try:
        yield started
    finally:
        server.__exit__(None, None, None)


@pytest.fixture
def pg_url(postgres: PgServer, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database with the ledger schema; the environment points every ledger at it."""
    from ftc_office.ledger.postgres import init_schema

    monkeypatch.setenv("PGPASSWORD", PG_PASSWORD)
    url = postgres.new_database()
    init_schema(url)
    monkeypatch.setenv("FTC_OFFICE_LEDGER_URL", url)
    return url

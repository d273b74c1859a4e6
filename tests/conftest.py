"""Test setup shared by every test.

The network guard makes any connection to a non-loopback address fail loudly, so no test can
ever reach a Microsoft endpoint (or anything else) by accident. Per-user folders (ledger,
token cache, backups) are redirected into the test's temporary folder.

No test may depend on how fast the machine is: Hypothesis's per-example deadline (200 ms by
default) and its "too slow" health check are wall-clock bounds, so the ``ftc`` profile
loaded here turns both off for every property test (a test's own ``@settings`` still
overrides the fields it names). Heavy campaign-like tests carry the ``slow`` marker
(pyproject.toml); the inner loop is ``pytest -m "not slow"``.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

# With PYTHONDONTWRITEBYTECODE set (this machine sets it), pytest redoes its assertion
# rewriting of every test module and of Hypothesis (a pytest plugin: ~75 modules) on every
# run, ~3.5 s of a ~40 s inner loop. Let the suite cache compiled modules (__pycache__ is
# git-ignored); FTC_TEST_KEEP_DONTWRITEBYTECODE=1 keeps the setting.
if not os.environ.get("FTC_TEST_KEEP_DONTWRITEBYTECODE"):
    sys.dont_write_bytecode = False

# Temporary folders on tmpfs when the machine has one: the code under test fsyncs a lot
# (ledger synchronous=FULL, atomic replace of trackers and .eml files), and on this shared
# disk the inner loop spent ~13 s of ~50 s waiting for flushes that prove nothing in a
# test. --basetemp, PYTEST_DEBUG_TEMPROOT or FTC_TEST_DISK_TMP=1 keep pytest's choice.
_SHM = Path("/dev/shm")
if (not os.environ.get("PYTEST_DEBUG_TEMPROOT") and not os.environ.get("FTC_TEST_DISK_TMP")
        and _SHM.is_dir() and os.access(_SHM, os.W_OK | os.X_OK)):
    os.environ["PYTEST_DEBUG_TEMPROOT"] = str(_SHM)

from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile("ftc", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ftc")

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_getaddrinfo = socket.getaddrinfo


class NetworkGuardError(AssertionError):
    """A test tried to reach a non-loopback address."""


def _is_loopback(host: object) -> bool:
    if not isinstance(host, str):
        return False
    if host in ("localhost", "localhost.localdomain"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _check(address: object) -> None:
    if isinstance(address, tuple) and address and not _is_loopback(address[0]):
        raise NetworkGuardError(f"test tried to connect to {address!r}: only loopback allowed")
    # AF_UNIX paths (str/bytes) are local by definition


def _guarded_connect(self: socket.socket, address: object) -> None:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect(self, address)  # type: ignore[arg-type]


def _guarded_connect_ex(self: socket.socket, address: object) -> int:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect_ex(self, address)  # type: ignore[arg-type]


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
    if host is not None and not _is_loopback(host if not isinstance(host, bytes)
                                             else host.decode()):
        raise NetworkGuardError(f"test tried to resolve {host!r}: only loopback allowed")
    return _real_getaddrinfo(host, *args, **kwargs)  # type: ignore[arg-type]


@pytest.fixture(autouse=True, scope="session")
def network_guard() -> Iterator[None]:
    """Fail any connection or name lookup that is not loopback, for the whole session."""
    socket.socket.connect = _guarded_connect  # type: ignore[method-assign]
    socket.socket.connect_ex = _guarded_connect_ex  # type: ignore[method-assign]
    socket.getaddrinfo = _guarded_getaddrinfo  # type: ignore[assignment]
    try:
        yield
    finally:
        socket.socket.connect = _real_connect  # type: ignore[method-assign]
        socket.socket.connect_ex = _real_connect_ex  # type: ignore[method-assign]
        socket.getaddrinfo = _real_getaddrinfo


@pytest.fixture(autouse=True)
def user_dirs(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the per-user data and config folders at a fresh temporary folder."""
    base = tmp_path_factory.mktemp("userdirs")
    monkeypatch.setenv("FTC_OFFICE_DATA_DIR", str(base / "data"))
    monkeypatch.setenv("FTC_OFFICE_CONFIG_DIR", str(base / "config"))
    monkeypatch.delenv("FTC_OFFICE_CONFIG", raising=False)
    return base

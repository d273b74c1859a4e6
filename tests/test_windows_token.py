"""A token cache Windows protects: msal-extensions' encrypted persistence, the plain 0600
fallback of headless Linux, and the ``doctor`` check for a cache another account can read.

Windows is simulated at its boundary: msal-extensions' own DPAPI persistence class
(``FilePersistenceWithDataProtection``) runs with a stand-in for its ctypes module
(``msal_extensions.windows``, which calls Crypt32 on Windows). The sign-in itself is real:
MSAL and O365 against the https fake sign-in service.
"""

from __future__ import annotations

import importlib
import json
import stat
import sys
import types
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner
from fakegraph import (
    FakeAuthority,
    FakeGraph,
    fake_authority_fixture,  # noqa: F401  (fixture "fake_authority")
    fake_graph_fixture,  # noqa: F401  (fixture "fake_graph")
    seed_token_cache,
)
from runhelpers import ftc

from ftc_office.backends import token_cache
from ftc_office.backends.o365_auth import logout, token_cache_path, token_status
from ftc_office.backends.token_cache import (
    ENCRYPTED_FILE,
    PLAIN_FILE,
    ProtectedTokenBackend,
    exposure,
)
from ftc_office.cli.auth import auth
from ftc_office.config import O365Settings
from ftc_office.doctor import check_token_cache
from ftc_office.errors import DeliveryError

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SECRET = "seed-rt-do-not-leak"
MAGIC = b"DPAPI\x01"


@pytest.fixture(autouse=True)
def fresh_choice() -> Iterator[None]:
    """The encrypted-or-plain choice is made once per process and folder: start afresh."""
    token_cache._encrypted_unavailable.cache_clear()
    yield
    token_cache._encrypted_unavailable.cache_clear()


def seed(backend: ProtectedTokenBackend) -> None:
    seed_token_cache(backend, None, client_id=CLIENT_ID, scopes=["Mail.Send"],
                     expires_in=3600, access_token="seed-at", refresh_token=SECRET)


# -- Windows: DPAPI through msal-extensions ------------------------------------------------

class FakeDataProtection:
    """Stands in for Crypt32's CryptProtectData: the bytes on disk hold no plain text."""

    def __init__(self, entropy: str | None = None) -> None:
        self.key = 0x5A

    def protect(self, message: str) -> bytes:
        return MAGIC + bytes(b ^ self.key for b in message.encode("utf-8"))

    def unprotect(self, cipher_text: bytes) -> str:
        if not cipher_text.startswith(MAGIC):
            raise OSError(13, "The data is invalid")
        return bytes(b ^ self.key for b in cipher_text[len(MAGIC):]).decode("utf-8")


@pytest.fixture
def windows(monkeypatch: pytest.MonkeyPatch) -> type:
    """msal-extensions as on Windows: its real DPAPI persistence over the fake Crypt32."""
    fake = types.ModuleType("msal_extensions.windows")
    fake.WindowsDataProtectionAgent = FakeDataProtection  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "msal_extensions.windows", fake)
    persistence = importlib.import_module("msal_extensions.persistence")
    cls: type = persistence.FilePersistenceWithDataProtection
    monkeypatch.setattr(token_cache, "build_encrypted_persistence", cls)
    return cls


def test_on_windows_the_cache_is_written_encrypted(windows: type) -> None:
    path = token_cache_path()
    assert path.name == ENCRYPTED_FILE
    backend = ProtectedTokenBackend(path)
    assert type(backend.persistence) is windows  # msal-extensions' DPAPI class
    seed(backend)
    data = path.read_bytes()
    assert data.startswith(MAGIC) and SECRET.encode() not in data and b"seed-at" not in data
    status = token_status(O365Settings(client_id=CLIENT_ID))
    assert status.signed_in and status.account == "ann@contoso.com" and status.has_refresh_token
    assert status.cache_path == path
    check = check_token_cache()
    assert check.ok and check.what == f"token cache {path}: encrypted with Windows DPAPI"
    assert logout() and not path.exists()
    assert not token_status(O365Settings(client_id=CLIENT_ID)).signed_in


def test_a_plain_cache_from_before_is_moved_into_the_encrypted_one(windows: type,
                                                                   user_dirs: Path) -> None:
    folder = user_dirs / "config"
    folder.mkdir(parents=True, exist_ok=True)
    seed(ProtectedTokenBackend(folder / PLAIN_FILE))  # what earlier versions wrote
    assert SECRET in (folder / PLAIN_FILE).read_text()
    exposed = exposure(token_cache_path(), windows=True)  # what doctor says on Windows
    assert exposed.startswith(f"{folder / PLAIN_FILE} is not encrypted"), exposed
    status = token_status(O365Settings(client_id=CLIENT_ID))
    assert status.signed_in and status.has_refresh_token
    assert not (folder / PLAIN_FILE).exists()
    assert SECRET.encode() not in (folder / ENCRYPTED_FILE).read_bytes()
    assert exposure(token_cache_path(), windows=True) == ""


@click.group()
@click.option("--config", "config")
@click.pass_context
def root(ctx: click.Context, config: str | None) -> None:
    """Stands in for the main CLI, which attaches ``auth`` the same way."""
    ctx.ensure_object(dict)["config"] = config


root.add_command(auth)


def test_a_real_sign_in_lands_encrypted(windows: type, tmp_path: Path,
                                        fake_graph: FakeGraph, fake_authority: FakeAuthority,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """``auth login --device-code`` through MSAL and O365: the tokens it got are on disk only
    encrypted, and ``auth status`` reads them back."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_authority.ca_path))
    config = tmp_path / "ftc-office.toml"
    config.write_text(f'[delivery.o365]\nclient_id = "{CLIENT_ID}"\n'
                      f'tenant_id = "{fake_authority.tenant}"\n'
                      f'authority = "{fake_authority.url}"\ngraph_url = "{fake_graph.url}"\n',
                      encoding="utf-8")
    runner = CliRunner()
    out = runner.invoke(root, ["--config", str(config), "auth", "login", "--device-code"])
    assert out.exit_code == 0, out.output
    data = token_cache_path().read_bytes()
    assert token_cache_path().name == ENCRYPTED_FILE and data.startswith(MAGIC)
    for token in fake_authority.issued + sorted(fake_authority.refresh_tokens):
        assert token.encode() not in data
    out = runner.invoke(root, ["--config", str(config), "auth", "status"])
    assert "signed in:   ann@contoso.com" in out.output and "(renewable)" in out.output


# -- headless Linux: the plain 0600 fallback -----------------------------------------------

def test_without_an_encrypted_store_the_cache_is_a_0600_file(monkeypatch: pytest.MonkeyPatch
                                                            ) -> None:
    def headless(location: str) -> None:
        raise ImportError("Unable to import module 'gi'\nRuntime dependency of PyGObject")

    monkeypatch.setattr(token_cache, "build_encrypted_persistence", headless)
    path = token_cache_path()
    assert path.name == PLAIN_FILE
    seed(ProtectedTokenBackend(path))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert SECRET in json.loads(path.read_text())["RefreshToken"].popitem()[1]["secret"]
    check = check_token_cache()
    assert check.ok, check
    assert check.what == (f"token cache {path}: a plain file, mode 0600 (no encrypted store: "
                          "ImportError: Unable to import module 'gi')")


def test_plain_on_purpose(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTC_OFFICE_TOKEN_CACHE", "plain")
    assert token_cache_path().name == PLAIN_FILE
    assert check_token_cache().what.endswith("(no encrypted store: FTC_OFFICE_TOKEN_CACHE=plain)")


def test_libsecret_where_the_desktop_has_it() -> None:
    """On a Linux desktop with PyGObject and an unlocked keyring, the cache goes there."""
    why = token_cache._encrypted_unavailable(token_cache_path().parent)
    if why:
        pytest.skip(f"libsecret is not usable here ({why}): headless, the plain fallback "
                    "applies (tests above)")
    path = token_cache_path()
    backend = ProtectedTokenBackend(path)
    assert backend.persistence.is_encrypted
    seed(backend)
    try:
        assert SECRET not in path.read_text()  # an empty marker file; the data is in the keyring
        assert token_status(O365Settings(client_id=CLIENT_ID)).has_refresh_token
    finally:
        assert logout()


# -- the permission check ------------------------------------------------------------------

@pytest.fixture
def plain(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FTC_OFFICE_TOKEN_CACHE", "plain")
    path = token_cache_path()
    seed(ProtectedTokenBackend(path))
    return path


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_cache_another_user_can_read_is_a_doctor_error(plain: Path, mode: int,
                                                         tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    plain.chmod(mode)
    result = ftc("doctor")
    lines = result.output.splitlines()
    assert result.exit_code == 1
    assert f"✗ token cache: {plain} is readable by other users (mode {mode:04o}) — run " \
        "'ftc-office auth logout' then 'ftc-office auth login'" in result.output, lines
    assert lines[-1] == "7 check(s): 1 failed"


def test_a_private_cache_adds_nothing_to_doctor(plain: Path, tmp_path: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = ftc("doctor")
    assert result.exit_code == 0 and "token cache" not in result.output


def test_reading_a_widened_cache_tightens_it(plain: Path) -> None:
    plain.chmod(0o644)
    assert exposure(plain)
    assert token_status(O365Settings(client_id=CLIENT_ID)).signed_in
    assert stat.S_IMODE(plain.stat().st_mode) == 0o600 and exposure(plain) == ""


def test_on_windows_any_plain_cache_is_exposed(plain: Path) -> None:
    """Windows ignores file modes: a plain cache there is an error whatever its bits."""
    assert exposure(plain) == ""
    assert "is not encrypted" in exposure(plain, windows=True)


def test_a_cache_this_account_cannot_decrypt_means_signed_out(windows: type) -> None:
    """Copied from another Windows account or PC: DPAPI refuses it; sign in again."""
    token_cache_path().write_bytes(b"another account's DPAPI blob")
    assert not token_status(O365Settings(client_id=CLIENT_ID)).signed_in


def test_a_store_that_refuses_the_write_is_an_error_with_a_fix(
        windows: type, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: FakeDataProtection, message: str) -> bytes:
        raise OSError(5, "Access is denied")

    monkeypatch.setattr(FakeDataProtection, "protect", refuse)
    with pytest.raises(DeliveryError) as info:
        seed(ProtectedTokenBackend(token_cache_path()))
    assert info.value.where == str(token_cache_path())
    assert "cannot write the token cache" in info.value.what
    assert "FTC_OFFICE_TOKEN_CACHE=plain" in info.value.fix
    assert not token_cache_path().exists()

"""The Outlook token cache, kept where the operating system protects it.

The cache holds a refresh token, a long-lived credential. It is written through
msal-extensions' encrypted persistence: a DPAPI-encrypted file on Windows (only the signed-in
Windows user can decrypt it), the Keychain on macOS, libsecret (the desktop keyring) on Linux.
Where that is unavailable (headless Linux: no ``gi`` module or no keyring, as on a server or
in CI) it falls back to a plain JSON file with mode 0600 in a 0700 folder, written atomically;
``FTC_OFFICE_TOKEN_CACHE=plain`` chooses that fallback on purpose.

The encrypted cache is ``o365_token.bin`` (on macOS and Linux an empty marker file beside the
keyring entry), the plain one ``o365_token.json``; a plain cache found beside an encrypted
one (written before encryption was available) is moved into it on first read and deleted.
`exposure` says why a cache file is readable by another user account (what ``doctor``
reports).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import stat
from pathlib import Path

from msal_extensions import build_encrypted_persistence
from msal_extensions.persistence import (
    BasePersistence,
    PersistenceDecryptionError,
    PersistenceError,
    PersistenceNotFound,
)
from O365.utils import BaseTokenBackend

from ftc_office.atomic import atomic_write_bytes
from ftc_office.errors import DeliveryError

log = logging.getLogger(__name__)

PLAIN_FILE = "o365_token.json"
ENCRYPTED_FILE = "o365_token.bin"
MODE_ENV = "FTC_OFFICE_TOKEN_CACHE"
_KINDS = {"FilePersistenceWithDataProtection": "encrypted with Windows DPAPI",
          "KeychainPersistence": "in the macOS Keychain",
          "LibsecretPersistence": "in the desktop keyring (libsecret)"}


class PlainFilePersistence(BasePersistence):
    """The fallback: a plain file with mode 0600 in a 0700 folder, replaced atomically."""

    is_encrypted = False

    def __init__(self, location: Path) -> None:
        self._location = Path(location)

    def save(self, content: str) -> None:
        """Write ``content`` atomically with mode 0600."""
        self._location.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_bytes(self._location, content.encode("utf-8"), mode=0o600)

    def load(self) -> str:
        """The file's text; PersistenceNotFound when there is none."""
        try:
            return self._location.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise PersistenceNotFound(location=str(self._location)) from None

    def time_last_modified(self) -> float:
        """The file's mtime."""
        try:
            return self._location.stat().st_mtime
        except FileNotFoundError:
            raise PersistenceNotFound(location=str(self._location)) from None

    def get_location(self) -> str:
        """The file's path."""
        return str(self._location)


@functools.cache
def _encrypted_unavailable(folder: Path) -> str:
    """Why the encrypted persistence cannot be used here (empty: it can). Tried once per
    process and folder: on Linux the try is a round trip to the keyring."""
    if os.environ.get(MODE_ENV, "").lower() == "plain":
        return f"{MODE_ENV}=plain"
    try:
        build_encrypted_persistence(str(folder / ENCRYPTED_FILE))
    except Exception as exc:  # any failure of the system's store means: use the fallback
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        return f"{type(exc).__name__}: {first}".rstrip(": ")
    return ""


def cache_path(folder: Path) -> Path:
    """The token cache in ``folder``: encrypted where the system offers it, else plain."""
    return folder / (PLAIN_FILE if _encrypted_unavailable(folder) else ENCRYPTED_FILE)


def persistence_for(path: Path) -> BasePersistence:
    """The persistence of a cache path: msal-extensions' encrypted one for
    ``o365_token.bin``, the 0600 plain file for any other name."""
    if path.name == ENCRYPTED_FILE:
        persistence: BasePersistence = build_encrypted_persistence(str(path))
        return persistence
    return PlainFilePersistence(path)


def describe(path: Path) -> str:
    """How the cache at ``path`` is protected, in words (for ``doctor``)."""
    if path.name == ENCRYPTED_FILE:
        return _KINDS.get(type(persistence_for(path)).__name__, "encrypted")
    why = _encrypted_unavailable(path.parent)
    return f"a plain file, mode 0600 (no encrypted store: {why})" if why else \
        "a plain file, mode 0600"


class ProtectedTokenBackend(BaseTokenBackend):
    """O365's token backend over an msal-extensions persistence (see the module)."""

    def __init__(self, path: Path, persistence: BasePersistence | None = None) -> None:
        super().__init__()
        self.token_path: Path = Path(path)
        self.persistence = persistence or persistence_for(self.token_path)

    def __repr__(self) -> str:
        return str(self.token_path)

    def _legacy(self) -> Path | None:
        plain = self.token_path.with_name(PLAIN_FILE)
        return plain if self.persistence.is_encrypted and plain.exists() else None

    def load_token(self) -> bool:
        """Load the cache (moving a plain one into the encrypted store); False if none."""
        legacy = None
        try:
            data = self.persistence.load()
        except PersistenceDecryptionError as exc:  # another account's or machine's cache
            log.warning("%s: cannot decrypt the token cache (%s); sign in again", self, exc)
            return False
        except PersistenceNotFound:
            legacy = self._legacy()
            if legacy is None:
                return False
            data = legacy.read_text(encoding="utf-8")
        if not self.persistence.is_encrypted:
            tighten(self.token_path)
        cache = self.deserialize(data)
        if not isinstance(cache, dict) or "access_token" in cache:
            raise ValueError(f"{self.token_path}: not an MSAL token cache")
        self._cache = cache
        if legacy is not None:
            self._move_in(legacy)
        return bool(cache)

    def _move_in(self, legacy: Path) -> None:
        try:
            self.persistence.save(self.serialize())
        except PersistenceError as exc:
            log.warning("%s: could not move the plain token cache into the encrypted "
                        "store (%s)", legacy, exc)
            return
        legacy.unlink(missing_ok=True)

    def save_token(self, force: bool = False) -> bool:
        """Write the cache through the persistence (only when it changed, unless forced)."""
        if not self._cache:
            return False
        if not force and not self._has_state_changed:
            return True
        self.token_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = self.serialize()
        try:
            self.persistence.save(data if isinstance(data, str) else data.decode("utf-8"))
        except PersistenceError as exc:  # a locked keychain or keyring
            raise DeliveryError(str(self.token_path), f"cannot write the token cache ({exc})",
                                "unlock the keychain or keyring and sign in again, or set "
                                f"{MODE_ENV}=plain for a 0600 file") from None
        legacy = self._legacy()
        if legacy is not None:
            legacy.unlink(missing_ok=True)
        return True

    def delete_token(self) -> bool:
        """Forget the sign-in: empty the keyring entry, delete the files; True if there
        was a cache."""
        existed = self.check_token()
        if existed and not isinstance(self.persistence, PlainFilePersistence):
            self.persistence.save(json.dumps({}))
        for p in (self.token_path, self.token_path.with_name(PLAIN_FILE)):
            p.unlink(missing_ok=True)
        return existed

    def check_token(self) -> bool:
        """True when a cache file (or a plain one waiting to be moved in) exists."""
        return self.token_path.exists() or self._legacy() is not None


def tighten(path: Path) -> None:
    """Give a plain cache file mode 0600 if someone widened it (POSIX only)."""
    if os.name != "nt" and path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
        log.warning("%s: the token cache was readable by others; mode set to 0600", path)
        os.chmod(path, 0o600)


def exposure(path: Path, *, windows: bool | None = None) -> str:
    """Why the token cache at ``path`` (or a plain one beside it) can be read by another user
    account; empty when it cannot. On Windows file modes protect nothing: any plain cache
    counts; on POSIX, a plain file with any group or other permission bit. ``windows``
    overrides which of the two this is (tests)."""
    windows = os.name == "nt" if windows is None else windows
    problems = []
    for p in dict.fromkeys((path, path.with_name(PLAIN_FILE))):
        if p.name == ENCRYPTED_FILE or not p.exists():
            continue
        if windows:
            problems.append(f"{p} is not encrypted (Windows file permissions do not keep "
                            "other accounts out)")
            continue
        mode = stat.S_IMODE(p.stat().st_mode)
        if mode & 0o077:
            problems.append(f"{p} is readable by other users (mode {mode:04o})")
    return "; ".join(problems)

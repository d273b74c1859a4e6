"""Per-user folders: the ledger, backups and token cache live here, never beside a tracker.

``FTC_OFFICE_DATA_DIR`` and ``FTC_OFFICE_CONFIG_DIR`` override them (tests use this). The
data folder can also be set in the config (``paths.data_dir``); the environment wins.
`native` gives a path as the operating system takes it: on Windows a path of MAX_PATH or
more (a deep OneDrive folder, a long UNC share) gets the extended-length prefix
(`extended_path`).
"""

from __future__ import annotations

import ntpath
import os
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

APP = "ftc-office"


def data_dir(configured: str | os.PathLike[str] | None = None) -> Path:
    """Where the ledger, locks and backups live (local disk; created on first use).

    ``FTC_OFFICE_DATA_DIR`` first, then ``configured`` (the config's ``paths.data_dir``),
    then the per-user default folder.
    """
    p = Path(os.environ.get("FTC_OFFICE_DATA_DIR") or configured
             or user_data_dir(APP, appauthor=False))
    p.mkdir(parents=True, exist_ok=True)
    return p


def config_dir() -> Path:
    """Where the token cache lives (created with mode 0700 on first use)."""
    p = Path(os.environ.get("FTC_OFFICE_CONFIG_DIR") or user_config_dir(APP, appauthor=False))
    p.mkdir(parents=True, exist_ok=True, mode=0o700)
    return p


def tracker_id(path: str | os.PathLike[str]) -> str:
    """How the ledger names a tracker: its absolute path, case-folded where the file system
    ignores case, so ``tracker.xlsx`` and ``C:\\Team\\tracker.xlsx`` are the same tracker."""
    return os.path.normcase(str(Path(path).resolve()))


#: Windows' MAX_PATH less the 8.3 file name a folder must leave room for: from here on a
#: path needs the extended-length prefix unless long paths are enabled machine-wide
MAX_PATH = 248
_EXTENDED = "\\\\?\\"


def extended_path(path: str) -> str:
    r"""An absolute Windows path as Win32 takes it however long it is (pure ``ntpath`` logic).

    Shorter than `MAX_PATH`: normalised only. Longer: ``\\?\C:\...`` for a drive path,
    ``\\?\UNC\server\share\...`` for a UNC path. The prefix turns off Win32's own
    normalising, so the path is normalised first (``/`` to ``\``, ``.`` and ``..``).
    A relative path or one already prefixed is returned as it is.
    """
    if path.startswith(_EXTENDED) or not ntpath.isabs(path) or not ntpath.splitdrive(path)[0]:
        return path
    full = ntpath.normpath(path)
    if len(full) < MAX_PATH:
        return full
    if full.startswith("\\\\"):
        return _EXTENDED + "UNC\\" + full[2:]
    return _EXTENDED + full


def native(path: str | os.PathLike[str]) -> str:
    """``path`` as this operating system takes it: absolute and `extended_path` on Windows,
    unchanged elsewhere."""
    if os.name != "nt":
        return os.fspath(path)
    return extended_path(os.path.abspath(path))

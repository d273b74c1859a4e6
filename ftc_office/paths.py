"""Per-user folders: the ledger, backups and token cache live here, never beside a tracker.

``FTC_OFFICE_DATA_DIR`` and ``FTC_OFFICE_CONFIG_DIR`` override them (tests use this). The
data folder can also be set in the config (``paths.data_dir``); the environment wins.
"""

from __future__ import annotations

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

"""Whether a tracker may be replaced: Excel's owner file beside it, and its read-only mark.

Write-back refuses such a tracker (`check_replaceable`); a dry run and `plan` warn about it
with the same check (`run.files`), so the two never disagree. Small on purpose: `plan`
imports it without the write-back.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ftc_office.errors import WritebackError

__all__ = ["check_replaceable", "owner_of", "read_only"]


def owner_of(path: Path) -> str | None:
    """The person in Excel's owner file ``~$name.xlsx`` beside the tracker, if present."""
    lock = path.with_name("~$" + path.name[2:] if len(path.name) > 2 else "~$" + path.name)
    candidates = [lock, path.with_name("~$" + path.name)]
    for p in candidates:
        if p.is_file():
            try:
                data = p.read_bytes()[:200]
            except OSError:
                return "someone"
            n = data[0] if data else 0
            name = data[1:1 + n].decode("latin-1", "replace").strip() if n else ""
            return name or "someone"
    return None


def read_only(path: Path) -> bool:
    """True when the file is marked read-only (no write bit) or not writable for us.

    Replacing goes through a new file and a rename, which POSIX allows even for a read-only
    file; a person who marked the tracker read-only means it, as Windows enforces."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return False  # reading it reports the real problem
    return not mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK)


def check_replaceable(tracker: Path, force: bool) -> None:
    """Refuse a tracker open in Excel (unless `force`) or marked read-only."""
    owner = owner_of(tracker)
    if owner and not force:
        raise WritebackError(str(tracker), f"the workbook is open in Excel by {owner} "
                             f"(~${tracker.name} exists)",
                             "ask them to close it and run 'ftc-office writeback' again; the "
                             "messages are recorded and will be stamped then (or --force if "
                             "the owner file is stale)")
    if read_only(tracker):
        raise WritebackError(str(tracker), "the workbook is read-only",
                             "make it writable (Properties → clear Read-only) and run "
                             "'ftc-office writeback' again; nothing was lost, the ledger keeps "
                             "every stamp")

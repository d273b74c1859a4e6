"""The trackers a run may touch, checked before anything is sent.

A real run stamps every tracker it sends for, so a tracker it could not replace afterwards —
open in Excel (its ``~$`` owner file beside it, unless ``--force``) or marked read-only — is
refused before the first message: its tenants are not sent, the other trackers go on, and
the refusal is one of the run's errors. The detection is write-back's own
(`ftc_office.tracker_lock.check_replaceable`), so the two can never disagree. A dry run, a
preview, `check` and `plan` only warn.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ftc_office.errors import WritebackError
from ftc_office.tracker_lock import check_replaceable, owner_of


@dataclass
class FileCheck:
    """The trackers a run may use, and what was said about the others."""

    usable: list[Path] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)  # a real run's errors
    warnings: list[str] = field(default_factory=list)  # a dry run's notices


def check_trackers(paths: Sequence[Path], *, dry_run: bool, force: bool = False) -> FileCheck:
    """Split ``paths`` into those a run may use and those a real run must refuse."""
    out = FileCheck()
    for path in paths:
        try:
            check_replaceable(path, force)
        except WritebackError as exc:
            owner = owner_of(path) is not None and not force
            if dry_run:
                out.warnings.append(f"{exc.where}: {exc.what} — a real run will refuse it "
                                    "before sending; " + _remedy(owner))
                out.usable.append(path)
            else:
                out.refused.append(f"{exc.where}: {exc.what} — nothing was sent for its "
                                   "tenants; " + _remedy(owner))
            continue
        out.usable.append(path)
    return out


def _remedy(owner: bool) -> str:
    """What to do about a workbook open in Excel, or a read-only one."""
    if owner:
        return ("ask them to close it, then run the same command again (or add --force if "
                "the owner file is stale)")
    return ("make it writable (Properties → clear Read-only), then run the same command "
            "again")

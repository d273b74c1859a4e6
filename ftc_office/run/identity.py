"""A tracker's identity that travels with the file: an ID ftc-office writes once into the
workbook's custom document properties (``FtcOfficeTrackerId``), so the synced copies of one
workbook on several machines are one tracker for the shared ledger's run lock.

The ID is written surgically (every other part of the package keeps its bytes) the first
time a run with a shared ledger meets the workbook; OneDrive/SharePoint then carries it to
every copy. A workbook that cannot take it now (open in Excel, read-only, not a plain
.xlsx) is named by its path for this run, as with a personal ledger.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from ftc_office.errors import FtcError
from ftc_office.xlsx.custom_props import add_property, read_property

PROPERTY = "FtcOfficeTrackerId"


def tracker_identity(path: Path, create: bool = True) -> str | None:
    """``tracker:<id>`` from the workbook's properties (written now when missing and
    ``create``), or None when the workbook has none and cannot take one."""
    try:
        found = read_property(path, PROPERTY)
        if found:
            return f"tracker:{found}"
        if not create or (path.parent / f"~${path.name}").exists():
            return None  # open in Excel: never write underneath it
        return f"tracker:{add_property(path, PROPERTY, uuid.uuid4().hex)}"
    except (FtcError, OSError, ValueError, SyntaxError):
        return None

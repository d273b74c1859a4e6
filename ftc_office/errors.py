"""One error hierarchy for everything a person at the keyboard may see.

Every message has three parts: where (file, Sheet!CELL, template:line, config key), what is
wrong, and what to do. `str(error)` renders them as ``WHERE: WHAT — FIX``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One validation problem, located in a file, sheet and cell (or another place)."""

    where: str
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what} — {self.fix}"


class FtcError(Exception):
    """An error meant for the person running the tool; never shown as a traceback."""

    exit_code = 1

    def __init__(self, where: str, what: str, fix: str) -> None:
        super().__init__(f"{where}: {what} — {fix}")
        self.where = where
        self.what = what
        self.fix = fix

    @property
    def problem(self) -> Problem:
        """The error as a `Problem` (where, what, fix), to collect with others."""
        return Problem(self.where, self.what, self.fix)


class UsageError(FtcError):
    """Bad command-line usage (exit code 2)."""

    exit_code = 2


class ConfigError(FtcError):
    """The project config file is wrong."""

    exit_code = 2


class TrackerError(FtcError):
    """A tracker cannot be read at all (not a workbook, encrypted, damaged, too large)."""


class TemplateError(FtcError):
    """A template or mailer is wrong, or a value it needs is missing."""


class MessageError(FtcError):
    """A message would be unsafe or invalid to send (bad address, wrong audience, too big)."""


class DeliveryError(FtcError):
    """A backend could not be set up or used."""


class LedgerError(FtcError):
    """The ledger refuses an operation (changed content for a sent key, locked, …)."""


class WritebackError(FtcError):
    """A write-back into a tracker was refused or failed; the tracker is unchanged."""


def exception_kind(exc: BaseException) -> str:
    """``BadZipFile``, ``zlib.error``: the exception's name, qualified when it is bare."""
    name = type(exc).__name__
    if name == "error":
        return f"{type(exc).__module__}.error"
    return name

"""The backend contract shared by outbox, SMTP and O365 delivery.

A backend delivers one :class:`~ftc_office.message.OutgoingMessage` and returns a
:class:`DeliveryResult`. "Maybe sent" is never reported as failed: anything ambiguous is
``UNKNOWN`` and is resolved later through :meth:`Backend.lookup` before any resend.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ftc_office.message import OutgoingMessage


class Status(enum.StrEnum):
    """What happened to one message."""

    SENT = "sent"
    DRAFTED = "drafted"
    FAILED_PERMANENT = "failed-permanent"
    FAILED_RETRYABLE = "failed-retryable"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class DeliveryResult:
    """The outcome of delivering one message."""

    key: str
    status: Status
    provider_id: str | None = None
    error: str | None = None
    refused: tuple[str, ...] = ()


# Called by a backend with a provider id (a draft id, a file path) once the message exists
# on the provider side but before it is sent, so the ledger can record it durably first.
PreparedHook = Callable[[str], None]


class Backend(Protocol):
    """What every delivery backend provides."""

    name: str

    def open(self) -> None:
        """Connect / authenticate. Raises DeliveryError with a fix when it cannot."""

    def close(self) -> None:
        """Release connections."""

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Deliver one message; never raises for a per-message failure."""

    def lookup(self, message: OutgoingMessage, provider_id: str | None) -> Status | None:
        """After a crash or an UNKNOWN: SENT / DRAFTED if found on the provider, None if
        certainly not there, UNKNOWN if the provider cannot tell."""

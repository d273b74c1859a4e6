"""The backend contract shared by outbox, SMTP, O365 (and the in-memory test) delivery.

Modelled on Django's mail backends: a tiny protocol, usable as a context manager
(``with backend:`` opens, and closes on the way out).

What may raise, and when — the rule every backend honours:

- :meth:`Backend.open` raises :class:`~ftc_office.errors.DeliveryError` (with a fix) when
  it cannot connect or sign in.
- :meth:`Backend.deliver` raises :class:`~ftc_office.errors.DeliveryError` or
  :class:`~ftc_office.errors.MessageError` **only when the provider accepted nothing** for
  this message: a check before any request (oversize message, daily limit, sign-in needed).
  A DeliveryError is a batch-level problem (the caller stops sending); a MessageError is
  this message's problem. Every other outcome — sent, drafted, refused, failed, unknown —
  comes back as a :class:`DeliveryResult`; "maybe sent" is ``UNKNOWN``, never a failure.
- :meth:`Backend.lookup` never raises for a provider error: it answers ``UNKNOWN``. It may
  raise DeliveryError when the sign-in is gone (nothing can be looked up).
- :meth:`Withdrawing.withdraw` follows the same rule as ``lookup``.

A ``FAILED_PERMANENT`` result is a refusal by the provider (e.g. SMTP 550 for every
recipient): the ledger records it as ``refused`` and no later run retries it by itself.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

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


@dataclass(frozen=True)
class Sought:
    """What a look-up needs to find a message at the provider: its ledger key, the exact
    Message-ID it carried when sent, its envelope recipients, the provider's id (a draft
    id, a file path) when one was recorded, and whether the backend's prepared mark was
    recorded (False: the attempt never reached the backend's last step)."""

    key: str
    message_id: str
    recipients: tuple[str, ...] = ()
    provider_id: str | None = None
    prepared: bool = True

    @classmethod
    def of(cls, message: OutgoingMessage, provider_id: str | None = None) -> Sought:
        """The record for a message in hand (as it was just delivered)."""
        return cls(message.key, message.message_id(),
                   tuple(a.email for a in message.recipients), provider_id)


# Called by a backend with a provider id (a draft id, a file path, or for SMTP the Message-ID
# once the whole message but the final dot is on the wire) before the step that makes it
# final, so the ledger can record it durably first.
PreparedHook = Callable[[str], None]


@runtime_checkable
class Backend(Protocol):
    """What every delivery backend provides. A backend that hands over
    :func:`~ftc_office.backends.wire.wire_bytes` says so with ``hands_over_mime = True``:
    a run's compose-ahead workers then write each message's bytes but its Date ahead."""

    name: str

    def open(self) -> None:
        """Connect / authenticate. Raises DeliveryError with a fix when it cannot."""

    def close(self) -> None:
        """Release connections. Never raises."""

    def __enter__(self) -> Self:
        """``open()`` and return the backend."""

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        """``close()``."""

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Deliver one message. Raises DeliveryError/MessageError only when the provider
        accepted nothing (see the module docstring); otherwise returns the result."""

    def lookup(self, sought: Sought) -> Status | None:
        """After a crash or an UNKNOWN: SENT / DRAFTED if found on the provider, None if
        certainly not there, UNKNOWN if the provider cannot tell."""


@runtime_checkable
class Withdrawing(Protocol):
    """A backend that can take back a message the provider holds but has not sent (an
    Outlook draft left by an interruption), so it is sent afresh."""

    def withdraw(self, sought: Sought) -> Status | None:
        """None if withdrawn (safe to send again); SENT, DRAFTED or UNKNOWN otherwise."""


class Opening:
    """Mixin: ``with backend:`` calls ``open()`` and, on the way out, ``close()``."""

    def open(self) -> None:  # pragma: no cover - overridden
        """Connect."""

    def close(self) -> None:  # pragma: no cover - overridden
        """Release."""

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

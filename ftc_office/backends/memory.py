"""Memory backend: keeps delivered messages in a list, for tests of the code around delivery.

Like Django's locmem backend it still builds the real MIME bytes (:func:`wire_bytes`), so a
test that reads ``backend.delivered`` checks the same headers a real server would see.
``outcomes`` lets a test script what happens to given keys (a failure, an unknown result).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import cast

from ftc_office.backends.base import DeliveryResult, Opening, PreparedHook, Sought, Status
from ftc_office.backends.wire import wire_bytes, wire_date
from ftc_office.message import OutgoingMessage


@dataclass(frozen=True)
class Delivered:
    """One message as it left the backend."""

    message: OutgoingMessage
    envelope: tuple[str, ...]
    data: bytes

    @property
    def mime(self) -> EmailMessage:
        """The bytes parsed back with the email package."""
        return cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(self.data))


@dataclass
class MemoryBackend(Opening):
    """Delivers into ``self.delivered``.

    ``outcomes`` maps a message key to the status to report instead of SENT. A FAILED_*
    outcome keeps the message out of ``delivered``; UNKNOWN keeps it in (the realistic case:
    the message went out but the reply was lost).
    """

    hands_over_mime = True  # wire_bytes: a run may write messages ahead (wire.prepare)

    outcomes: Mapping[str, Status] = field(default_factory=dict)
    delivered: list[Delivered] = field(default_factory=list)
    opened: bool = False
    name: str = "memory"

    def open(self) -> None:
        """Mark the backend open."""
        self.opened = True

    def close(self) -> None:
        """Mark the backend closed; delivered messages stay."""
        self.opened = False

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Record the message (unless a scripted failure) and report what happened."""
        status = self.outcomes.get(message.key, Status.SENT)
        data = wire_bytes(message, wire_date())
        if status in (Status.FAILED_PERMANENT, Status.FAILED_RETRYABLE):
            return DeliveryResult(message.key, status, error=f"scripted {status.value}")
        self.delivered.append(Delivered(message, tuple(a.email for a in message.recipients),
                                        data))
        provider_id = f"memory:{len(self.delivered)}"
        if status is Status.UNKNOWN:
            return DeliveryResult(message.key, status, error="scripted unknown result")
        return DeliveryResult(message.key, status, provider_id=provider_id)

    def lookup(self, sought: Sought) -> Status | None:
        """SENT (or DRAFTED) if a message with the same Message-ID was delivered, else None."""
        for item in self.delivered:
            if item.message.message_id() == sought.message_id:
                status = self.outcomes.get(item.message.key, Status.SENT)
                return Status.DRAFTED if status is Status.DRAFTED else Status.SENT
        return None

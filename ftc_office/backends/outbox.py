"""Outbox backend: each message becomes one ``.eml`` file in a folder, nothing is sent.

The file holds exactly the bytes an SMTP server would receive (:func:`wire_bytes`), so it
opens in Outlook or Thunderbird as the real message. Files are written with
:func:`~ftc_office.atomic.atomic_write_bytes`: a crash leaves either the old file, the new
file, or a stray ``.tmp`` file, never half a message under the final name.
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

from ftc_office.atomic import atomic_write_bytes
from ftc_office.backends.base import DeliveryResult, Opening, PreparedHook, Sought, Status
from ftc_office.backends.wire import wire_bytes, wire_date
from ftc_office.errors import DeliveryError
from ftc_office.filenames import MAX_STEM, safe_filename
from ftc_office.message import OutgoingMessage

__all__ = ["MAX_STEM", "OutboxBackend", "safe_filename"]


class OutboxBackend(Opening):
    """Writes messages as ``<safe-key>.eml`` files into ``folder``."""

    name = "outbox"

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def open(self) -> None:
        """Create the outbox folder if needed."""
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(str(self.folder), f"cannot create the outbox folder ({exc})",
                                "choose another folder with --outbox or delivery.outbox_dir"
                                ) from None

    def close(self) -> None:
        """Nothing to release."""

    def path_for(self, message: OutgoingMessage | Sought) -> Path:
        """Where the message with this key is (or would be) written."""
        return self.folder / safe_filename(message.key)

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Write the message atomically; SENT with the file path as provider id. Raises
        DeliveryError (nothing written) when the outbox folder cannot be created."""
        target = self.path_for(message)
        self.open()
        try:
            atomic_write_bytes(target, wire_bytes(message, wire_date()), mode=0o600)
        except OSError as exc:
            status = (Status.FAILED_PERMANENT if isinstance(exc, PermissionError)
                      else Status.FAILED_RETRYABLE)
            return DeliveryResult(message.key, status,
                                  error=f"{target}: cannot write the message ({exc})")
        return DeliveryResult(message.key, Status.SENT, provider_id=str(target))

    def lookup(self, sought: Sought) -> Status | None:
        """SENT if the file exists and carries this message's Message-ID, else None."""
        path = Path(sought.provider_id) if sought.provider_id else self.path_for(sought)
        try:
            with path.open("rb") as fh:
                headers = BytesParser(policy=default_policy).parse(fh, headersonly=True)
        except OSError:
            return None
        return Status.SENT if headers.get("Message-ID") == sought.message_id else None

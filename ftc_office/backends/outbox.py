"""Outbox backend: each message becomes one ``.eml`` file in a folder, nothing is sent.

Two modes (``delivery.outbox_mode``):

- ``drafts`` (default): each file opens in Outlook as an unsent, editable draft
  (``X-Unsent: 1`` first, then the message's own headers) with a Send button. Nothing has
  been sent, so the result is DRAFTED: the ledger says drafted, and no sent date is stamped
  until the FM says it went (``ftc-office mark-sent``).
- ``pickup``: the folder is a mail server's pickup directory; a file there is sent, so the
  result is SENT. The file holds exactly the bytes an SMTP server would receive
  (:func:`wire_bytes`).
Files are written with :func:`~ftc_office.atomic.atomic_write_bytes`: a crash leaves
either the old file, the new file, or a stray ``.tmp`` file, never half a message under the
final name.

Its two fsyncs per file (the file, then the folder after the rename) stay, although the
ledger's result commit after it no longer fsyncs: that result becomes durable with the next
durable commit (the next message's claim, or the sync before write-back), and nothing orders
the file's data before it. Without the fsyncs a power cut could keep the ledger's "sent" /
"drafted" while the file is lost, empty, or only its ``.tmp`` name survives — a message the
ledger says went out, which the look-up never questions again. With them, the file is on
disk before the result can be; a lost result leaves the entry at its claim and the look-up
finds the file (by its Message-ID), or not, and then the first copy never reached the disk.
(A pickup server that took a file and removed it before its result was recorded is the case
of a kill between the file and the result, the same before and after this change: the
window is the time from the rename to the next durable commit, one message.)
"""

from __future__ import annotations

from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import Literal

from ftc_office.atomic import atomic_write_bytes
from ftc_office.backends.base import DeliveryResult, Opening, PreparedHook, Sought, Status
from ftc_office.backends.wire import wire_bytes, wire_date
from ftc_office.errors import DeliveryError
from ftc_office.filenames import MAX_STEM, safe_filename
from ftc_office.message import OutgoingMessage
from ftc_office.paths import native

__all__ = ["MAX_STEM", "OutboxBackend", "safe_filename"]

#: Outlook opens an .eml carrying this header as an unsent draft (editable, with Send);
#: without it the file opens as received, read-only mail
UNSENT_HEADER = b"X-Unsent: 1\r\n"
OutboxMode = Literal["drafts", "pickup"]


class OutboxBackend(Opening):
    """Writes messages as ``<safe-key>.eml`` files into ``folder``: drafts for a person to
    send (``drafts``), or files a mail server picks up and sends (``pickup``)."""

    hands_over_mime = True  # wire_bytes: a run may write messages ahead (wire.prepare)
    name = "outbox"

    def __init__(self, folder: Path, mode: OutboxMode = "drafts") -> None:
        self.folder = Path(folder)
        self.mode = mode
        self.done = Status.DRAFTED if mode == "drafts" else Status.SENT

    def open(self) -> None:
        """Create the outbox folder if needed."""
        try:
            Path(native(self.folder)).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DeliveryError(str(self.folder), f"cannot create the outbox folder ({exc})",
                                "choose another folder with --outbox or delivery.outbox_dir"
                                ) from None

    def close(self) -> None:
        """Nothing to release."""

    def path_for(self, message: OutgoingMessage | Sought) -> Path:
        """Where the message with this key is (or would be) written."""
        return self.folder / safe_filename(message.key)

    def file_bytes(self, message: OutgoingMessage, date: str | None) -> bytes:
        """The file's bytes: the wire bytes, led by ``X-Unsent: 1`` in drafts mode."""
        data = wire_bytes(message, date)
        return UNSENT_HEADER + data if self.mode == "drafts" else data

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Write the message atomically; DRAFTED (drafts) or SENT (pickup) with the file
        path as provider id. Raises DeliveryError (nothing written) when the outbox folder
        cannot be created."""
        target = self.path_for(message)
        data = self.file_bytes(message, wire_date())
        try:
            try:
                atomic_write_bytes(target, data, mode=0o600)
            except (FileNotFoundError, NotADirectoryError):  # no folder (yet, or any more):
                self.open()  # made now, or DeliveryError (nothing written)
                atomic_write_bytes(target, data, mode=0o600)
        except OSError as exc:
            status = (Status.FAILED_PERMANENT if isinstance(exc, PermissionError)
                      else Status.FAILED_RETRYABLE)
            return DeliveryResult(message.key, status,
                                  error=f"{target}: cannot write the message ({exc})")
        return DeliveryResult(message.key, self.done, provider_id=str(target))

    def lookup(self, sought: Sought) -> Status | None:
        """DRAFTED (drafts) or SENT (pickup) if the file exists and carries this message's
        Message-ID, else None."""
        path = Path(sought.provider_id) if sought.provider_id else self.path_for(sought)
        try:
            with open(native(path), "rb") as fh:
                headers = BytesParser(policy=default_policy).parse(fh, headersonly=True)
        except OSError:
            return None
        return self.done if headers.get("Message-ID") == sought.message_id else None

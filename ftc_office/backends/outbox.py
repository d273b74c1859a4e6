"""Outbox backend: each message becomes one ``.eml`` file in a folder, nothing is sent.

The file holds exactly the bytes an SMTP server would receive (:func:`wire_bytes`), so it
opens in Outlook or Thunderbird as the real message. Files are written to a temporary name
in the same folder and moved into place with ``os.replace``: a crash leaves either the old
file, the new file, or a stray ``.tmp`` file, never half a message under the final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path

from ftc_office.backends.base import DeliveryResult, Opening, PreparedHook, Sought, Status
from ftc_office.backends.wire import wire_bytes, wire_date
from ftc_office.errors import DeliveryError
from ftc_office.message import OutgoingMessage

MAX_STEM = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]}


def safe_filename(key: str, suffix: str = ".eml") -> str:
    """A file name for a key that is valid on Windows, macOS and Linux.

    Keys that are already safe (lower-case letters, digits, ``._-``) keep their name. Any
    other key gets a digest of the original appended, so two keys never share a file, even
    on a case-insensitive file system.
    """
    stem = _UNSAFE.sub("_", key).rstrip(". ") or "message"
    changed = stem != key or key != key.lower()
    if stem.split(".", 1)[0].upper() in _RESERVED:
        stem, changed = "_" + stem, True
    if changed or len(stem) > MAX_STEM:
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        stem = f"{stem[:MAX_STEM - 13].rstrip('. ')}-{digest}"
    return stem + suffix


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
            _write_atomic(target, wire_bytes(message, wire_date()))
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


def _write_atomic(target: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if os.name == "posix":  # make the rename itself durable; Windows cannot open a folder
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)

"""The exact bytes a backend hands over for one message.

Every backend that stores or transmits MIME (outbox, SMTP, memory) calls :func:`wire_bytes`,
so a file in the outbox and a message received by an SMTP server are byte for byte the same.
It is :meth:`OutgoingMessage.to_mime` serialised with CRLF line ends, with one change: the
multipart boundaries are derived from the message's content hash instead of a random
number, so the same message with the same date always gives the same bytes.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email.message import Message

from ftc_office.message import OutgoingMessage, mime_date

_EOL = re.compile(rb"\r\n|\r|\n")


def wire_date(now: datetime | None = None) -> str:
    """The Date header value for a message handed over now (UTC)."""
    return mime_date(now or datetime.now(UTC))


def wire_mime(message: OutgoingMessage, date: str | None) -> Message:
    """``message.to_mime(date)`` with deterministic multipart boundaries."""
    mime = message.to_mime(date=date)
    seed = message.content_hash[:24]
    for n, part in enumerate(p for p in mime.walk() if p.is_multipart()):
        # The seed depends on the content, so the content cannot contain its own boundary.
        part.set_boundary(f"=_ftc_{seed}_{n}")
    return mime


def wire_bytes(message: OutgoingMessage, date: str | None) -> bytes:
    """The message as SMTP-ready bytes: CRLF everywhere, ending with CRLF."""
    data = _EOL.sub(b"\r\n", wire_mime(message, date).as_bytes())
    return data if data.endswith(b"\r\n") else data + b"\r\n"

"""The exact bytes a backend hands over for one message.

Every backend that stores or transmits MIME (outbox, SMTP, memory) calls :func:`wire_bytes`,
so a file in the outbox and a message received by an SMTP server are byte for byte the same.
It is :meth:`OutgoingMessage.to_mime` serialised with CRLF line ends, with one change: the
multipart boundaries are derived from the message's content hash instead of a random
number, so the same message with the same date always gives the same bytes.

Those bytes are written directly (`_direct_body`) rather than by building the email
package's tree and flattening it, which took 2.5 ms of the 3 ms a message cost: the same
header folding (the same policy object), the same quoted-printable and base64 encoders, the
same layout of parts and boundaries. tests/test_wire_direct.py holds the two equal for
every message of the sample and for generated ones; a message with a non-ASCII or empty
attachment file name (RFC 2231 parameters) goes through the email package. A run's
compose-ahead worker writes everything but the Date header ahead (:func:`prepare`) and keeps
it on the message, so the process that sends only adds the date of the hand-over.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from email.message import Message
from email.utils import quote

from ftc_office.message import NO_FOLD, Attachment, OutgoingMessage, mime_date
from ftc_office.mime_headers import qp_body

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
    parts = _parts(message)
    if parts is None:  # only the email package writes it
        data = _crlf(wire_mime(message, date).as_bytes())
        return data if data.endswith(b"\r\n") else data + b"\r\n"
    before, after, body = parts
    dated = _crlf(NO_FOLD.fold_binary("Date", date)) if date else b""
    return before + dated + after + body


def prepare(message: OutgoingMessage) -> None:
    """Write the message's bytes now but for the Date header: the headers before and after
    it and the body, kept on the message and pickled with it. A run's compose-ahead worker
    does this, so the process that sends only adds the date of the hand-over."""
    _parts(message, keep=True)


_PARTS = "_wire_parts"  # the kept pieces' name in the (frozen) message's __dict__
_DATE = "Thu, 01 Jan 1970 00:00:00 +0000"  # marks where the Date header goes


def _crlf(data: bytes) -> bytes:
    # what `_direct_body` writes has LF line ends only (quoted-printable turns a CR in a
    # body into a line end): then doubling every LF is the same as the expression
    return data.replace(b"\n", b"\r\n") if b"\r" not in data else _EOL.sub(b"\r\n", data)


def _parts(message: OutgoingMessage, keep: bool = False
           ) -> tuple[bytes, bytes, bytes] | None:
    """The message's wire bytes in three CRLF pieces: the top-level headers before the
    Date, those after it (with the blank line), and the body; None for what only the email
    package writes. From the message when :func:`prepare` kept them (``keep``: keep them
    now; only for a message with a key, whose Message-ID is fixed), taken off it as they
    are used: a dry run holding every message must not hold every message's bytes too.
    Each piece ends with a line end, so converting them apart is the same as converting
    them together."""
    if _PARTS in message.__dict__ and not keep:
        kept: tuple[bytes, bytes, bytes] | None = message.__dict__.pop(_PARTS)
        return kept
    direct = _direct_body(message)
    if direct is None:
        parts = None
    else:
        ctype, body = direct
        fields = [("Content-Type", ctype), ("MIME-Version", "1.0"), *message.headers(_DATE)]
        at = fields.index(("Date", _DATE))
        parts = (_crlf(_head(fields[:at])[:-1]), _crlf(_head(fields[at + 1:])), _crlf(body))
    if keep and message.key:
        message.__dict__[_PARTS] = parts
    return parts


def _direct_body(message: OutgoingMessage) -> tuple[str, bytes] | None:
    """``wire_mime(message, date).as_bytes()`` without the email package's tree, as the
    top-level Content-Type and what follows the top-level headers (LF line ends, as the
    email package writes them); None for what only the email package writes."""
    if any(not a.filename or not a.filename.isascii() for a in message.attachments):
        return None
    seed = message.content_hash[:24]
    texts = [_text_part(message.text, "plain"), _text_part(message.html, "html")]
    if not message.attachments:
        return _multipart("alternative", f"=_ftc_{seed}_0", texts)
    alt = _entity(*_multipart("alternative", f"=_ftc_{seed}_1", texts))  # in walk order
    return _multipart("mixed", f"=_ftc_{seed}_0",
                      [alt, *(_attachment_part(a) for a in message.attachments)])


def _head(fields: list[tuple[str, str]]) -> bytes:
    return b"".join(NO_FOLD.fold_binary(name, value) for name, value in fields) + b"\n"


def _multipart(subtype: str, boundary: str, parts: list[bytes]) -> tuple[str, bytes]:
    """A multipart entity: (its Content-Type, its parts between boundaries)."""
    b = boundary.encode("ascii")
    body = b"--" + b + b"\n" + b"".join(
        (b"\n--" + b + b"\n" if i else b"") + p for i, p in enumerate(parts)) + \
        b"\n--" + b + b"--\n"
    return f'multipart/{subtype}; boundary="{boundary}"', body


def _entity(ctype: str, body: bytes) -> bytes:
    """A nested multipart entity with its headers."""
    return _head([("Content-Type", ctype), ("MIME-Version", "1.0")]) + body


def _text_part(text: str, subtype: str) -> bytes:
    head = _head([("Content-Type", f'text/{subtype}; charset="utf-8"'), ("MIME-Version", "1.0"),
                  ("Content-Transfer-Encoding", "quoted-printable")])
    return head + qp_body(text.encode("utf-8")).encode("ascii")  # UTF8_QP.body_encode


def _attachment_part(att: Attachment) -> bytes:
    head = _head([("Content-Type", f"{att.maintype}/{att.subtype}"), ("MIME-Version", "1.0"),
                  ("Content-Transfer-Encoding", "base64"),
                  ("Content-Disposition", f'attachment; filename="{quote(att.filename)}"')])
    # email.encoders.encode_base64's payload: 76-character lines, each ending in a newline
    return head + base64.encodebytes(att.content)


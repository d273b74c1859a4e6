"""The outgoing message: immutable, validated, and its one MIME form.

Every backend delivers this same object; the outbox and SMTP backends send exactly the bytes
of :meth:`OutgoingMessage.to_mime`, and the O365 backend maps the same fields to Graph.
Header safety is checked here, before any backend sees a message: the email package alone
is not trusted with line breaks (CVE-2024-6923 on Python < 3.11.10).
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from dataclasses import dataclass, field
from email.charset import QP, Charset
from email.encoders import encode_base64
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import format_datetime, make_msgid

from ftc_office.addresses import ENCODED_WORD, LINE_BREAKS, Address
from ftc_office.errors import MessageError
from ftc_office.mime_headers import UTF8_HEADER, FastFold

MAX_RECIPIENTS = 500
MAX_SUBJECT = 255
KEY_HEADER = "X-FTC-Message-Key"
# compat32 folds a long header that has no space by moving its whole value to a new line
# (" atu.…" comes back with a leading space); 998 is RFC 5322's hard limit, and every value
# we write is far shorter (the subject, the only long one, is pre-folded as encoded words).
NO_FOLD = FastFold(max_line_length=998)  # compat32 at 998, plain headers written directly
UTF8_QP = Charset("utf-8")
UTF8_QP.body_encoding = QP


def message_id_for(key: str, content_hash: str, domain: str = "ftc-office.invalid") -> str:
    """The Message-ID of the message with this ledger key and content hash (look-ups
    rebuild it from a ledger entry, so it must depend on nothing else)."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:24]
    return f"<ftc.{digest}.{content_hash[:12]}@{domain}>"


@dataclass(frozen=True)
class Attachment:
    """A file attached to a message. ``content`` must be deterministic for the same input."""

    filename: str
    content: bytes
    mimetype: str

    @property
    def maintype(self) -> str:
        """The MIME main type ("application" of "application/pdf")."""
        return self.mimetype.split("/", 1)[0]

    @property
    def subtype(self) -> str:
        """The MIME subtype ("pdf" of "application/pdf")."""
        return self.mimetype.split("/", 1)[1]


@dataclass(frozen=True)
class OutgoingMessage:
    """One message to deliver. ``key`` is its idempotency key in the ledger."""

    key: str
    kind: str
    audience: str
    to: tuple[Address, ...]
    subject: str
    text: str
    html: str
    cc: tuple[Address, ...] = ()
    sender: Address | None = None
    attachments: tuple[Attachment, ...] = ()
    tenant_ids: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    origin: str = ""
    extra_headers: tuple[tuple[str, str], ...] = field(default=())
    bcc: tuple[Address, ...] = ()  # envelope only: never in a header
    deferred_until: dt.datetime | None = None  # held by the provider until then (o365)

    def __post_init__(self) -> None:
        where = self.origin or f"message {self.key}"
        if not self.to:
            raise MessageError(where, "the message has no recipient", "fill the recipients' column")
        for name, value in (("Subject", self.subject), (KEY_HEADER, self.key)):
            if LINE_BREAKS.search(value):
                raise MessageError(
                    where, f"the {name} contains a line break",
                    "remove line breaks from the value or the subject template",
                )
        if ENCODED_WORD.search(self.subject):
            raise MessageError(
                where, "the Subject contains an encoded word (=?…?=), which a mail program "
                "would decode into other headers", "remove '=?' … '?=' from the value (e.g. "
                "the customer or workload name) or the subject template")
        for att in self.attachments:
            if LINE_BREAKS.search(att.filename) or ENCODED_WORD.search(att.filename):
                raise MessageError(where, f"attachment name {att.filename!r} contains a line "
                                   "break or an encoded word (=?…?=)",
                                   "remove them from the attachment's file-name template")
        for addr in (*self.to, *self.cc, *self.bcc, *((self.sender,) if self.sender else ())):
            if "=?" in addr.email or LINE_BREAKS.search(addr.email):
                raise MessageError(where, f"address {addr.email!r} contains '=?' or a line break",
                                   "correct the address")
        if not self.subject.strip():
            raise MessageError(where, "the subject is empty", "check the subject template")
        if len(self.subject) > MAX_SUBJECT:
            raise MessageError(
                where, f"the subject is {len(self.subject)} characters long (limit {MAX_SUBJECT})",
                "shorten the subject template or the values in it",
            )
        if not self.key.isascii() or " " in self.key:
            raise MessageError(where, "the message key must be ASCII without spaces",
                               "report this as a bug")
        for name, value in self.extra_headers:
            if LINE_BREAKS.search(name) or LINE_BREAKS.search(value):
                raise MessageError(where, f"header {name} contains a line break",
                                   "remove line breaks from the value")
            if ENCODED_WORD.search(value):
                raise MessageError(where, f"header {name} contains an encoded word (=?…?=)",
                                   "remove '=?' … '?=' from the value")
        n = len(self.recipients)
        if n > MAX_RECIPIENTS:
            raise MessageError(where, f"{n} recipients (limit {MAX_RECIPIENTS})",
                               "split the recipients over several rows")

    @property
    def recipients(self) -> tuple[Address, ...]:
        """Everyone the message goes to: To, then Cc, then Bcc (the envelope)."""
        return self.to + self.cc + self.bcc

    @functools.cached_property  # frozen: computed once (wire bytes and Message-ID both use it)
    def content_hash(self) -> str:
        """SHA-256 over everything the recipient would see, to detect changed content."""
        h = hashlib.sha256()
        # display names count only when present, so a message without names keeps the
        # hash it had before names existed (ledgers written by earlier versions still match)
        head = {
            "to": [a.header for a in self.to],
            "cc": [a.header for a in self.cc],
            "from": self.sender.header if self.sender else None,
            "subject": self.subject,
        }
        if self.bcc:  # only when present: every hash made before Bcc existed is unchanged
            head["bcc"] = [a.email for a in self.bcc]
        if self.deferred_until is not None:
            head["deferred_until"] = self.deferred_until.isoformat()
        h.update(json.dumps(head, sort_keys=True).encode())
        for part in (self.text, self.html):
            h.update(b"\0" + part.encode("utf-8"))
        for att in self.attachments:
            h.update(b"\0" + att.filename.encode() + b"\0" + hashlib.sha256(att.content).digest())
        return h.hexdigest()

    @property
    def size(self) -> int:
        """An upper estimate of the encoded size in bytes (base64 grows attachments by 4/3)."""
        body = len(self.text.encode()) + len(self.html.encode())
        atts = sum(len(a.content) for a in self.attachments) * 4 // 3 + 1024 * len(self.attachments)
        return body * 2 + atts + 4096

    def message_id(self, domain: str = "ftc-office.invalid") -> str:
        """Our own Message-ID: it carries a digest of the key, so a copy can be found."""
        return message_id_for(self.key, self.content_hash, domain)

    def to_mime(self, date: str | None = None) -> Message:
        """Build the multipart MIME message: mixed(alternative(text, html), attachments...).

        Built with the email package's compat32 classes, which serialise about twice as fast
        as ``EmailMessage``; every value placed in a header was checked for line breaks in
        ``__post_init__`` and addresses are plain ASCII mailboxes, so nothing is re-parsed.
        Text parts are quoted-printable UTF-8 (7-bit clean for any relay).
        """
        alt = MIMEMultipart("alternative", policy=NO_FOLD)
        alt.attach(MIMEText(self.text, "plain", UTF8_QP))  # type: ignore[arg-type]
        alt.attach(MIMEText(self.html, "html", UTF8_QP))  # type: ignore[arg-type]
        if self.attachments:
            msg: Message = MIMEMultipart("mixed", policy=NO_FOLD)
            msg.attach(alt)
            for att in self.attachments:
                part = MIMEBase(att.maintype, att.subtype)
                part.set_payload(att.content)
                encode_base64(part)
                name: str | tuple[str, str, str] = (
                    att.filename if att.filename.isascii() else ("utf-8", "", att.filename))
                part.add_header("Content-Disposition", "attachment", filename=name)
                msg.attach(part)
        else:
            msg = alt
        for hname, value in self.headers(date):
            msg[hname] = value
        return msg

    def headers(self, date: str | None = None) -> list[tuple[str, str]]:
        """The message's own header fields in order, after the MIME ones (`to_mime` and
        `ftc_office.backends.wire` both write these)."""
        out = [("From", self.sender.header)] if self.sender else []
        out.append(("To", ", ".join(a.header for a in self.to)))
        if self.cc:
            out.append(("Cc", ", ".join(a.header for a in self.cc)))
        if self.subject.isascii():
            out.append(("Subject", self.subject))
        else:  # RFC 2047 encoded words of at most 75 characters, folded only between them
            out.append(("Subject", Header(self.subject, UTF8_HEADER,
                                          header_name="Subject").encode()))
        out.append(("Message-ID", self.message_id() if self.key else make_msgid()))
        if date:
            out.append(("Date", date))
        out.append((KEY_HEADER, self.key))
        out.extend(self.extra_headers)
        return out


def mime_date(dt: object) -> str:
    """RFC 5322 date for a datetime (kept here so every backend formats it alike)."""
    return format_datetime(dt)  # type: ignore[arg-type]

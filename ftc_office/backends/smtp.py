"""SMTP backend: sends the exact bytes of each message with smtplib's primitives.

Results are classified by the SMTP phase in which something went wrong, because only that
tells whether the message may have left:

- before the final ``.`` (connect, TLS, login, MAIL, RCPT, the DATA command, writing the
  message): not sent — RFC 5321 §4.1.1.4: a transaction is complete only at the
  end-of-data indicator, a server discards one whose connection drops before it.
  5xx → FAILED_PERMANENT, 4xx and lost connections → FAILED_RETRYABLE;
- the reply to the end of DATA: 250 → SENT, 4xx → FAILED_RETRYABLE, 5xx → FAILED_PERMANENT;
- no reply (disconnect or timeout after the final ``.``) → UNKNOWN: the server may have
  queued it. It is never reported as failed.

The unknown window is only the final dot: the message data goes out first, then the
``prepared`` hook is called with the Message-ID (the ledger makes a durable mark), then
``.`` CRLF is sent and the reply read. After a crash an entry without the mark was never
completed, so :meth:`SmtpBackend.lookup` answers "not there" and it is sent again; with the
mark and no recorded result it stays UNKNOWN for a person.

Partially refused recipients still give SENT, with the refused addresses listed. The
envelope recipients are ``message.recipients``, never re-read from the headers. Opening the
connection (TLS, login, where the password comes from) lives in :mod:`.smtp_connect`.
"""

from __future__ import annotations

import functools
import os
import re
import smtplib
from collections.abc import Callable
from pathlib import Path

from ftc_office.addresses import AddressError, parse_address
from ftc_office.backends.base import DeliveryResult, Opening, PreparedHook, Sought, Status
from ftc_office.backends.smtp_connect import (
    RETRY_LATER,
    SmtpFailure,
    connect,
    refusal,
    reply_text,
)
from ftc_office.backends.wire import wire_bytes, wire_date
from ftc_office.config import SmtpSettings
from ftc_office.errors import DeliveryError
from ftc_office.message import OutgoingMessage

_LEADING_DOT = re.compile(rb"(?m)^\.")  # as smtplib._quote_periods
CRLF = b"\r\n"
# RFC 5321 4.5.3.2.6: a client should wait 10 minutes for the reply to the end of DATA.
# Giving up sooner turns a slow server into an UNKNOWN result that a person must resolve.
FINAL_REPLY_TIMEOUT = 600.0


class SmtpBackend(Opening):
    """Delivers over one SMTP connection, reconnecting when the server dropped it.

    ``default_sender`` is the envelope sender for messages without a sender (normally
    ``mail.sender``); ``ca_file`` adds a trusted CA (a private relay, or tests).
    """

    hands_over_mime = True  # wire_bytes: a run may write messages ahead (wire.prepare)
    name = "smtp"

    def __init__(self, settings: SmtpSettings, *, default_sender: str = "",
                 ca_file: str | os.PathLike[str] | None = None) -> None:
        self.settings = settings
        self.default_sender = default_sender
        self.ca_file = Path(ca_file) if ca_file else None
        self.where = f"SMTP server {settings.host}:{settings.port}"
        self._conn: smtplib.SMTP | None = None

    def open(self) -> None:
        """Connect, secure and log in; raises DeliveryError with a fix when it cannot."""
        if self._conn is None:
            try:
                self._conn = connect(self.settings, self.ca_file)
            except SmtpFailure as failure:
                raise failure.error from None  # DeliveryError for config problems passes

    def close(self) -> None:
        """Say QUIT and close the connection."""
        conn, self._conn = self._conn, None
        if conn is not None:
            try:
                conn.quit()
            except OSError:  # smtplib errors are OSErrors too
                conn.close()

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Send one message; ``prepared`` is called with its Message-ID once everything but
        the final dot is on the wire. Raises DeliveryError only when nothing can be sent
        (no sender address, the login or TLS refused on reconnecting)."""
        try:
            return self._send(message, prepared)
        except SmtpFailure as failure:
            if failure.drop:
                self._drop()
            mid = message.message_id() if failure.status is Status.UNKNOWN else None
            return DeliveryResult(message.key, failure.status, provider_id=mid,
                                  error=str(failure.error))

    def lookup(self, sought: Sought) -> Status | None:
        """None when the data mark is missing (the final dot was never sent, so the server
        discarded the transaction: safe to send again); otherwise UNKNOWN, because an SMTP
        server cannot be asked whether it has a message.

        For UNKNOWN the caller asks a person (who can check a recipient's mailbox or the
        Sent folder of the account) before the message is sent again.
        """
        return Status.UNKNOWN if sought.prepared else None

    # -- one message -------------------------------------------------------------------

    def _send(self, message: OutgoingMessage, prepared: PreparedHook | None
              ) -> DeliveryResult:
        data = wire_bytes(message, wire_date())
        conn = self._mail_from(self._sender(message), data)
        refused = self._recipients(conn, [a.email for a in message.recipients])
        code, resp = self._command(lambda: _data_command(conn), "DATA")
        if code != 354:
            self._rset(conn)
            raise refusal(self.where, "DATA", code, resp)
        self._write(conn, _quoted(data))
        mid = message.message_id()
        if prepared is not None:
            try:
                prepared(mid)
            except BaseException:
                self._drop()  # no final dot: the server discards the transaction
                raise
        code, text = self._final_dot(conn, message.key, mid)
        if code == 250:
            return DeliveryResult(
                message.key, Status.SENT, provider_id=mid, refused=tuple(refused),
                error=("refused recipients: " + _listing(refused)) if refused else None)
        if 400 <= code < 600:
            raise refusal(self.where, "end of DATA", code, text)
        return DeliveryResult(message.key, Status.UNKNOWN, provider_id=mid,
                              error=f"{self.where}: unexpected reply {code} {text}")

    def _recipients(self, conn: smtplib.SMTP, recipients: list[str]
                    ) -> dict[str, tuple[int, str]]:
        """RCPT TO each recipient; the refused ones. Every one refused → SmtpFailure."""
        refused: dict[str, tuple[int, str]] = {}
        for rcpt in recipients:
            code, resp = self._command(functools.partial(conn.rcpt, rcpt), "RCPT TO")
            if code not in (250, 251):
                refused[rcpt] = (code, resp)
        if len(refused) == len(recipients):
            self._rset(conn)
            permanent = all(500 <= code < 600 for code, _ in refused.values())
            raise SmtpFailure(
                Status.FAILED_PERMANENT if permanent else Status.FAILED_RETRYABLE,
                DeliveryError(self.where, "every recipient was refused: " + _listing(refused),
                              "check the addresses in the tracker" if permanent
                              else RETRY_LATER))
        return refused

    def _write(self, conn: smtplib.SMTP, quoted: bytes) -> None:
        """The dot-stuffed message data, without the end-of-data line."""
        try:
            conn.send(quoted)
        except OSError as exc:  # the final "." never reached the server: not sent
            raise SmtpFailure(Status.FAILED_RETRYABLE, DeliveryError(
                self.where, f"connection lost while sending the message ({exc})",
                RETRY_LATER), drop=True) from None

    def _final_dot(self, conn: smtplib.SMTP, key: str, mid: str) -> tuple[int, str]:
        """Send ``.`` CRLF and read the reply; no reply → an UNKNOWN result (raised as
        a SmtpFailure carrying it)."""
        try:
            conn.send(b"." + CRLF)
            if conn.sock is not None:
                conn.sock.settimeout(max(self.settings.timeout, FINAL_REPLY_TIMEOUT))
            code, raw = conn.getreply()
            if conn.sock is not None:
                conn.sock.settimeout(self.settings.timeout)
        except OSError as exc:
            raise SmtpFailure(Status.UNKNOWN, DeliveryError(
                self.where, f"no answer after the whole message was handed over ({exc}); "
                "it may have been delivered",
                "check with a recipient or in the server's log, then run 'ftc-office "
                f"resolve {key} --sent' or '--resend'"), drop=True) from None
        return int(code), reply_text(raw)

    def _mail_from(self, sender: str, data: bytes) -> smtplib.SMTP:
        """MAIL FROM on the open connection, reconnecting once if the server dropped it."""
        for _ in range(2):
            fresh = self._conn is None
            conn = self._conn = self._conn or self._connect()
            options = []
            if conn.has_extn("size"):
                options.append(f"SIZE={len(data)}")
            if conn.has_extn("8bitmime") and not data.isascii():
                options.append("BODY=8BITMIME")
            try:
                code, raw = conn.mail(sender, options)
            except OSError as exc:
                self._drop()
                if fresh:
                    raise SmtpFailure(Status.FAILED_RETRYABLE, DeliveryError(
                        self.where, f"connection lost ({exc})", RETRY_LATER)) from None
                continue
            if code == 421 and not fresh:  # an idle connection the server is closing
                self._drop()
                continue
            if code != 250:
                self._rset(conn)
                raise refusal(self.where, "MAIL FROM", code, reply_text(raw))
            return conn
        raise SmtpFailure(Status.FAILED_RETRYABLE, DeliveryError(
            self.where, "the server closed the connection twice", RETRY_LATER))

    def _connect(self) -> smtplib.SMTP:
        """A fresh connection; a refused login or TLS set-up stops the batch (raised)."""
        try:
            return connect(self.settings, self.ca_file)
        except SmtpFailure as failure:
            if failure.status is Status.FAILED_PERMANENT:
                raise failure.error from None
            raise

    def _command(self, call: Callable[[], tuple[int, bytes]], phase: str) -> tuple[int, str]:
        try:
            code, raw = call()
        except OSError as exc:
            raise SmtpFailure(Status.FAILED_RETRYABLE, DeliveryError(
                self.where, f"connection lost at {phase} ({exc})", RETRY_LATER),
                drop=True) from None
        return int(code), reply_text(raw)

    def _rset(self, conn: smtplib.SMTP) -> None:
        try:
            conn.rset()
        except OSError:
            self._drop()

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _sender(self, message: OutgoingMessage) -> str:
        if message.sender is not None:
            return message.sender.email
        for candidate in (self.default_sender, self.settings.username):
            if "@" in candidate:
                try:
                    return parse_address(candidate).email
                except AddressError as exc:
                    raise DeliveryError("config key mail.sender", str(exc),
                                        "fix the address") from None
        raise DeliveryError("config key mail.sender", "no sender address for the SMTP envelope",
                            "set mail.sender in ftc-office.toml")


def _data_command(conn: smtplib.SMTP) -> tuple[int, bytes]:
    """The DATA command alone, as the first half of ``smtplib.SMTP.data``."""
    conn.putcmd("data")
    return conn.getreply()


def _quoted(data: bytes) -> bytes:
    """The message as ``smtplib.SMTP.data`` sends it, without the final ``.`` CRLF:
    leading dots doubled (``_quote_periods``), ending with CRLF (the data is CRLF already)."""
    quoted = _LEADING_DOT.sub(b"..", data)
    return quoted if quoted.endswith(CRLF) else quoted + CRLF


def _listing(refused: dict[str, tuple[int, str]]) -> str:
    return "; ".join(f"{addr} ({code} {text})" for addr, (code, text) in refused.items())

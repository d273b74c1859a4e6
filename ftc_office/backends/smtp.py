"""SMTP backend: sends the exact bytes of each message with smtplib.

Results are classified by the SMTP phase in which something went wrong, because only that
tells whether the message may have left:

- before the server's reply to the end of DATA (connect, TLS, login, MAIL, RCPT, the DATA
  command, writing the message): not sent. 5xx → FAILED_PERMANENT, 4xx and lost
  connections → FAILED_RETRYABLE;
- the reply to the end of DATA: 250 → SENT, 4xx → FAILED_RETRYABLE, 5xx → FAILED_PERMANENT;
- no reply (disconnect or timeout after the final ``.``) → UNKNOWN: the server may have
  queued it. It is never reported as failed.

Partially refused recipients still give SENT, with the refused addresses listed. The
envelope recipients are ``message.recipients``, never re-read from the headers. The password
comes from the environment variable ``password_env`` or, with ``use_keyring``, from the
system keyring (service ``ftc-office``), never from the config file.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import os
import re
import smtplib
import ssl
from collections.abc import Callable
from pathlib import Path

from ftc_office.addresses import AddressError, parse_address
from ftc_office.backends.base import DeliveryResult, PreparedHook, Status
from ftc_office.backends.wire import wire_bytes, wire_date
from ftc_office.config import SmtpSettings
from ftc_office.errors import DeliveryError
from ftc_office.message import OutgoingMessage

KEYRING_SERVICE = "ftc-office"
_LEADING_DOT = re.compile(rb"(?m)^\.")
# RFC 5321 4.5.3.2.6: a client should wait 10 minutes for the reply to the end of DATA.
# Giving up sooner turns a slow server into an UNKNOWN result that a person must resolve.
FINAL_REPLY_TIMEOUT = 600.0
_RETRY_LATER = "run the same command again later; messages already sent are skipped"


class _Failure(Exception):
    """A failure with its status; ``drop`` when the connection is no longer usable."""

    def __init__(self, status: Status, error: DeliveryError, drop: bool = False) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error
        self.drop = drop


class SmtpBackend:
    """Delivers over one SMTP connection, reconnecting when the server dropped it.

    ``default_sender`` is the envelope sender for messages without a sender (normally
    ``mail.sender``); ``ca_file`` adds a trusted CA (a private relay, or tests).
    """

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
                self._conn = self._connect()
            except _Failure as failure:
                raise failure.error from None

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
        """Send one message. SMTP has no intermediate state, so ``prepared`` is not called."""
        try:
            return self._send(message)
        except _Failure as failure:
            if failure.drop:
                self._drop()
            return DeliveryResult(message.key, failure.status, error=str(failure.error))

    def lookup(self, message: OutgoingMessage, provider_id: str | None) -> Status:
        """Always UNKNOWN: an SMTP server cannot be asked whether it has a message.

        The caller must ask the user (who can check a recipient's mailbox or the Sent folder
        of the account) before sending the message again.
        """
        return Status.UNKNOWN

    # -- one message -------------------------------------------------------------------

    def _send(self, message: OutgoingMessage) -> DeliveryResult:
        data = wire_bytes(message, wire_date())
        sender = self._sender(message)
        conn = self._mail_from(sender, data)
        recipients = [a.email for a in message.recipients]
        refused: dict[str, tuple[int, str]] = {}
        for rcpt in recipients:
            code, resp = self._command(functools.partial(conn.rcpt, rcpt), "RCPT TO")
            if code not in (250, 251):
                refused[rcpt] = (code, resp)
        if len(refused) == len(recipients):
            self._rset(conn)
            permanent = all(500 <= code < 600 for code, _ in refused.values())
            raise _Failure(
                Status.FAILED_PERMANENT if permanent else Status.FAILED_RETRYABLE,
                DeliveryError(self.where, "every recipient was refused: " + _listing(refused),
                              "check the addresses in the tracker" if permanent
                              else _RETRY_LATER))
        code, resp = self._command(lambda: conn.docmd("data"), "DATA")
        if code != 354:
            self._rset(conn)
            raise self._refusal("DATA", code, resp)
        try:
            conn.send(_LEADING_DOT.sub(b"..", data) + b".\r\n")
        except OSError as exc:  # the final "." never reached the server: not sent
            raise _Failure(Status.FAILED_RETRYABLE, DeliveryError(
                self.where, f"connection lost while sending the message ({exc})",
                _RETRY_LATER), drop=True) from None
        try:
            if conn.sock is not None:
                conn.sock.settimeout(max(self.settings.timeout, FINAL_REPLY_TIMEOUT))
            code, raw = conn.getreply()
            if conn.sock is not None:
                conn.sock.settimeout(self.settings.timeout)
        except OSError as exc:
            self._drop()
            return DeliveryResult(message.key, Status.UNKNOWN, provider_id=message.message_id(),
                                  error=str(DeliveryError(
                                      self.where,
                                      f"no answer after the whole message was handed over "
                                      f"({exc}); it may have been delivered",
                                      "check with a recipient or in the server's log before "
                                      "sending it again")))
        if code == 250:
            return DeliveryResult(
                message.key, Status.SENT, provider_id=message.message_id(),
                refused=tuple(refused),
                error=("refused recipients: " + _listing(refused)) if refused else None)
        if 400 <= code < 600:
            raise self._refusal("end of DATA", code, _text(raw))
        return DeliveryResult(message.key, Status.UNKNOWN, provider_id=message.message_id(),
                              error=f"{self.where}: unexpected reply {code} {_text(raw)}")

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
                    raise _Failure(Status.FAILED_RETRYABLE, DeliveryError(
                        self.where, f"connection lost ({exc})", _RETRY_LATER)) from None
                continue
            if code == 421 and not fresh:  # an idle connection the server is closing
                self._drop()
                continue
            if code != 250:
                self._rset(conn)
                raise self._refusal("MAIL FROM", code, _text(raw))
            return conn
        raise _Failure(Status.FAILED_RETRYABLE, DeliveryError(
            self.where, "the server closed the connection twice", _RETRY_LATER))

    def _command(self, call: Callable[[], tuple[int, bytes]], phase: str) -> tuple[int, str]:
        try:
            code, raw = call()
        except OSError as exc:
            raise _Failure(Status.FAILED_RETRYABLE, DeliveryError(
                self.where, f"connection lost at {phase} ({exc})", _RETRY_LATER),
                drop=True) from None
        return int(code), _text(raw)

    def _refusal(self, phase: str, code: int, text: str) -> _Failure:
        permanent = 500 <= code < 600
        return _Failure(
            Status.FAILED_PERMANENT if permanent else Status.FAILED_RETRYABLE,
            DeliveryError(self.where, f"refused at {phase}: {code} {text}",
                          "read the server's reason; fix the message or the account"
                          if permanent else _RETRY_LATER))

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
                    raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
                        "config key mail.sender", str(exc), "fix the address")) from None
        raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
            "config key mail.sender", "no sender address for the SMTP envelope",
            "set mail.sender in ftc-office.toml"))

    # -- connection ----------------------------------------------------------------------

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        if s.username and s.security == "none" and not _is_loopback(s.host):
            raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
                "config key delivery.smtp.security",
                "the password would be sent unencrypted",
                'set security = "starttls" (port 587) or "tls" (port 465)'))
        password = self._password() if s.username else None
        context = self._ssl_context() if s.security != "none" else None
        local = s.helo_domain or None
        try:  # given the host, smtplib connects, checks the 220 greeting and keeps the name
            conn = (smtplib.SMTP_SSL(s.host, s.port, local_hostname=local, timeout=s.timeout,
                                     context=context) if s.security == "tls"
                    else smtplib.SMTP(s.host, s.port, local_hostname=local, timeout=s.timeout))
        except Exception as exc:
            raise self._connect_failure(exc) from None
        try:
            conn.ehlo_or_helo_if_needed()
            if s.security == "starttls":
                if not conn.has_extn("starttls"):
                    raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
                        self.where, "the server does not offer STARTTLS",
                        'check host and port, or set delivery.smtp.security = "tls" for '
                        "port 465"))
                conn.starttls(context=context)
                conn.ehlo()
            if password is not None:
                conn.login(s.username, password)
        except _Failure:
            conn.close()
            raise
        except Exception as exc:
            conn.close()
            raise self._connect_failure(exc) from None
        return conn

    def _connect_failure(self, exc: Exception) -> _Failure:
        s = self.settings
        if isinstance(exc, ssl.SSLCertVerificationError):
            return _Failure(Status.FAILED_PERMANENT, DeliveryError(
                self.where, f"the server's certificate is not trusted ({exc.verify_message})",
                "check delivery.smtp.host is the name on the server's certificate"))
        if isinstance(exc, smtplib.SMTPAuthenticationError):
            source = (f"the system keyring (ftc-office / {s.username})" if s.use_keyring
                      else f"the environment variable {s.password_env}")
            return _Failure(Status.FAILED_PERMANENT, DeliveryError(
                self.where, f"login as {s.username} refused: {exc.smtp_code} "
                f"{_text(exc.smtp_error)}",
                f"check delivery.smtp.username and the password in {source}"))
        if isinstance(exc, smtplib.SMTPNotSupportedError):
            return _Failure(Status.FAILED_PERMANENT, DeliveryError(
                self.where, "the server offers no login (AUTH) on this connection",
                "use STARTTLS or TLS, or leave delivery.smtp.username empty"))
        if isinstance(exc, smtplib.SMTPResponseException):
            return self._refusal("connect", exc.smtp_code, _text(exc.smtp_error))
        return _Failure(Status.FAILED_RETRYABLE, DeliveryError(
            self.where, f"cannot connect ({exc})",
            "check delivery.smtp.host, port and security and the network; " + _RETRY_LATER))

    def _ssl_context(self) -> ssl.SSLContext:
        try:
            return ssl.create_default_context(cafile=self.ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
                str(self.ca_file), f"cannot load the CA file ({exc})",
                "give a PEM file with the CA certificate")) from None

    def _password(self) -> str:
        s = self.settings
        if s.use_keyring:
            return self._keyring_password()
        password = os.environ.get(s.password_env, "")
        if not password:
            raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
                f"environment variable {s.password_env}",
                f"no password for SMTP user {s.username}",
                f"set {s.password_env} to the password, or set delivery.smtp.use_keyring"))
        return password

    def _keyring_password(self) -> str:
        user = self.settings.username
        try:
            import keyring
            import keyring.errors
        except ImportError:
            raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
                "config key delivery.smtp.use_keyring", "the keyring package is not installed",
                'pip install "ftc-office[keyring]"')) from None
        try:
            password = keyring.get_password(KEYRING_SERVICE, user)
        except keyring.errors.KeyringError as exc:
            raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
                "system keyring", f"cannot read the password ({exc})",
                "unlock the keyring, or use the password environment variable")) from None
        if not password:
            raise _Failure(Status.FAILED_PERMANENT, DeliveryError(
                "system keyring", f"no password stored for {KEYRING_SERVICE} / {user}",
                f"store it with: keyring set {KEYRING_SERVICE} {user}"))
        return password


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def _listing(refused: dict[str, tuple[int, str]]) -> str:
    return "; ".join(f"{addr} ({code} {text})" for addr, (code, text) in refused.items())


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False

"""Opening an SMTP connection: TLS (implicit or STARTTLS), login, and what can go wrong.

The password comes from an environment variable or the system keyring, never from the config
file, and never travels unencrypted to another computer. A failure is an
:class:`SmtpFailure` carrying its status: a refused login, an untrusted certificate or a
server without STARTTLS is permanent (trying again cannot help); a refused or lost
connection is retryable.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import smtplib
import socket
import ssl
from pathlib import Path

from ftc_office.backends.base import Status
from ftc_office.config import SmtpSettings
from ftc_office.errors import DeliveryError

KEYRING_SERVICE = "ftc-office"
RETRY_LATER = "run the same command again later; messages already sent are skipped"


class SmtpFailure(Exception):
    """A failure with its status; ``drop`` when the connection is no longer usable."""

    def __init__(self, status: Status, error: DeliveryError, drop: bool = False) -> None:
        super().__init__(str(error))
        self.status = status
        self.error = error
        self.drop = drop


def refusal(where: str, phase: str, code: int, text: str) -> SmtpFailure:
    """A server's 4xx (retryable) or 5xx (permanent) reply at ``phase``."""
    permanent = 500 <= code < 600
    return SmtpFailure(
        Status.FAILED_PERMANENT if permanent else Status.FAILED_RETRYABLE,
        DeliveryError(where, f"refused at {phase}: {code} {text}",
                      "read the server's reason; fix the message or the account"
                      if permanent else RETRY_LATER))


def connect(settings: SmtpSettings, ca_file: Path | None = None) -> smtplib.SMTP:
    """A connected, secured and logged-in SMTP client.

    Raises DeliveryError for a configuration problem, SmtpFailure for everything else.
    """
    s = settings
    where = f"SMTP server {s.host}:{s.port}"
    password = smtp_password(s) if s.username else None
    context = _ssl_context(ca_file) if s.security != "none" else None
    local = s.helo_domain or None
    try:  # given the host, smtplib connects, checks the 220 greeting and keeps the name
        conn = (smtplib.SMTP_SSL(s.host, s.port, local_hostname=local, timeout=s.timeout,
                                 context=context) if s.security == "tls"
                else smtplib.SMTP(s.host, s.port, local_hostname=local, timeout=s.timeout))
    except Exception as exc:
        raise _failure(where, s, exc) from None
    _no_delay(conn)
    try:
        conn.ehlo_or_helo_if_needed()
        if s.security == "starttls":
            if not conn.has_extn("starttls"):
                raise DeliveryError(where, "the server does not offer STARTTLS",
                                    'check host and port, or set delivery.smtp.security = '
                                    '"tls" for port 465')
            conn.starttls(context=context)
            conn.ehlo()
        if password is not None:
            conn.login(s.username, password)
    except DeliveryError:
        conn.close()
        raise
    except Exception as exc:
        conn.close()
        raise _failure(where, s, exc) from None
    return conn


def _no_delay(conn: smtplib.SMTP) -> None:
    """TCP_NODELAY: the final ``.`` CRLF goes out alone after the message data (see
    :mod:`.smtp`); with Nagle's algorithm it would wait for the server's delayed ACK."""
    if conn.sock is not None:
        with contextlib.suppress(OSError):
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _failure(where: str, s: SmtpSettings, exc: Exception) -> SmtpFailure:
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SmtpFailure(Status.FAILED_PERMANENT, DeliveryError(
            where, f"the server's certificate is not trusted ({exc.verify_message})",
            "check delivery.smtp.host is the name on the server's certificate"))
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return SmtpFailure(Status.FAILED_PERMANENT, DeliveryError(
            where,
            f"login as {s.username} refused: {exc.smtp_code} {reply_text(exc.smtp_error)}",
            f"check delivery.smtp.username and the password in {password_source(s)}"))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return SmtpFailure(Status.FAILED_PERMANENT, DeliveryError(
            where, "the server offers no login (AUTH) on this connection",
            "use STARTTLS or TLS, or leave delivery.smtp.username empty"))
    if isinstance(exc, smtplib.SMTPResponseException):
        return refusal(where, "connect", exc.smtp_code, reply_text(exc.smtp_error))
    return SmtpFailure(Status.FAILED_RETRYABLE, DeliveryError(
        where, f"cannot connect ({exc})",
        "check delivery.smtp.host, port and security and the network; " + RETRY_LATER))


def _ssl_context(ca_file: Path | None) -> ssl.SSLContext:
    try:
        return ssl.create_default_context(cafile=ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise DeliveryError(str(ca_file), f"cannot load the CA file ({exc})",
                            "give a PEM file with the CA certificate") from None


def reply_text(raw: bytes | str) -> str:
    """A server reply as text."""
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def password_source(settings: SmtpSettings) -> str:
    """Where the password is read from, for messages."""
    if settings.use_keyring:
        return f"the system keyring ({KEYRING_SERVICE} / {settings.username})"
    return f"the environment variable {settings.password_env}"


def smtp_password(settings: SmtpSettings) -> str:
    """The password for ``settings.username``; DeliveryError when there is none.

    Refuses outright when it would travel unencrypted to a host other than this computer.
    """
    if settings.security == "none" and not is_loopback(settings.host):
        raise DeliveryError("config key delivery.smtp.security",
                            "the password would be sent unencrypted",
                            'set security = "starttls" (port 587) or "tls" (port 465)')
    if settings.use_keyring:
        return _keyring_password(settings.username)
    password = os.environ.get(settings.password_env, "")
    if not password:
        raise DeliveryError(f"environment variable {settings.password_env}",
                            f"no password for SMTP user {settings.username}",
                            f"set {settings.password_env} to the password, or set "
                            "delivery.smtp.use_keyring = true and store it in the keyring")
    return password


def _keyring_password(user: str) -> str:
    try:
        import keyring
        import keyring.errors
    except ImportError:
        raise DeliveryError("config key delivery.smtp.use_keyring",
                            "the keyring package is not installed",
                            'pip install "ftc-office[keyring]"') from None
    try:
        password = keyring.get_password(KEYRING_SERVICE, user)
    except keyring.errors.KeyringError as exc:
        raise DeliveryError("system keyring", f"cannot read the password ({exc})",
                            "unlock the keyring, or use the password environment variable"
                            ) from None
    if not password:
        raise DeliveryError("system keyring", f"no password stored for {KEYRING_SERVICE} / {user}",
                            f"store it with: keyring set {KEYRING_SERVICE} {user}")
    return password


def is_loopback(host: str) -> bool:
    """True for ``localhost`` and loopback IP addresses."""
    if host == "localhost":
        return True
    with contextlib.suppress(ValueError):
        return ipaddress.ip_address(host).is_loopback
    return False

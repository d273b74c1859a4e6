"""SMTP backend against a real aiosmtpd server on 127.0.0.1."""

from __future__ import annotations

import re
import socket
import time
from email.parser import BytesParser
from email.policy import default as default_policy
from typing import TYPE_CHECKING

import keyring
import pytest
from keyring.backend import KeyringBackend

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.smtp import SmtpBackend
from ftc_office.backends.wire import wire_bytes
from ftc_office.config import SmtpSettings
from ftc_office.errors import DeliveryError
from ftc_office.message import Attachment, OutgoingMessage

if TYPE_CHECKING:
    from smtpserver import SmtpServer, StartServer

pytest_plugins = ["smtpserver"]

SENDER = "fm@microsoft.com"


def make_message(key: str = "atu.t1.teams.abc123", to: tuple[str, ...] = ("ann@microsoft.com",),
                 cc: tuple[str, ...] = ("fm@microsoft.com",)) -> OutgoingMessage:
    return OutgoingMessage(
        key=key, kind="atu", audience="internal",
        to=tuple(parse_address(a) for a in to), cc=tuple(parse_address(a) for a in cc),
        sender=parse_address(SENDER),
        subject="Enablement complete — Contoso", text="hi\n.leading dot\nünïcode",
        html="<p>hi</p>",
        attachments=(Attachment("brief.docx", b"PK\x03\x04" + bytes(range(256)) * 8,
                                "application/vnd.openxmlformats-officedocument"
                                ".wordprocessingml.document"),))


def send(server: SmtpServer, message: OutgoingMessage, **changes: object) -> Status:
    backend = SmtpBackend(server.settings(**changes), ca_file=server.ca_file)
    try:
        result = backend.deliver(message)
    finally:
        backend.close()
    return result.status


def test_plain_server_receives_exactly_the_wire_bytes(smtp_plain: SmtpServer) -> None:
    msg = make_message()
    backend = SmtpBackend(smtp_plain.settings())
    result = backend.deliver(msg)
    backend.close()
    assert result.status is Status.SENT and result.key == msg.key
    assert result.provider_id == msg.message_id()
    [got] = smtp_plain.handler.received
    assert got.mail_from == SENDER
    assert got.rcpt_tos == ("ann@microsoft.com", "fm@microsoft.com")
    date = BytesParser(policy=default_policy).parsebytes(got.data)["Date"]
    assert got.data == wire_bytes(msg, date)  # dot-stuffing undone, nothing rewritten


def test_wire_bytes_are_to_mime_bytes_up_to_the_boundaries() -> None:
    msg = make_message()
    date = "Mon, 02 Nov 2026 10:00:00 +0000"
    ours = wire_bytes(msg, date)
    theirs = msg.to_mime(date=date).as_bytes()

    def unboundary(data: bytes) -> bytes:
        for n, b in enumerate(dict.fromkeys(re.findall(rb'boundary="([^"]+)"', data))):
            data = data.replace(b, b"BOUNDARY%d" % n)
        # to_mime() serialises with the platform's "\n"; the wire form is CRLF throughout
        return re.sub(rb"\r?\n", b"\r\n", data)

    assert unboundary(ours) == unboundary(theirs)


@pytest.mark.parametrize("fixture", ["smtp_starttls", "smtp_tls"])
def test_tls_variants_verify_the_test_certificate(fixture: str,
                                                   request: pytest.FixtureRequest) -> None:
    server: SmtpServer = request.getfixturevalue(fixture)
    assert send(server, make_message()) is Status.SENT
    assert len(server.handler.received) == 1


def test_untrusted_certificate_stops_the_batch(smtp_tls: SmtpServer) -> None:
    """A connection-level refusal is raised (nothing was accepted), not a per-message
    refusal: it would otherwise mark every message ``refused``."""
    backend = SmtpBackend(smtp_tls.settings())  # no test CA: the system store rejects it
    with pytest.raises(DeliveryError, match="certificate is not trusted"):
        backend.deliver(make_message())
    assert smtp_tls.handler.received == []


def test_starttls_required_but_not_offered(smtp_plain: SmtpServer) -> None:
    backend = SmtpBackend(smtp_plain.settings(security="starttls"))
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        backend.open()


def test_login_with_password_from_environment(smtp_auth: SmtpServer,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTC_TEST_SMTP_PW", smtp_auth.password)
    status = send(smtp_auth, make_message(), username=smtp_auth.user,
                  password_env="FTC_TEST_SMTP_PW")
    assert status is Status.SENT
    assert len(smtp_auth.handler.received) == 1


def test_wrong_password_is_permanent_with_a_clear_error(smtp_auth: SmtpServer,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTC_TEST_SMTP_PW", "wrong")
    backend = SmtpBackend(smtp_auth.settings(username=smtp_auth.user,
                                             password_env="FTC_TEST_SMTP_PW"),
                          ca_file=smtp_auth.ca_file)
    with pytest.raises(DeliveryError) as raised:  # the batch stops: nothing can be sent
        backend.deliver(make_message())
    assert f"login as {smtp_auth.user} refused: 535" in str(raised.value)
    assert "FTC_TEST_SMTP_PW" in str(raised.value)
    with pytest.raises(DeliveryError, match="login as"):
        backend.open()
    assert smtp_auth.handler.received == []


def test_missing_password_variable(smtp_auth: SmtpServer,
                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTC_TEST_SMTP_PW", raising=False)
    backend = SmtpBackend(smtp_auth.settings(username=smtp_auth.user,
                                             password_env="FTC_TEST_SMTP_PW"),
                          ca_file=smtp_auth.ca_file)
    with pytest.raises(DeliveryError) as err:
        backend.open()
    assert err.value.where == "environment variable FTC_TEST_SMTP_PW"


class _DictKeyring(KeyringBackend):
    priority = 1

    def __init__(self, secrets: dict[tuple[str, str], str]) -> None:
        super().__init__()
        self.secrets = secrets

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.secrets.pop((service, username), None)


def test_login_with_password_from_keyring(smtp_auth: SmtpServer,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTC_SMTP_PASSWORD", "not this one")
    previous = keyring.get_keyring()
    keyring.set_keyring(_DictKeyring({("ftc-office", smtp_auth.user): smtp_auth.password}))
    try:
        status = send(smtp_auth, make_message(), username=smtp_auth.user, use_keyring=True)
    finally:
        keyring.set_keyring(previous)
    assert status is Status.SENT


def test_no_password_over_plain_text_to_a_remote_host() -> None:
    backend = SmtpBackend(SmtpSettings(host="smtp.example.com", security="none",
                                       username="u@example.com"))
    with pytest.raises(DeliveryError, match="unencrypted"):
        backend.open()  # refused before any connection (the network guard would fail it)


def test_partially_refused_recipients_are_sent_and_listed(smtp_plain: SmtpServer) -> None:
    msg = make_message(to=("ann@microsoft.com", "refused@contoso.com"))
    backend = SmtpBackend(smtp_plain.settings())
    result = backend.deliver(msg)
    assert result.status is Status.SENT
    assert result.refused == ("refused@contoso.com",)
    assert "550" in (result.error or "")
    [got] = smtp_plain.handler.received
    assert got.rcpt_tos == ("ann@microsoft.com", "fm@microsoft.com")


def test_all_recipients_refused_is_permanent(smtp_plain: SmtpServer) -> None:
    msg = make_message(to=("refused@contoso.com",), cc=("refused@fabrikam.com",))
    backend = SmtpBackend(smtp_plain.settings())
    result = backend.deliver(msg)
    assert result.status is Status.FAILED_PERMANENT
    assert "every recipient was refused" in (result.error or "")
    # the connection is still usable for the next message
    assert backend.deliver(make_message(key="atu.t2")).status is Status.SENT
    assert smtp_plain.handler.data_commands == 1


def test_drop_after_final_dot_is_unknown_never_failed(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.drop_after_data = True
    backend = SmtpBackend(smtp_plain.settings())
    result = backend.deliver(make_message())
    assert result.status is Status.UNKNOWN
    assert "may have been delivered" in (result.error or "")
    assert smtp_plain.handler.data_commands == 1
    assert backend.lookup(Sought.of(make_message(), result.provider_id)) is Status.UNKNOWN
    # the next message reconnects
    smtp_plain.handler.drop_after_data = False
    assert backend.deliver(make_message(key="atu.t2")).status is Status.SENT
    backend.close()


def test_451_at_end_of_data_is_retryable(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.data_reply = "451 4.3.0 Temporary failure, try later"
    backend = SmtpBackend(smtp_plain.settings())
    result = backend.deliver(make_message())
    assert result.status is Status.FAILED_RETRYABLE
    assert "451" in (result.error or "")


def test_554_at_end_of_data_is_permanent(smtp_plain: SmtpServer) -> None:
    smtp_plain.handler.data_reply = "554 5.6.0 Message content rejected"
    assert send(smtp_plain, make_message()) is Status.FAILED_PERMANENT


def test_connection_refused_is_retryable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    backend = SmtpBackend(SmtpSettings(host="127.0.0.1", port=port, security="none",
                                       timeout=2.0, helo_domain="localhost"))
    result = backend.deliver(make_message())
    assert result.status is Status.FAILED_RETRYABLE
    assert "cannot connect" in (result.error or "")


def test_reconnects_when_the_server_closed_an_idle_connection(
        start_smtp_server: StartServer) -> None:
    server = start_smtp_server("none", idle_timeout=0.2)
    backend = SmtpBackend(server.settings())
    assert backend.deliver(make_message(key="k1")).status is Status.SENT
    time.sleep(0.5)  # the server hangs up on the idle connection
    assert backend.deliver(make_message(key="k2")).status is Status.SENT
    keys = [BytesParser(policy=default_policy).parsebytes(r.data)["X-FTC-Message-Key"]
            for r in server.handler.received]
    assert keys == ["k1", "k2"]
    backend.close()


def test_no_sender_anywhere_is_a_clear_error(smtp_plain: SmtpServer) -> None:
    msg = OutgoingMessage(key="k", kind="atu", audience="internal",
                          to=(parse_address("ann@microsoft.com"),), subject="s", text="t",
                          html="<p>t</p>")
    with pytest.raises(DeliveryError, match=r"mail\.sender"):
        SmtpBackend(smtp_plain.settings()).deliver(msg)
    result = SmtpBackend(smtp_plain.settings(), default_sender=SENDER).deliver(msg)
    assert result.status is Status.SENT


def test_mail_from_refused_is_permanent_and_names_the_phase(smtp_auth: SmtpServer) -> None:
    backend = SmtpBackend(smtp_auth.settings(), ca_file=smtp_auth.ca_file)  # no login
    result = backend.deliver(make_message())
    assert result.status is Status.FAILED_PERMANENT
    assert "refused at MAIL FROM: 530" in (result.error or "")
    backend.close()


@pytest.mark.parametrize("data", [b"a\r\n.b\r\n..c\r\n", b".\r\n", b"x", b"a\r\n.", b""])
def test_data_is_quoted_exactly_as_smtplib_data_does(data: bytes) -> None:
    """Everything but the final dot, then the dot: byte for byte smtplib.SMTP.data."""
    import smtplib

    from ftc_office.backends.smtp import _quoted

    expected = smtplib._quote_periods(data)  # type: ignore[attr-defined]
    if expected[-2:] != b"\r\n":
        expected += b"\r\n"
    assert _quoted(data) + b".\r\n" == expected + b".\r\n"


def test_the_prepared_mark_comes_before_the_final_dot(smtp_plain: SmtpServer) -> None:
    """The hook runs with the Message-ID when the data is sent but not yet completed: the
    server has no message then; a failing hook drops the connection (never sent)."""
    seen: list[int] = []
    backend = SmtpBackend(smtp_plain.settings(), default_sender=SENDER)

    def mark(mid: str) -> None:
        assert mid == make_message().message_id()
        seen.append(len(smtp_plain.handler.received))

    assert backend.deliver(make_message(), mark).status is Status.SENT
    assert seen == [0] and len(smtp_plain.handler.received) == 1

    def broken(mid: str) -> None:
        raise RuntimeError("ledger gone")

    with pytest.raises(RuntimeError):
        backend.deliver(make_message(), broken)
    assert backend.deliver(make_message()).status is Status.SENT  # reconnects
    assert len(smtp_plain.handler.received) == 2
    backend.close()

"""Real SMTP servers for tests: aiosmtpd on 127.0.0.1, each on a free port.

Use with ``pytest_plugins = ["smtpserver"]`` in a test module (import names from it only
under ``TYPE_CHECKING``, so pytest can still rewrite its asserts). Fixtures:

- ``smtp_plain``: no TLS, no login;
- ``smtp_starttls``: STARTTLS required, with a trustme certificate for localhost/127.0.0.1;
- ``smtp_tls``: implicit TLS (port-465 style) with the same certificate;
- ``smtp_auth``: STARTTLS + AUTH LOGIN/PLAIN required, user ``server.user`` /
  ``server.password``;
- ``start_smtp_server``: the factory behind them, for other combinations.

Every server records what it accepted in ``server.handler.received``. The handler refuses
any recipient whose local part is ``refused`` (550 at RCPT); a test can set
``handler.data_reply`` (e.g. ``"451 4.3.0 try later"``) to answer the end of DATA with it,
or ``handler.drop_after_data = True`` to close the connection after the final ``.`` without
replying.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from ftc_office.config import SmtpSettings

HOST = "127.0.0.1"
SMTP_USER = "ftc-user"
SMTP_PASSWORD = "s3cret-pw"  # test-only credential of the local server


@dataclass(frozen=True)
class Received:
    """One message the server accepted."""

    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes


@dataclass
class RecordingHandler:
    """aiosmtpd handler: records messages; can refuse, fail or hang up on request."""

    received: list[Received] = field(default_factory=list)
    data_reply: str | None = None
    drop_after_data: bool = False
    data_commands: int = 0

    async def handle_RCPT(self, server: SMTP, session: Session, envelope: Envelope,
                          address: str, rcpt_options: list[str]) -> str:
        if address.lower().startswith("refused@"):
            return f"550 5.1.1 <{address}>: mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.data_commands += 1
        if self.drop_after_data:
            # Hang up after the whole message arrived, before any reply. connection_lost()
            # cancels this handler, so the wait below never returns.
            assert server.transport is not None
            server.transport.close()
            await asyncio.Event().wait()
        if self.data_reply:
            return self.data_reply
        assert isinstance(envelope.original_content, bytes)
        self.received.append(Received(str(envelope.mail_from), tuple(envelope.rcpt_tos),
                                      envelope.original_content))
        return "250 2.0.0 OK queued"


class _FreePortController(Controller):
    """A Controller that listens on port 0 and learns the port the OS gave it."""

    def _trigger_server(self) -> None:
        assert self.server is not None
        self.port = self.server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        super()._trigger_server()


@dataclass
class SmtpServer:
    """A running local server and the settings a client needs to reach it."""

    handler: RecordingHandler
    port: int
    security: str
    ca_file: Path | None
    user: str = SMTP_USER
    password: str = SMTP_PASSWORD

    def settings(self, **changes: Any) -> SmtpSettings:
        """SmtpSettings pointing at this server (``helo_domain`` avoids a DNS lookup)."""
        base = SmtpSettings(host=HOST, port=self.port, security=self.security,  # type: ignore[arg-type]
                            timeout=5.0, helo_domain="localhost")
        return replace(base, **changes)


def _authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                   auth_data: object) -> AuthResult:
    ok = (isinstance(auth_data, LoginPassword)
          and auth_data.login == SMTP_USER.encode()
          and auth_data.password == SMTP_PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="session")
def test_ca() -> trustme.CA:
    """A throw-away certificate authority."""
    return trustme.CA()


@pytest.fixture(scope="session")
def ca_file(test_ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test CA's certificate as a PEM file (what a client is told to trust)."""
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    test_ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture(scope="session")
def server_tls_context(test_ca: trustme.CA) -> ssl.SSLContext:
    """A server context holding a certificate for localhost and 127.0.0.1."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    test_ca.issue_cert("localhost", HOST).configure_cert(ctx)
    return ctx


StartServer = Callable[..., SmtpServer]


@pytest.fixture
def start_smtp_server(server_tls_context: ssl.SSLContext, ca_file: Path
                      ) -> Iterator[StartServer]:
    """Factory: start a server with ``security`` none/starttls/tls, optional ``auth``, and
    ``idle_timeout`` seconds after which it hangs up on a silent client."""
    controllers: list[Controller] = []

    def start(security: str = "none", auth: bool = False, idle_timeout: float = 60.0
              ) -> SmtpServer:
        handler = RecordingHandler()
        kwargs: dict[str, Any] = {"server_hostname": "localhost", "ready_timeout": 5.0,
                                  "timeout": idle_timeout}
        if security == "tls":
            kwargs["ssl_context"] = server_tls_context
        elif security == "starttls":
            kwargs.update(tls_context=server_tls_context, require_starttls=True)
        if auth:
            kwargs.update(authenticator=_authenticator, auth_required=True,
                          auth_require_tls=security != "none")
        controller = _FreePortController(handler, hostname=HOST, port=0, **kwargs)
        controller.start()
        controllers.append(controller)
        return SmtpServer(handler, controller.port, security,
                          ca_file if security != "none" else None)

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture
def smtp_plain(start_smtp_server: StartServer) -> SmtpServer:
    """A plain SMTP server without TLS or login."""
    return start_smtp_server("none")


@pytest.fixture
def smtp_starttls(start_smtp_server: StartServer) -> SmtpServer:
    """A server that requires STARTTLS."""
    return start_smtp_server("starttls")


@pytest.fixture
def smtp_tls(start_smtp_server: StartServer) -> SmtpServer:
    """A server speaking TLS from the first byte."""
    return start_smtp_server("tls")


@pytest.fixture
def smtp_auth(start_smtp_server: StartServer) -> SmtpServer:
    """A server that requires STARTTLS and then a login before MAIL."""
    return start_smtp_server("starttls", auth=True)

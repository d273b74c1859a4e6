"""Opt-in live test of the O365 backend against a real Microsoft 365 tenant: the scenarios
of tests/test_graph_conformance.py, each run on the real service, every request recorded
and checked against the same rules from Microsoft's documentation (tests/graph_rules.py).

Skipped unless all of these are set:

- ``FTC_TEST_O365_CLIENT_ID``: the app registration (public client flows allowed);
- ``FTC_TEST_O365_TO``: a mailbox you own that may receive about ten test messages;
- a token cache from ``ftc-office auth login``: ``FTC_TEST_O365_TOKEN_CACHE`` or, by
  default, ``o365_token.json`` in your real per-user config folder.

Optional: ``FTC_TEST_O365_TENANT`` (default ``common``); ``FTC_TEST_O365_MAILBOX`` (a shared
mailbox you have Full Access and Send As on: the shared-mailbox scenario, signed in with it
configured so the sign-in asked for the ``.Shared`` scopes); ``FTC_TEST_O365_CLIENT_SECRET``
with ``FTC_TEST_O365_TENANT`` and ``FTC_TEST_O365_MAILBOX`` (the app-only scenario: an app
with the Mail.ReadWrite and Mail.Send application permissions); ``FTC_TEST_O365_GRAPH_URL`` /
``FTC_TEST_O365_AUTHORITY`` (national clouds; on US Government clouds the large-file
scenarios check the refusal instead).

Run: ``FTC_TEST_O365_CLIENT_ID=... FTC_TEST_O365_TO=me@contoso.com .venv/bin/python -m pytest
tests/test_o365_live.py -v``

Not provoked on a real tenant: throttling (429/503) and an ambiguous answer to the send. The
retry-after rule is checked on every recording (it applies if Graph throttled), and the
look-up after a send — by the recorded id and by the key alone — is what the next start does
after an ambiguous answer.

This is the only test that may leave the machine: its ``live_network`` fixture puts back the
real socket functions that the session-wide guard in tests/conftest.py replaced, for these
tests only (monkeypatch restores the guard afterwards). Every other test stays on loopback.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import conftest
import pytest
import requests
from graph_rules import Context, Exchange, violations
from platformdirs import user_config_dir

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.o365 import US_GOV_GRAPH_HOSTS, O365Backend, SendLog
from ftc_office.backends.o365_auth import (
    authority_base,
    build_account,
)
from ftc_office.backends.o365_identity import needed_scopes
from ftc_office.backends.token_cache import ProtectedTokenBackend, cache_path
from ftc_office.config import O365Settings
from ftc_office.errors import MessageError
from ftc_office.message import Attachment, OutgoingMessage
from ftc_office.paths import APP

# Computed at import, before the per-test fixture redirects the config folder.
_CACHE = Path(os.environ.get("FTC_TEST_O365_TOKEN_CACHE")
              or cache_path(Path(user_config_dir(APP, appauthor=False))))
_ENV = {k: os.environ.get(f"FTC_TEST_O365_{k}", "") for k in (
    "CLIENT_ID", "TO", "TENANT", "MAILBOX", "CLIENT_SECRET", "GRAPH_URL", "AUTHORITY")}

pytestmark = pytest.mark.skipif(
    not (_ENV["CLIENT_ID"] and _ENV["TO"] and _CACHE.is_file()),
    reason="live O365 test: set FTC_TEST_O365_CLIENT_ID, FTC_TEST_O365_TO and sign in with "
           "'ftc-office auth login' (or FTC_TEST_O365_TOKEN_CACHE)",
)


@pytest.fixture
def live_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Lift the loopback-only guard for this test (restored by monkeypatch at teardown)."""
    monkeypatch.setattr(socket.socket, "connect", conftest._real_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", conftest._real_connect_ex)
    monkeypatch.setattr(socket, "getaddrinfo", conftest._real_getaddrinfo)
    yield


@dataclasses.dataclass
class Recording:
    """Every Graph and upload request of the test as sent, with the answer; of the sign-in
    requests only the scopes asked for (their bodies hold secrets)."""

    exchanges: list[Exchange] = dataclasses.field(default_factory=list)
    token_scopes: list[str] = dataclasses.field(default_factory=list)


@pytest.fixture
def recording(monkeypatch: pytest.MonkeyPatch) -> Recording:
    """Record at the HTTP library (requests): what left this machine, and what came back."""
    rec = Recording()
    real = requests.Session.send

    def send(self: requests.Session, request: requests.PreparedRequest, **kw: Any
             ) -> requests.Response:
        at = time.time()
        response: requests.Response | None = None
        try:
            response = real(self, request, **kw)
            return response
        finally:
            note(rec, request, response, at)

    monkeypatch.setattr(requests.Session, "send", send)
    return rec


def note(rec: Recording, request: requests.PreparedRequest,
         response: requests.Response | None, at: float) -> None:
    """Add one request (and its answer, if any) to the recording."""
    url = urlsplit(request.url or "")
    body = request.body or b""
    body = body.encode() if isinstance(body, str) else body
    if (url.hostname or "").startswith("login."):
        scope = parse_qs(body.decode(errors="replace")).get("scope", [""])[0]
        rec.token_scopes.extend(scope.split())
        return
    rec.exchanges.append(Exchange(
        str(request.method), unquote(url.path),
        {k: v[0] for k, v in parse_qs(url.query).items()},
        {k.lower(): v for k, v in request.headers.items()}, bytes(body),
        response.status_code if response is not None else 0,
        dict(response.headers) if response is not None else {}, at))


def settings(**overrides: Any) -> O365Settings:
    """The live tenant's settings (from the environment) with ``overrides``."""
    values: dict[str, Any] = dict(
        client_id=_ENV["CLIENT_ID"], tenant_id=_ENV["TENANT"] or "common",
        graph_url=_ENV["GRAPH_URL"] or "https://graph.microsoft.com/",
        authority=_ENV["AUTHORITY"] or "https://login.microsoftonline.com",
        timeout=60.0, max_per_minute=10, daily_recipient_limit=100)
    values.update(overrides)
    return O365Settings(**values)


def granted() -> tuple[str, ...]:
    """The scopes the cached access token carries."""
    tokens = ProtectedTokenBackend(_CACHE)
    tokens.load_token()
    token = tokens.get_access_token() or {}
    return tuple(str(token.get("target", "")).split())


@dataclasses.dataclass
class Live:
    """Backends on the live tenant, and the context the rules need."""

    tmp: Path
    recording: Recording

    def backend(self, **overrides: Any) -> O365Backend:
        """A backend on the cached sign-in (or app-only with ``auth="credentials"``)."""
        tokens = None if overrides.get("auth") == "credentials" else (
            ProtectedTokenBackend(_CACHE))
        b = O365Backend(settings(**overrides), token_backend=tokens,
                        send_log=SendLog(self.tmp / "sends.sqlite"))
        b.open()
        return b

    def check(self, backend: O365Backend) -> None:
        """Every recorded request follows the documented rules."""
        s = backend.settings
        app_only = s.auth == "credentials"
        requested = tuple(self.recording.token_scopes) if app_only else tuple(
            build_account(s, token_backend=ProtectedTokenBackend(_CACHE)).protocol
            .get_scopes_for(list(needed_scopes(s))))
        ctx = Context(graph_url=s.graph_url, app_only=app_only, mailbox=s.mailbox,
                      scopes=() if app_only else granted(), requested_scopes=requested,
                      authority=authority_base(s), user=str(backend.account.con.username or ""))
        assert self.recording.exchanges, "nothing was recorded"
        found = violations(self.recording.exchanges, ctx)
        assert not found, "\n".join(map(str, found))


@pytest.fixture
def live(live_network: None, recording: Recording, tmp_path: Path) -> Live:
    return Live(tmp_path, recording)


def message(tag: str, **kw: Any) -> OutgoingMessage:
    """A test message to FTC_TEST_O365_TO, keyed uniquely."""
    key = f"live.{tag}.{uuid.uuid4().hex[:12]}"
    return OutgoingMessage(key=key, kind="atu", audience="internal",
                           to=(parse_address(_ENV["TO"]),), subject=f"ftc-office live test {key}",
                           text="live test", html="<p>ftc-office live test: you can delete "
                           "this message.</p>", **kw)


def blob(name: str, size: int) -> Attachment:
    """A file of ``size`` bytes."""
    return Attachment(name, os.urandom(size), "application/octet-stream")


def eventually(what: Callable[[], Status | None], want: Status, seconds: float = 120) -> None:
    """Poll until ``what()`` is ``want`` (Sent Items takes a while)."""
    deadline = time.monotonic() + seconds
    got = what()
    while got is not want and time.monotonic() < deadline:
        time.sleep(5)
        got = what()
    assert got is want


def gov() -> bool:
    """The configured Graph is a US Government cloud (no upload sessions)."""
    return (urlsplit(settings().graph_url).hostname or "") in US_GOV_GRAPH_HOSTS


def delete_draft(backend: O365Backend, draft_id: str | None) -> None:
    """Clean up a draft the test left (gone already when it was withdrawn)."""
    mailbox = backend.account.mailbox(resource=backend.settings.mailbox or None)
    try:
        draft = mailbox.get_message(object_id=draft_id) if draft_id else None
    except requests.HTTPError:
        return
    if draft is not None:
        draft.delete()


# -- the scenarios of tests/test_graph_conformance.py, live ------------------------------

def test_live_plain_then_looked_up(live: Live) -> None:
    b = live.backend()
    m = message("plain", cc=(), attachments=(blob("notes.txt", 2000),))
    prepared: list[str] = []
    result = b.deliver(m, prepared.append)
    assert result.status is Status.SENT, result.error
    assert prepared == [result.provider_id]
    eventually(lambda: b.lookup(Sought.of(m, result.provider_id)), Status.SENT)
    eventually(lambda: b.lookup(Sought.of(m)), Status.SENT)  # by the key alone
    live.check(b)


@pytest.mark.parametrize("files", [(("deck.pptx", 7_000_000), ("small.pdf", 1_000_000)),
                                   (("a.bin", 1_572_864), ("b.bin", 1_572_864))],
                         ids=["large-attachment", "three-mib"])
def test_live_attachments(live: Live, files: tuple[tuple[str, int], ...]) -> None:
    b = live.backend()
    m = message("files", attachments=tuple(blob(n, s) for n, s in files))
    if gov() and any(s > 3_000_000 for _, s in files):
        with pytest.raises(MessageError, match="US Government"):
            b.deliver(m)
        assert live.recording.exchanges == []
        return
    result = b.deliver(m)
    assert result.status is Status.SENT, result.error
    live.check(b)


def test_live_draft_mode_then_withdrawn(live: Live) -> None:
    b = live.backend(mode="draft")
    m = message("draft", attachments=() if gov() else (blob("deck.pptx", 3_500_000),))
    result = b.deliver(m)
    try:
        assert result.status is Status.DRAFTED, result.error
        assert b.lookup(Sought.of(m, result.provider_id)) is Status.DRAFTED
        sender = live.backend()  # the next run, in send mode, withdraws the unsent draft
        assert sender.lookup(Sought.of(m)) is Status.DRAFTED
        assert sender.withdraw(Sought.of(m)) is None
        live.check(sender)
    finally:
        delete_draft(b, result.provider_id)


def test_live_deferred_send(live: Live) -> None:
    b = live.backend()
    when = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=3)
    result = b.deliver(message("deferred", deferred_until=when))
    assert result.status is Status.SENT, result.error
    live.check(b)


@pytest.mark.skipif(not _ENV["MAILBOX"], reason="set FTC_TEST_O365_MAILBOX (a shared mailbox)")
def test_live_shared_mailbox_delegated(live: Live) -> None:
    b = live.backend(mailbox=_ENV["MAILBOX"])
    assert b.deliver(message("shared", attachments=(blob("a.txt", 5000),))).status is (
        Status.SENT)
    with pytest.raises(MessageError, match="403"):  # refused before any request
        b.deliver(message("shared.big", attachments=(blob("big.bin", 3_500_000),)))
    live.check(b)


@pytest.mark.skipif(not (_ENV["CLIENT_SECRET"] and _ENV["TENANT"] and _ENV["MAILBOX"]),
                    reason="set FTC_TEST_O365_CLIENT_SECRET, FTC_TEST_O365_TENANT and "
                           "FTC_TEST_O365_MAILBOX (app-only)")
def test_live_app_only_large_file(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTC_O365_CLIENT_SECRET", _ENV["CLIENT_SECRET"])
    b = live.backend(auth="credentials", mailbox=_ENV["MAILBOX"])
    m = message("app", attachments=() if gov() else (blob("deck.pptx", 3_500_000),))
    assert b.deliver(m).status is Status.SENT
    live.check(b)

"""Opt-in live test of the O365 backend against a real Microsoft 365 mailbox.

Skipped unless all of these are set:

- ``FTC_TEST_O365_CLIENT_ID``: the app registration (public client flows allowed);
- ``FTC_TEST_O365_TO``: a mailbox you own that may receive two test messages;
- a token cache from ``ftc-office auth login``: ``FTC_TEST_O365_TOKEN_CACHE`` or, by
  default, ``o365_token.json`` in your real per-user config folder.

Optional: ``FTC_TEST_O365_TENANT`` (default ``common``), ``FTC_TEST_O365_MAILBOX`` (a shared
mailbox), ``FTC_TEST_O365_GRAPH_URL`` / ``FTC_TEST_O365_AUTHORITY`` (national clouds).

Run: ``FTC_TEST_O365_CLIENT_ID=... FTC_TEST_O365_TO=me@contoso.com .venv/bin/pytest
tests/test_o365_live.py -v``

This is the only test that may leave the machine: its ``live_network`` fixture puts back the
real socket functions that the session-wide guard in tests/conftest.py replaced, for these
tests only (monkeypatch restores the guard afterwards). Every other test stays on loopback.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import conftest
import pytest
from platformdirs import user_config_dir

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Status
from ftc_office.backends.o365 import O365Backend, SendLog
from ftc_office.backends.o365_auth import TOKEN_FILE, SecureFileTokenBackend
from ftc_office.config import O365Settings
from ftc_office.message import OutgoingMessage
from ftc_office.paths import APP

# Computed at import, before the per-test fixture redirects the config folder.
_CACHE = Path(os.environ.get("FTC_TEST_O365_TOKEN_CACHE")
              or Path(user_config_dir(APP, appauthor=False)) / TOKEN_FILE)
_CLIENT_ID = os.environ.get("FTC_TEST_O365_CLIENT_ID", "")
_TO = os.environ.get("FTC_TEST_O365_TO", "")

pytestmark = pytest.mark.skipif(
    not (_CLIENT_ID and _TO and _CACHE.is_file()),
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


@pytest.fixture
def backend(live_network: None, tmp_path: Path) -> O365Backend:
    settings = O365Settings(
        client_id=_CLIENT_ID, tenant_id=os.environ.get("FTC_TEST_O365_TENANT", "common"),
        mailbox=os.environ.get("FTC_TEST_O365_MAILBOX", ""),
        graph_url=os.environ.get("FTC_TEST_O365_GRAPH_URL", "https://graph.microsoft.com/"),
        authority=os.environ.get("FTC_TEST_O365_AUTHORITY",
                                 "https://login.microsoftonline.com"),
        timeout=60.0, max_per_minute=10, daily_recipient_limit=100,
    )
    b = O365Backend(settings, token_backend=SecureFileTokenBackend(_CACHE),
                    send_log=SendLog(tmp_path / "sends.sqlite"))
    b.open()
    return b


def _message(key: str) -> OutgoingMessage:
    return OutgoingMessage(key=key, kind="atu", audience="internal", to=(parse_address(_TO),),
                           subject=f"ftc-office live test {key}", text="live test",
                           html="<p>ftc-office live test: you can delete this message.</p>")


def test_live_send_and_find_in_sent_items(backend: O365Backend) -> None:
    message = _message(f"live.{uuid.uuid4().hex[:12]}")
    prepared: list[str] = []
    result = backend.deliver(message, prepared.append)
    assert result.status is Status.SENT, result.error
    assert prepared == [result.provider_id]
    deadline = time.monotonic() + 90
    status = backend.lookup(message, result.provider_id)
    while status is not Status.SENT and time.monotonic() < deadline:
        time.sleep(5)
        status = backend.lookup(message, result.provider_id)
    assert status is Status.SENT


def test_live_draft_mode(backend: O365Backend) -> None:
    import dataclasses

    backend.settings = dataclasses.replace(backend.settings, mode="draft")
    message = _message(f"live.draft.{uuid.uuid4().hex[:12]}")
    result = backend.deliver(message)
    assert result.status is Status.DRAFTED, result.error
    try:
        assert backend.lookup(message, result.provider_id) is Status.DRAFTED
    finally:
        mailbox = backend.account.mailbox(resource=backend.settings.mailbox or None)
        draft = mailbox.get_message(object_id=result.provider_id)
        if draft is not None:
            draft.delete()

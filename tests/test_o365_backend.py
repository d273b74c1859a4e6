"""O365 backend against the fake Graph: the real O365 library does real HTTP to 127.0.0.1.

Only the network edge is fake (tests/fakegraph.py). Assertions are on what the server
received: method, path and JSON.
"""

from __future__ import annotations

import base64
import logging
import os
import stat
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fakegraph import (
    FakeAuthority,
    FakeGraph,
    ManualClock,
    fake_authority_fixture,  # noqa: F401  (fixture "fake_authority")
    fake_graph_fixture,  # noqa: F401  (fixture "fake_graph")
    seed_token_cache,
)
from O365.utils.token import MemoryTokenBackend

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.o365 import KEY_PROPERTY_ID, O365Backend, SendLog
from ftc_office.backends.o365_auth import (
    SecureFileTokenBackend,
    authority_base,
    graph_url,
    token_cache_path,
)
from ftc_office.config import O365Settings
from ftc_office.errors import DeliveryError, MessageError
from ftc_office.message import KEY_HEADER, Attachment, OutgoingMessage

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SCOPES = ["Mail.ReadWrite", "Mail.Send", "User.Read"]
SEED_TOKEN = "seed-access-token-valid-abcdefgh"


class FakeClock:
    """Wall-clock-like time that only moves when slept."""

    def __init__(self) -> None:
        self.now = time.time()
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(round(seconds, 3))
        self.now += seconds


def msg(key: str = "atu.t1.teams.abc123", *, to: tuple[str, ...] = ("ann@microsoft.com",),
        cc: tuple[str, ...] = (), attachments: tuple[Attachment, ...] = (),
        html: str = "<p>hi</p>") -> OutgoingMessage:
    return OutgoingMessage(key=key, kind="atu", audience="internal",
                           to=tuple(parse_address(a) for a in to),
                           cc=tuple(parse_address(a) for a in cc),
                           subject="Enablement complete", text="hi", html=html,
                           attachments=attachments)


def settings_for(graph: FakeGraph, **overrides: Any) -> O365Settings:
    values: dict[str, Any] = {
        "client_id": CLIENT_ID, "graph_url": graph.url, "timeout": 2.0, "max_retries": 3,
        "max_retry_wait": 1.0, "max_per_minute": 10_000, "daily_recipient_limit": 10_000,
        "sent_items_grace": 300.0,
    }
    values.update(overrides)
    return O365Settings(**values)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_backend(fake_graph: FakeGraph, clock: FakeClock, tmp_path: Path
                 ) -> Callable[..., O365Backend]:
    def make(**overrides: Any) -> O365Backend:
        tb = MemoryTokenBackend()
        seed_token_cache(tb, None, client_id=CLIENT_ID, scopes=SCOPES, expires_in=10 * 86400,
                         access_token=SEED_TOKEN, refresh_token="seed-rt")
        return O365Backend(settings_for(fake_graph, **overrides), clock=clock.time,
                           sleep=clock.sleep, token_backend=tb, requests_delay_ms=0,
                           send_log=SendLog(tmp_path / "sends.sqlite"))
    return make


def graph_calls(fake: FakeGraph) -> list[tuple[str, str]]:
    return [(r.method, r.path) for r in fake.requests]


# -- the normal path -------------------------------------------------------------------


def test_draft_then_send_two_requests_and_no_sendmail(fake_graph: FakeGraph,
                                                      make_backend: Any) -> None:
    backend = make_backend()
    seen_at_prepare: list[tuple[str, int]] = []

    def prepared(draft_id: str) -> None:
        seen_at_prepare.append((draft_id, len(fake_graph.calls("POST", "/send"))))

    result = backend.deliver(msg(cc=("bob@microsoft.com",)), prepared)

    assert result.status is Status.SENT
    assert result.provider_id and result.provider_id.startswith("draft-")
    assert seen_at_prepare == [(result.provider_id, 0)]  # recorded before the send
    assert graph_calls(fake_graph) == [
        ("POST", "/v1.0/me/mailFolders/Drafts/messages"),
        ("POST", f"/v1.0/me/messages/{result.provider_id}/send"),
    ]
    assert not fake_graph.calls(contains="sendMail")
    create = fake_graph.requests[0].json
    assert create["subject"] == "Enablement complete"
    assert create["body"] == {"contentType": "HTML", "content": "<p>hi</p>"}
    assert [r["emailAddress"]["address"] for r in create["toRecipients"]] == [
        "ann@microsoft.com"]
    assert [r["emailAddress"]["address"] for r in create["ccRecipients"]] == [
        "bob@microsoft.com"]
    assert {"name": KEY_HEADER, "value": "atu.t1.teams.abc123"} in create[
        "internetMessageHeaders"]
    assert create["singleValueExtendedProperties"] == [
        {"id": KEY_PROPERTY_ID, "value": "atu.t1.teams.abc123"}]
    assert fake_graph.requests[1].body == b""
    assert fake_graph.requests[0].headers["authorization"] == f"Bearer {SEED_TOKEN}"
    assert len(fake_graph.sent_with_key("atu.t1.teams.abc123")) == 1
    assert not fake_graph.drafts


def test_draft_mode_stops_after_the_draft(fake_graph: FakeGraph, make_backend: Any) -> None:
    backend = make_backend(mode="draft")
    result = backend.deliver(msg())
    assert result.status is Status.DRAFTED
    assert graph_calls(fake_graph) == [("POST", "/v1.0/me/mailFolders/Drafts/messages")]
    assert result.provider_id in fake_graph.drafts
    assert not fake_graph.sent
    assert backend.lookup(Sought.of(msg(), result.provider_id)) is Status.DRAFTED
    assert backend.lookup(Sought.of(msg())) is Status.DRAFTED  # found by key in Drafts


def test_small_attachments_travel_inline(fake_graph: FakeGraph, make_backend: Any) -> None:
    a1 = Attachment("report.pdf", b"%PDF-1.7 " + os.urandom(1000), "application/pdf")
    a2 = Attachment("notes.txt", b"hello", "text/plain")
    result = make_backend().deliver(msg(attachments=(a1, a2)))
    assert result.status is Status.SENT
    assert len(fake_graph.requests) == 2
    atts = fake_graph.requests[0].json["attachments"]
    assert [(a["name"], base64.b64decode(a["contentBytes"])) for a in atts] == [
        ("report.pdf", a1.content), ("notes.txt", a2.content)]
    assert all(a["@odata.type"] == "#microsoft.graph.fileAttachment" for a in atts)


def test_large_attachment_goes_through_an_upload_session(fake_graph: FakeGraph,
                                                         make_backend: Any) -> None:
    big = Attachment("deck.pptx", os.urandom(int(3.5 * 1024 * 1024)), "application/x-deck")
    small = Attachment("notes.txt", b"hello", "text/plain")
    result = make_backend().deliver(msg(attachments=(big, small)))
    assert result.status is Status.SENT, result.error
    draft_id = result.provider_id
    paths = graph_calls(fake_graph)
    assert paths[0] == ("POST", "/v1.0/me/mailFolders/Drafts/messages")
    assert "attachments" not in fake_graph.requests[0].json  # nothing inline: > 3 MB total
    assert ("POST", f"/v1.0/me/messages/{draft_id}/attachments/createUploadSession") in paths
    assert ("POST", f"/v1.0/me/messages/{draft_id}/attachments") in paths
    assert paths[-1] == ("POST", f"/v1.0/me/messages/{draft_id}/send")
    session = fake_graph.calls("POST", "createUploadSession")[0].json["attachmentItem"]
    assert session["name"] == "deck.pptx" and session["size"] == len(big.content)
    puts = fake_graph.calls("PUT", "/upload/")
    assert len(puts) == 2  # 3 MB chunks
    assert all("authorization" not in p.headers for p in puts)  # upload URL needs no token
    assert [p.headers["content-range"] for p in puts] == [
        f"bytes 0-{3 * 1024 * 1024 - 1}/{len(big.content)}",
        f"bytes {3 * 1024 * 1024}-{len(big.content) - 1}/{len(big.content)}"]
    assert b"".join(p.body for p in puts) == big.content
    sent = fake_graph.sent_with_key("atu.t1.teams.abc123")[0]
    got = {a["name"]: base64.b64decode(a["contentBytes"]) for a in sent.attachments}
    assert got == {"deck.pptx": big.content, "notes.txt": small.content}


# -- lookups ---------------------------------------------------------------------------


def test_lookup_finds_the_sent_copy_by_key(fake_graph: FakeGraph, make_backend: Any) -> None:
    backend = make_backend()
    m = msg(key="atu.t1.it's-ok.1")
    result = backend.deliver(m)
    fake_graph.reset_requests()

    assert backend.lookup(Sought.of(m)) is Status.SENT
    (search,) = fake_graph.calls("GET")
    assert search.path == "/v1.0/me/mailFolders/SentItems/messages"
    assert search.query["$filter"] == (
        f"singleValueExtendedProperties/any(ep: ep/id eq '{KEY_PROPERTY_ID}' "
        "and ep/value eq 'atu.t1.it''s-ok.1')")

    fake_graph.reset_requests()
    # an immutable id: the draft id names the sent item, no search needed
    assert backend.lookup(Sought.of(m, result.provider_id)) is Status.SENT
    assert [(r.method, r.path) for r in fake_graph.requests] == [
        ("GET", f"/v1.0/me/messages/{result.provider_id}")]


def test_lookup_of_a_message_never_sent_is_none(fake_graph: FakeGraph,
                                                make_backend: Any) -> None:
    assert make_backend().lookup(Sought.of(msg(key="never.sent"))) is None


# -- retries and ambiguous outcomes ----------------------------------------------------


def test_429_with_retry_after_then_success(fake_graph: FakeGraph, make_backend: Any,
                                           clock: FakeClock) -> None:
    fake_graph.fail("POST", r"/send$", "throttle", retry_after=0.25)
    result = make_backend().deliver(msg())
    assert result.status is Status.SENT
    assert clock.sleeps == [0.25]
    assert len(fake_graph.calls("POST", "/send")) == 2
    assert len(fake_graph.sent) == 1


def test_retry_after_longer_than_max_retry_wait_is_not_retried_early(
        fake_graph: FakeGraph, make_backend: Any, clock: FakeClock) -> None:
    """Microsoft's throttling guidance: wait as long as Retry-After asks. Longer than we
    are willing to wait: stop, nothing sent, the message stays for the next run."""
    fake_graph.fail("POST", r"Drafts/messages$", "throttle", retry_after=3600)
    result = make_backend(max_retry_wait=0.5).deliver(msg())
    assert result.status is Status.FAILED_RETRYABLE
    assert "asks to wait 3600 s" in (result.error or "")
    assert clock.sleeps == []
    assert len(fake_graph.calls("POST", "Drafts/messages")) == 1
    assert fake_graph.sent == []


def test_503_retries_exhausted_is_retryable_and_nothing_sent(fake_graph: FakeGraph,
                                                             make_backend: Any) -> None:
    fake_graph.fail("POST", r"Drafts/messages$", "unavailable", times=99, retry_after=0.01)
    result = make_backend(max_retries=2).deliver(msg())
    assert result.status is Status.FAILED_RETRYABLE
    assert len(fake_graph.calls("POST", "Drafts/messages")) == 3
    assert not fake_graph.sent and not fake_graph.drafts


def test_429_on_send_exhausted_deletes_the_draft(fake_graph: FakeGraph,
                                                 make_backend: Any) -> None:
    fake_graph.fail("POST", r"/send$", "throttle", times=99, retry_after=0)
    backend = make_backend(max_retries=1)
    result = backend.deliver(msg())
    assert result.status is Status.FAILED_RETRYABLE
    assert not fake_graph.sent and not fake_graph.drafts
    assert fake_graph.requests[-1].method == "DELETE"
    # not counted against the daily limit
    assert backend.send_log.recipients_since(backend.mailbox_key, 0) == 0


def test_500_after_accepting_is_unknown_and_lookup_finds_it(fake_graph: FakeGraph,
                                                            make_backend: Any,
                                                            clock: FakeClock) -> None:
    fake_graph.fail("POST", r"/send$", "error_after", status=500)
    fake_graph.clock = graph_clock = ManualClock()  # Sent Items lag: moves when told
    fake_graph.sent_items_delay = 60
    backend = make_backend()
    m = msg()
    result = backend.deliver(m)
    assert result.status is Status.UNKNOWN
    assert result.provider_id
    assert len(fake_graph.sent) == 1  # it really went out
    # Sent Items copy not visible yet, inside the grace period: cannot tell
    assert backend.lookup(Sought.of(m, result.provider_id)) is Status.UNKNOWN
    graph_clock.advance(61)
    assert backend.lookup(Sought.of(m, result.provider_id)) is Status.SENT
    assert len(fake_graph.calls("POST", "/send")) == 1  # never sent again


def test_not_found_after_the_grace_period_is_none(fake_graph: FakeGraph, make_backend: Any,
                                                  clock: FakeClock) -> None:
    fake_graph.fail("POST", r"/send$", "drop_before")  # closed before Graph did anything
    backend = make_backend(sent_items_grace=60)
    m = msg()
    result = backend.deliver(m)
    assert result.status is Status.UNKNOWN  # the client cannot know it was not sent;
    assert backend.lookup(Sought.of(m, result.provider_id)) is Status.DRAFTED  # still a draft
    del fake_graph.drafts[result.provider_id]  # say a person deleted it
    assert backend.lookup(Sought.of(m, result.provider_id)) is Status.UNKNOWN
    clock.now += 61
    assert backend.lookup(Sought.of(m, result.provider_id)) is None


def test_timeout_after_accepting_is_unknown(fake_graph: FakeGraph, make_backend: Any) -> None:
    # the server never answers (until it stops): only the client's own timeout returns
    fake_graph.fail("POST", r"/send$", "hang_after", hang=3600)
    backend = make_backend(timeout=0.5)
    result = backend.deliver(msg())
    assert result.status is Status.UNKNOWN
    assert len(fake_graph.sent) == 1
    assert backend.lookup(Sought.of(msg(), result.provider_id)) is Status.SENT


def test_dropped_connection_after_accepting_is_unknown(fake_graph: FakeGraph,
                                                       make_backend: Any) -> None:
    fake_graph.fail("POST", r"/send$", "drop_after")
    result = make_backend().deliver(msg())
    assert result.status is Status.UNKNOWN
    assert len(fake_graph.sent) == 1


def test_timeout_creating_the_draft_sends_nothing(fake_graph: FakeGraph,
                                                  make_backend: Any) -> None:
    fake_graph.fail("POST", r"Drafts/messages$", "hang_after", hang=2)
    result = make_backend(timeout=0.5).deliver(msg())
    assert result.status is Status.FAILED_RETRYABLE
    assert not fake_graph.sent
    assert not fake_graph.drafts  # the stray draft was found by key and deleted


def test_invalid_recipient_is_permanent(fake_graph: FakeGraph, make_backend: Any) -> None:
    fake_graph.invalid_recipients.add("nobody@contoso.com")
    result = make_backend().deliver(msg(to=("nobody@contoso.com",)))
    assert result.status is Status.FAILED_PERMANENT
    assert result.error and "ErrorInvalidRecipients" in result.error
    assert result.refused == ("nobody@contoso.com",)
    assert not fake_graph.sent and not fake_graph.drafts


def test_413_is_permanent(fake_graph: FakeGraph, make_backend: Any) -> None:
    fake_graph.fail("POST", r"Drafts/messages$", "error", status=413,
                    code="ErrorMessageSizeExceeded")
    result = make_backend().deliver(msg())
    assert result.status is Status.FAILED_PERMANENT
    assert "413" in (result.error or "")


def test_oversize_message_is_refused_before_any_request(fake_graph: FakeGraph,
                                                        make_backend: Any) -> None:
    big = Attachment("big.bin", b"\0" * (2 * 1024 * 1024), "application/octet-stream")
    with pytest.raises(MessageError, match="limit"):
        make_backend(max_message_mb=1).deliver(msg(attachments=(big,)))
    assert fake_graph.requests == []


# -- pacing and limits -----------------------------------------------------------------


def test_pacing_sliding_window(fake_graph: FakeGraph, make_backend: Any,
                               clock: FakeClock) -> None:
    backend = make_backend(max_per_minute=2)
    start = clock.now
    for i in range(5):
        assert backend.deliver(msg(key=f"k.{i}")).status is Status.SENT
    times = backend.send_log.times_since(backend.mailbox_key, 0)
    assert len(times) == 5
    for i, t in enumerate(times):
        assert len([u for u in times if t - 60 < u <= t]) <= 2, (i, times)
    assert clock.now - start >= 120
    assert len(fake_graph.sent) == 5


def test_daily_recipient_limit_persists(fake_graph: FakeGraph, make_backend: Any,
                                        clock: FakeClock) -> None:
    two = ("ann@microsoft.com", "bob@microsoft.com")
    backend = make_backend(daily_recipient_limit=5)
    assert backend.deliver(msg(key="d.1", to=two)).status is Status.SENT
    assert backend.deliver(msg(key="d.2", to=two)).status is Status.SENT
    before = len(fake_graph.requests)
    with pytest.raises(DeliveryError, match="daily limit"):
        backend.deliver(msg(key="d.3", to=two))
    assert len(fake_graph.requests) == before
    again = make_backend(daily_recipient_limit=5)  # a restart: same SQLite file
    with pytest.raises(DeliveryError):
        again.deliver(msg(key="d.3", to=two))
    clock.now += 24 * 3600 + 1
    assert again.deliver(msg(key="d.3", to=two)).status is Status.SENT


def test_send_log_lives_in_the_data_dir(fake_graph: FakeGraph) -> None:
    log = SendLog()
    assert log.path.parent == Path(os.environ["FTC_OFFICE_DATA_DIR"])


# -- mailboxes, clouds, tokens ---------------------------------------------------------


def test_shared_mailbox_paths(fake_graph: FakeGraph, make_backend: Any) -> None:
    backend = make_backend(mailbox="team@contoso.com")
    result = backend.deliver(msg())
    assert result.status is Status.SENT
    assert graph_calls(fake_graph) == [
        ("POST", "/v1.0/users/team@contoso.com/mailFolders/Drafts/messages"),
        ("POST", f"/v1.0/users/team@contoso.com/messages/{result.provider_id}/send"),
    ]
    assert backend.lookup(Sought.of(msg())) is Status.SENT
    assert fake_graph.requests[-1].path == (
        "/v1.0/users/team@contoso.com/mailFolders/SentItems/messages")


def test_national_cloud_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    gcc = O365Settings(graph_url="https://graph.microsoft.us")
    assert graph_url(gcc) == "https://graph.microsoft.us/"
    assert authority_base(gcc) == "https://login.microsoftonline.us"
    monkeypatch.setenv("FTC_O365_GRAPH_URL", "https://dod-graph.microsoft.us/")
    monkeypatch.setenv("FTC_O365_AUTHORITY", "https://login.example.test/")
    assert graph_url(O365Settings()) == "https://dod-graph.microsoft.us/"
    assert authority_base(O365Settings()) == "https://login.example.test"


def test_token_cache_file_is_0600(monkeypatch: pytest.MonkeyPatch) -> None:
    os.umask(0o022)
    path = token_cache_path()
    assert path.parent == Path(os.environ["FTC_OFFICE_CONFIG_DIR"])
    backend = SecureFileTokenBackend(path)
    seed_token_cache(backend, None, client_id=CLIENT_ID, scopes=SCOPES, expires_in=3600)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.chmod(0o644)
    assert SecureFileTokenBackend(path).load_token()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_expired_token_is_refreshed_through_msal(fake_graph: FakeGraph,
                                                 fake_authority: FakeAuthority,
                                                 caplog: pytest.LogCaptureFixture,
                                                 tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    cache = SecureFileTokenBackend(token_cache_path())
    stale = seed_token_cache(cache, fake_authority, client_id=CLIENT_ID,
                             scopes=[f"{fake_graph.url}{s}" for s in SCOPES], expires_in=-60,
                             refresh_token="rt-first")
    fake_graph.valid_tokens = set()  # only tokens the authority issues are accepted
    settings = settings_for(fake_graph, authority=fake_authority.url,
                            tenant_id=fake_authority.tenant)
    backend = O365Backend(settings, verify=str(fake_authority.ca_path), requests_delay_ms=0,
                          send_log=SendLog(tmp_path / "s.sqlite"))
    backend.open()
    assert fake_authority.grants() == ["refresh_token"]
    body = "<p>confidential body 42</p>"
    result = backend.deliver(msg(html=body))
    assert result.status is Status.SENT
    new_token = fake_authority.issued[-1]
    assert {r.headers["authorization"] for r in fake_graph.requests} == {f"Bearer {new_token}"}
    assert stat.S_IMODE(token_cache_path().stat().st_mode) == 0o600
    assert new_token in token_cache_path().read_text()
    # a second batch with the fresh token: no new token request
    backend2 = O365Backend(settings, verify=str(fake_authority.ca_path), requests_delay_ms=0,
                           send_log=SendLog(tmp_path / "s.sqlite"))
    backend2.open()
    assert fake_authority.grants() == ["refresh_token"]
    # nothing secret reached the logs, even at DEBUG
    secrets = [stale, new_token, "rt-first", *fake_authority.refresh_tokens]
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records  # we did capture something
    for secret in secrets:
        assert secret not in text
    assert body not in text


def test_no_token_or_body_in_debug_logs(fake_graph: FakeGraph, make_backend: Any,
                                        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    big = Attachment("deck.pptx", os.urandom(3 * 1024 * 1024 + 10), "application/x-deck")
    fake_graph.fail("POST", r"/send$", "throttle", retry_after=0)
    backend = make_backend()
    body = "<p>confidential body 43</p>"
    assert backend.deliver(msg(html=body, attachments=(big,))).status is Status.SENT
    text = caplog.text
    assert "sent" in text  # our own INFO line is there
    assert SEED_TOKEN not in text and "seed-rt" not in text
    assert body not in text and "/upload/" not in text
    assert logging.getLogger("O365").getEffectiveLevel() >= logging.WARNING


def test_app_only_credentials_to_a_shared_mailbox(fake_graph: FakeGraph,
                                                  fake_authority: FakeAuthority,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("FTC_O365_CLIENT_SECRET", "s3cret-value")
    fake_graph.valid_tokens = set()
    settings = settings_for(fake_graph, auth="credentials", tenant_id=fake_authority.tenant,
                            mailbox="team@contoso.com", authority=fake_authority.url)
    backend = O365Backend(settings, verify=str(fake_authority.ca_path), requests_delay_ms=0,
                          send_log=SendLog(tmp_path / "s.sqlite"))
    backend.open()
    assert fake_authority.grants() == ["client_credentials"]
    token_form = [r["form"] for r in fake_authority.requests if r["path"].endswith("/token")]
    assert token_form[0]["scope"] == f"{fake_graph.url}.default"
    result = backend.deliver(msg())
    assert result.status is Status.SENT
    assert fake_graph.requests[0].path == (
        "/v1.0/users/team@contoso.com/mailFolders/Drafts/messages")
    assert "s3cret-value" not in token_cache_path(settings).read_text()


def test_app_only_without_secret_is_a_clear_error(fake_graph: FakeGraph,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FTC_O365_CLIENT_SECRET", raising=False)
    settings = settings_for(fake_graph, auth="credentials", tenant_id="t",
                            mailbox="team@contoso.com")
    with pytest.raises(DeliveryError, match="FTC_O365_CLIENT_SECRET"):
        O365Backend(settings).open()


def test_not_signed_in_is_a_clear_error(fake_graph: FakeGraph) -> None:
    with pytest.raises(DeliveryError, match="auth login"):
        O365Backend(settings_for(fake_graph)).open()
    assert fake_graph.requests == []


def test_draft_mode_ambiguous_create_is_unknown_and_found_by_key(fake_graph: FakeGraph,
                                                                  make_backend: Any) -> None:
    fake_graph.fail("POST", r"Drafts/messages$", "error_after", status=502)
    backend = make_backend(mode="draft")
    result = backend.deliver(msg())
    assert result.status is Status.UNKNOWN  # a draft may exist: never create a second blindly
    assert len(fake_graph.drafts) == 1
    assert backend.lookup(Sought.of(msg())) is Status.DRAFTED


def test_refused_token_stops_the_batch(fake_graph: FakeGraph, make_backend: Any) -> None:
    fake_graph.valid_tokens = set()  # Graph refuses the (unexpired) cached token
    with pytest.raises(DeliveryError, match="auth login"):
        make_backend().deliver(msg())
    assert not fake_graph.drafts and not fake_graph.sent

"""The o365 backend where Graph is ambiguous or strict (issues 18 and 20), against the fake
Graph with the real O365 library: a retried send never turns a sent message into "failed",
the inline-or-upload decision on the encoded request size, the refusals before the first
request (shared mailbox + delegated sign-in + large file; US Government clouds), immutable
ids, and the fake's own strictness."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
import test_o365_backend
from fakegraph import FakeGraph, fake_graph_fixture, seed_token_cache  # noqa: F401
from O365.utils.token import MemoryTokenBackend
from test_o365_backend import CLIENT_ID, SCOPES, SEED_TOKEN, msg, settings_for

from ftc_office.backends.base import Sought, Status
from ftc_office.backends.o365 import O365Backend, SendLog
from ftc_office.backends.o365_graph import create_request_size
from ftc_office.errors import MessageError
from ftc_office.message import Attachment, OutgoingMessage

clock = test_o365_backend.clock  # the fixtures of the backend tests
make_backend = test_o365_backend.make_backend


def rerun(backend: O365Backend, m: OutgoingMessage, provider_id: str | None) -> Status:
    """What the next start does with an entry in doubt (run/reconcile.py): look it up,
    withdraw an unsent draft, and send afresh what is certainly not sent."""
    found = backend.lookup(Sought.of(m, provider_id))
    if found is Status.DRAFTED:
        found = backend.withdraw(Sought.of(m, provider_id))
    if found is None:
        return backend.deliver(m).status
    assert found is not None
    return found


# -- #20.3: a retry can never turn a sent message into "failed" ------------------------


def test_503_then_404_is_unknown_and_one_message_in_the_end(fake_graph: FakeGraph,
                                                           make_backend: Any) -> None:
    # the first send went through (the draft moved to Sent Items) but answered 503; the
    # retry finds no draft: 404 ErrorItemNotFound
    fake_graph.fail("POST", r"/send$", "error_after", status=503)
    m = msg()
    result = make_backend().deliver(m)
    assert result.status is Status.UNKNOWN, result.error
    assert [r.method for r in fake_graph.calls("POST", "/send")] == ["POST", "POST"]
    assert len(fake_graph.sent_with_key(m.key)) == 1
    assert rerun(make_backend(), m, result.provider_id) is Status.SENT
    assert len(fake_graph.sent_with_key(m.key)) == 1  # exactly one across run and rerun
    assert len(fake_graph.calls("POST", "/send")) == 2


def test_503_exhausted_on_send_is_unknown_and_the_rerun_sends_once(fake_graph: FakeGraph,
                                                                   make_backend: Any,
                                                                   clock: Any) -> None:
    fake_graph.fail("POST", r"/send$", "unavailable", times=2, retry_after=0)
    m = msg()
    result = make_backend(max_retries=1).deliver(m)
    assert result.status is Status.UNKNOWN  # a 503 may come after Exchange acted
    assert result.provider_id in fake_graph.drafts  # kept for the lookup
    clock.now += 10_000  # past the Sent Items grace period
    assert rerun(make_backend(), m, result.provider_id) is Status.SENT
    assert len(fake_graph.sent_with_key(m.key)) == 1
    assert not fake_graph.drafts


def test_5xx_on_send_is_unknown_and_the_rerun_does_not_send_again(fake_graph: FakeGraph,
                                                                  make_backend: Any) -> None:
    fake_graph.fail("POST", r"/send$", "error_after", status=502)
    m = msg()
    result = make_backend().deliver(m)
    assert result.status is Status.UNKNOWN
    assert rerun(make_backend(), m, result.provider_id) is Status.SENT
    assert len(fake_graph.sent_with_key(m.key)) == 1


def test_timeout_on_send_is_unknown_and_the_rerun_does_not_send_again(
        fake_graph: FakeGraph, make_backend: Any) -> None:
    fake_graph.fail("POST", r"/send$", "hang_after", hang=3600)
    m = msg()
    result = make_backend(timeout=0.5).deliver(m)
    assert result.status is Status.UNKNOWN
    assert rerun(make_backend(), m, result.provider_id) is Status.SENT
    assert len(fake_graph.sent_with_key(m.key)) == 1


def test_reset_after_the_request_is_unknown_and_the_rerun_does_not_send_again(
        fake_graph: FakeGraph, make_backend: Any) -> None:
    fake_graph.fail("POST", r"/send$", "drop_after")
    m = msg()
    result = make_backend().deliver(m)
    assert result.status is Status.UNKNOWN
    assert rerun(make_backend(), m, result.provider_id) is Status.SENT
    assert len(fake_graph.sent_with_key(m.key)) == 1


def test_connection_refused_on_send_stays_failed_retryable(fake_graph: FakeGraph,
                                                           make_backend: Any) -> None:
    fake_graph.fail("POST", r"Drafts/messages$", "reply_close")  # no keep-alive to reuse
    m = msg()
    result = make_backend(max_retries=1).deliver(m, lambda _id: fake_graph.stop())
    assert result.status is Status.FAILED_RETRYABLE, result.error  # nothing left the machine
    assert not fake_graph.sent
    assert len(fake_graph.calls("POST", "/send")) == 0


@pytest.fixture
def tls_graph(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeGraph]:
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):  # they would replace `verify`
        monkeypatch.delenv(name, raising=False)
    graph = FakeGraph()
    graph.use_tls(tmp_path)
    graph.start()
    try:
        yield graph
    finally:
        graph.stop()


def tls_backend(graph: FakeGraph, tmp_path: Path, clock: Any) -> O365Backend:
    tb = MemoryTokenBackend()
    seed_token_cache(tb, None, client_id=CLIENT_ID, scopes=SCOPES, expires_in=10 * 86400,
                     access_token=SEED_TOKEN, refresh_token="seed-rt")
    return O365Backend(settings_for(graph, max_retries=1), clock=clock.time,
                       sleep=clock.sleep, token_backend=tb, requests_delay_ms=0,
                       verify=str(graph.ca_path), send_log=SendLog(tmp_path / "s.sqlite"))


def test_ssl_error_after_the_request_went_out_is_unknown(tls_graph: FakeGraph,
                                                        tmp_path: Path, clock: Any) -> None:
    tls_graph.fail("POST", r"/send$", "tls_garbage_after")
    m = msg()
    result = tls_backend(tls_graph, tmp_path, clock).deliver(m)
    assert result.status is Status.UNKNOWN, result.error
    assert "SSLError" in (result.error or "")
    assert len(tls_graph.calls("POST", "/send")) == 1  # not retried blindly
    assert rerun(tls_backend(tls_graph, tmp_path, clock), m, result.provider_id
                 ) is Status.SENT
    assert len(tls_graph.sent_with_key(m.key)) == 1


def test_tls_handshake_failure_on_send_stays_failed_retryable(tls_graph: FakeGraph,
                                                              tmp_path: Path,
                                                              clock: Any) -> None:
    tls_graph.fail("POST", r"Drafts/messages$", "reply_close")  # the send connects afresh

    def prepared(_id: str) -> None:
        tls_graph.break_tls()

    result = tls_backend(tls_graph, tmp_path, clock).deliver(msg(), prepared)
    assert result.status is Status.FAILED_RETRYABLE, result.error
    assert not tls_graph.sent and not tls_graph.calls("POST", "/send")


# -- #18.1 case 3: embed or upload on the encoded request size -------------------------


@pytest.mark.parametrize("sizes", [(3_142_000,), (3_144_000,), (3_145_728,),
                                   (1_572_864, 1_572_864), (3_100_000, 45_728)])
def test_just_under_3_mib_takes_the_upload_path(fake_graph: FakeGraph, make_backend: Any,
                                                sizes: tuple[int, ...]) -> None:
    files = tuple(Attachment(f"f{i}.bin", bytes([i + 1]) * n, "application/octet-stream")
                  for i, n in enumerate(sizes))
    m = msg(attachments=files)
    result = make_backend().deliver(m)
    assert result.status is Status.SENT, result.error
    assert "attachments" not in fake_graph.requests[0].json  # not embedded
    assert max(len(r.body) for r in fake_graph.requests) <= 4 * 1024 * 1024  # no 413
    sent = fake_graph.sent_with_key(m.key)[0]
    got = {a["name"]: len(base64.b64decode(a["contentBytes"])) for a in sent.attachments}
    assert got == {f.filename: len(f.content) for f in files}


def test_the_estimate_covers_the_real_create_request(fake_graph: FakeGraph,
                                                     make_backend: Any) -> None:
    files = (Attachment("ä-report.pdf", b"\xff" * 3_000_000, "application/pdf"),)
    m = msg(attachments=files, html="<p>" + "é" * 5000 + "</p>")
    assert make_backend().deliver(m).status is Status.SENT
    create = fake_graph.requests[0]
    assert "attachments" in create.json  # embedded: well inside the limit
    assert len(create.body) <= create_request_size(m) <= 4 * 1024 * 1024


# -- #18.1 cases 1-2: refused before the first request ---------------------------------


BIG = Attachment("deck.pptx", b"\x01" * (3_500_000), "application/x-deck")


def test_shared_mailbox_delegated_large_file_is_refused_before_any_request(
        fake_graph: FakeGraph, make_backend: Any) -> None:
    backend = make_backend(mailbox="team@contoso.com")
    with pytest.raises(MessageError) as err:
        backend.deliver(msg(attachments=(BIG,)))
    text = str(err.value)
    assert "team@contoso.com" in text and "403" in text
    assert 'auth = "credentials"' in text  # what works instead
    assert fake_graph.requests == []
    small = Attachment("notes.txt", b"x" * 1000, "text/plain")  # small files still go
    assert backend.deliver(msg(attachments=(small,))).status is Status.SENT


def test_the_fake_refuses_a_delegated_upload_session_in_a_shared_mailbox(
        fake_graph: FakeGraph, make_backend: Any) -> None:
    backend = make_backend(mailbox="team@contoso.com")
    draft = backend.account.new_message(resource="team@contoso.com")
    draft.to.add("ann@microsoft.com")
    draft.save_draft()
    draft.attachments.add([(BytesIO(BIG.content), BIG.filename)])
    with pytest.raises(requests.HTTPError) as err:
        draft.save_draft()
    assert err.value.response.status_code == 403


def test_us_government_cloud_large_file_is_refused_before_any_request(
        fake_graph: FakeGraph, make_backend: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FTC_O365_GRAPH_URL", fake_graph.url)  # the fake stands in for it
    backend = make_backend(graph_url="https://graph.microsoft.us/")
    with pytest.raises(MessageError, match=r"US Government.*links"):
        backend.deliver(msg(attachments=(BIG,)))
    assert fake_graph.requests == []
    assert backend.deliver(msg()).status is Status.SENT  # no large file: fine
    fake_graph.cloud = "usgov"  # and the fake has no upload sessions there
    draft = backend.account.new_message()
    draft.to.add("ann@microsoft.com")
    draft.save_draft()
    draft.attachments.add([(BytesIO(BIG.content), BIG.filename)])
    with pytest.raises(requests.HTTPError) as err:
        draft.save_draft()
    assert err.value.response.status_code == 400


# -- #18.2: immutable ids ----------------------------------------------------------------


def test_immutable_ids_keep_the_draft_id_valid_after_the_send(fake_graph: FakeGraph,
                                                              make_backend: Any) -> None:
    backend = make_backend()
    m = msg()
    result = backend.deliver(m)
    assert result.status is Status.SENT
    for r in fake_graph.requests:
        assert 'IdType="ImmutableId"' in r.headers.get("prefer", ""), r.path
    (sent,) = fake_graph.sent_with_key(m.key)
    assert sent.id == result.provider_id  # the recorded id names the Sent Items copy
    fake_graph.reset_requests()
    assert backend.lookup(Sought.of(m, result.provider_id)) is Status.SENT
    assert 'IdType="ImmutableId"' in fake_graph.requests[0].headers["prefer"]


def test_the_fake_changes_a_regular_id_on_move(fake_graph: FakeGraph,
                                               make_backend: Any) -> None:
    backend = make_backend()
    backend.account.con.default_headers = {}  # a client that does not ask
    m = msg()
    result = backend.deliver(m)
    (sent,) = fake_graph.sent_with_key(m.key)
    assert sent.id != result.provider_id


# -- #18.3: the fake as strict as Graph (filters) ---------------------------------------


def test_the_fake_refuses_a_filter_it_cannot_parse(fake_graph: FakeGraph,
                                                   make_backend: Any) -> None:
    backend = make_backend()
    backend.deliver(msg())
    con, url = backend.account.con, fake_graph.url + "v1.0/me/mailFolders/SentItems/messages"
    with pytest.raises(requests.HTTPError) as err:
        con.get(url, params={"$filter": "singleValueExtendedProperties/any(ep: ep/id eq)"})
    assert err.value.response.status_code == 400
    assert err.value.response.json()["error"]["code"] == "BadRequest"
    found = con.get(url, params={"$filter": "isDraft eq true"}).json()["value"]
    assert found == []  # a filter that matches nothing returns nothing, not everything


def test_the_fake_matches_filter_values_case_insensitively(fake_graph: FakeGraph,
                                                           make_backend: Any) -> None:
    backend = make_backend()
    backend.deliver(msg(key="atu.t1.Teams.ABC"))
    assert backend.lookup(Sought.of(msg(key="ATU.T1.TEAMS.abc"))) is Status.SENT


def test_the_fake_takes_only_x_headers_and_only_on_create(fake_graph: FakeGraph,
                                                          make_backend: Any) -> None:
    con = make_backend().account.con
    url = fake_graph.url + "v1.0/me/mailFolders/Drafts/messages"
    with pytest.raises(requests.HTTPError) as err:
        con.post(url, data={"subject": "s", "internetMessageHeaders": [
            {"name": "Reply-To", "value": "a@b.c"}]})
    assert err.value.response.json()["error"]["code"] == "InvalidInternetMessageHeader"
    made = con.post(url, data={"subject": "s", "internetMessageHeaders": [
        {"name": "X-Ok", "value": "1"}]}).json()
    with pytest.raises(requests.HTTPError) as err:
        con.patch(fake_graph.url + f"v1.0/me/messages/{made['id']}", data={
            "internetMessageHeaders": [{"name": "X-Ok", "value": "2"}]})
    assert err.value.response.status_code == 400


def test_the_fake_answers_413_over_the_request_limit(fake_graph: FakeGraph,
                                                     make_backend: Any) -> None:
    con = make_backend().account.con
    with pytest.raises(requests.HTTPError) as err:
        con.post(fake_graph.url + "v1.0/me/mailFolders/Drafts/messages",
                 data={"subject": "x" * (4 * 1024 * 1024)})
    assert err.value.response.status_code == 413

"""Conformance: every request the o365 backend makes, in every scenario, against the rules
written from Microsoft's Graph v1.0 documentation (tests/graph_rules.py; the list with
sources is docs/graph-contract.md).

Each scenario runs the real backend and the real O365 library on the fake Graph (the fake
only records and answers); the recording is then checked by the rules, which know nothing
of the fake. A rule broken is reported with the request and the page it comes from, before
the scenario's own outcome is checked: a request Graph would refuse fails here even when
the fake happens to accept it.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fakegraph import FakeAuthority, FakeGraph, Recorded, seed_token_cache
from graph_rules import MB4, RULES, Context, Exchange, violations
from O365.utils.token import MemoryTokenBackend
from test_o365_backend import CLIENT_ID, SEED_TOKEN, FakeClock, msg, settings_for

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.o365 import O365Backend, SendLog
from ftc_office.backends.o365_auth import authority_base, build_account
from ftc_office.backends.o365_identity import needed_scopes
from ftc_office.config import O365Settings
from ftc_office.errors import MessageError
from ftc_office.message import Attachment

ROOT = Path(__file__).resolve().parent.parent
OWN = ("Mail.ReadWrite", "Mail.Send", "User.Read")
SHARED = (*OWN, "Mail.ReadWrite.Shared", "Mail.Send.Shared")


def blob(name: str, size: int, fill: int = 1) -> Attachment:
    """An attachment of ``size`` bytes."""
    return Attachment(name, bytes([fill]) * size, "application/octet-stream")


def exchanges(graph: FakeGraph) -> list[Exchange]:
    """The fake's recording as plain exchanges (what the rules read)."""
    with graph._lock:
        recorded: list[Recorded] = list(graph.requests)
    return [Exchange(r.method, r.path, dict(r.query), dict(r.headers), r.body, r.status,
                     dict(r.reply_headers), r.at) for r in recorded]


def requested(settings: O365Settings) -> tuple[str, ...]:
    """The delegated scopes ``ftc-office auth login`` asks for with these settings."""
    account = build_account(settings, token_backend=MemoryTokenBackend())
    return tuple(account.protocol.get_scopes_for(list(needed_scopes(settings))))


@dataclasses.dataclass
class World:
    """One scenario's fake Graph (on the backend's clock), and what it expects."""

    graph: FakeGraph
    clock: FakeClock
    tmp: Path
    monkeypatch: pytest.MonkeyPatch
    outcomes: list[tuple[str, Any, Any]] = dataclasses.field(default_factory=list)

    def backend(self, scopes: tuple[str, ...] = OWN, **overrides: Any) -> O365Backend:
        """A delegated backend with a seeded token granting ``scopes``."""
        tokens = MemoryTokenBackend()
        seed_token_cache(tokens, None, client_id=CLIENT_ID, scopes=list(scopes),
                         expires_in=10 * 86400, access_token=SEED_TOKEN,
                         refresh_token="seed-rt")
        return O365Backend(settings_for(self.graph, **overrides), clock=self.clock.time,
                           sleep=self.clock.sleep, token_backend=tokens, requests_delay_ms=0,
                           send_log=SendLog(self.tmp / "sends.sqlite"))

    def context(self, backend: O365Backend, scopes: tuple[str, ...] = OWN) -> Context:
        """What the rules need to know of a delegated backend's configuration."""
        s = backend.settings
        return Context(graph_url=s.graph_url, mailbox=s.mailbox, scopes=scopes,
                       requested_scopes=requested(s), authority=authority_base(s))

    def expect(self, what: str, got: Any, want: Any) -> None:
        """An outcome the scenario must have (checked after the rules)."""
        self.outcomes.append((what, got, want))


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    clock = FakeClock()
    graph = FakeGraph(clock=clock.time).start()
    try:
        yield World(graph, clock, tmp_path, monkeypatch)
    finally:
        graph.stop()


# -- the scenarios -----------------------------------------------------------------------

def plain(w: World) -> Context:
    """A message with Cc and a small attachment: one create, one send."""
    b = w.backend()
    m = msg(cc=("bob@microsoft.com",), attachments=(blob("notes.txt", 2000),))
    w.expect("status", b.deliver(m).status, Status.SENT)
    return w.context(b)


def large_attachment(w: World) -> Context:
    """A 7 MB file (upload session, three ranges) and a 1 MB one (POST), then the send."""
    b = w.backend()
    m = msg(attachments=(blob("deck.pptx", 7_000_000), blob("small.pdf", 1_000_000, 2)))
    w.expect("status", b.deliver(m).status, Status.SENT)
    (sent,) = w.graph.sent_with_key(m.key)
    w.expect("attachments", sorted(a["source"] for a in sent.attachments), ["post", "upload"])
    return w.context(b)


def three_mib(w: World) -> Context:
    """Two files of 1.5 MiB: 3 MiB raw (the old inline limit), over 4 MB once
    base64-encoded inside the create request."""
    b = w.backend()
    files = (blob("a.bin", 1_572_864), blob("b.bin", 1_572_864, 2))
    w.expect("status", b.deliver(msg(attachments=files)).status, Status.SENT)
    return w.context(b)


def draft_mode(w: World) -> Context:
    """mode = "draft": the draft with its files stays in Drafts."""
    b = w.backend(mode="draft")
    m = msg(attachments=(blob("deck.pptx", 3_500_000),))
    w.expect("status", b.deliver(m).status, Status.DRAFTED)
    w.expect("drafts", len(w.graph.drafts), 1)
    return w.context(b)


def shared_mailbox(w: World) -> Context:
    """A shared mailbox with delegated sign-in: small files only (the large-file case is
    refused before any request, and that refusal makes no request)."""
    b = w.backend(SHARED, mailbox="team@contoso.com")
    w.expect("status", b.deliver(msg(attachments=(blob("a.txt", 5000),))).status, Status.SENT)
    try:
        b.deliver(msg(key="atu.t1.teams.big", attachments=(blob("big.bin", 3_500_000),)))
    except MessageError:
        w.expect("large file refused", True, True)
    return w.context(b, SHARED)


def app_only(w: World) -> Context:
    """Client credentials, a shared mailbox and a large file (the documented way)."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        w.monkeypatch.delenv(name, raising=False)
    w.monkeypatch.setenv("FTC_O365_CLIENT_SECRET", "s3cret-value")
    authority = FakeAuthority(w.tmp, graph=w.graph).start()
    try:
        w.graph.valid_tokens = set()
        settings = settings_for(w.graph, auth="credentials", tenant_id=authority.tenant,
                                mailbox="team@contoso.com", authority=authority.url)
        b = O365Backend(settings, verify=str(authority.ca_path), requests_delay_ms=0,
                        clock=w.clock.time, sleep=w.clock.sleep,
                        send_log=SendLog(w.tmp / "s.sqlite"))
        m = msg(attachments=(blob("deck.pptx", 3_500_000),))
        w.expect("status", b.deliver(m).status, Status.SENT)
        asked = tuple(s for r in authority.requests if r["path"].endswith("/token")
                      for s in r["form"].get("scope", "").split())
    finally:
        authority.stop()
    return Context(graph_url=settings.graph_url, app_only=True, mailbox=settings.mailbox,
                   requested_scopes=asked, authority=settings.authority)


def throttled(w: World) -> Context:
    """429 on the create and 503 on the send, both with Retry-After: retried after it."""
    w.graph.fail("POST", r"Drafts/messages$", "throttle", retry_after=1)
    w.graph.fail("POST", r"/send$", "unavailable", retry_after=1)
    b = w.backend()
    w.expect("status", b.deliver(msg()).status, Status.SENT)
    w.expect("sleeps", w.clock.sleeps, [1.0, 1.0])
    return w.context(b)


def ambiguous_then_looked_up(w: World) -> Context:
    """502 after the send went through: unknown; the next start looks it up by the
    recorded id, and by the key alone."""
    w.graph.fail("POST", r"/send$", "error_after", status=502)
    m = msg()
    result = w.backend().deliver(m)
    w.expect("status", result.status, Status.UNKNOWN)
    w.clock.now += 10_000  # past the Sent Items grace period
    b = w.backend()
    w.expect("by id", b.lookup(Sought.of(m, result.provider_id)), Status.SENT)
    w.expect("by key", b.lookup(Sought.of(m)), Status.SENT)
    return w.context(b)


def withdraw(w: World) -> Context:
    """An unsent draft left by an interruption is found by key and deleted; a send Graph
    refuses deletes its draft."""
    m = msg()
    w.backend(mode="draft").deliver(m)
    w.clock.now += 10_000
    b = w.backend()
    w.expect("found", b.lookup(Sought.of(m)), Status.DRAFTED)
    w.expect("withdrawn", b.withdraw(Sought.of(m)), None)
    w.graph.fail("POST", r"/send$", "error", status=400, code="ErrorInvalidRecipients")
    w.expect("refused", b.deliver(msg(key="atu.t2.teams.x")).status, Status.FAILED_PERMANENT)
    w.expect("drafts", w.graph.drafts, {})
    return w.context(b)


def deferred_send(w: World) -> Context:
    """A send held by Exchange until a time (PidTagDeferredSendTime)."""
    b = w.backend()
    when = dt.datetime(2026, 12, 1, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    m = dataclasses.replace(msg(), deferred_until=when)
    w.expect("status", b.deliver(m).status, Status.SENT)
    props = w.graph.requests[0].json["singleValueExtendedProperties"]
    w.expect("deferred", props[-1], {"id": "SystemTime 0x3FEF", "value": "2026-12-01T08:30:00Z"})
    return w.context(b)


def us_government(w: World) -> Context:
    """GCC High: small mail goes; a large file is refused before any request."""
    gov = "https://graph.microsoft.us/"
    ctx = w.context(w.backend(graph_url=gov))  # before the fake stands in for it
    w.monkeypatch.setenv("FTC_O365_GRAPH_URL", w.graph.url)  # the fake stands in for it
    b = w.backend(graph_url=gov)
    w.expect("status", b.deliver(msg()).status, Status.SENT)
    try:
        b.deliver(msg(key="atu.t1.teams.big", attachments=(blob("big.bin", 3_500_000),)))
    except MessageError:
        w.expect("large file refused", True, True)
    return ctx


SCENARIOS: dict[str, Callable[[World], Context]] = {
    f.__name__: f for f in (plain, large_attachment, three_mib, draft_mode,
                            shared_mailbox, app_only, throttled, ambiguous_then_looked_up,
                            withdraw, deferred_send, us_government)}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_request_follows_the_documented_contract(world: World, name: str) -> None:
    ctx = SCENARIOS[name](world)
    recorded = exchanges(world.graph)
    assert recorded, "the scenario made no request"
    found = violations(recorded, ctx)
    assert not found, "\n".join(map(str, found))
    for what, got, want in world.outcomes:
        assert got == want, what


def send_as(w: World) -> Context:
    """Delegated, identity as-fm, ``from`` = another person (the FM): needs
    Mail.Send.Shared, which the sign-in asks for in this identity (issue 20)."""
    b = w.backend(SHARED, identity="as-fm")
    sender = parse_address("fm@contoso.com")
    w.expect("status", b.deliver(dataclasses.replace(msg(), sender=sender)).status,
             Status.SENT)
    return w.context(b, SHARED)


def test_sending_as_another_person_asks_for_mail_send_shared(world: World) -> None:
    ctx = send_as(world)
    found = violations(exchanges(world.graph), ctx)
    assert not found, "\n".join(map(str, found))


def throttled_longer_than_the_cap(w: World) -> Context:
    """Retry-After: 5 with delivery.o365.max_retry_wait = 1: the backend does not retry
    early; it stops and leaves the message for a later run."""
    w.graph.fail("POST", r"Drafts/messages$", "throttle", retry_after=5)
    b = w.backend(max_retry_wait=1.0)
    b.deliver(msg())
    return w.context(b)


def test_a_retry_after_longer_than_the_cap_is_honoured(world: World) -> None:
    ctx = throttled_longer_than_the_cap(world)
    found = violations(exchanges(world.graph), ctx)
    assert not found, "\n".join(map(str, found))


# -- the rules themselves ----------------------------------------------------------------

@pytest.mark.parametrize("graph_url", ["https://graph.microsoft.com/",
                                       "https://graph.microsoft.us/",
                                       "https://dod-graph.microsoft.us/",
                                       "https://microsoftgraph.chinacloudapi.cn/"])
def test_each_national_cloud_signs_in_at_its_own_host(graph_url: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FTC_O365_GRAPH_URL", "FTC_O365_AUTHORITY"):
        monkeypatch.delenv(name, raising=False)
    s = O365Settings(client_id=CLIENT_ID, graph_url=graph_url, mailbox="team@contoso.com")
    ctx = Context(graph_url=graph_url, mailbox=s.mailbox, scopes=SHARED,
                  requested_scopes=requested(s), authority=authority_base(s))
    assert ctx.requested_scopes and all(x.startswith(graph_url) for x in ctx.requested_scopes)
    assert violations([], ctx) == []


def test_every_rule_cites_microsoft_and_is_in_the_contract_document() -> None:
    doc = (ROOT / "docs" / "graph-contract.md").read_text(encoding="utf-8")
    assert len({r.id for r in RULES}) == len(RULES)
    for r in RULES:
        for url in r.source.split(" ; "):
            assert url.startswith("https://learn.microsoft.com/"), r.id
            assert url in doc, f"{r.id}: {url} not in docs/graph-contract.md"
        assert f"`{r.id}`" in doc, f"{r.id} not in docs/graph-contract.md"
    listed = set(re.findall(r"^\| `([a-z0-9-]+)` \|", doc, flags=re.M))
    assert listed == {r.id for r in RULES}


def x(method: str, path: str, *, body: Any = b"", headers: dict[str, str] | None = None,
      **kw: Any) -> Exchange:
    """A recorded request for the rules' own tests (JSON bodies from dicts)."""
    h = {"prefer": 'IdType="ImmutableId"', **(headers or {})}
    if isinstance(body, dict):
        body = json.dumps(body).encode()
        h.setdefault("content-type", "application/json")
    h.setdefault("content-length", str(len(body)))
    return Exchange(method, path, kw.pop("query", {}), h, body, **kw)


CREATE = "/v1.0/me/mailFolders/Drafts/messages"
UPLOAD = {"content-type": "application/octet-stream"}
SESSION = x("POST", "/v1.0/me/messages/d1/attachments/createUploadSession",
            body={"AttachmentItem": {"attachmentType": "file", "name": "f", "size": 4_000_000}})
KEY = "String {6f1c5a1e-8f4b-4d7a-9c2e-3b5d0e7a4c21} Name FtcMessageKey"
BROKEN: dict[str, tuple[list[Exchange], Context]] = {
    "create-json": ([x("POST", CREATE, body=b"subject=s",
                       headers={"content-type": "text/plain"})], Context(scopes=OWN)),
    "create-size": ([x("POST", CREATE, body={"subject": "s" * MB4})], Context(scopes=OWN)),
    "headers-x-only": ([x("POST", CREATE, body={"internetMessageHeaders": [
        {"name": "Reply-To", "value": "a@b.c"}]})], Context(scopes=OWN)),
    "headers-on-create-only": ([x("PATCH", "/v1.0/me/messages/d1", body={
        "internetMessageHeaders": [{"name": "X-A", "value": "1"}]})], Context(scopes=OWN)),
    "send-empty": ([x("POST", "/v1.0/me/messages/d1/send", body={"comment": ""})],
                   Context(scopes=OWN)),
    "immutable-ids": ([x("GET", "/v1.0/me/messages/d1", headers={"prefer": ""})],
                      Context(scopes=OWN)),
    "extended-property-filter": ([x("GET", "/v1.0/me/mailFolders/SentItems/messages", query={
        "$filter": f"singleValueExtendedProperties/any(ep: ep/id eq '{KEY}')"})],
        Context(scopes=OWN)),
    "extended-property-ids": ([x("POST", CREATE, body={"singleValueExtendedProperties": [
        {"id": "SystemTime 0x3FEF", "value": "2026-12-01 09:30"}]})], Context(scopes=OWN)),
    "attachment-post": ([x("POST", "/v1.0/me/messages/d1/attachments", body={
        "name": "f", "contentBytes": base64.b64encode(b"a" * 1000).decode()})],
        Context(scopes=OWN)),
    "upload-session-create": ([x("POST", "/v1.0/me/messages/d1/attachments/"
                                 "createUploadSession", body={"AttachmentItem": {
                                     "attachmentType": "file", "name": "f", "size": 1000}})],
                              Context(scopes=OWN)),
    "upload-session-offered": ([SESSION], Context(graph_url="https://graph.microsoft.us/",
                                                  authority="https://login.microsoftonline.us",
                                                  scopes=OWN)),
    "upload-no-authorization": ([SESSION, x("PUT", "/upload/1", body=b"a" * 4_000_000, headers={
        **UPLOAD, "content-range": "bytes 0-3999999/4000000", "authorization": "Bearer t"},
        status=201)], Context(scopes=OWN)),
    "upload-headers": ([SESSION, x("PUT", "/upload/1", body=b"a" * 4_000_000, headers={
        "content-type": "text/plain", "content-range": "bytes 0-3999999/4000000"},
        status=201)],
        Context(scopes=OWN)),
    "upload-in-order": ([SESSION, x("PUT", "/upload/1", body=b"a" * 10, headers={
        **UPLOAD, "content-range": "bytes 10-19/4000000"}, status=200)], Context(scopes=OWN)),
    "app-only-no-me": ([x("POST", CREATE, body={"subject": "s"})],
                       Context(app_only=True, mailbox="team@contoso.com")),
    "permissions": ([x("POST", "/v1.0/users/team@contoso.com/messages/d1/send")],
                    Context(mailbox="team@contoso.com", scopes=OWN)),
    "national-cloud": ([], Context(graph_url="https://graph.microsoft.us/", scopes=OWN)),
    "retry-after": ([x("POST", CREATE, body={"subject": "s"}, status=429,
                       reply_headers={"Retry-After": "5"}, at=100.0),
                     x("POST", CREATE, body={"subject": "s"}, status=201, at=101.0)],
                    Context(scopes=OWN)),
}


@pytest.mark.parametrize("rule_id", [r.id for r in RULES])
def test_each_rule_catches_what_it_forbids(rule_id: str) -> None:
    """Every rule can fail: a recording that breaks it (and only it) is caught."""
    recorded, ctx = BROKEN[rule_id]
    assert {v.rule.id for v in violations(recorded, ctx)} == {rule_id}


def test_the_live_test_runs_its_scenarios_against_the_fake(tmp_path: Path) -> None:
    """tests/test_o365_live.py, pointed at the fake Graph instead of a tenant (a child
    pytest): its plumbing — recording at the HTTP library, the rules, the scenarios — works
    before the first person with a tenant runs it. App-only stays skipped (no secret)."""
    from ftc_office.backends.o365_auth import SecureFileTokenBackend

    cache = tmp_path / "token.json"
    seed_token_cache(SecureFileTokenBackend(cache), None, client_id=CLIENT_ID,
                     scopes=list(SHARED), expires_in=10 * 86400)
    graph = FakeGraph().start()
    try:
        env = {**os.environ, "FTC_TEST_O365_CLIENT_ID": CLIENT_ID,
               "FTC_TEST_O365_TO": "ann@microsoft.com", "FTC_TEST_O365_TOKEN_CACHE": str(cache),
               "FTC_TEST_O365_GRAPH_URL": graph.url, "FTC_TEST_O365_MAILBOX": "team@contoso.com"}
        for name in ("FTC_TEST_O365_CLIENT_SECRET", "FTC_TEST_O365_TENANT",
                     "FTC_TEST_O365_AUTHORITY"):
            env.pop(name, None)
        run = subprocess.run([sys.executable, "-m", "pytest", "-rs",
                              str(ROOT / "tests" / "test_o365_live.py")], cwd=ROOT, env=env,
                             capture_output=True, text=True, timeout=240)
    finally:
        graph.stop()
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert "6 passed, 1 skipped" in run.stdout, run.stdout[-2000:]
    assert len(graph.sent) == 5  # plain, two with files, deferred, shared; draft withdrawn
    assert not graph.drafts

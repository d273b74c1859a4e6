"""A fake Microsoft Graph (mail) and a fake Entra sign-in service for tests.

``FakeGraph`` is a ``ThreadingHTTPServer`` on 127.0.0.1 (port 0) in a thread. It records
every request (method, path, query, headers, body, JSON) and implements the mail calls the
O365 library makes: ``sendMail``, draft create / patch / delete, attachments (simple and
upload sessions with chunked ``PUT``), draft ``send`` (the draft moves to Sent Items,
optionally ``sent_items_delay`` seconds later on the server's ``clock``), ``GET
messages/{id}`` and folder listings filtered by our single-value extended property. A
message sent with deferred delivery (PidTagDeferredSendTime) stays in the Outbox, out of
Sent Items, until that time on the fake's ``wall`` clock; ``DELETE`` of it cancels it
(``cancelled``). Faults are scripted per request with :meth:`FakeGraph.fail`.

Time: the only thing the fake times is when a sent item becomes visible in Sent Items, and
it reads its ``clock`` (default ``time.monotonic``). A test that must not depend on how fast
the machine is gives it a :class:`ManualClock` and moves time itself with
:meth:`ManualClock.advance` (nothing becomes visible until it does).

``FakeAuthority`` is an https server (trustme certificates) serving the OpenID
configuration, the token endpoint (refresh token, client credentials, device code) and the
device-code endpoint, so the real MSAL code refreshes tokens against it.

Use: ``from fakegraph import fake_graph_fixture, fake_authority_fixture  # noqa: F401`` in
a test module (pytest puts tests/ on sys.path), then take the ``fake_graph`` /
``fake_authority`` fixtures by name.

:func:`contract_harness` is the O365 entry of tests/test_backend_contract.py: a backend on a
fresh fake Graph and ``delivered()``, every sent item rebuilt as the MIME message Exchange
would hand to its recipients (see :func:`sent_as_mime`).
"""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import json
import mimetypes
import re
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.headerregistry import Address as MimeAddress
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import SMTP
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

if TYPE_CHECKING:
    from ftc_office.backends.o365 import O365Backend

class _Server(ThreadingHTTPServer):
    """The fakes' HTTP server. A client that went away mid-request (a test's time-out, a
    reset, a TLS connection it closed or refused: the suite once printed ``SSLError: tlsv1
    alert unknown ca`` from a client that does not trust the fake sign-in service's
    certificate) is the test's business, not an error of the fake:
    it is not printed as a traceback in the middle of the test run's output; anything else
    (a fault in a handler) is."""

    daemon_threads = True
    _GONE = (ConnectionError, TimeoutError, ssl.SSLError)

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if isinstance(sys.exc_info()[1], self._GONE):
            return
        super().handle_error(request, client_address)


_FILTER = re.compile(r"ep/id eq '(?P<id>(?:[^']|'')*)' and ep/value eq '(?P<value>(?:[^']|'')*)'")
DEFERRED = "SystemTime 0x3FEF"  # PidTagDeferredSendTime
_MAILBOX = re.compile(r"^/v1\.0/(?P<box>me|users/[^/]+)(?P<rest>/.*)$")

# -- the OData query options Graph accepts on message lists (strictly, as documented) ----
#: message properties a $select may name (graph/api/resources/message)
MESSAGE_PROPERTIES = frozenset((
    "id", "bccRecipients", "body", "bodyPreview", "categories", "ccRecipients", "changeKey",
    "conversationId", "conversationIndex", "createdDateTime", "flag", "from",
    "hasAttachments", "importance", "inferenceClassification", "internetMessageHeaders",
    "internetMessageId", "isDeliveryReceiptRequested", "isDraft", "isRead",
    "isReadReceiptRequested", "lastModifiedDateTime", "parentFolderId", "receivedDateTime",
    "replyTo", "sender", "sentDateTime", "subject", "toRecipients", "uniqueBody", "webLink"))
#: properties our filters may use, with their OData types
FILTERABLE = {"conversationId": "string", "receivedDateTime": "datetime",
              "sentDateTime": "datetime", "from/emailAddress/address": "string",
              "subject": "string", "isDraft": "bool", "hasAttachments": "bool"}
_CLAUSE = re.compile(r"(?P<prop>[A-Za-z]+(?:/[A-Za-z]+)*) (?P<op>eq|ne|gt|ge|lt|le) "
                     r"(?P<lit>'(?:[^']|'')*'|\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z"
                     r"|true|false)")
_QUERY_OPTIONS = frozenset(("$filter", "$select", "$top", "$skip", "$orderby", "$count"))


def _utc_now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _selected(query: dict[str, str]) -> list[str]:
    return [f.strip() for f in query.get("$select", "").split(",") if f.strip()]


def _clauses(flt: str) -> list[tuple[str, str, str]] | str:
    """``prop op literal`` clauses joined by ``and``, or why Graph refuses the filter."""
    out = []
    for part in re.split(r" and (?=(?:[^']*'[^']*')*[^']*$)", flt):
        m = _CLAUSE.fullmatch(part.strip())
        if not m:
            return f"Invalid filter clause: {part.strip()!r}"
        kind = FILTERABLE.get(m["prop"])
        lit = m["lit"]
        if kind is None:
            return f"Could not find a property named '{m['prop']}' on type 'message'."
        got = ("string" if lit.startswith("'") else "bool" if lit in ("true", "false")
               else "datetime")
        if got != kind:
            return ("A binary operator with incompatible types was detected. Found operand "
                    f"types '{kind}' and '{got}' for operator '{m['op']}'.")
        out.append((m["prop"], m["op"], lit))
    return out


def check_query(rest: str, query: dict[str, str]) -> tuple[str, str] | None:
    """(code, message) of Graph's 400 for a message list query it would refuse, else None."""
    if not re.fullmatch(r"/messages|/mailFolders/\w+/messages", rest):
        return None
    unknown = [k for k in query if k not in _QUERY_OPTIONS]
    if unknown:
        return "BadRequest", f"Query option '{unknown[0]}' is not supported."
    bad = [f for f in _selected(query) if f not in MESSAGE_PROPERTIES]
    if bad:
        return "RequestBroker--ParseUri", f"Could not find a property named '{bad[0]}'."
    if "$top" in query and not (query["$top"].isdigit() and 1 <= int(query["$top"]) <= 1000):
        return "BadRequest", "Invalid $top value."
    flt = query.get("$filter", "")
    if flt.startswith("singleValueExtendedProperties/"):
        return None if _FILTER.search(flt) else ("BadRequest", "Invalid filter clause")
    clauses = _clauses(flt) if flt else []
    if isinstance(clauses, str):
        return "BadRequest", clauses
    order = [o.split()[0] for o in query.get("$orderby", "").split(",") if o.strip()]
    if order and clauses and order[0] != clauses[0][0]:
        return "InefficientFilter", "The restriction or sort order is too complex."
    return None


def _matches(view: dict[str, Any], flt: str) -> bool:
    clauses = _clauses(flt) if flt else []
    assert not isinstance(clauses, str)
    for prop, op, lit in clauses:
        value: Any = view
        have: Any
        want: Any
        for part in prop.split("/"):
            value = (value or {}).get(part)
        if lit.startswith("'"):
            have, want = str(value or "").casefold(), lit[1:-1].replace("''", "'").casefold()
        elif lit in ("true", "false"):
            have, want = bool(value), lit == "true"
        else:
            have, want = str(value), lit  # both ISO 8601 UTC: text order is time order
        ok = {"eq": have == want, "ne": have != want, "gt": have > want, "ge": have >= want,
              "lt": have < want, "le": have <= want}[op]
        if not ok:
            return False
    return True


@dataclass
class Recorded:
    """One request as the server saw it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    json: Any = None
    at: float = 0.0  # the fake's clock when the request arrived
    status: int = 0  # the answer's status (0: none, the connection was dropped)
    reply_headers: dict[str, str] = field(default_factory=dict)

    @property
    def mailbox(self) -> str | None:
        """``me`` or ``users/<upn>`` for Graph mail calls."""
        m = _MAILBOX.match(self.path)
        return m.group("box") if m else None


@dataclass
class Fault:
    """A scripted fault for requests matching ``method`` and a regex on the path."""

    method: str
    path: str
    kind: str
    times: int = 1
    status: int = 0
    code: str = ""
    retry_after: float | None = None
    hang: float = 0.0


@dataclass
class StoredMessage:
    """A draft or a sent item in the fake mailbox."""

    id: str
    mailbox: str
    data: dict[str, Any]
    attachments: list[dict[str, Any]] = field(default_factory=list)
    is_draft: bool = True
    visible_at: float = 0.0
    draft_id: str = ""
    conversation_id: str = ""
    immutable: bool = False  # created with Prefer: IdType="ImmutableId" (keeps its id)
    held_until: dt.datetime | None = None  # deferred delivery: in the Outbox till then

    def props(self) -> list[dict[str, str]]:
        return list(self.data.get("singleValueExtendedProperties") or [])

    def hold(self) -> None:
        """A message sent with PidTagDeferredSendTime stays in the Outbox till that time."""
        for p in self.props():
            if p.get("id", "").lower() == DEFERRED.lower():
                self.held_until = dt.datetime.fromisoformat(p["value"].replace("Z", "+00:00"))

    def recipients(self) -> list[str]:
        out = []
        for field_name in ("toRecipients", "ccRecipients", "bccRecipients"):
            for r in self.data.get(field_name) or []:
                out.append(r["emailAddress"]["address"].lower())
        return out


@dataclass
class FakeIdentity:
    """Who a token belongs to: a user and the delegated scopes it grants."""

    user: str
    scopes: frozenset[str]


class IdentityRules:
    """Exchange's rules on whose mailbox a delegated token may use and whom it may send as.

    Only tokens registered with :meth:`sign_in` are checked (others pass as before).
    A mailbox not the user's own (``users/x``) needs Full Access and
    ``Mail.ReadWrite.Shared``; a ``from`` not the user needs ``Mail.Send.Shared`` and Send
    As (``sender`` = ``from``) or Send on Behalf (``sender`` = the user), else 403
    ``ErrorSendAsDenied`` (learn.microsoft.com: "Send Outlook messages from another user").
    The sent copy lands in the Sent Items of the mailbox the send went through; with
    ``copy_sent_as`` (the admin's "save a copy" on the from mailbox) also in the from's.
    App tokens are not registered: they may use any mailbox, as before."""

    def __init__(self) -> None:
        self.tokens: dict[str, FakeIdentity] = {}
        self.rights: dict[tuple[str, str], set[str]] = {}
        self.copy_sent_as: set[str] = set()

    def sign_in(self, token: str, user: str, scopes: list[str]) -> None:
        """Register ``token`` as ``user``'s with the scopes (names, with or without URL)."""
        self.tokens[token] = FakeIdentity(
            user.lower(), frozenset(s.rsplit("/", 1)[-1] for s in scopes))

    def grant(self, user: str, mailbox: str, *rights: str) -> None:
        """Exchange rights of ``user`` on ``mailbox``: ``full-access``, ``send-as``,
        ``send-on-behalf``."""
        self.rights.setdefault((user.lower(), mailbox.lower()), set()).update(rights)

    def _who(self, headers: dict[str, str]) -> FakeIdentity | None:
        return self.tokens.get(headers.get("authorization", "").removeprefix("Bearer "))

    def access(self, box: str, headers: dict[str, str]) -> tuple[int, str, str] | None:
        """403 when a delegated token opens another user's mailbox without the rights."""
        who = self._who(headers)
        owner = box.removeprefix("users/").lower()
        if who is None or box == "me" or owner == who.user:
            return None
        if "Mail.ReadWrite.Shared" not in who.scopes or "full-access" not in self.rights.get(
                (who.user, owner), set()):
            return 403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        return None

    def send(self, box: str, data: dict[str, Any], headers: dict[str, str]
             ) -> tuple[int, str, str] | None:
        """Exchange's check of ``from``; sets ``sender`` as Exchange does."""
        who = self._who(headers)
        if who is None:
            return None
        owner = who.user if box == "me" else box.removeprefix("users/").lower()
        sender = str(((data.get("from") or {}).get("emailAddress") or {}).get("address", ""))
        sender = sender.lower() or owner
        me = {"emailAddress": {"address": who.user}}
        if sender == who.user:
            data["sender"] = me
            return None
        if "Mail.Send.Shared" not in who.scopes:
            return 403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
        rights = self.rights.get((who.user, sender), set())
        if "send-as" in rights:
            data["sender"] = dict(data.get("from") or {"emailAddress": {"address": sender}})
        elif "send-on-behalf" in rights:
            data["sender"] = me
        else:
            return 403, "ErrorSendAsDenied", (
                "The user account which was used to submit this request does not have the "
                "right to send mail on behalf of the specified sending account. Cannot "
                "submit message.")
        return None


class _Hang(Exception):
    pass


class ManualClock:
    """A clock that moves only when told: ``clock()`` is the time, ``advance(s)`` moves it.

    For :class:`FakeGraph` (and anything else that takes a ``clock`` callable) when a test
    must decide what has happened "by now" instead of racing the machine's speed."""

    def __init__(self, start: float = 1_000_000.0) -> None:
        self._now = float(start)
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> float:
        """Move the clock forward by ``seconds`` (never backwards); returns the new time."""
        if seconds < 0:
            raise ValueError("a clock does not go backwards")
        with self._lock:
            self._now += seconds
            return self._now


class FakeGraph:
    """The fake Graph server. ``url`` is the base URL to use as ``graph_url``.

    ``clock`` decides when a sent item is visible in Sent Items (``sent_items_delay`` after
    the send); replace it (``fake.clock = ManualClock()``) before the send to control it."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.requests: list[Recorded] = []
        self.drafts: dict[str, StoredMessage] = {}
        self.sent: list[StoredMessage] = []
        self.inbox: list[StoredMessage] = []  # received messages (see deliver_reply)
        self.faults: list[Fault] = []
        self.sessions: dict[str, dict[str, Any]] = {}
        self.sent_items_delay = 0.0
        self.invalid_recipients: set[str] = set()
        self.valid_tokens: set[str] | None = None  # None: any bearer token is accepted
        self.max_body = 4 * 1024 * 1024
        self.ca_path: Path | None = None
        self.cloud = "global"  # "usgov": no attachment upload sessions (GCC High, DoD)
        self.app_tokens: set[str] = set()  # app-only tokens (client credentials)
        self.identity = IdentityRules()  # who a token is, and their Exchange rights (#20)
        # the wall clock deferred delivery is held against (a test may replace it)
        self.wall: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
        self.cancelled: list[StoredMessage] = []  # held messages deleted from the Outbox
        self._ids = itertools.count(1)
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self.server = _Server(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)

    # -- control -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/`` (``https`` after :meth:`use_tls`)."""
        scheme = "https" if self.ca_path else "http"
        return f"{scheme}://127.0.0.1:{self.server.server_address[1]}/"

    def use_tls(self, tmp: Path) -> Path:
        """Serve https (before :meth:`start`); returns the CA bundle a client must trust."""
        import trustme

        ca = trustme.CA()
        self.ca_path = tmp / "fake-graph-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("127.0.0.1").configure_cert(ctx)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True,
                                             do_handshake_on_connect=False)
        return self.ca_path

    def break_tls(self) -> None:
        """From now on new connections present a certificate of an unknown CA: the
        client's TLS handshake fails before any request is written."""
        import trustme

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        trustme.CA().issue_cert("127.0.0.1").configure_cert(ctx)
        # a listening SSLSocket wraps what it accepts with its _context (the public
        # setter needs a connected socket)
        self.server.socket._context = ctx  # type: ignore[attr-defined]

    def start(self) -> FakeGraph:
        self.thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.shutdown()
        self.server.server_close()

    def fail(self, method: str, path: str, kind: str, *, times: int = 1, status: int = 0,
             code: str = "", retry_after: float | None = None, hang: float = 0.0) -> Fault:
        """Script a fault for the next ``times`` requests matching method and path regex.

        kinds: ``throttle`` (429 + Retry-After), ``unavailable`` (503), ``error`` (status
        and Graph code, nothing done), ``error_after`` (done, then status, default 500),
        ``hang_before`` / ``hang_after`` (sleep ``hang`` s before / after doing it, then
        drop the connection / answer normally), ``drop_before`` / ``drop_after`` (close the
        connection without an answer, before / after doing it), ``reply_close`` (answer
        normally, then close the connection: the client's next request connects afresh),
        ``tls_garbage_after`` (done, then plain bytes inside the TLS connection: the
        client's read fails with an SSLError after its request went out; :meth:`use_tls`).
        """
        fault = Fault(method.upper(), path, kind, times, status, code, retry_after, hang)
        with self._lock:
            self.faults.append(fault)
        return fault

    def calls(self, method: str | None = None, contains: str = "") -> list[Recorded]:
        """Recorded requests, filtered by method and a substring of the path."""
        with self._lock:
            return [r for r in self.requests
                    if (method is None or r.method == method.upper()) and contains in r.path]

    def sent_with_key(self, key: str) -> list[StoredMessage]:
        """Sent items (visible or not) tagged with ``key``."""
        with self._lock:
            return [m for m in self.sent if any(p.get("value") == key for p in m.props())]

    def reset_requests(self) -> None:
        with self._lock:
            self.requests.clear()

    # -- mailbox logic -----------------------------------------------------------------

    def _visible(self, m: StoredMessage) -> bool:
        """In Sent Items: sent (after ``sent_items_delay``), and not held in the Outbox."""
        return m.visible_at <= self.clock() and (m.held_until is None
                                                 or m.held_until <= self.wall())

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}-{next(self._ids):05d}"

    def _error(self, status: int, code: str, message: str = "") -> tuple[int, dict[str, str],
                                                                           Any]:
        return status, {}, {"error": {"code": code, "message": message or code}}

    def _match_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.method == method and re.search(fault.path, path):
                    fault.times -= 1
                    return fault
        return None

    def _message_view(self, m: StoredMessage) -> dict[str, Any]:
        if not m.conversation_id:  # Exchange assigns it when the draft is created
            m.conversation_id = f"AAQkConv-{m.draft_id or m.id}"
        return {**m.data, "id": m.id, "isDraft": m.is_draft, "conversationId": m.conversation_id,
                "sentDateTime": m.data.get("sentDateTime") or "2026-01-01T00:00:00Z",
                "parentFolderId": "drafts" if m.is_draft else "sentitems",
                "hasAttachments": bool(m.attachments),
                "createdDateTime": "2026-01-01T00:00:00Z",
                "lastModifiedDateTime": "2026-01-01T00:00:00Z"}

    def _send(self, m: StoredMessage) -> tuple[int, dict[str, str], Any] | None:
        bad = [r for r in m.recipients() if r in self.invalid_recipients]
        if bad:
            return self._error(400, "ErrorInvalidRecipients",
                               f"invalid recipients: {', '.join(bad)}")
        return None

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              body: bytes, data: Any) -> tuple[int, dict[str, str], Any]:
        """Do what Graph would do; return (status, headers, JSON or bytes)."""
        if method == "PUT" and path.startswith("/upload/"):
            return self._upload(path.rsplit("/", 1)[-1], headers, body)
        if self.valid_tokens is not None:
            auth = headers.get("authorization", "")
            if not auth.startswith("Bearer ") or auth[7:] not in self.valid_tokens:
                return self._error(401, "InvalidAuthenticationToken", "token expired")
        if len(body) > self.max_body:
            return self._error(413, "ErrorRequestEntityTooLarge", "request too large")
        refused = self._request_refused(method, path, headers)
        if refused:
            return refused
        m = _MAILBOX.match(path)
        if not m:
            return self._error(404, "ResourceNotFound", f"no route {path}")
        box, rest = m.group("box"), m.group("rest")
        denied = self.identity.access(box, headers)
        if denied:
            return self._error(*denied)
        with self._lock:
            bad = check_query(rest, query)
            if bad:
                return self._error(400, *bad)
            received = self._received_route(method, box, rest, query, headers)
            if received is not None:
                return received
            if method == "POST" and rest == "/sendMail":
                msg = StoredMessage(self._new_id("sent"), box, dict(data["message"]),
                                    is_draft=False)
                msg.attachments = list(msg.data.pop("attachments", []) or [])
                refused = self._send(msg) or self._send_as(box, msg, headers)
                if refused:
                    return refused
                msg.visible_at = self.clock() + self.sent_items_delay
                msg.hold()
                self.sent.append(msg)
                return 202, {}, None
            if method == "POST" and rest == "/mailFolders/Drafts/messages":
                bad_header = [h.get("name", "") for h in data.get("internetMessageHeaders")
                              or [] if not str(h.get("name", "")).lower().startswith("x-")]
                if bad_header:
                    return self._error(400, "InvalidInternetMessageHeader", "The internet "
                                       f"message header name '{bad_header[0]}' should start "
                                       "with 'x-' or 'X-'.")
                msg = StoredMessage(self._new_id("draft"), box, dict(data))
                msg.immutable = 'idtype="immutableid"' in headers.get("prefer", "").lower()
                msg.attachments = [dict(a, source="inline")
                                   for a in (msg.data.pop("attachments", []) or [])]
                self.drafts[msg.id] = msg
                return 201, {}, self._message_view(msg)
            folder = re.fullmatch(r"/mailFolders/(\w+)/messages", rest)
            if method == "GET" and folder:
                return 200, {}, {"value": self._search(box, folder.group(1), query)}
            msg_m = re.fullmatch(r"/messages/([^/]+)(/.*)?", rest)
            if not msg_m:
                return self._error(404, "ResourceNotFound", f"no route {rest}")
            mid, sub = msg_m.group(1), msg_m.group(2) or ""
            draft = self.drafts.get(mid)
            if method == "GET" and sub == "":
                if draft is not None:
                    return 200, {}, self._message_view(draft)
                for s in self.sent:
                    if s.id == mid and self._visible(s):
                        return 200, {}, self._message_view(s)
                    if s.id == mid and s.held_until is not None:  # in the Outbox
                        return 200, {}, dict(self._message_view(s), parentFolderId="outbox")
                return self._error(404, "ErrorItemNotFound", "not found")
            held = [s for s in self.sent if s.id == mid and not self._visible(s)
                    and s.held_until is not None]
            if method == "DELETE" and sub == "" and held:  # cancels the deferred delivery
                self.sent.remove(held[0])
                self.cancelled.append(held[0])
                return 204, {}, None
            if draft is None:
                return self._error(404, "ErrorItemNotFound", "not found")
            if method == "PATCH" and sub == "" and "internetMessageHeaders" in data:
                return self._error(400, "ErrorInvalidRequest", "internetMessageHeaders can "
                                   "only be set when the message is created.")
            if method == "PATCH" and sub == "":
                draft.data.update({k: v for k, v in data.items() if k != "attachments"})
                return 200, {}, self._message_view(draft)
            if method == "DELETE" and sub == "":
                del self.drafts[mid]
                return 204, {}, None
            if method == "POST" and sub == "/attachments":
                att = dict(data, id=self._new_id("att"), source="post")
                draft.attachments.append(att)
                return 201, {}, {k: v for k, v in att.items() if k != "contentBytes"}
            if method == "POST" and sub == "/attachments/createUploadSession":
                refused = self._upload_refused(box, headers)
                if refused:
                    return refused
                sid = self._new_id("upl")
                item = data.get("attachmentItem") or data["AttachmentItem"]
                self.sessions[sid] = {"draft": mid, "name": item["name"],
                                      "size": int(item["size"]), "chunks": [],
                                      "data": bytearray()}
                return 201, {}, {"uploadUrl": f"{self.url}upload/{sid}",
                                 "expirationDateTime": "2099-01-01T00:00:00Z",
                                 "nextExpectedRanges": ["0-"]}
            if method == "POST" and sub == "/send":
                refused = self._send(draft) or self._send_as(box, draft, headers)
                if refused:
                    return refused
                del self.drafts[mid]
                draft.is_draft = False
                draft.draft_id = mid
                if not draft.immutable:  # a regular id changes when the item moves
                    draft.id = self._new_id("sent")
                draft.visible_at = self.clock() + self.sent_items_delay
                draft.hold()
                draft.data["sentDateTime"] = _utc_now()
                self.sent.append(draft)
                self._copy_for_from(draft)
                return 202, {}, None
        return self._error(405, "ErrorInvalidRequest", f"{method} {rest}")

    def _request_refused(self, method: str, path: str, headers: dict[str, str]
                         ) -> tuple[int, dict[str, str], Any] | None:
        """``/me`` with an app-only token (there is no signed-in user): 400; a ``send``
        without ``Content-Length`` (message: send requires ``Content-Length: 0``): 411."""
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if token in self.app_tokens and re.match(r"/v1\.0/me(/|$)", path):
            return self._error(400, "BadRequest", "/me request is only valid with "
                               "delegated authentication flow.")
        if method == "POST" and path.endswith("/send") and "content-length" not in headers:
            return self._error(411, "LengthRequired", "Content-Length: 0 is required.")
        return None

    def _send_as(self, box: str, m: StoredMessage, headers: dict[str, str]
                 ) -> tuple[int, dict[str, str], Any] | None:
        """Exchange's check of ``from`` (:meth:`IdentityRules.send`); sets ``sender``."""
        refused = self.identity.send(box, m.data, headers)
        return self._error(*refused) if refused else None

    def _copy_for_from(self, m: StoredMessage) -> None:
        """The admin's "save a copy of messages sent as / on behalf of" on the from
        mailbox: a second copy in its Sent Items (``identity.copy_sent_as``)."""
        sender = str(((m.data.get("from") or {}).get("emailAddress") or {}).get("address", ""))
        box = f"users/{sender.lower()}"
        if sender.lower() in self.identity.copy_sent_as and box != m.mailbox:
            copy = StoredMessage(self._new_id("sent"), box, dict(m.data), list(m.attachments),
                                 is_draft=False, visible_at=m.visible_at, draft_id=m.draft_id)
            self.sent.append(copy)

    def _upload_refused(self, box: str, headers: dict[str, str]
                        ) -> tuple[int, dict[str, str], Any] | None:
        """createUploadSession is not available on US Gov L4/L5; with a delegated token it
        is refused in a shared or delegated mailbox (Microsoft known issue: 403)."""
        if self.cloud == "usgov":
            return self._error(400, "BadRequest", "Resource not found for the segment "
                               "'createUploadSession'.")
        token = headers.get("authorization", "").removeprefix("Bearer ")
        if box.startswith("users/") and token not in self.app_tokens:
            return self._error(403, "ErrorAccessDenied", "Access is denied. Check "
                               "credentials and try again.")
        return None

    def deliver_reply(self, to: StoredMessage, sender: str, text: str, *,
                      received: str | None = None,
                      attachments: tuple[tuple[str, bytes], ...] = ()) -> StoredMessage:
        """A message from ``sender`` arrives in the mailbox of ``to`` (a sent item), in its
        conversation; ``text`` is its own text (Graph's ``uniqueBody``)."""
        with self._lock:
            self._message_view(to)  # its conversationId
            m = StoredMessage(self._new_id("inbox"), to.mailbox, {
                "subject": "RE: " + str(to.data.get("subject") or ""),
                "from": {"emailAddress": {"address": sender, "name": sender}},
                "receivedDateTime": received or _utc_now(),
                "uniqueBody": {"contentType": "html",
                               "content": "<div>" + text.replace("\n", "<br>") + "</div>",
                               "text": text},
                "body": {"contentType": "html", "content": f"<div>{text}</div><hr>quoted"}},
                is_draft=False, conversation_id=to.conversation_id)
            m.attachments = [{"@odata.type": "#microsoft.graph.fileAttachment", "id":
                              self._new_id("att"), "name": name, "size": len(data),
                              "contentBytes": base64.b64encode(data).decode()}
                             for name, data in attachments]
            self.inbox.append(m)
            return m

    def _received_route(self, method: str, box: str, rest: str, query: dict[str, str],
                        headers: dict[str, str]) -> tuple[int, dict[str, str], Any] | None:
        """``GET /messages`` (every folder; filtered) and a received message's
        ``/attachments``; None for anything else."""
        if method != "GET":
            return None
        if rest == "/messages":
            text = 'outlook.body-content-type="text"' in headers.get("prefer", "")
            pool = [m for m in [*self.inbox, *self.sent] if m.mailbox == box
                    and self._visible(m)]
            found = [self._received_view(m, text) for m in pool]
            found = [v for v in found if _matches(v, query.get("$filter", ""))]
            top = int(query.get("$top", "10"))
            keep = _selected(query) or list(found[0]) if found else []
            return 200, {}, {"value": [{k: v.get(k) for k in ["id", *keep]}
                                       for v in found[:top]]}
        att = re.fullmatch(r"/messages/([^/]+)/attachments", rest)
        inbox = {m.id: m for m in [*self.inbox, *self.sent]}
        if att and att.group(1) in inbox:
            return 200, {}, {"value": list(inbox[att.group(1)].attachments)}
        return None

    def _received_view(self, m: StoredMessage, text: bool) -> dict[str, Any]:
        view = self._message_view(m)
        view["receivedDateTime"] = m.data.get("receivedDateTime") or view["sentDateTime"]
        view["from"] = m.data.get("from") or {"emailAddress": {"address": m.mailbox}}
        unique = dict(m.data.get("uniqueBody") or {"contentType": "html", "content": ""})
        if text:
            unique = {"contentType": "text", "content": unique.get("text", "")}
        view["uniqueBody"] = {k: v for k, v in unique.items() if k != "text"}
        return view

    def _search(self, box: str, folder: str, query: dict[str, str]) -> list[dict[str, Any]]:
        flt = query.get("$filter", "")
        m = _FILTER.search(flt)
        want = (m.group("id").replace("''", "'"), m.group("value").replace("''", "'")
                ) if m else None
        if folder.lower() == "sentitems":
            pool = [s for s in self.sent if self._visible(s)]
        elif folder.lower() == "drafts":
            pool = list(self.drafts.values())
        else:
            pool = []
        out = []
        for s in pool:
            if s.mailbox != box:
                continue
            if want and not any(  # Graph compares the values case-insensitively
                    (str(p.get("id")).casefold(), str(p.get("value")).casefold())
                    == (want[0].casefold(), want[1].casefold()) for p in s.props()):
                continue
            view = self._message_view(s)
            if flt and not m and not _matches(view, flt):  # never "everything" by mistake
                continue
            out.append({"id": s.id, "isDraft": s.is_draft,
                        **{k: view.get(k) for k in _selected(query) if k in view}})
        top = int(query.get("$top", "25"))
        return out[:top]

    def _upload(self, sid: str, headers: dict[str, str], body: bytes
                ) -> tuple[int, dict[str, str], Any]:
        with self._lock:
            session = self.sessions.get(sid)
            if session is None:
                return self._error(404, "ErrorItemNotFound", "no upload session")
            refused = self._chunk_refused(session, headers, body)
            if refused:
                return refused
            rng = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers["content-range"])
            assert rng is not None
            session["chunks"].append((int(rng.group(1)), int(rng.group(2)), len(body)))
            session["data"].extend(body)
            if len(session["data"]) >= session["size"]:
                draft = self.drafts.get(session["draft"])
                if draft is not None:
                    draft.attachments.append({
                        "name": session["name"], "source": "upload",
                        "contentBytes": base64.b64encode(bytes(session["data"])).decode()})
                return 201, {}, None
            return 200, {}, {"nextExpectedRanges": [f"{len(session['data'])}-"]}

    #: the largest byte range one upload PUT may carry ("up to 4 MB each time",
    #: attachment: createUploadSession)
    max_chunk = 4 * 1024 * 1024

    def _chunk_refused(self, session: dict[str, Any], headers: dict[str, str], body: bytes
                       ) -> tuple[int, dict[str, str], Any] | None:
        """Graph's answer to an upload PUT it refuses (graph/outlook-large-attachments):
        401 with an ``Authorization`` header (the URL is pre-authenticated), 400 for a
        missing or malformed ``Content-Range`` or one whose length or total disagrees with
        the body or the session, 416 when it does not start at the next expected byte (the
        bytes go in order) or reaches past the end, 413 over 4 MB."""
        expected = {"nextExpectedRanges": [f"{len(session['data'])}-"]}
        if "authorization" in headers:
            return self._error(401, "InvalidAuthenticationToken", "The upload URL is "
                               "pre-authenticated: send no Authorization header.")
        if headers.get("content-type", "").split(";")[0].strip() != "application/octet-stream":
            return self._error(400, "InvalidRequest", "Content-Type must be "
                               "application/octet-stream.")
        rng = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", headers.get("content-range", ""))
        if not rng:
            return self._error(400, "InvalidContentRange", "The Content-Range header is "
                               "missing or malformed: expected 'bytes {start}-{end}/{total}'.")
        start, end, total = (int(g) for g in rng.groups())
        if total != session["size"] or end < start or end - start + 1 != len(body):
            return self._error(400, "InvalidContentRange", f"Content-Range bytes {start}-"
                               f"{end}/{total} does not match {len(body)} bytes of a "
                               f"{session['size']}-byte upload.")
        if start != len(session["data"]) or end >= total:
            status, _, payload = self._error(416, "InvalidRange", "The range is not the "
                                             "next expected one.")
            return status, {}, {**payload, **expected}
        if len(body) > self.max_chunk:
            return self._error(413, "RequestEntityTooLarge", f"{len(body)} bytes in one "
                               f"range; at most {self.max_chunk}.")
        return None

    # -- HTTP --------------------------------------------------------------------------

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per response (headers + body) and no Nagle: otherwise every answer
            # waits ~40 ms for a delayed ACK, which Graph does not do.
            wbufsize = -1
            disable_nagle_algorithm = True

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _handle(self) -> None:
                split = urlsplit(self.path)
                path = unquote(split.path)
                query = {k: v[0] for k, v in parse_qs(split.query).items()}
                headers = {k.lower(): v for k, v in self.headers.items()}
                length = int(headers.get("content-length", "0") or 0)
                body = self.rfile.read(length) if length else b""
                try:
                    data = json.loads(body) if body and "json" in headers.get(
                        "content-type", "") else None
                except ValueError:
                    data = None
                rec = Recorded(self.command, path, query, headers, body, data,
                               at=fake.clock())
                self._rec = rec  # _reply notes the answer on it
                with fake._lock:
                    fake.requests.append(rec)
                fault = fake._match_fault(self.command, path)
                kind = fault.kind if fault else ""
                if kind == "drop_before":
                    self.close_connection = True
                    return
                if kind == "hang_before":
                    fake._stop.wait(fault.hang if fault else 0)
                    self.close_connection = True
                    return
                if kind == "throttle":
                    ra = fault.retry_after if fault and fault.retry_after is not None else 1
                    self._reply(429, {"Retry-After": f"{ra:g}"},
                                {"error": {"code": "ApplicationThrottled",
                                           "message": "throttled"}})
                    return
                if kind == "unavailable":
                    hdrs = {}
                    if fault and fault.retry_after is not None:
                        hdrs["Retry-After"] = f"{fault.retry_after:g}"
                    self._reply(503, hdrs, {"error": {"code": "ServiceUnavailable",
                                                      "message": "unavailable"}})
                    return
                if kind == "error":
                    assert fault is not None
                    self._reply(fault.status or 400, {},
                                {"error": {"code": fault.code or "ErrorInvalidRequest",
                                           "message": fault.code}})
                    return
                status, hdrs, payload = fake.route(self.command, path, query, headers, body,
                                                   data)
                if kind == "error_after":
                    assert fault is not None
                    self._reply(fault.status or 500, {},
                                {"error": {"code": fault.code or "InternalServerError",
                                           "message": "error"}})
                    return
                if kind == "drop_after":
                    self.close_connection = True
                    return
                if kind == "tls_garbage_after":  # done; then bytes that are not TLS
                    import os
                    import socket

                    raw = socket.socket(fileno=os.dup(self.connection.fileno()))
                    raw.sendall(b"HTTP/1.1 202 Accepted\r\n\r\n")
                    raw.close()
                    self.close_connection = True
                    return
                if kind == "reply_close":
                    self._reply(status, {**hdrs, "Connection": "close"}, payload)
                    self.close_connection = True
                    return
                if kind == "hang_after":
                    fake._stop.wait(fault.hang if fault else 0)
                    self.close_connection = True
                    return
                self._reply(status, hdrs, payload)

            def _reply(self, status: int, headers: dict[str, str], payload: Any) -> None:
                raw = b"" if payload is None else json.dumps(payload).encode()
                rec: Recorded | None = getattr(self, "_rec", None)
                if rec is not None:
                    rec.status, rec.reply_headers = status, dict(headers)
                try:
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    if raw:
                        self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:
                    self.close_connection = True

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        return Handler


# -- fake sign-in service --------------------------------------------------------------


def _b64url(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def fake_id_token(username: str, oid: str, tid: str, client_id: str, issuer: str,
                  nonce: str | None = None) -> str:
    """An unsigned JWT shaped like Entra's id_token (MSAL only decodes it)."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "aud": client_id, "iss": issuer, "iat": now, "nbf": now, "exp": now + 3600,
        "oid": oid, "tid": tid, "sub": oid, "preferred_username": username, "name": username}
    if nonce:
        claims["nonce"] = nonce
    return f"{_b64url({'alg': 'none', 'typ': 'JWT'})}.{_b64url(claims)}.sig"


def client_info(oid: str, tid: str) -> str:
    """The ``client_info`` blob (uid/utid) MSAL uses for the home account id."""
    return _b64url({"uid": oid, "utid": tid})


class FakeAuthority:
    """An https fake of login.microsoftonline.com for one tenant."""

    def __init__(self, tmp: Path, graph: FakeGraph | None = None, tenant: str = "tenant-1",
                 username: str = "ann@contoso.com") -> None:
        import trustme

        self.graph = graph
        self.tenant = tenant
        self.username = username
        self.oid = "00000000-0000-0000-0000-0000000000a1"
        self.requests: list[dict[str, Any]] = []
        self.refresh_tokens: set[str] = set()
        self.issued: list[str] = []
        self.expires_in = 3600
        self.nonce: str | None = None  # echoed in the next id_token (auth-code flow)
        self.device_scope = ""  # the scopes of the last device code
        self.single_tenant = False  # True: /common and /organizations answer AADSTS50194
        self._n = itertools.count(1)
        self._lock = threading.Lock()
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        self.ca_path = tmp / "fake-authority-ca.pem"
        ca.cert_pem.write_to_path(str(self.ca_path))
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        self.server = _Server(("127.0.0.1", 0), self._handler_class())
        self.server.daemon_threads = True
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.01}, daemon=True)

    @property
    def url(self) -> str:
        """``https://127.0.0.1:PORT`` (the authority base, without tenant)."""
        return f"https://127.0.0.1:{self.server.server_address[1]}"

    @property
    def token_endpoint(self) -> str:
        return f"{self.url}/{self.tenant}/oauth2/v2.0/token"

    def start(self) -> FakeAuthority:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def grants(self) -> list[str]:
        """grant_type of every token request so far."""
        return [r["form"].get("grant_type", "") for r in self.requests
                if r["path"].endswith("/token")]

    def token_response(self, client_id: str, scope: str, *, user: bool = True
                       ) -> dict[str, Any]:
        """A fresh token response; the access token is made valid on the fake Graph."""
        n = next(self._n)
        at = f"fake-access-token-{n}-{'x' * 16}"
        with self._lock:
            self.issued.append(at)
        if self.graph is not None and self.graph.valid_tokens is not None:
            self.graph.valid_tokens.add(at)
        if self.graph is not None and not user:
            self.graph.app_tokens.add(at)
        resp: dict[str, Any] = {"token_type": "Bearer", "access_token": at,
                                "expires_in": self.expires_in, "scope": scope}
        if user:
            rt = f"fake-refresh-token-{n}"
            self.refresh_tokens.add(rt)
            resp.update(refresh_token=rt,
                        id_token=fake_id_token(self.username, self.oid, self.tenant,
                                               client_id, f"{self.url}/{self.tenant}/v2.0",
                                               self.nonce),
                        client_info=client_info(self.oid, self.tenant))
        return resp

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, status: int, payload: Any) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def do_GET(self) -> None:
                path = urlsplit(self.path).path
                fake.requests.append({"method": "GET", "path": path, "form": {}})
                segment = path.split("/")[1] if path.count("/") > 1 else fake.tenant
                base = f"{fake.url}/{segment if fake.single_tenant else fake.tenant}"
                if path.endswith("/v2.0/.well-known/openid-configuration"):
                    self._json(200, {
                        "issuer": f"{base}/v2.0",
                        "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
                        "token_endpoint": f"{base}/oauth2/v2.0/token",
                        "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
                    })
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                path = urlsplit(self.path).path
                length = int(self.headers.get("Content-Length", "0") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                fake.requests.append({"method": "POST", "path": path, "form": form})
                client_id = form.get("client_id", "")
                if fake.single_tenant and path.split("/")[1] in ("common", "organizations"):
                    self._json(400, {"error": "invalid_request", "error_description":
                                     f"AADSTS50194: Application '{client_id}' is not "
                                     "configured as a multi-tenant application. Usage of the "
                                     "/common endpoint is not supported for such applications "
                                     "created after '10/15/2018'. Use a tenant-specific "
                                     "endpoint or configure the application to be "
                                     "multi-tenant."})
                    return
                scope = " ".join(s for s in form.get("scope", "").split()
                                 if s not in ("openid", "profile", "offline_access"))
                if path.endswith("/devicecode"):
                    fake.device_scope = scope  # granted when the code is redeemed
                    self._json(200, {"device_code": "dev-code-1", "user_code": "ABCD-EFGH",
                                     "verification_uri": "https://microsoft.com/devicelogin",
                                     "expires_in": 900, "interval": 1,
                                     "message": "To sign in, open "
                                                "https://microsoft.com/devicelogin and "
                                                "enter the code ABCD-EFGH."})
                    return
                if not path.endswith("/token"):
                    self._json(404, {"error": "not_found"})
                    return
                grant = form.get("grant_type", "")
                if grant == "refresh_token":
                    if form.get("refresh_token") not in fake.refresh_tokens:
                        self._json(400, {"error": "invalid_grant",
                                         "error_description": "unknown refresh token"})
                        return
                    self._json(200, fake.token_response(client_id, scope))
                elif grant == "client_credentials":
                    self._json(200, fake.token_response(client_id, scope, user=False))
                elif grant in ("urn:ietf:params:oauth:grant-type:device_code",
                               "authorization_code"):
                    if grant.endswith("device_code") and not scope:  # Entra answers with
                        scope = fake.device_scope  # the scopes the code was asked for
                    self._json(200, fake.token_response(client_id, scope))
                else:
                    self._json(400, {"error": "unsupported_grant_type"})

        return Handler


def seed_token_cache(backend: Any, authority: FakeAuthority | None, *, client_id: str,
                     scopes: list[str], expires_in: int, access_token: str = "",
                     refresh_token: str = "", username: str = "ann@contoso.com",
                     tenant: str = "tenant-1", host: str = "https://127.0.0.1") -> str:
    """Put an MSAL-shaped delegated sign-in into an O365 token backend and save it.
    Returns the access token."""
    oid = authority.oid if authority else "00000000-0000-0000-0000-0000000000a1"
    if authority is not None:
        tenant, username = authority.tenant, authority.username
        host = authority.url
        if not refresh_token:
            refresh_token = f"seed-refresh-token-{int(time.time() * 1000)}"
        authority.refresh_tokens.add(refresh_token)
    access_token = access_token or f"seed-access-token-{int(time.time() * 1000)}"
    response: dict[str, Any] = {
        "token_type": "Bearer", "access_token": access_token, "expires_in": expires_in,
        "scope": " ".join(scopes),
        "id_token": fake_id_token(username, oid, tenant, client_id, f"{host}/{tenant}/v2.0"),
        "client_info": client_info(oid, tenant),
    }
    if refresh_token:
        response["refresh_token"] = refresh_token
    backend.add({"client_id": client_id, "scope": scopes,
                 "token_endpoint": f"{host}/{tenant}/oauth2/v2.0/token",
                 "response": response, "grant_type": "authorization_code"})
    backend.save_token(force=True)
    return access_token


@pytest.fixture(name="fake_graph")
def fake_graph_fixture() -> Iterator[FakeGraph]:
    """A running fake Graph on 127.0.0.1."""
    graph = FakeGraph().start()
    try:
        yield graph
    finally:
        graph.stop()


@pytest.fixture(name="fake_authority")
def fake_authority_fixture(fake_graph: FakeGraph, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                   ) -> Iterator[FakeAuthority]:
    """A running https fake sign-in service; the CA-bundle variables are unset so that
    requests honours our ``verify=`` (this machine sets them and they win over it)."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    auth = FakeAuthority(tmp_path, graph=fake_graph).start()
    try:
        yield auth
    finally:
        auth.stop()


# -- the backend contract (tests/test_backend_contract.py) -----------------------------

CONTRACT_CLIENT_ID = "11111111-2222-3333-4444-555555555555"
CONTRACT_SCOPES = ["Mail.ReadWrite", "Mail.Send", "User.Read"]

# Graph's JSON for a file attachment carries no content type from us (the O365 library sends
# name and contentBytes only); Exchange assigns one from the extension. This table makes the
# Office types independent of this machine's /etc/mime.types; others use mimetypes.
_EXCHANGE_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".csv": "text/csv",
}


def _attachment_type(att: dict[str, Any]) -> str:
    if att.get("contentType"):
        return str(att["contentType"])
    name = str(att.get("name") or "")
    suffix = name[name.rfind("."):].lower() if "." in name else ""
    return (_EXCHANGE_TYPES.get(suffix) or mimetypes.guess_type(name, strict=False)[0]
            or "application/octet-stream")


def _mime_addresses(recipients: list[dict[str, Any]] | None) -> list[MimeAddress]:
    out = []
    for r in recipients or []:
        ea = r["emailAddress"]
        out.append(MimeAddress(display_name=ea.get("name") or "", addr_spec=ea["address"]))
    return out


def envelope(m: StoredMessage) -> tuple[str, ...]:
    """Whom Exchange delivers a sent item to: every To, Cc and Bcc address, as given."""
    return tuple(r["emailAddress"]["address"]
                 for name in ("toRecipients", "ccRecipients", "bccRecipients")
                 for r in m.data.get(name) or [])


def sent_as_mime(m: StoredMessage) -> EmailMessage:
    """A stored message as the MIME message its recipients get, from Graph's JSON only.

    From, To, Cc, Subject, ``internetMessageId`` (only when the JSON has one: Graph
    assigns its own otherwise, and the O365 backend sends none), the ``X-`` headers of
    ``internetMessageHeaders``, one body part of the JSON's ``body.contentType`` (Graph
    gets the HTML only: no text/plain alternative is invented here), and every attachment
    decoded from ``contentBytes`` (inline in the create request, posted, or reassembled from
    upload-session chunks by :meth:`FakeGraph._upload`). Bcc is in :func:`envelope` only.
    Serialised and parsed back, like the outbox and SMTP backends' messages.
    """
    data = m.data
    # SMTP line ends; 998 so a long subject is not folded (what is compared is the decoded
    # value either way)
    msg = EmailMessage(policy=SMTP.clone(max_line_length=998))
    sender = data.get("from") or data.get("sender")
    if sender:
        msg["From"] = _mime_addresses([sender])
    if data.get("toRecipients"):
        msg["To"] = _mime_addresses(data["toRecipients"])
    if data.get("ccRecipients"):
        msg["Cc"] = _mime_addresses(data["ccRecipients"])
    msg["Subject"] = data.get("subject") or ""
    if data.get("internetMessageId"):
        msg["Message-ID"] = data["internetMessageId"]
    for header in data.get("internetMessageHeaders") or []:
        msg[header["name"]] = header["value"]
    body = data.get("body") or {}
    kind = str(body.get("contentType") or "Text").lower()
    msg.set_content(str(body.get("content") or ""),
                    subtype="html" if kind == "html" else "plain", charset="utf-8")
    for att in m.attachments:
        if "contentBytes" not in att:
            raise AssertionError(f"attachment {att.get('name')!r} of {m.id} has no content")
        maintype, _, subtype = _attachment_type(att).partition("/")
        msg.add_attachment(base64.b64decode(att["contentBytes"], validate=True),
                           maintype=maintype, subtype=subtype, filename=att["name"])
    return cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(msg.as_bytes()))


def contract_harness(request: pytest.FixtureRequest
                     ) -> tuple[O365Backend, Callable[[], list[tuple[EmailMessage,
                                                                    tuple[str, ...]]]]]:
    """An O365Backend (send mode, pacing off, short timeouts, seeded token) on a fresh
    FakeGraph, and ``delivered()``: every sent item as ``(MIME, envelope)``, oldest first."""
    from O365.utils.token import MemoryTokenBackend

    from ftc_office.backends.o365 import O365Backend, SendLog
    from ftc_office.config import O365Settings

    graph = FakeGraph().start()
    request.addfinalizer(graph.stop)
    tmp: Path = request.getfixturevalue("tmp_path")
    tokens = MemoryTokenBackend()
    seed_token_cache(tokens, None, client_id=CONTRACT_CLIENT_ID, scopes=CONTRACT_SCOPES,
                     expires_in=10 * 86400, access_token="contract-access-token-abcdefgh",
                     refresh_token="contract-rt")
    settings = O365Settings(client_id=CONTRACT_CLIENT_ID, graph_url=graph.url, mode="send",
                            timeout=2.0, max_retries=3, max_retry_wait=1.0,
                            max_per_minute=10_000, daily_recipient_limit=10_000,
                            sent_items_grace=300.0)
    send_log = SendLog(tmp / "contract-sends.sqlite")
    request.addfinalizer(send_log.close)
    backend = O365Backend(settings, token_backend=tokens, requests_delay_ms=0,
                          send_log=send_log)

    def delivered() -> list[tuple[EmailMessage, tuple[str, ...]]]:
        with graph._lock:
            sent = list(graph.sent)
        return [(sent_as_mime(m), envelope(m)) for m in sent]

    return backend, delivered

"""Microsoft Graph v1.0, as documented, as rules over recorded HTTP requests.

Every rule carries the learn.microsoft.com page it is written from (``docs/graph-contract.md``
lists them). The rules read only what went over the wire — method, path, query, headers,
body, the answer's status and headers, the client's clock — plus what the scenario was
configured with (:class:`Context`). Nothing here imports the fake Graph: a rule must not
take the fake's behaviour for Graph's.

Use: ``violations(exchanges, context)``; each :class:`Violation` names the rule, the
request and its source page. ``RULES`` is every rule, in order.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

DOCS = "https://learn.microsoft.com/en-us/graph/"
API = DOCS + "api/"
V1 = "?view=graph-rest-1.0"

MB4 = 4 * 1024 * 1024
#: "If the file size is under 3 MB, do a single POST" / upload sessions "between 3 MB and
#: 150 MB" (outlook-large-attachments); MB read as 10**6 for the lower bound of sessions
#: and as MiB for the POST ceiling, so either reading of "MB" passes only what both allow
POST_FILE_MAX = 3 * 1024 * 1024
SESSION_FILE_MIN = 3_000_000
SESSION_FILE_MAX = 150 * 1024 * 1024
PROPERTY_ID = re.compile(
    r"(?:(?P<type>[A-Za-z]+) \{[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\} "
    r"Name \S+|(?P<mapi>[A-Za-z]+) 0x[0-9A-Fa-f]{4})")
KEY_FILTER = re.compile(r"singleValueExtendedProperties/any\(ep: ep/id eq '(?P<id>(?:[^']|'')*)'"
                        r" and ep/value eq '(?P<value>(?:[^']|'')*)'\)")
ISO_UTC = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
MAILBOX = re.compile(r"^/v1\.0/(?P<box>me|users/[^/]+)(?P<rest>/.*)?$")
#: national clouds: Graph host -> sign-in host (graph/deployments)
CLOUDS = {"graph.microsoft.com": "login.microsoftonline.com",
          "graph.microsoft.us": "login.microsoftonline.us",
          "dod-graph.microsoft.us": "login.microsoftonline.us",
          "microsoftgraph.chinacloudapi.cn": "login.chinacloudapi.cn"}
#: US Government L4 and L5 (DOD): attachment: createUploadSession is not available there
NO_UPLOAD_SESSIONS = frozenset(("graph.microsoft.us", "dod-graph.microsoft.us"))


@dataclass
class Exchange:
    """One request as it reached the server, and the answer's status and headers."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    status: int = 0  # 0: no answer (the connection was dropped)
    reply_headers: dict[str, str] = field(default_factory=dict)
    at: float = 0.0  # the client's clock when it arrived

    @property
    def json(self) -> Any:
        """The body as JSON (None when it is not JSON)."""
        if not self.body or "json" not in self.headers.get("content-type", ""):
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def graph(self) -> bool:
        """A Graph v1.0 call (an upload URL is not: it is Outlook's pre-authenticated URL)."""
        return self.path.startswith("/v1.0/")

    @property
    def rest(self) -> str:
        """The path after the mailbox (``/messages/{id}/send``), '' off the mailbox."""
        m = MAILBOX.match(self.path)
        return (m.group("rest") or "") if m else ""

    @property
    def mailbox(self) -> str:
        """``me`` or ``users/{upn}``; '' off the mailbox."""
        m = MAILBOX.match(self.path)
        return m.group("box") if m else ""


@dataclass(frozen=True)
class Context:
    """What the scenario was configured with: the Graph base URL the backend would use
    (a real cloud's host for the cloud rules), app-only or delegated sign-in, the shared
    mailbox, the scopes the token carries and the scopes its sign-in asked for."""

    graph_url: str = "https://graph.microsoft.com/"
    app_only: bool = False
    mailbox: str = ""
    scopes: tuple[str, ...] = ()
    requested_scopes: tuple[str, ...] = ()
    authority: str = "https://login.microsoftonline.com"
    user: str = "ann@contoso.com"  # the signed-in user (delegated)

    @property
    def graph_host(self) -> str:
        """The Graph host name."""
        return urlsplit(self.graph_url).hostname or ""


@dataclass(frozen=True)
class Rule:
    """A documented constraint: id, what it says, where Microsoft says it."""

    id: str
    text: str
    source: str
    check: Callable[[list[Exchange], Context], Iterator[tuple[int, str]]]


@dataclass(frozen=True)
class Violation:
    """A request (index into the recording, -1 for the scenario) breaking a rule."""

    rule: Rule
    index: int
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule.id}] request {self.index}: {self.detail} ({self.rule.source})"


RULES: list[Rule] = []
Check = Callable[[list[Exchange], Context], Iterator[tuple[int, str]]]


def rule(rule_id: str, text: str, source: str) -> Callable[[Check], Check]:
    """Register a rule function (it yields ``(request index, what is wrong)``)."""
    def register(fn: Check) -> Check:
        RULES.append(Rule(rule_id, text, source, fn))
        return fn
    return register


def violations(exchanges: Iterable[Exchange], context: Context) -> list[Violation]:
    """Every rule broken by the recorded requests of one scenario."""
    recorded = list(exchanges)
    return [Violation(r, i, detail) for r in RULES for i, detail in r.check(recorded, context)]


# -- request shapes --------------------------------------------------------------------

def is_create(x: Exchange) -> bool:
    """POST of a new message (a draft)."""
    return x.method == "POST" and bool(re.fullmatch(r"(/mailFolders/[^/]+)?/messages", x.rest))


def is_send(x: Exchange) -> bool:
    """POST /messages/{id}/send."""
    return x.method == "POST" and bool(re.fullmatch(r"/messages/[^/]+/send", x.rest))


def is_upload(x: Exchange) -> bool:
    """A PUT to an upload URL (outside Graph's /v1.0 root)."""
    return x.method == "PUT" and not x.graph


def message_headers(x: Exchange) -> list[dict[str, Any]]:
    """``internetMessageHeaders`` of a JSON body, also nested in ``message``."""
    data = x.json if isinstance(x.json, dict) else {}
    data = data.get("message", data) if isinstance(data.get("message"), dict) else data
    return list(data.get("internetMessageHeaders") or [])


@rule("create-json", "A message is created by POST {mailbox}/messages or {mailbox}/mailFolders/"
      "{id}/messages ({mailbox}: /me or /users/{id}) with a JSON message and "
      "Content-Type: application/json.",
      API + "user-post-messages" + V1)
def _create_json(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if is_create(x) and not (x.headers.get("content-type", "").startswith(
                "application/json") and isinstance(x.json, dict)):
            yield i, f"create without a JSON body ({x.headers.get('content-type')!r})"


@rule("create-size", "A create request is at most 4 MB (Graph answers 413 over it); larger "
      "attachments go through an upload session.", API + "user-post-messages" + V1)
def _create_size(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if (is_create(x) or x.rest.endswith("/attachments")) and len(x.body) > MB4:
            yield i, f"{x.method} {x.rest} of {len(x.body):,} bytes (limit {MB4:,})"


@rule("headers-x-only", "internetMessageHeaders names start with x- or X- (custom headers "
      "only).", API + "resources/internetmessageheader" + V1)
def _headers_x(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        for h in message_headers(x):
            if not str(h.get("name", "")).lower().startswith("x-"):
                yield i, f"header {h.get('name')!r} does not start with x-"


@rule("headers-on-create-only", "internetMessageHeaders are set when the message is created "
      "(or sent with sendMail); they are not an updatable property of a draft.",
      API + "message-update" + V1 + " ; " + API + "resources/message" + V1)
def _headers_create(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if message_headers(x) and not (is_create(x) or x.rest == "/sendMail"):
            yield i, f"internetMessageHeaders in {x.method} {x.rest}"


@rule("send-empty", "message: send is POST /messages/{id}/send with Content-Length: 0 and no "
      "body.", API + "message-send" + V1)
def _send_empty(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if x.rest.endswith("/send") and x.graph:
            if x.method != "POST":
                yield i, f"{x.method} on send"
            elif x.body or x.headers.get("content-length") != "0":
                yield i, (f"send with {len(x.body)} body bytes, Content-Length "
                          f"{x.headers.get('content-length')!r}")


@rule("immutable-ids", 'Every request that creates or reads messages carries Prefer: '
      'IdType="ImmutableId" (it applies only to the request it is on).',
      DOCS + "outlook-immutable-id")
def _immutable(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        reads = x.method == "GET" and "/messages" in x.rest
        if (is_create(x) or reads or is_send(x)) and 'IdType="ImmutableId"' not in x.headers.get(
                "prefer", ""):
            yield i, f"{x.method} {x.rest} without the immutable-id preference"


@rule("extended-property-filter", "A message is found by a single-value extended property "
      "with $filter=singleValueExtendedProperties/any(ep: ep/id eq '{id}' and ep/value eq "
      "'{value}'), the id in its documented form.",
      API + "singlevaluelegacyextendedproperty-get" + V1)
def _filter(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        flt = x.query.get("$filter", "")
        if "singleValueExtendedProperties" not in flt:
            continue
        m = KEY_FILTER.fullmatch(flt)
        if not m:
            yield i, f"filter not in the documented shape: {flt!r}"
        elif not PROPERTY_ID.fullmatch(m["id"].replace("''", "'")):
            yield i, f"property id {m['id']!r} not in the documented form"


@rule("extended-property-ids", "singleValueExtendedProperties ids are '{type} {guid} Name "
      "{name}' or '{type} {proptag}'; a SystemTime value is ISO 8601 in UTC "
      "(PidTagDeferredSendTime is SystemTime 0x3FEF).",
      API + "resources/extended-properties-overview" + V1)
def _property_ids(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        data = x.json if isinstance(x.json, dict) else {}
        for p in data.get("singleValueExtendedProperties") or []:
            pid, value = str(p.get("id", "")), str(p.get("value", ""))
            if not PROPERTY_ID.fullmatch(pid):
                yield i, f"property id {pid!r}"
            elif pid.lower().startswith("systemtime") and not ISO_UTC.fullmatch(value):
                yield i, f"{pid} value {value!r} is not ISO 8601 UTC"


# -- attachments -----------------------------------------------------------------------

@rule("attachment-post", "A file attachment under 3 MB is added with one POST "
      "/messages/{id}/attachments (#microsoft.graph.fileAttachment, contentBytes).",
      API + "message-post-attachments" + V1)
def _attachment_post(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if x.method == "POST" and re.fullmatch(r"/messages/[^/]+/attachments", x.rest):
            data = x.json if isinstance(x.json, dict) else {}
            if data.get("@odata.type") != "#microsoft.graph.fileAttachment":
                yield i, f"attachment type {data.get('@odata.type')!r}"
                continue
            size = len(base64.b64decode(str(data.get("contentBytes", ""))))
            if size > POST_FILE_MAX:
                yield i, f"a {size:,}-byte file by POST (over 3 MB: an upload session)"


def session_item(x: Exchange) -> dict[str, Any]:
    """The ``AttachmentItem`` parameter of a createUploadSession request (OData names its
    parameters case-insensitively: ``attachmentItem`` too)."""
    data = x.json if isinstance(x.json, dict) else {}
    item = data.get("AttachmentItem") or data.get("attachmentItem") or {}
    return item if isinstance(item, dict) else {}


@rule("upload-session-create", "A file between 3 MB and 150 MB is attached through POST "
      "/messages/{id}/attachments/createUploadSession with AttachmentItem {attachmentType: "
      "file, name, size}.", API + "attachment-createuploadsession" + V1)
def _session_create(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if x.graph and x.rest.endswith("/createUploadSession"):
            item = session_item(x)
            if x.method != "POST" or item.get("attachmentType") != "file" or not item.get(
                    "name"):
                yield i, f"{x.method} with AttachmentItem {item!r}"
            elif not SESSION_FILE_MIN <= int(item.get("size", 0)) <= SESSION_FILE_MAX:
                yield i, f"upload session for a {item.get('size')}-byte file"


@rule("upload-session-offered", "createUploadSession is not available on US Government L4 "
      "and L5 (DOD); with delegated permissions it fails (403) for a shared or delegated "
      "mailbox (known issue).", API + "attachment-createuploadsession" + V1
      + " ; " + DOCS + "known-issues")
def _session_offered(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if x.graph and x.rest.endswith("/createUploadSession"):
            if ctx.graph_host in NO_UPLOAD_SESSIONS:
                yield i, f"upload session on {ctx.graph_host}"
            if not ctx.app_only and x.mailbox.startswith("users/"):
                yield i, f"delegated upload session in {x.mailbox}"


@rule("upload-no-authorization", "The PUTs to the uploadUrl carry no Authorization header "
      "(the URL is pre-authenticated).", DOCS + "outlook-large-attachments")
def _upload_auth(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if is_upload(x) and "authorization" in x.headers:
            yield i, "Authorization header on an upload PUT"


@rule("upload-headers", "Each upload PUT has Content-Type: application/octet-stream, "
      "Content-Length = its bytes, Content-Range: bytes {start}-{end}/{total} covering exactly "
      "them, at most 4 MB each time.", DOCS + "outlook-large-attachments")
def _upload_headers(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if not is_upload(x):
            continue
        rng = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", x.headers.get("content-range", ""))
        if x.headers.get("content-type") != "application/octet-stream":
            yield i, f"Content-Type {x.headers.get('content-type')!r}"
        if x.headers.get("content-length") != str(len(x.body)):
            yield i, f"Content-Length {x.headers.get('content-length')!r} for {len(x.body)}"
        if not rng:
            yield i, f"Content-Range {x.headers.get('content-range')!r}"
        elif int(rng[2]) - int(rng[1]) + 1 != len(x.body):
            yield i, f"Content-Range {rng[0]} for {len(x.body)} bytes"
        if len(x.body) > MB4:
            yield i, f"{len(x.body):,} bytes in one PUT (up to 4 MB each time)"


@rule("upload-in-order", "The byte ranges of one upload go in order, from 0, contiguous, "
      "with the session's total, the last ending at total-1.",
      DOCS + "outlook-large-attachments")
def _upload_order(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    sizes = [int(session_item(x).get("size", -1))
             for x in xs if x.graph and x.rest.endswith("/createUploadSession")]
    by_url: dict[str, list[tuple[int, Exchange]]] = {}
    for i, x in enumerate(xs):
        if is_upload(x):
            by_url.setdefault(x.path, []).append((i, x))
    for n, puts in enumerate(by_url.values()):
        want, total = 0, sizes[n] if n < len(sizes) else -1
        for i, x in puts:
            rng = re.fullmatch(r"bytes (\d+)-(\d+)/(\d+)", x.headers.get("content-range", ""))
            if not rng:
                continue
            start, end, tot = (int(g) for g in rng.groups())
            if start != want or tot != total:
                yield i, f"range {start}-{end}/{tot}, expected {want}-…/{total}"
            if 200 <= x.status < 300:
                want = end + 1
        if want != total:
            yield puts[-1][0], f"upload stopped at byte {want} of {total}"


# -- sign-in, clouds, throttling -------------------------------------------------------

@rule("app-only-no-me", "App-only (client credentials) calls name the mailbox "
      "(/users/{id}); /me needs a signed-in user.", DOCS + "auth-v2-service")
def _no_me(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        if ctx.app_only and x.mailbox == "me":
            yield i, f"{x.method} {x.path} with an app-only token"


@rule("permissions", "Delegated: creating, changing and reading drafts needs Mail.ReadWrite, "
      "sending Mail.Send; in another user's or a shared mailbox Mail.ReadWrite.Shared and "
      "Mail.Send.Shared; a from other than the signed-in user Mail.Send.Shared (and Send As "
      "rights). The sign-in asks for all of them. App-only asks for {graph}/.default.",
      API + "message-send" + V1 + " ; " + API + "user-post-messages" + V1 + " ; " + DOCS
      + "outlook-send-mail-from-other-user")
def _permissions(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    if ctx.app_only:
        want = ctx.graph_url.rstrip("/") + "/.default"
        if ctx.requested_scopes and set(ctx.requested_scopes) != {want}:
            yield -1, f"app-only sign-in asked for {ctx.requested_scopes}, not {want}"
        return
    granted = {s.rsplit("/", 1)[-1] for s in ctx.scopes}
    asked = {s.rsplit("/", 1)[-1] for s in ctx.requested_scopes}
    for i, x in enumerate(xs):
        need = needed_scopes(x, ctx)
        if need - granted:
            yield i, f"{x.method} {x.rest} needs {sorted(need - granted)}: not granted"
        if ctx.requested_scopes and need - asked:
            yield i, f"{x.method} {x.rest} needs {sorted(need - asked)}: not asked for"


def needed_scopes(x: Exchange, ctx: Context) -> set[str]:
    """The delegated permissions one mailbox request needs."""
    if not x.graph or not x.mailbox:
        return set()
    shared = x.mailbox.startswith("users/")
    need = set()
    if is_send(x):
        need.add("Mail.Send.Shared" if shared else "Mail.Send")
    elif x.rest.startswith(("/messages", "/mailFolders")):
        need.add("Mail.ReadWrite.Shared" if shared else "Mail.ReadWrite")
    data = x.json if is_create(x) and isinstance(x.json, dict) else {}
    sender = str(((data.get("from") or {}).get("emailAddress") or {}).get("address") or "")
    if sender and sender.lower() not in (ctx.mailbox.lower() or ctx.user.lower(),):
        need.add("Mail.Send.Shared")
    return need


@rule("national-cloud", "Each national cloud pairs its Graph host with its own sign-in host "
      "(graph.microsoft.com/login.microsoftonline.com, graph.microsoft.us and "
      "dod-graph.microsoft.us/login.microsoftonline.us, microsoftgraph.chinacloudapi.cn/"
      "login.chinacloudapi.cn); scopes name that Graph host.", DOCS + "deployments")
def _cloud(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    login = urlsplit(ctx.authority).hostname or ""
    if ctx.graph_host in CLOUDS and CLOUDS[ctx.graph_host] != login:
        yield -1, f"Graph {ctx.graph_host} with sign-in {login}"
    for s in ctx.requested_scopes:
        host = urlsplit(s).hostname if "://" in s else None
        if host is not None and host != ctx.graph_host:
            yield -1, f"scope {s} is not for {ctx.graph_host}"


@rule("retry-after", "After 429 (or 503) with Retry-After, the request is retried no sooner "
      "than that many seconds later.", DOCS + "throttling")
def _retry_after(xs: list[Exchange], ctx: Context) -> Iterator[tuple[int, str]]:
    for i, x in enumerate(xs):
        wait = x.reply_headers.get("Retry-After") or x.reply_headers.get("retry-after")
        if x.status not in (429, 503) or not wait:
            continue
        later = [(j, y) for j, y in enumerate(xs[i + 1:], i + 1)
                 if (y.method, y.path) == (x.method, x.path)]
        if later and later[0][1].at - x.at < float(wait) - 1e-6:
            j, y = later[0]
            yield j, (f"retried {y.at - x.at:.1f} s after a {x.status} with Retry-After: "
                      f"{wait}")

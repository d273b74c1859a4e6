"""Microsoft Graph plumbing for the O365 backend: the persistent send log (pacing, daily
recipient count, last attempt per key), the Graph query that finds our tagged messages, and
the classification of request failures (throttled, never connected, HTTP status)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from ftc_office.paths import data_dir

if TYPE_CHECKING:
    from ftc_office.message import OutgoingMessage

# A fixed, made-up property set GUID for our named property; never change it: Sent Items
# searches for old messages depend on it.
KEY_PROPERTY_ID = "String {6f1c5a1e-8f4b-4d7a-9c2e-3b5d0e7a4c21} Name FtcMessageKey"
SEND_LOG_FILE = "o365_sends.sqlite"
DAY = 24 * 3600.0
# functions on the stack of a TLS error raised while connecting (urllib3 / ssl)
_HANDSHAKE_FRAMES = frozenset(("do_handshake", "_validate_conn", "_new_conn", "connect",
                               "_connect_tls_proxy", "ssl_wrap_socket", "wrap_socket"))
_KEEP = 7 * DAY


class SendLog:
    """Send attempts per mailbox (time, recipients, key), kept for 7 days in SQLite.

    Feeds the per-minute pacing, the rolling 24-hour recipient count and the time of the
    last send attempt of a key (for the Sent Items grace period in lookups).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or data_dir() / SEND_LOG_FILE
        # A rate-limit log, not the ledger: WAL without an fsync per commit is enough (the
        # file lives in the local per-user data folder). One connection per SendLog.
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        with self._db:
            self._db.execute("CREATE TABLE IF NOT EXISTS sends (id INTEGER PRIMARY KEY, "
                             "mailbox TEXT NOT NULL, ts REAL NOT NULL, recipients INTEGER "
                             "NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL)")
            self._db.execute("CREATE INDEX IF NOT EXISTS sends_mailbox_ts "
                             "ON sends (mailbox, ts)")

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()

    def record(self, mailbox: str, ts: float, recipients: int, key: str) -> int:
        """Record a send attempt before the request goes out; returns its row id."""
        with self._db:
            self._db.execute("DELETE FROM sends WHERE ts < ?", (ts - _KEEP,))
            cur = self._db.execute(
                "INSERT INTO sends (mailbox, ts, recipients, key, state) "
                "VALUES (?, ?, ?, ?, 'attempt')", (mailbox, ts, recipients, key))
            return int(cur.lastrowid or 0)

    def settle(self, row: int, state: str) -> None:
        """Mark an attempt ``sent`` or ``unknown``; ``not-sent`` removes it."""
        with self._db:
            if state == "not-sent":
                self._db.execute("DELETE FROM sends WHERE id = ?", (row,))
            else:
                self._db.execute("UPDATE sends SET state = ? WHERE id = ?", (state, row))

    def recipients_since(self, mailbox: str, since: float) -> int:
        """Recipients of the attempts since ``since``."""
        row = self._db.execute("SELECT COALESCE(SUM(recipients), 0) FROM sends "
                               "WHERE mailbox = ? AND ts >= ?", (mailbox, since)).fetchone()
        return int(row[0])

    def times_since(self, mailbox: str, since: float) -> list[float]:
        """Times of the attempts since ``since``, oldest first."""
        rows = self._db.execute("SELECT ts FROM sends WHERE mailbox = ? AND ts >= ? "
                                "ORDER BY ts", (mailbox, since)).fetchall()
        return [float(r[0]) for r in rows]

    def last_attempt(self, mailbox: str, key: str) -> float | None:
        """Time of the last send attempt of ``key``, if any."""
        row = self._db.execute("SELECT MAX(ts) FROM sends WHERE mailbox = ? AND key = ?",
                               (mailbox, key)).fetchone()
        return float(row[0]) if row and row[0] is not None else None


#: Graph refuses a larger request (HTTP 413); base64 makes attachments a third larger
REQUEST_LIMIT = 4 * 1024 * 1024
REQUEST_MARGIN = 64 * 1024
#: raw bytes of one attachment that still fit a JSON POST (larger: an upload session)
SIMPLE_POST_LIMIT = (REQUEST_LIMIT - REQUEST_MARGIN) * 3 // 4


def create_request_size(message: OutgoingMessage) -> int:
    """Bytes of the draft's create request with every attachment inside it (an upper
    estimate: base64 grows by 4/3, JSON escapes the text)."""
    def js(text: str | None) -> int:
        return len(json.dumps(text or ""))

    size = 2048 + js(message.html) + js(message.subject) + js(message.key) * 2
    size += sum(js(a.email) + js(a.name) + 64 for a in message.recipients)
    size += sum(js(n) + js(v) + 32 for n, v in message.extra_headers)
    for a in message.attachments:
        size += 4 * -(-len(a.content) // 3) + js(a.filename) + 200
    return size


def embeds(message: OutgoingMessage, inline_limit: int) -> bool:
    """The attachments travel inside the create request: at most ``inline_limit`` raw
    bytes and the encoded request under Graph's limit with a margin."""
    raw = sum(len(a.content) for a in message.attachments)
    return raw <= inline_limit and (
        create_request_size(message) <= REQUEST_LIMIT - REQUEST_MARGIN)


def needs_upload_session(message: OutgoingMessage, inline_limit: int) -> bool:
    """Some attachment must go through ``createUploadSession``."""
    return not embeds(message, inline_limit) and any(
        len(a.content) > SIMPLE_POST_LIMIT for a in message.attachments)


class KeyQuery:
    """A Graph query object for O365's ``get_messages(query=...)``: filter by our key."""

    def __init__(self, key: str) -> None:
        self.key = key

    def as_params(self) -> dict[str, str]:
        value = self.key.replace("'", "''")
        return {
            "$filter": "singleValueExtendedProperties/any(ep: ep/id eq "
                       f"'{KEY_PROPERTY_ID}' and ep/value eq '{value}')",
            "$select": "id,isDraft,sentDateTime",
        }


class Throttled(Exception):
    """429/503 (or a refused connection) still there after the allowed retries."""


def http_status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return int(response.status_code) if response is not None else None


def graph_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if response is None:
        return ""
    try:
        return str(response.json().get("error", {}).get("code", ""))
    except ValueError:
        return ""


def describe(exc: BaseException) -> str:
    status = http_status(exc)
    if status is not None:
        code = graph_code(exc)
        return f"HTTP {status}" + (f" {code}" if code else "")
    return type(exc).__name__


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps (causes, contexts, urllib3 reasons)."""
    todo: list[Any] = [exc]
    seen: set[int] = set()
    while todo:
        e = todo.pop()
        if not isinstance(e, BaseException) or id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        todo.extend([e.__cause__, e.__context__, getattr(e, "reason", None), *e.args])


def in_handshake(exc: BaseException) -> bool:
    """True when a TLS error happened while connecting (the handshake), before any byte
    of the request was written; False for a TLS error while writing or reading."""
    for e in _chain(exc):
        tb = e.__traceback__
        while tb is not None:
            if tb.tb_frame.f_code.co_name in _HANDSHAKE_FRAMES:
                return True
            tb = tb.tb_next
    return False


def never_connected(exc: BaseException) -> bool:
    """True when the request certainly never reached the server (nothing was sent)."""
    if isinstance(exc, requests.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.SSLError):
        return in_handshake(exc)
    if isinstance(exc, requests.exceptions.ProxyError):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


def may_have_arrived(exc: BaseException) -> bool:
    """True when Graph may have acted on the request: anything but a 429 (throttled,
    nothing done), a 4xx answer, or a failure before the request left."""
    status = http_status(exc)
    if status is not None:
        return status >= 500
    return not never_connected(exc)


def no_blind_retries(session: requests.Session) -> requests.Session:
    """Stop urllib3 from re-sending a request after an unclassified failure (``other``,
    e.g. an SSLError while reading the answer of a POST that went out): O365's Retry leaves
    ``other`` unlimited, which would re-send a send. Connect errors are still retried."""
    for prefix, adapter in list(session.adapters.items()):
        retry = getattr(adapter, "max_retries", None)
        if isinstance(adapter, HTTPAdapter) and isinstance(retry, Retry) and retry.other != 0:
            fixed = HTTPAdapter(max_retries=retry.new(other=0))
            session.mount(prefix, fixed)
    return session


def is_transport(exc: BaseException) -> bool:
    return isinstance(exc, requests.RequestException) and http_status(exc) is None

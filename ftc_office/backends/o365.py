"""Outlook delivery through Microsoft Graph, with the O365 library.

Protocol per message (send mode): create a draft tagged with the message key (a
single-value extended property with a fixed GUID name, and an ``X-FTC-Message-Key``
header), hand the draft id to the caller's ``prepared`` hook so the ledger records it,
then send the draft. That is two requests in the normal case. Attachments up to 3 MB in
total travel inside the create request; larger ones are uploaded to the saved draft
(upload sessions above 3 MB each) before it is sent. ``mode = "draft"`` stops after the
draft.

Outcomes: a timeout, reset or 500/502/504 after the send request is ``UNKNOWN`` (never
"failed"); :meth:`O365Backend.lookup` resolves it through the draft id and the tagged Sent
Items copy. O365 never retries a POST, so 429/503 are retried here, honouring Retry-After.
Sends are paced per mailbox (``max_per_minute``, sliding window) and the recipients of the
last 24 h are counted in ``data_dir()/o365_sends.sqlite`` so the daily limit survives
restarts.
"""

from __future__ import annotations

import email.utils
import logging
import math
import sqlite3
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any

import requests
from O365.message import Message
from O365.utils import BaseTokenBackend
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError

from ftc_office.backends.base import DeliveryResult, PreparedHook, Status
from ftc_office.backends.o365_auth import FtcAccount, build_account, ensure_token
from ftc_office.config import O365Settings
from ftc_office.errors import DeliveryError, MessageError
from ftc_office.message import KEY_HEADER, OutgoingMessage
from ftc_office.paths import data_dir

log = logging.getLogger(__name__)

# A fixed, made-up property set GUID for our named property; never change it: Sent Items
# searches for old messages depend on it.
KEY_PROPERTY_ID = "String {6f1c5a1e-8f4b-4d7a-9c2e-3b5d0e7a4c21} Name FtcMessageKey"
INLINE_LIMIT = 3 * 1024 * 1024  # attachments (raw bytes) sent inside the create request
SEND_LOG_FILE = "o365_sends.sqlite"
_DAY = 24 * 3600.0
_KEEP = 7 * _DAY
_RETRY_STATUSES = (429, 503)
_AMBIGUOUS_STATUSES = (500, 502, 504)


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


class _KeyQuery:
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


class _Throttled(Exception):
    """429/503 (or a refused connection) still there after the allowed retries."""


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return int(response.status_code) if response is not None else None


def _graph_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if response is None:
        return ""
    try:
        return str(response.json().get("error", {}).get("code", ""))
    except ValueError:
        return ""


def _describe(exc: BaseException) -> str:
    status = _status(exc)
    if status is not None:
        code = _graph_code(exc)
        return f"HTTP {status}" + (f" {code}" if code else "")
    return type(exc).__name__


def _never_connected(exc: BaseException) -> bool:
    """True when the request certainly never reached the server (nothing was sent)."""
    if isinstance(exc, requests.ConnectTimeout | requests.exceptions.SSLError):
        return True
    if isinstance(exc, requests.exceptions.ProxyError):
        return True
    if isinstance(exc, requests.ConnectionError):
        reason: Any = exc.args[0] if exc.args else None
        if isinstance(reason, MaxRetryError):
            reason = reason.reason
        return isinstance(reason, NewConnectionError | ConnectTimeoutError)
    return False


class O365Backend:
    """Deliver messages from an Outlook mailbox through Microsoft Graph."""

    name = "o365"

    def __init__(self, settings: O365Settings, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 token_backend: BaseTokenBackend | None = None, verify: bool | str = True,
                 requests_delay_ms: int = 200, send_log: SendLog | None = None) -> None:
        """``clock``/``sleep`` drive pacing and retry waits (tests inject fakes);
        ``token_backend`` replaces the 0600 file cache; ``verify`` may be a CA bundle."""
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._token_backend = token_backend
        self._verify = verify
        self._requests_delay_ms = requests_delay_ms
        self._send_log = send_log
        self._owns_send_log = send_log is None
        self._account: FtcAccount | None = None
        self._mailbox_key = ""

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def account(self) -> FtcAccount:
        """The O365 account (built on first use)."""
        if self._account is None:
            self._account = build_account(
                self.settings, token_backend=self._token_backend, verify=self._verify,
                requests_delay_ms=self._requests_delay_ms)
        return self._account

    @property
    def send_log(self) -> SendLog:
        """The persistent send log (created on first use)."""
        if self._send_log is None:
            self._send_log = SendLog()
        return self._send_log

    @property
    def mailbox_key(self) -> str:
        """The mailbox the pacing and daily counts belong to."""
        if not self._mailbox_key:
            name = self.settings.mailbox or self.account.con.username or "me"
            self._mailbox_key = str(name).lower()
        return self._mailbox_key

    def open(self) -> None:
        """Check the sign-in before a batch: refresh the token when it is near expiry."""
        ensure_token(self.account, self.settings, now=self._clock)
        log.debug("o365 backend ready for mailbox %s", self.mailbox_key)

    def close(self) -> None:
        """Close the HTTP sessions."""
        if self._account is not None:
            con = self._account.con
            for attr in ("session", "naive_session"):
                session = getattr(con, attr, None)
                if session is not None:
                    session.close()
                    setattr(con, attr, None)
        if self._send_log is not None and self._owns_send_log:
            self._send_log.close()
            self._send_log = None

    # -- checks, pacing ----------------------------------------------------------------

    def check(self, message: OutgoingMessage) -> None:
        """Refuse (MessageError) a message over ``max_message_mb``, before any request."""
        limit = self.settings.max_message_mb * 1024 * 1024
        if message.size > limit:
            raise MessageError(
                message.origin or f"message {message.key}",
                f"the message is about {message.size / 1048576:.1f} MB encoded, over the "
                f"{self.settings.max_message_mb:g} MB limit of delivery.o365.max_message_mb",
                "send the large files as links, or split them over several messages",
            )

    def _check_daily(self, message: OutgoingMessage) -> None:
        limit = self.settings.daily_recipient_limit
        used = self.send_log.recipients_since(self.mailbox_key, self._clock() - _DAY)
        n = len(message.recipients)
        if used + n >= limit:
            raise DeliveryError(
                f"mailbox {self.mailbox_key}",
                f"{used} recipients in the last 24 hours; {n} more would reach the daily "
                f"limit of {limit} (delivery.o365.daily_recipient_limit)",
                "continue after the 24-hour window has moved on; the remaining messages "
                "stay pending in the ledger",
            )

    def _pace(self) -> None:
        per_minute = max(1, self.settings.max_per_minute)
        while True:
            now = self._clock()
            recent = self.send_log.times_since(self.mailbox_key, now - 60.0)
            if len(recent) < per_minute:
                return
            wait = recent[-per_minute] + 60.0 - now
            if wait <= 0:
                return
            log.info("pacing: waiting %.1f s (%d messages per minute)", wait, per_minute)
            self._sleep(wait)

    def _retry_wait(self, exc: BaseException, attempt: int) -> float:
        response = getattr(exc, "response", None)
        header = response.headers.get("Retry-After") if response is not None else None
        wait: float | None = None
        if header:
            try:
                wait = float(header)
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(header) if header else None
                if parsed is not None:
                    wait = parsed.timestamp() - time.time()
        if wait is None or not math.isfinite(wait):
            wait = float(2 ** attempt)
        return max(0.0, min(wait, self.settings.max_retry_wait))

    def _retrying(self, what: str, fn: Callable[[], Any]) -> Any:
        """Call ``fn``; retry 429/503 and refused connections (nothing reached Graph)."""
        attempt = 0
        while True:
            try:
                return fn()
            except requests.RequestException as exc:
                retryable = _status(exc) in _RETRY_STATUSES or _never_connected(exc)
                if not retryable:
                    raise
                if attempt >= self.settings.max_retries:
                    raise _Throttled(f"{what}: {_describe(exc)} after {attempt} retries"
                                     ) from exc
                wait = self._retry_wait(exc, attempt)
                log.info("%s: %s, retrying in %.1f s", what, _describe(exc), wait)
                self._sleep(wait)
                attempt += 1

    # -- delivery ----------------------------------------------------------------------

    def _build(self, message: OutgoingMessage, inline: bool) -> Message:
        draft: Message = self.account.new_message(resource=self.settings.mailbox or None)
        draft.to.add([a.email for a in message.to])
        if message.cc:
            draft.cc.add([a.email for a in message.cc])
        draft.subject = message.subject
        draft.body = message.html
        draft.add_message_header(KEY_HEADER, message.key)
        for name, value in message.extra_headers:
            if name.lower().startswith("x-"):  # Graph accepts only X- internet headers
                draft.add_message_header(name, value)
        draft.single_value_extended_properties.append(
            {"id": KEY_PROPERTY_ID, "value": message.key})
        if message.sender is not None and (
                message.sender.email.lower() != self.settings.mailbox.lower()):
            draft.sender = message.sender.email
        if inline:
            self._attach(draft, message)
        return draft

    @staticmethod
    def _attach(draft: Message, message: OutgoingMessage) -> None:
        # (BytesIO, name): O365 knows the size and takes the upload-session path > 3 MB.
        draft.attachments.add([(BytesIO(a.content), a.filename) for a in message.attachments])

    def _delete_quietly(self, draft: Message) -> None:
        try:
            draft.delete()
        except Exception as exc:  # best effort: a stray unsent draft is harmless
            log.warning("could not delete draft after a failure (%s)", _describe(exc))

    def _fail(self, message: OutgoingMessage, status: Status, what: str,
              exc: BaseException | None = None, provider_id: str | None = None
              ) -> DeliveryResult:
        error = what + (f": {_describe(exc)}" if exc is not None else "")
        log.info("message %s: %s (%s)", message.key, status.value, error)
        refused: tuple[str, ...] = ()
        if exc is not None and _graph_code(exc) == "ErrorInvalidRecipients":
            refused = tuple(a.email for a in message.recipients)
        return DeliveryResult(message.key, status, provider_id=provider_id, error=error,
                              refused=refused)

    def _raise_if_auth(self, exc: BaseException) -> None:
        if _status(exc) == 401:
            raise DeliveryError(f"Graph at {self.account.protocol.service_url}",
                                "the access token was refused (HTTP 401)",
                                "run 'ftc-office auth login' to sign in again") from None

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Create the tagged draft, record its id through ``prepared``, then send it.

        Raises MessageError for an oversize message and DeliveryError for batch-level
        problems (sign-in, daily recipient limit); every per-message outcome is a result.
        """
        self.check(message)
        ensure_token(self.account, self.settings, now=self._clock)
        sending = self.settings.mode == "send"
        if sending:
            self._check_daily(message)
            self._pace()
        total = sum(len(a.content) for a in message.attachments)
        inline = total <= INLINE_LIMIT
        draft = self._build(message, inline)

        # 1. create the draft
        try:
            self._retrying("create draft", draft.save_draft)
        except _Throttled as exc:
            return self._fail(message, Status.FAILED_RETRYABLE, str(exc))
        except requests.RequestException as exc:
            self._raise_if_auth(exc)
            status = _status(exc)
            if status is not None and 400 <= status < 500:
                return self._fail(message, Status.FAILED_PERMANENT,
                                  "Graph refused the draft", exc)
            # Timeout, reset, 5xx: a draft may exist, but nothing was sent.
            if sending:
                self._delete_stray_drafts(message)
                return self._fail(message, Status.FAILED_RETRYABLE,
                                  "creating the draft failed; nothing was sent", exc)
            return self._fail(message, Status.UNKNOWN,
                              "creating the draft had no clear answer", exc)
        draft_id = str(draft.object_id)
        log.debug("message %s: draft %s created", message.key, draft_id)
        if prepared is not None:
            prepared(draft_id)

        # 2. attachments too large to travel inside the create request
        if not inline:
            self._attach(draft, message)
            try:
                self._retrying("upload attachments", draft.save_draft)
                draft._track_changes.clear()
            except (_Throttled, requests.RequestException) as exc:
                self._raise_if_auth(exc)
                self._delete_quietly(draft)
                status = _status(exc)
                permanent = status is not None and 400 <= status < 500 and status != 429
                return self._fail(message, Status.FAILED_PERMANENT if permanent
                                  else Status.FAILED_RETRYABLE,
                                  "uploading the attachments failed; nothing was sent", exc)

        if not sending:
            log.info("message %s: drafted", message.key)
            return DeliveryResult(message.key, Status.DRAFTED, provider_id=draft_id)

        # 3. send the draft
        row = self.send_log.record(self.mailbox_key, self._clock(),
                                   len(message.recipients), message.key)
        try:
            result = self._retrying("send", draft.send)
            if result is not True:
                raise RuntimeError("O365 did not send the draft")
        except _Throttled as exc:
            self.send_log.settle(row, "not-sent")
            self._delete_quietly(draft)
            return self._fail(message, Status.FAILED_RETRYABLE, str(exc))
        except requests.RequestException as exc:
            status = _status(exc)
            if status is not None and 400 <= status < 500:
                self.send_log.settle(row, "not-sent")
                self._raise_if_auth(exc)
                if status == 404:  # the draft vanished before it was sent
                    return self._fail(message, Status.FAILED_RETRYABLE,
                                      "the draft disappeared before sending", exc, draft_id)
                self._delete_quietly(draft)
                return self._fail(message, Status.FAILED_PERMANENT, "Graph refused to send",
                                  exc)
            self.send_log.settle(row, "unknown")
            return self._fail(message, Status.UNKNOWN,
                              "the send request had no clear answer; look it up before "
                              "sending again", exc, draft_id)
        except RuntimeError as exc:
            self.send_log.settle(row, "unknown")
            return self._fail(message, Status.UNKNOWN, str(exc), None, draft_id)
        self.send_log.settle(row, "sent")
        log.info("message %s: sent", message.key)
        return DeliveryResult(message.key, Status.SENT, provider_id=draft_id)

    def _delete_stray_drafts(self, message: OutgoingMessage) -> None:
        try:
            folder = self.account.mailbox(resource=self.settings.mailbox or None
                                          ).drafts_folder()
            for found in folder.get_messages(limit=5, query=_KeyQuery(message.key)):
                self._delete_quietly(found)
        except Exception as exc:
            log.warning("could not check Drafts for a stray draft (%s)", _describe(exc))

    def withdraw(self, message: OutgoingMessage, provider_id: str | None) -> Status | None:
        """After an interruption, :meth:`lookup` found the message still a draft: in send
        mode it was never sent, so delete the draft (every draft tagged with its key) and
        return None: the caller sends it afresh. UNKNOWN when a send of it was requested
        within ``sent_items_grace`` (Exchange may still be moving it to Sent Items) or a
        draft could not be deleted. In draft mode the draft is the result: DRAFTED."""
        if self.settings.mode != "send":
            return Status.DRAFTED
        attempted = self.send_log.last_attempt(self.mailbox_key, message.key)
        if attempted is not None and self._clock() - attempted < self.settings.sent_items_grace:
            return Status.UNKNOWN
        ensure_token(self.account, self.settings, now=self._clock)
        mailbox = self.account.mailbox(resource=self.settings.mailbox or None)
        try:
            for found in mailbox.drafts_folder().get_messages(limit=5,
                                                               query=_KeyQuery(message.key)):
                if not found.delete():
                    return Status.UNKNOWN
            if self._find("sent", message.key):  # sent after all (by a person, meanwhile)
                return Status.SENT
        except requests.RequestException as exc:
            self._raise_if_auth(exc)
            log.info("could not delete the unsent draft of %s (%s)", message.key,
                     _describe(exc))
            return Status.UNKNOWN
        log.info("message %s: unsent draft %s deleted after an interruption", message.key,
                 provider_id or "(found by key)")
        return None

    # -- lookup ------------------------------------------------------------------------

    def _find(self, folder_name: str, key: str) -> bool:
        mailbox = self.account.mailbox(resource=self.settings.mailbox or None)
        folder = mailbox.sent_folder() if folder_name == "sent" else mailbox.drafts_folder()
        return any(True for _ in folder.get_messages(limit=1, query=_KeyQuery(key)))

    def lookup(self, message: OutgoingMessage, provider_id: str | None) -> Status | None:
        """Where is this message? SENT (tagged copy in Sent Items, or the draft id now names
        a sent item), DRAFTED (still a draft), UNKNOWN (Graph cannot tell yet: within
        ``sent_items_grace`` of the send attempt, or an error), None (certainly not sent)."""
        ensure_token(self.account, self.settings, now=self._clock)
        mailbox = self.account.mailbox(resource=self.settings.mailbox or None)
        try:
            if provider_id:
                try:
                    found = mailbox.get_message(object_id=provider_id)
                except requests.HTTPError as exc:
                    if _status(exc) != 404:
                        raise
                    found = None
                if found is not None:
                    return Status.DRAFTED if found.is_draft else Status.SENT
            if self._find("sent", message.key):
                return Status.SENT
            if not provider_id and self._find("drafts", message.key):
                return Status.DRAFTED
        except requests.RequestException as exc:
            self._raise_if_auth(exc)
            log.info("lookup of %s failed (%s)", message.key, _describe(exc))
            return Status.UNKNOWN
        attempted = self.send_log.last_attempt(self.mailbox_key, message.key)
        if attempted is not None and self._clock() - attempted < self.settings.sent_items_grace:
            return Status.UNKNOWN
        return None

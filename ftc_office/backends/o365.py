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
Items copy. O365 never retries a POST, so 429/503 are retried here, honouring Retry-After in full
(a wait longer than ``max_retry_wait`` is not retried early: the message stays for later).
Sends are paced per mailbox (``max_per_minute``, sliding window) and the recipients of the
last 24 h are counted in ``data_dir()/o365_sends.sqlite`` so the daily limit survives
restarts.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import logging
import math
import time
from collections.abc import Callable
from io import BytesIO
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
from O365.message import Message
from O365.utils import BaseTokenBackend
from O365.utils import attachment as o365_attachment

from ftc_office.backends.base import DeliveryResult, Opening, PreparedHook, Sought, Status
from ftc_office.backends.o365_auth import FtcAccount, build_account, ensure_token, graph_url
from ftc_office.backends.o365_graph import (
    DAY,
    KEY_PROPERTY_ID,
    SEND_LOG_FILE,
    SIMPLE_POST_LIMIT,
    SendLog,
    Throttled,
    describe,
    embeds,
    graph_code,
    http_status,
    may_have_arrived,
    needs_upload_session,
    never_connected,
)
from ftc_office.backends.o365_identity import address, preflight, send_as_refusal, with_fields
from ftc_office.backends.o365_lookup import delete_stray_drafts, lookup, withdraw
from ftc_office.config import O365Settings
from ftc_office.errors import DeliveryError, MessageError
from ftc_office.message import KEY_HEADER, OutgoingMessage

log = logging.getLogger(__name__)

#: PidTagDeferredSendTime: Exchange holds a message carrying it in the Outbox until then (UTC)
DEFERRED_SEND_TIME = "SystemTime 0x3FEF"

__all__ = ["DEFERRED_SEND_TIME", "KEY_PROPERTY_ID", "SEND_LOG_FILE", "O365Backend", "SendLog"]

#: Graph hosts of US Gov L4 (GCC High) and L5 (DoD): no attachment upload sessions
US_GOV_GRAPH_HOSTS = frozenset(("graph.microsoft.us", "dod-graph.microsoft.us"))
INLINE_LIMIT = 3 * 1024 * 1024  # attachments (raw bytes) sent inside the create request
_RETRY_STATUSES = (429, 503)
# O365 POSTs an attachment up to 3 MiB as JSON: base64 makes that 4 MiB and more, over
# Graph's request limit (413). Larger ones take an upload session.
o365_attachment.UPLOAD_SIZE_LIMIT_SIMPLE = min(o365_attachment.UPLOAD_SIZE_LIMIT_SIMPLE,
                                               SIMPLE_POST_LIMIT)
_AMBIGUOUS_STATUSES = (500, 502, 504)


class O365Backend(Opening):
    """Deliver messages from an Outlook mailbox through Microsoft Graph."""

    name = "o365"

    def __init__(self, settings: O365Settings, *, clock: Callable[[], float] = time.time,
                 sleep: Callable[[float], None] = time.sleep,
                 token_backend: BaseTokenBackend | None = None, verify: bool | str = True,
                 requests_delay_ms: int = 200, send_log: SendLog | None = None,
                 data: Path | None = None) -> None:
        """``clock``/``sleep`` drive pacing and retry waits (tests inject fakes);
        ``token_backend`` replaces the 0600 file cache; ``verify`` may be a CA bundle;
        ``data`` is the data folder that keeps the send log (default: the per-user one)."""
        self.settings = settings
        self._clock = clock
        self._sleep = sleep
        self._token_backend = token_backend
        self._verify = verify
        self._requests_delay_ms = requests_delay_ms
        self._send_log = send_log
        self._owns_send_log = send_log is None
        self._data = data
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
            self._send_log = SendLog(self._data / SEND_LOG_FILE if self._data else None)
        return self._send_log

    @property
    def mailbox_key(self) -> str:
        """The mailbox the pacing and daily counts belong to."""
        if not self._mailbox_key:
            name = self.settings.mailbox or self.account.con.username or "me"
            self._mailbox_key = str(name).lower()
        return self._mailbox_key

    def open(self) -> None:
        """Check the sign-in before a batch: refresh the token when it is near expiry, and
        refuse when it does not fit the sending identity (:func:`.o365_identity.preflight`)."""
        ensure_token(self.account, self.settings, now=self._clock)
        preflight(self)
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
        self._check_upload(message)

    def _check_upload(self, message: OutgoingMessage) -> None:
        """Refuse a message that needs an upload session where Graph has none for it."""
        if not needs_upload_session(message, INLINE_LIMIT):
            return
        where = message.origin or f"message {message.key}"
        hosts = {urlparse(u).hostname or "" for u in (self.settings.graph_url,
                                                      graph_url(self.settings))}
        if hosts & US_GOV_GRAPH_HOSTS:
            raise MessageError(
                where, "an attachment over about 3 MB needs an upload session, which "
                "Microsoft Graph does not offer on US Government clouds "
                f"({', '.join(sorted(hosts & US_GOV_GRAPH_HOSTS))})",
                "send the large files as links (OneDrive or SharePoint), or keep each "
                "attachment under about 3 MB")
        if self.settings.mailbox and self.settings.auth == "public":
            raise MessageError(
                where, "an attachment over about 3 MB from the shared mailbox "
                f"{self.settings.mailbox} with delegated sign-in: Graph refuses its upload "
                "session (HTTP 403, a Microsoft known issue)",
                'use app-only sign-in (delivery.o365.auth = "credentials") for large files '
                "from a shared mailbox, send from your own mailbox, or send the large files "
                "as links")

    def _check_daily(self, message: OutgoingMessage) -> None:
        limit = self.settings.daily_recipient_limit
        used = self.send_log.recipients_since(self.mailbox_key, self._clock() - DAY)
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
        if wait is None or not math.isfinite(wait):  # our own back-off: capped
            return max(0.0, min(float(2 ** attempt), self.settings.max_retry_wait))
        return max(0.0, wait)  # Graph's ask: honoured in full, or not retried at all

    def _retrying(self, what: str, fn: Callable[[], Any],
                  seen: list[BaseException] | None = None) -> Any:
        """Call ``fn``; retry 429/503 and refused connections (nothing reached Graph).
        Every failure that was retried is appended to ``seen``."""
        attempt = 0
        while True:
            try:
                return fn()
            except requests.RequestException as exc:
                retryable = http_status(exc) in _RETRY_STATUSES or never_connected(exc)
                if not retryable:
                    raise
                if seen is not None:
                    seen.append(exc)
                if attempt >= self.settings.max_retries:
                    raise Throttled(f"{what}: {describe(exc)} after {attempt} retries"
                                     ) from exc
                wait = self._retry_wait(exc, attempt)
                if wait > self.settings.max_retry_wait:
                    raise Throttled(
                        f"{what}: {describe(exc)}; Graph asks to wait {wait:.0f} s, longer than "
                        f"delivery.o365.max_retry_wait ({self.settings.max_retry_wait:g} s)"
                    ) from exc
                log.info("%s: %s, retrying in %.1f s", what, describe(exc), wait)
                self._sleep(wait)
                attempt += 1

    # -- delivery ----------------------------------------------------------------------

    def _build(self, message: OutgoingMessage, inline: bool) -> Message:
        draft: Message = self.account.new_message(resource=self.settings.mailbox or None)
        # (name, address) pairs: Graph's emailAddress carries the display name
        draft.to.add([(a.name, a.email) if a.name else a.email for a in message.to])
        if message.cc:
            draft.cc.add([(a.name, a.email) if a.name else a.email for a in message.cc])
        if message.bcc:
            draft.bcc.add([(a.name, a.email) if a.name else a.email for a in message.bcc])
        draft.subject = message.subject
        draft.body = message.html
        draft.add_message_header(KEY_HEADER, message.key)
        for name, value in message.extra_headers:
            if name.lower().startswith("x-"):  # Graph accepts only X- internet headers
                draft.add_message_header(name, value)
        draft.single_value_extended_properties.append(
            {"id": KEY_PROPERTY_ID, "value": message.key})
        if message.deferred_until is not None:  # Exchange holds it in the Outbox till then
            draft.single_value_extended_properties.append(
                {"id": DEFERRED_SEND_TIME, "value": message.deferred_until.astimezone(
                    dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")})
        with_fields(draft, address(draft, message, self.settings,
                                   str(self.account.con.username or "")))
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
            log.warning("could not delete draft after a failure (%s)", describe(exc))

    def _fail(self, message: OutgoingMessage, status: Status, what: str,
              exc: BaseException | None = None, provider_id: str | None = None
              ) -> DeliveryResult:
        error = what + (f": {describe(exc)}" if exc is not None else "")
        log.info("message %s: %s (%s)", message.key, status.value, error)
        refused: tuple[str, ...] = ()
        if exc is not None and graph_code(exc) == "ErrorInvalidRecipients":
            refused = tuple(a.email for a in message.recipients)
        return DeliveryResult(message.key, status, provider_id=provider_id, error=error,
                              refused=refused)

    def _raise_if_auth(self, exc: BaseException) -> None:
        if http_status(exc) == 401:
            raise DeliveryError(f"Graph at {self.account.protocol.service_url}",
                                "the access token was refused (HTTP 401)",
                                "run 'ftc-office auth login' to sign in again") from None

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Create the tagged draft, record its id through ``prepared``, then send it.

        Raises only when Graph accepted nothing for this message: MessageError for an
        oversize message (:meth:`check`), DeliveryError for batch-level problems (sign-in,
        daily recipient limit, a 401). Every per-message outcome is a result.
        """
        self.check(message)
        ensure_token(self.account, self.settings, now=self._clock)
        sending = self.settings.mode == "send"
        if sending:
            self._check_daily(message)
            self._pace()
        inline = embeds(message, INLINE_LIMIT)
        draft = self._build(message, inline)
        failed = self._create(draft, message, sending)
        if failed is not None:
            return failed
        draft_id = str(draft.object_id)
        log.debug("message %s: draft %s created", message.key, draft_id)
        if prepared is not None:
            prepared(draft_id)
        if not inline:
            failed = self._upload(draft, message)
            if failed is not None:
                return failed
        if not sending:
            log.info("message %s: drafted", message.key)
            return DeliveryResult(message.key, Status.DRAFTED, provider_id=draft_id)
        return self._send_draft(draft, message, draft_id)

    def _create(self, draft: Message, message: OutgoingMessage, sending: bool
                ) -> DeliveryResult | None:
        """Save the draft; a result when that failed, None when it exists."""
        try:
            self._retrying("create draft", draft.save_draft)
        except Throttled as exc:
            return self._fail(message, Status.FAILED_RETRYABLE, str(exc))
        except requests.RequestException as exc:
            self._raise_if_auth(exc)
            status = http_status(exc)
            if status is not None and 400 <= status < 500:
                return self._fail(message, Status.FAILED_PERMANENT,
                                  "Graph refused the draft", exc)
            # Timeout, reset, 5xx: a draft may exist, but nothing was sent.
            if sending:
                delete_stray_drafts(self, message.key)
                return self._fail(message, Status.FAILED_RETRYABLE,
                                  "creating the draft failed; nothing was sent", exc)
            return self._fail(message, Status.UNKNOWN,
                              "creating the draft had no clear answer", exc)
        return None

    def _upload(self, draft: Message, message: OutgoingMessage) -> DeliveryResult | None:
        """Attachments too large to travel inside the create request; a result on failure."""
        self._attach(draft, message)
        try:
            self._retrying("upload attachments", draft.save_draft)
            draft._track_changes.clear()
        except (Throttled, requests.RequestException) as exc:
            self._raise_if_auth(exc)
            self._delete_quietly(draft)
            status = http_status(exc)
            permanent = status is not None and 400 <= status < 500 and status != 429
            return self._fail(message, Status.FAILED_PERMANENT if permanent
                              else Status.FAILED_RETRYABLE,
                              "uploading the attachments failed; nothing was sent", exc)
        return None

    def _send_draft(self, draft: Message, message: OutgoingMessage, draft_id: str
                    ) -> DeliveryResult:
        """Send the saved draft, the attempt counted in the send log first.

        Only a failure that provably happened before anything reached Graph (429, refused
        connection, DNS, TLS handshake) on every attempt is ``failed-retryable``; once an
        attempt may have reached Graph (a 5xx, a timeout, a reset), any later failure —
        a 404 for a draft that already moved to Sent Items included — is ``unknown`` and
        the Sent Items lookup settles it."""
        row = self.send_log.record(self.mailbox_key, self._clock(),
                                   len(message.recipients), message.key)
        seen: list[BaseException] = []
        try:
            result = self._retrying("send", draft.send, seen)
            if result is not True:
                raise RuntimeError("O365 did not send the draft")
        except (Throttled, requests.RequestException) as exc:
            if any(may_have_arrived(e) for e in seen) or (
                    not isinstance(exc, Throttled) and may_have_arrived(exc)):
                self.send_log.settle(row, "unknown")
                return self._fail(message, Status.UNKNOWN,
                                  "the send request had no clear answer; look it up before "
                                  "sending again", exc, draft_id)
            return self._not_sent(draft, message, row, exc, draft_id)
        except RuntimeError as exc:
            self.send_log.settle(row, "unknown")
            return self._fail(message, Status.UNKNOWN, str(exc), None, draft_id)
        self.send_log.settle(row, "sent")
        log.info("message %s: sent", message.key)
        return DeliveryResult(message.key, Status.SENT, provider_id=draft_id)

    def _not_sent(self, draft: Message, message: OutgoingMessage, row: int,
                  exc: BaseException, draft_id: str) -> DeliveryResult:
        """The send certainly did not happen (Graph refused it, or it never left)."""
        self.send_log.settle(row, "not-sent")
        if isinstance(exc, Throttled):
            self._delete_quietly(draft)
            return self._fail(message, Status.FAILED_RETRYABLE, str(exc))
        self._raise_if_auth(exc)
        status = http_status(exc)
        if graph_code(exc) == "ErrorSendAsDenied":  # the identity's right is missing
            self._delete_quietly(draft)
            sender = message.sender.email if message.sender else "the FM's mailbox"
            raise DeliveryError(f"mailbox {self.settings.mailbox or sender}", *send_as_refusal(
                self.settings, str(self.account.con.username or ""),
                self.settings.mailbox or sender)) from None
        if status == 404:  # the draft vanished before it was ever sent
            return self._fail(message, Status.FAILED_RETRYABLE,
                              "the draft disappeared before sending", exc, draft_id)
        self._delete_quietly(draft)
        return self._fail(message, Status.FAILED_PERMANENT, "Graph refused to send", exc)

    def within_grace(self, key: str) -> bool:
        """A send of ``key`` was requested less than ``sent_items_grace`` ago (Exchange may
        still be moving it to Sent Items)."""
        attempted = self.send_log.last_attempt(self.mailbox_key, key)
        return attempted is not None and (
            self._clock() - attempted < self.settings.sent_items_grace)

    def lookup(self, sought: Sought) -> Status | None:
        """Where is this message? See :func:`.o365_lookup.lookup`."""
        return lookup(self, sought)

    def withdraw(self, sought: Sought) -> Status | None:
        """Take back an unsent draft after an interruption. See
        :func:`.o365_lookup.withdraw`."""
        return withdraw(self, sought)

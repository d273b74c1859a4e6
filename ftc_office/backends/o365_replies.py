"""Reading the assignment team's replies to our queue-move messages through Graph.

Read-only: GET requests only (``Mail.Read`` is enough); no message is moved or marked. Our
sent copy is found in Sent Items by the key property every message carries (its
``conversationId`` and ``sentDateTime``); replies are the messages of that conversation
received since, read with ``$filter=conversationId eq '…' and receivedDateTime ge …`` and a
``$select`` of the fields used (Graph's documented syntax: string literals in single quotes
with quotes doubled, DateTimeOffset literals unquoted in UTC). ``uniqueBody`` (the reply's
own text, without the quoted original) is asked for as text through ``Prefer:
outlook.body-content-type="text"``.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ftc_office.backends.o365_auth import ensure_token
from ftc_office.backends.o365_graph import KEY_PROPERTY_ID, describe
from ftc_office.errors import DeliveryError

if TYPE_CHECKING:
    from ftc_office.backends.o365 import O365Backend

TEXT_BODY = {"Prefer": 'outlook.body-content-type="text"'}
_MAX_PAGES = 20


@dataclass(frozen=True)
class SentCopy:
    """Our sent message in Sent Items: its thread and when it went out."""

    key: str
    conversation_id: str
    sent: dt.datetime


@dataclass(frozen=True)
class Reply:
    """A message of the thread: who sent it, when, its first line and its attachments."""

    id: str
    sender: str
    received: dt.datetime
    first_line: str
    attachments: tuple[tuple[str, bytes], ...] = ()


def quoted(value: str) -> str:
    """An OData string literal: single quotes, a quote inside doubled."""
    return "'" + value.replace("'", "''") + "'"


def odata_time(when: dt.datetime) -> str:
    """An OData DateTimeOffset literal (unquoted, UTC): ``2026-11-26T09:30:00Z``."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def sent_copy_params(key: str) -> dict[str, str]:
    """The query that finds our sent copy of ``key`` in Sent Items."""
    return {"$filter": "singleValueExtendedProperties/any(ep: ep/id eq "
                       f"{quoted(KEY_PROPERTY_ID)} and ep/value eq {quoted(key)})",
            "$select": "id,conversationId,sentDateTime", "$top": "1"}


def reply_params(conversation_id: str, since: dt.datetime) -> dict[str, str]:
    """The query that lists the thread's messages received since our message went out."""
    return {"$filter": f"conversationId eq {quoted(conversation_id)} and receivedDateTime "
                       f"ge {odata_time(since)}",
            "$select": "id,from,receivedDateTime,subject,uniqueBody,hasAttachments",
            "$top": "50"}


class ReplyReader:
    """GET-only Graph calls over the backend's signed-in account and mailbox."""

    def __init__(self, backend: O365Backend) -> None:
        self.backend = backend
        account = backend.account
        box = backend.settings.mailbox
        self.base = f"{account.protocol.service_url}{'users/' + box if box else 'me'}"

    def _get(self, url: str, params: dict[str, str] | None = None,
             headers: dict[str, str] | None = None) -> dict[str, Any]:
        import requests

        ensure_token(self.backend.account, self.backend.settings, now=self.backend._clock)
        try:
            response = self.backend.account.con.get(url, params=params,
                                                    headers=dict(headers or {}))
        except requests.RequestException as exc:
            self.backend._raise_if_auth(exc)
            raise DeliveryError(f"Graph at {self.base}", f"reading the mailbox failed "
                                f"({describe(exc)})", "try again later") from None
        data: dict[str, Any] = response.json()
        return data

    def _pages(self, url: str, params: dict[str, str], headers: dict[str, str] | None = None
               ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        page = self._get(url, params, headers)
        for _ in range(_MAX_PAGES):
            out.extend(page.get("value") or [])
            nxt = page.get("@odata.nextLink")
            if not nxt:
                break
            page = self._get(str(nxt), None, headers)
        return out

    def sent_copy(self, key: str) -> SentCopy | None:
        """Our sent message tagged ``key`` (None when Sent Items has no copy)."""
        found = self._pages(f"{self.base}/mailFolders/SentItems/messages",
                            sent_copy_params(key))
        if not found or not found[0].get("conversationId"):
            return None
        m = found[0]
        return SentCopy(key, str(m["conversationId"]), _parse_time(str(m["sentDateTime"])))

    def replies(self, sent: SentCopy, sender_address: str) -> list[Reply]:
        """The thread's messages from ``sender_address`` received since ours went out
        (oldest first); the others (our own copy, anyone else) are left out."""
        out = []
        for m in self._pages(f"{self.base}/messages",
                             reply_params(sent.conversation_id, sent.sent), TEXT_BODY):
            sender = str(((m.get("from") or {}).get("emailAddress") or {}).get("address")
                         or "")
            if sender.casefold() != sender_address.casefold():
                continue
            text = str((m.get("uniqueBody") or {}).get("content") or "")
            first = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
            atts = self._attachments(str(m["id"])) if m.get("hasAttachments") else ()
            out.append(Reply(str(m["id"]), sender, _parse_time(str(m["receivedDateTime"])),
                             first, atts))
        return sorted(out, key=lambda r: r.received)

    def _attachments(self, message_id: str) -> tuple[tuple[str, bytes], ...]:
        """The message's file attachments that are workbooks (name, bytes)."""
        found = self._pages(f"{self.base}/messages/{message_id}/attachments", {})
        return tuple((str(a.get("name")), base64.b64decode(a["contentBytes"]))
                     for a in found
                     if a.get("@odata.type") == "#microsoft.graph.fileAttachment"
                     and str(a.get("name", "")).lower().endswith(".xlsx")
                     and a.get("contentBytes"))

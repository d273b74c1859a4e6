"""Finding a message in the Outlook mailbox after an interruption: look-up through the
recorded draft id and the tagged Sent Items copy, withdrawal of an unsent draft, and the
clean-up of a stray draft when its creation had no clear answer.

Every function answers UNKNOWN for a Graph error (it never raises one) except a refused
token (HTTP 401), which raises DeliveryError: nothing can be looked up until sign-in.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import requests

from ftc_office.backends.base import Sought, Status
from ftc_office.backends.o365_auth import ensure_token
from ftc_office.backends.o365_graph import KeyQuery, describe, http_status

if TYPE_CHECKING:
    from O365.mailbox import MailBox

    from ftc_office.backends.o365 import O365Backend

log = logging.getLogger(__name__)


def _mailbox(backend: O365Backend) -> MailBox:
    ensure_token(backend.account, backend.settings, now=backend._clock)
    return backend.account.mailbox(resource=backend.settings.mailbox or None)


def find(backend: O365Backend, folder_name: str, key: str) -> bool:
    """A message tagged with ``key`` is in Sent Items (``sent``) or Drafts."""
    mailbox = backend.account.mailbox(resource=backend.settings.mailbox or None)
    folder = mailbox.sent_folder() if folder_name == "sent" else mailbox.drafts_folder()
    return any(True for _ in folder.get_messages(limit=1, query=KeyQuery(key)))


def delete_stray_drafts(backend: O365Backend, key: str) -> None:
    """Best effort: delete drafts tagged with ``key`` (creation had no clear answer)."""
    try:
        folder = backend.account.mailbox(resource=backend.settings.mailbox or None
                                         ).drafts_folder()
        for found in folder.get_messages(limit=5, query=KeyQuery(key)):
            backend._delete_quietly(found)
    except Exception as exc:
        log.warning("could not check Drafts for a stray draft (%s)", describe(exc))


def lookup(backend: O365Backend, sought: Sought) -> Status | None:
    """SENT (tagged copy in Sent Items, or the draft id now names a sent item), DRAFTED
    (still a draft), UNKNOWN (Graph cannot tell yet: within ``sent_items_grace`` of the send
    attempt, or an error), None (certainly not sent)."""
    mailbox = _mailbox(backend)
    try:
        if sought.provider_id:
            try:
                found = mailbox.get_message(object_id=sought.provider_id)
            except requests.HTTPError as exc:
                if http_status(exc) != 404:
                    raise
                found = None
            if found is not None:
                return Status.DRAFTED if found.is_draft else Status.SENT
        if find(backend, "sent", sought.key):
            return Status.SENT
        if not sought.provider_id and find(backend, "drafts", sought.key):
            return Status.DRAFTED
    except requests.RequestException as exc:
        backend._raise_if_auth(exc)
        log.info("lookup of %s failed (%s)", sought.key, describe(exc))
        return Status.UNKNOWN
    return Status.UNKNOWN if backend.within_grace(sought.key) else None


def withdraw(backend: O365Backend, sought: Sought) -> Status | None:
    """After an interruption, :func:`lookup` found the message still a draft: in send mode
    it was never sent, so delete the draft (every draft tagged with its key) and return
    None: the caller sends it afresh. UNKNOWN when a send of it was requested within
    ``sent_items_grace`` (Exchange may still be moving it to Sent Items) or a draft could
    not be deleted. In draft mode the draft is the result: DRAFTED."""
    if backend.settings.mode != "send":
        return Status.DRAFTED
    if backend.within_grace(sought.key):
        return Status.UNKNOWN
    mailbox = _mailbox(backend)
    try:
        for found in mailbox.drafts_folder().get_messages(limit=5,
                                                           query=KeyQuery(sought.key)):
            if not found.delete():
                return Status.UNKNOWN
        if find(backend, "sent", sought.key):  # sent after all (by a person, meanwhile)
            return Status.SENT
    except requests.RequestException as exc:
        backend._raise_if_auth(exc)
        log.info("could not delete the unsent draft of %s (%s)", sought.key, describe(exc))
        return Status.UNKNOWN
    log.info("message %s: unsent draft %s deleted after an interruption", sought.key,
             sought.provider_id or "(found by key)")
    return None

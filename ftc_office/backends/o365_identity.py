"""Who sends through Outlook: the sending identity, the rights it needs, the sign-in it fits.

``delivery.o365.identity`` (README "Signing in to Outlook"):

- ``self`` (default): the signed-in user sends from their own mailbox; the FM gets the
  replies (``replyTo``) and stays in Cc as the mailer puts them. Needs ``Mail.ReadWrite``,
  ``Mail.Send``, ``User.Read`` and no Exchange rights.
- ``as-fm``: ``from`` = the FM, the draft in the signed-in user's mailbox: Exchange's Send
  As right on each FM's mailbox and the delegated ``Mail.Send.Shared``. The sent copy lands
  in the signed-in user's Sent Items (Graph: sending through ``/me``).
- ``on-behalf``: ``from`` = the FM and ``sender`` = the signed-in user: Send on Behalf on
  each FM's mailbox and ``Mail.Send.Shared``; the sent copy as for ``as-fm``.
- ``shared``: ``from`` = ``delivery.o365.mailbox``, drafted and sent in that mailbox (its
  Sent Items): Full Access and Send As on it and ``Mail.ReadWrite.Shared`` +
  ``Mail.Send.Shared`` (delegated), or app-only sign-in. The default when ``mailbox`` is set.

Graph cannot be asked which mailboxes a user may send as (learn.microsoft.com, "Send
Outlook messages from another user"): before the first send the token's scopes are checked
and, for ``shared``, a draft is created and deleted in the mailbox; an Exchange refusal of
Send As (403 ``ErrorSendAsDenied``) stops the batch at its first message.

The sign-in record (``<cache>.signin.json``, no secret) keeps the identity, mailbox, client
and tenant the token was obtained for: a change of any of them needs a new sign-in.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftc_office.config import O365Settings

if TYPE_CHECKING:
    from O365.message import Message

    from ftc_office.backends.o365 import O365Backend
    from ftc_office.message import OutgoingMessage

BASE_SCOPES = ("Mail.ReadWrite", "Mail.Send", "User.Read")
SEND_SHARED = "Mail.Send.Shared"
READWRITE_SHARED = "Mail.ReadWrite.Shared"
#: what the Exchange admin grants per identity (shown in refusals and the README)
EXCHANGE_RIGHT = {"self": "", "as-fm": "Send As", "on-behalf": "Send on Behalf",
                  "shared": "Full Access and Send As"}
RECORD_SUFFIX = ".signin.json"


def identity_of(settings: O365Settings) -> str:
    """The sending identity in effect: the configured one, else ``shared`` when a mailbox is
    set (the behaviour before identities existed), else ``self``."""
    if settings.identity:
        return settings.identity
    return "shared" if settings.mailbox else "self"


def needed_scopes(settings: O365Settings) -> tuple[str, ...]:
    """The delegated Graph permissions the identity needs (none listed for app-only)."""
    identity = identity_of(settings)
    if identity in ("as-fm", "on-behalf"):
        return (*BASE_SCOPES, SEND_SHARED)
    if identity == "shared":
        return (*BASE_SCOPES, READWRITE_SHARED, SEND_SHARED)
    return BASE_SCOPES


def missing_scopes(settings: O365Settings, granted: list[str]) -> list[str]:
    """Needed delegated scopes the token does not grant (names without the resource URL)."""
    have = {s.rsplit("/", 1)[-1].lower() for s in granted}
    return [s for s in needed_scopes(settings) if s.lower() not in have]


def sends_from(settings: O365Settings) -> str:
    """Whose mailbox the identity sends from, for messages: "your own mailbox", "each FM's
    mailbox" or the shared mailbox's address."""
    identity = identity_of(settings)
    if identity == "shared":
        return settings.mailbox
    return "each FM's mailbox" if identity in ("as-fm", "on-behalf") else "your own mailbox"


def scope_refusal(settings: O365Settings, account: str, missing: list[str]
                  ) -> tuple[str, str]:
    """(what, fix) when the sign-in lacks scopes the identity needs."""
    identity = identity_of(settings)
    what = (f"identity {identity!r} sends from {sends_from(settings)}, and the sign-in of "
            f"{account or 'this user'} lacks the delegated permission "
            + ", ".join(missing))
    fix = ("add " + ", ".join(missing) + " to the app registration's API permissions, then "
           "run 'ftc-office auth login' again")
    if EXCHANGE_RIGHT[identity]:
        fix += (f"; the Exchange admin must also grant {account or 'you'} "
                f"{EXCHANGE_RIGHT[identity]} on {sends_from(settings)}")
    return what, fix


def send_as_refusal(settings: O365Settings, account: str, mailbox: str) -> tuple[str, str]:
    """(what, fix) when Exchange refused to send from ``mailbox`` (ErrorSendAsDenied)."""
    identity = identity_of(settings)
    right = EXCHANGE_RIGHT[identity] or "Send As"
    return (f"Exchange refused to let {account or 'the signed-in user'} send from {mailbox} "
            f"(403 ErrorSendAsDenied): the {right} right on {mailbox} is missing",
            f"ask the Exchange admin to grant {account or 'you'} {right} on {mailbox}, or "
            'send as yourself: delivery.o365.identity = "self"')


def address(draft: Message, message: OutgoingMessage, settings: O365Settings,
            me: str) -> dict[str, Any]:
    """Set ``from`` / ``replyTo`` of the draft for the identity; ``me`` is the signed-in
    user's address (empty for app-only). Returns fields O365 cannot set, to add to the
    create request: ``sender`` = the signed-in user for ``on-behalf``."""
    identity = identity_of(settings)
    fm = message.sender
    if identity == "shared":
        draft.sender = settings.mailbox
        if fm is not None and fm.email.lower() != settings.mailbox.lower():
            draft.reply_to.add([(fm.name, fm.email) if fm.name else fm.email])
        return {}
    if fm is None or (me and fm.email.lower() == me.lower()):
        return {}  # the FM signed in: their own message, nothing to say
    if identity == "self":
        draft.reply_to.add([(fm.name, fm.email) if fm.name else fm.email])
        return {}
    draft.sender = (fm.name, fm.email) if fm.name else fm.email
    if identity == "on-behalf" and me:
        return {"sender": {"emailAddress": {"address": me}}}
    return {}


def with_fields(draft: Message, extra: dict[str, Any]) -> None:
    """Make the draft's create request carry ``extra`` (later updates do not)."""
    if not extra:
        return
    plain = draft.to_api_data

    def to_api_data(restrict_keys: Any = None) -> dict[str, Any]:
        data: dict[str, Any] = plain(restrict_keys=restrict_keys)
        return data if restrict_keys else {**data, **extra}

    draft.to_api_data = to_api_data


# -- the sign-in record ----------------------------------------------------------------


@dataclass(frozen=True)
class SignInRecord:
    """What a token was obtained for (no secret): a change of any of it needs a new sign-in."""

    auth: str
    identity: str
    mailbox: str
    client_id: str
    tenant_id: str

    @classmethod
    def of(cls, settings: O365Settings) -> SignInRecord:
        """The record the settings call for."""
        return cls(settings.auth, identity_of(settings), settings.mailbox.lower(),
                   settings.client_id, settings.tenant_id)


def record_path(cache: Path) -> Path:
    """The sign-in record beside the token cache ``cache``."""
    return cache.with_name(cache.name + RECORD_SUFFIX)


def write_record(cache: Path, settings: O365Settings) -> None:
    """Remember what this sign-in was for (after a successful sign-in)."""
    from ftc_office.atomic import atomic_write_bytes

    cache.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    data = json.dumps(asdict(SignInRecord.of(settings)), indent=1).encode()
    atomic_write_bytes(record_path(cache), data, mode=0o600)


def read_record(cache: Path) -> SignInRecord | None:
    """The recorded sign-in, or None (signed in before records existed, or unreadable)."""
    try:
        data = json.loads(record_path(cache).read_text(encoding="utf-8"))
        return SignInRecord(**{k: str(data[k]) for k in SignInRecord.__dataclass_fields__})
    except (OSError, ValueError, KeyError, TypeError):
        return None


def sign_in_changed(cache: Path, settings: O365Settings) -> str:
    """Why the cached sign-in no longer fits the settings ("" when it does or is unknown)."""
    old = read_record(cache)
    if old is None:
        return ""
    new = SignInRecord.of(settings)
    changes = [f"{name} {getattr(old, name) or '(none)'!r} → {getattr(new, name) or '(none)'!r}"
               for name in ("auth", "identity", "mailbox", "client_id", "tenant_id")
               if getattr(old, name) != getattr(new, name)]
    if not changes:
        return ""
    return "the sign-in was made for other settings (" + "; ".join(changes) + ")"


def forget_record(cache: Path) -> None:
    """Delete the sign-in record (sign-out)."""
    record_path(cache).unlink(missing_ok=True)


# -- tokens that fit the mode ----------------------------------------------------------


def app_tokens_only(backend: Any) -> None:
    """Make an app-only account's token cache answer with app tokens only: a delegated
    token left in it (an account id) is never sent in place of the app's."""
    from msal import TokenCache

    def get_access_token(*, username: str | None = None) -> dict[str, Any] | None:
        for token in backend.search(TokenCache.CredentialType.ACCESS_TOKEN):
            if not token.get("home_account_id"):
                return dict(token)
        return None

    backend.get_access_token = get_access_token


TENANT_FIX = ("set delivery.o365.tenant_id to your Directory (tenant) ID: Entra admin center "
              "(entra.microsoft.com) → Identity → Overview → Tenant ID, or the app "
              "registration's Overview page; \"organizations\" only for a multi-tenant app")


def require_tenant(settings: O365Settings) -> None:
    """Refuse a sign-in without a tenant id ("common" fails for single-tenant apps)."""
    from ftc_office.errors import DeliveryError

    if not settings.tenant_id:
        raise DeliveryError("delivery.o365.tenant_id", "no tenant is set, and signing in "
                            "through \"common\" fails for a single-tenant app registration "
                            "(AADSTS50194)", TENANT_FIX)


def sign_in_refused(settings: O365Settings, answer: dict[str, Any]) -> None:
    """Translate the sign-in service's AADSTS50194 (a single-tenant app asked through
    /common or /organizations) into the instruction to set the tenant id."""
    from ftc_office.errors import DeliveryError

    text = f"{answer.get('error', '')} {answer.get('error_description', '')}"
    if "AADSTS50194" in text:
        raise DeliveryError(
            f"delivery.o365.tenant_id = {settings.tenant_id!r}",
            "the app registration is single-tenant, so Microsoft refuses a sign-in through "
            f"{settings.tenant_id or 'common'!r} (AADSTS50194)", TENANT_FIX)


def granted(backend: Any, username: str | None) -> list[str] | None:
    """Scopes of the cached access token (None when there is none)."""
    token = backend.get_access_token(username=username)
    if not token:
        return None
    return [s.rsplit("/", 1)[-1] for s in str(token.get("target", "")).split() if s]


def sign_in_problem(settings: O365Settings, cache: Path | None, backend: Any,
                    username: str | None) -> tuple[str, str]:
    """(what, fix) when the cached sign-in does not fit the settings, else ("", "")."""
    login = "run 'ftc-office auth login' to sign in again for these settings"
    changed = sign_in_changed(cache, settings) if cache is not None else ""
    if changed:
        return changed, login
    if settings.auth == "credentials":
        return "", ""
    scopes = granted(backend, username)
    missing = missing_scopes(settings, scopes) if scopes is not None else []
    if missing:
        return scope_refusal(settings, username or "", missing)
    return "", ""


# -- before the first send -------------------------------------------------------------


def preflight(backend: O365Backend) -> None:
    """Refuse (DeliveryError, naming the mailbox and the missing right) before the first
    send when the sign-in does not fit the identity: settings changed since the sign-in,
    delegated scopes missing, or (``shared``, delegated) no right to write in the mailbox."""
    from ftc_office.errors import DeliveryError

    settings = backend.settings
    con = backend.account.con
    cache = getattr(con.token_backend, "token_path", None)
    what, fix = sign_in_problem(settings, cache if isinstance(cache, Path) else None,
                                con.token_backend, con.username)
    if what:
        raise DeliveryError(f"delivery.o365.identity = {identity_of(settings)!r}", what, fix)
    if identity_of(settings) == "shared" and settings.auth == "public":
        probe_mailbox(backend, settings.mailbox)


def probe_mailbox(backend: O365Backend, mailbox: str) -> None:
    """Create and delete a draft in ``mailbox``: the signed-in user may write there."""
    import requests

    from ftc_office.backends.o365_graph import describe, http_status
    from ftc_office.errors import DeliveryError

    who = backend.account.con.username or "the signed-in user"
    draft = backend.account.new_message(resource=mailbox)
    draft.subject = "ftc-office rights check (deleted at once)"
    try:
        draft.save_draft()
        draft.delete()
    except requests.RequestException as exc:
        status = http_status(exc)
        if status in (403, 404):
            raise DeliveryError(
                f"mailbox {mailbox}", f"{who} may not write drafts in {mailbox} "
                f"({describe(exc)}): the Full Access right is missing",
                f"ask the Exchange admin to grant {who} Full Access and Send As on {mailbox}"
                ", or use app-only sign-in") from None
        backend._raise_if_auth(exc)
        raise DeliveryError(f"mailbox {mailbox}", f"cannot check the rights on {mailbox} "
                            f"({describe(exc)})", "check the network and run again") from None


def status_problem(settings: O365Settings, cache: Path, account: str | None
                   ) -> tuple[str, str]:
    """(what, fix) for ``auth status`` and ``doctor`` when the cached sign-in does not fit
    the settings (read from the cache file, no network); ("", "") when it does."""
    from ftc_office.backends.o365_auth import SecureFileTokenBackend

    backend = SecureFileTokenBackend(cache)
    if cache.exists():
        backend.load_token()
    return sign_in_problem(settings, cache, backend, account)

"""Sign-in for the Outlook (Microsoft Graph) backend: account, token cache, login, status.

The O365 library is built on MSAL. This module builds an :class:`O365.Account` pointed at
the configured Graph and authority URLs (national clouds included), keeps the MSAL token
cache in ``config_dir()`` (encrypted where the system offers it: ``token_cache.py``; the
app-only token in ``o365_app_token.json``, app tokens only, mode 0600), refreshes the access
token ahead of expiry (O365 itself only refreshes after a 401), and runs
the interactive sign-ins used by
``ftc-office auth``. No function here ever prints or logs a token.

Environment overrides: ``FTC_O365_GRAPH_URL``, ``FTC_O365_AUTHORITY``; the app-only client
secret comes from ``FTC_O365_CLIENT_SECRET`` and never from the config file.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import requests
from msal import ConfidentialClientApplication, PublicClientApplication
from msal.authority import WELL_KNOWN_AUTHORITY_HOSTS
from O365 import Account
from O365.connection import Connection, MSGraphProtocol
from O365.utils import BaseTokenBackend, FileSystemTokenBackend

from ftc_office.atomic import atomic_write_bytes
from ftc_office.backends import o365_identity as ident
from ftc_office.backends.o365_graph import no_blind_retries
from ftc_office.backends.token_cache import ProtectedTokenBackend, cache_path
from ftc_office.config import O365Settings
from ftc_office.errors import DeliveryError
from ftc_office.paths import config_dir

log = logging.getLogger(__name__)

TOKEN_FILE = "o365_token.json"
APP_TOKEN_FILE = "o365_app_token.json"  # app-only: never the delegated sign-in's file
GRAPH_URL_ENV = "FTC_O365_GRAPH_URL"
AUTHORITY_ENV = "FTC_O365_AUTHORITY"
SECRET_ENV = "FTC_O365_CLIENT_SECRET"
# Refresh when the access token has less than this left (MSAL's own threshold is 5 min).
REFRESH_MARGIN = 300.0
_LOGIN_FIX = "run 'ftc-office auth login' to sign in again"
# Loggers that print request headers (bearer tokens) or upload URLs at DEBUG/INFO.
NOISY_LOGGERS = ("O365", "msal", "urllib3", "requests_oauthlib", "oauthlib")
NOISY_PREFIXES = tuple(f"{n}." for n in NOISY_LOGGERS)

# Graph host → sign-in host of the same national cloud, used when only graph_url is set.
_CLOUD_AUTHORITIES = {
    "graph.microsoft.com": "https://login.microsoftonline.com",
    "graph.microsoft.us": "https://login.microsoftonline.us",
    "dod-graph.microsoft.us": "https://login.microsoftonline.us",
    "microsoftgraph.chinacloudapi.cn": "https://login.chinacloudapi.cn",
}
_DEFAULT_AUTHORITY = O365Settings().authority


def quiet_library_loggers() -> None:
    """Keep O365/MSAL/urllib3 from logging below WARNING through us: at DEBUG O365 logs the
    session headers (the bearer token) and at INFO the attachment upload URL (a credential)."""
    for name in NOISY_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level < logging.WARNING:
            logger.setLevel(logging.WARNING)
    # A child set to DEBUG by the user (``O365.connection`` is where the headers and request
    # bodies are logged) is not covered by its parent's level: quiet every existing one too.
    # Found by tests/test_log_secrets.py: 'Authorization': 'Bearer ...' and message bodies
    # reached a root FileHandler through O365.connection at DEBUG.
    for name, child in list(logging.root.manager.loggerDict.items()):
        if (isinstance(child, logging.Logger) and name.startswith(NOISY_PREFIXES)
                and logging.NOTSET < child.level < logging.WARNING):
            child.setLevel(logging.WARNING)


def token_cache_path(settings: O365Settings | None = None) -> Path:
    """Where the MSAL token cache lives: the per-user config folder, never the project;
    encrypted where the system offers it (backends/token_cache.py). The app-only token
    (``auth = "credentials"``) lives in a plain 0600 file of its own."""
    if settings is not None and settings.auth == "credentials":
        return config_dir() / APP_TOKEN_FILE
    return cache_path(config_dir())


def graph_url(settings: O365Settings) -> str:
    """The Graph base URL (``FTC_O365_GRAPH_URL`` overrides the config), ending in ``/``."""
    url = os.environ.get(GRAPH_URL_ENV) or settings.graph_url
    return url if url.endswith("/") else url + "/"


def authority_base(settings: O365Settings) -> str:
    """The sign-in host URL without tenant (``FTC_O365_AUTHORITY`` overrides the config).

    When the config leaves the commercial default but points Graph at a national cloud
    (GCC High: graph.microsoft.us), the matching sign-in host is used.
    """
    env = os.environ.get(AUTHORITY_ENV)
    if env:
        return env.rstrip("/")
    base = settings.authority.rstrip("/")
    if base == _DEFAULT_AUTHORITY.rstrip("/"):
        host = urlparse(graph_url(settings)).hostname or ""
        base = _CLOUD_AUTHORITIES.get(host, base)
    return base


def authority_url(settings: O365Settings) -> str:
    """The full MSAL authority: ``{authority}/{tenant_id}``."""
    return f"{authority_base(settings)}/{settings.tenant_id or 'common'}"


def client_secret() -> str:
    """The app-only client secret from ``FTC_O365_CLIENT_SECRET`` (raises when unset)."""
    secret = os.environ.get(SECRET_ENV, "")
    if not secret:
        raise DeliveryError(
            "delivery.o365.auth = \"credentials\"",
            f"app-only sign-in needs the client secret in the {SECRET_ENV} environment "
            "variable, and it is not set",
            f"set {SECRET_ENV} in the environment that runs ftc-office (never in the config "
            "file), or use auth = \"public\"",
        )
    return secret


class SecureFileTokenBackend(FileSystemTokenBackend):
    """O365's file token cache, written atomically with mode 0600 (the refresh token is a
    long-lived credential; O365's own backend writes it with the umask, usually 0644)."""

    def __init__(self, path: Path) -> None:
        super().__init__(token_path=path.parent, token_filename=path.name)
        self.token_path: Path = path

    def load_token(self) -> bool:
        """Load the cache, tightening its mode to 0600 if someone widened it."""
        path = self.token_path
        if path.exists() and stat.S_IMODE(path.stat().st_mode) & 0o077:
            os.chmod(path, 0o600)
        return bool(super().load_token())

    def save_token(self, force: bool = False) -> bool:
        """Write the cache to a 0600 temporary file and rename it over the old one."""
        if not self._cache:
            return False
        if not force and not self._has_state_changed:
            return True
        path = self.token_path
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        data = self.serialize()
        atomic_write_bytes(path, data.encode() if isinstance(data, str) else data, mode=0o600)
        return True


IMMUTABLE_IDS = 'IdType="ImmutableId"'


class FtcConnection(Connection):
    """O365's connection with the MSAL app built for our authority (national clouds, a
    test authority): O365 hard-codes login.microsoftonline.com."""

    ftc_authority: str = ""
    ftc_instance_discovery: bool | None = None

    def get_session(self, load_token: bool = False) -> requests.Session:
        """O365's session, without urllib3's blind retries (see :func:`no_blind_retries`)."""
        return no_blind_retries(super().get_session(load_token=load_token))

    def get_naive_session(self) -> requests.Session:
        """O365's session for upload URLs, without urllib3's blind retries."""
        return no_blind_retries(super().get_naive_session())

    @property
    def msal_client(self) -> PublicClientApplication | ConfidentialClientApplication:
        """The MSAL application whose token cache is our token backend."""
        client: PublicClientApplication | ConfidentialClientApplication | None = getattr(
            self, "_msal_client", None)
        if client is None:
            common: dict[str, Any] = {
                "client_id": self.auth[0],
                "authority": self.ftc_authority or self._msal_authority,
                "token_cache": self.token_backend,
                "proxies": self.proxy or None,
                "verify": self.verify_ssl,
                "timeout": self.timeout,
                "instance_discovery": self.ftc_instance_discovery,
            }
            if self.auth_flow_type in ("public", "password"):
                client = PublicClientApplication(**common)
            else:
                client = ConfidentialClientApplication(client_credential=self.auth[1], **common)
            self._msal_client = client
        return client


class FtcAccount(Account):
    """An O365 account that uses :class:`FtcConnection`."""

    connection_constructor = FtcConnection


def make_protocol(settings: O365Settings, default_resource: str | None) -> MSGraphProtocol:
    """A Graph protocol whose base URL and scope prefix are the configured Graph URL."""
    url = graph_url(settings)
    cls = type("FtcGraphProtocol", (MSGraphProtocol,),
               {"_protocol_url": url, "_oauth_scope_prefix": url})
    protocol: MSGraphProtocol = cls(default_resource=default_resource, timezone="UTC")
    return protocol


def build_account(settings: O365Settings, *, token_backend: BaseTokenBackend | None = None,
                  verify: bool | str = True, requests_delay_ms: int = 200,
                  request_retries: int = 3) -> FtcAccount:
    """Build the O365 account described by the settings (no network access yet).

    Delegated (``auth="public"``): the signed-in user's mailbox, or the shared ``mailbox``.
    App-only (``auth="credentials"``): needs ``tenant_id``, ``mailbox`` and the secret in
    ``FTC_O365_CLIENT_SECRET``. ``verify`` may be a CA bundle path (tests).
    """
    where = "delivery.o365"
    if not settings.client_id:
        raise DeliveryError(f"{where}.client_id", "no app registration (client id) is set",
                            "set delivery.o365.client_id to the Application (client) ID of "
                            "your Entra app registration")
    credentials: str | tuple[str, str]
    if settings.auth == "credentials":
        if not settings.tenant_id or settings.tenant_id in ("common", "organizations"):
            raise DeliveryError(f"{where}.tenant_id", "app-only sign-in needs your tenant id",
                                "set delivery.o365.tenant_id to the Directory (tenant) ID")
        if not settings.mailbox:
            raise DeliveryError(f"{where}.mailbox", "app-only sign-in needs a mailbox to send "
                                "from", 'set delivery.o365.mailbox = "team@contoso.com"')
        credentials = (settings.client_id, client_secret())
    else:
        credentials = settings.client_id
    resource = settings.mailbox or None
    protocol = make_protocol(settings, resource)
    backend = token_backend if token_backend is not None else ProtectedTokenBackend(
        token_cache_path(settings))
    if settings.auth == "credentials":
        ident.app_tokens_only(backend)
    base = authority_base(settings)
    host = urlparse(base).hostname or ""
    account = FtcAccount(
        credentials, protocol=protocol, main_resource=resource,
        auth_flow_type=settings.auth, tenant_id=settings.tenant_id or "common",
        token_backend=backend, timeout=settings.timeout, verify_ssl=verify,
        requests_delay=requests_delay_ms, request_retries=request_retries,
        raise_http_errors=True,
    )
    con: FtcConnection = account.con
    # immutable ids: the draft id recorded in the ledger still names the message after
    # the send moved it to Sent Items (O365 adds default_headers to every request)
    con.default_headers = {**con.default_headers, "Prefer": IMMUTABLE_IDS}
    con.ftc_authority = authority_url(settings)
    con.ftc_instance_discovery = None if host in WELL_KNOWN_AUTHORITY_HOSTS else False
    con.oauth_redirect_url = f"{base}/common/oauth2/nativeclient"
    quiet_library_loggers()
    return account


def _expires_on(backend: BaseTokenBackend, username: str | None) -> float | None:
    token = backend.get_access_token(username=username)
    if not token or not token.get("expires_on"):
        return None
    return float(token["expires_on"])


def ensure_token(account: FtcAccount, settings: O365Settings, *,
                 margin: float = REFRESH_MARGIN, now: Callable[[], float] = time.time) -> None:
    """Make sure the access token is valid for at least ``margin`` seconds.

    A cache hit costs no request. Near expiry, delegated tokens are refreshed through MSAL
    (the refresh token); app-only tokens are acquired again (O365 would crash refreshing
    them). Raises DeliveryError with a fix when the user has to sign in again.
    """
    con = account.con
    backend: BaseTokenBackend = con.token_backend
    where = f"token cache {getattr(backend, 'token_path', 'in memory')}"
    if not backend.has_data:
        con.load_token_from_backend()
    if settings.auth == "credentials":
        expires = _expires_on(backend, None)
        if expires is not None and expires - now() > margin:
            return
        try:
            ok = account.authenticate()
        except (requests.RequestException, ValueError) as exc:
            raise DeliveryError(authority_url(settings), "cannot get an app-only token "
                                f"({type(exc).__name__})", "check the network, the tenant id "
                                "and the authority URL") from None
        if not ok:
            raise DeliveryError(authority_url(settings), "the app-only token was refused",
                                f"check client_id, tenant_id and {SECRET_ENV}, and that the "
                                "app has the Mail.Send and Mail.ReadWrite application "
                                "permissions")
        return
    username = con.username
    if backend.get_refresh_token(username=username) is None and _expires_on(
            backend, username) is None:
        raise DeliveryError(where, "you are not signed in to Outlook", _LOGIN_FIX)
    expires = _expires_on(backend, username)
    if expires is not None and expires - now() > margin:
        return
    if backend.get_refresh_token(username=username) is None:
        raise DeliveryError(where, "the access token expired and there is no refresh token",
                            _LOGIN_FIX)
    try:
        ok = con.refresh_token()
    except IndexError:
        raise DeliveryError(where, "the cached sign-in belongs to another authority than "
                            f"{authority_base(settings)}", _LOGIN_FIX) from None
    except RuntimeError as exc:
        raise DeliveryError(where, f"the token refresh was refused ({exc})",
                            _LOGIN_FIX) from None
    except (requests.RequestException, ValueError) as exc:
        raise DeliveryError(authority_url(settings), "cannot reach the sign-in service to "
                            f"refresh the token ({type(exc).__name__})",
                            "check the network and delivery.o365.authority") from None
    if not ok:
        raise DeliveryError(where, "the token refresh failed", _LOGIN_FIX)
    log.info("access token refreshed for %s", username or "the app")


@dataclass(frozen=True)
class TokenStatus:
    """What ``auth status`` shows: never the token itself."""

    signed_in: bool
    account: str | None
    cache_path: Path
    expires_at: dt.datetime | None
    has_refresh_token: bool
    auth: str
    mailbox: str

    @property
    def expired(self) -> bool:
        """True when the access token has expired (a refresh token may still renew it)."""
        return self.expires_at is None or self.expires_at <= dt.datetime.now(dt.UTC)


def token_status(settings: O365Settings, *, path: Path | None = None) -> TokenStatus:
    """Read the token cache (no network) and describe the sign-in."""
    cache = path or token_cache_path(settings)
    backend = ProtectedTokenBackend(cache)
    loaded = backend.load_token()
    account_info = backend.get_account() if loaded else None
    username = account_info.get("username") if account_info else None
    expires = _expires_on(backend, username) if loaded else None
    has_rt = bool(loaded and backend.get_refresh_token(username=username))
    return TokenStatus(
        signed_in=bool(loaded and (has_rt or expires is not None)),
        account=username, cache_path=cache,
        expires_at=dt.datetime.fromtimestamp(expires, dt.UTC) if expires else None,
        has_refresh_token=has_rt, auth=settings.auth, mailbox=settings.mailbox,
    )


def logout(*, path: Path | None = None) -> bool:
    """Delete the token cache and its sign-in record; True if there was a cache."""
    cache = path or token_cache_path()
    ident.forget_record(cache)
    return ProtectedTokenBackend(cache).delete_token()


def _signed_in_name(account: FtcAccount) -> str:
    return str(account.con.username or "the app")


def _account_for_login(settings: O365Settings, verify: bool | str) -> tuple[FtcAccount, str]:
    """The account to sign in; with app-only auth the sign-in is just a token fetch, and the
    second value is then the signed-in name (empty for a delegated sign-in still to do)."""
    account = build_account(settings, verify=verify)
    ident.require_tenant(settings)
    if settings.auth == "credentials":
        ensure_token(account, settings, margin=float("inf"))
        ident.write_record(token_cache_path(settings), settings)
        return account, _signed_in_name(account)
    return account, ""


def login_device_code(settings: O365Settings, show: Callable[[str], None], *,
                      verify: bool | str = True) -> str:
    """Sign in with the device-code flow; ``show`` displays Microsoft's instructions.
    Returns the signed-in account name."""
    account, app_only = _account_for_login(settings, verify)
    if app_only:
        return app_only
    scopes = account.protocol.get_scopes_for(list(ident.needed_scopes(settings)))
    try:
        app = account.con.msal_client
        flow = app.initiate_device_flow(scopes=scopes)
    except (requests.RequestException, ValueError) as exc:
        raise DeliveryError(authority_url(settings), "cannot reach the sign-in service "
                            f"({type(exc).__name__})", "check the network and "
                            "delivery.o365.authority / tenant_id") from None
    if "user_code" not in flow:
        ident.sign_in_refused(settings, flow)
        raise DeliveryError(authority_url(settings), "the device-code sign-in was refused "
                            f"({flow.get('error', 'no code')})",
                            "check that the app registration allows public client flows")
    show(str(flow.get("message") or f"Open {flow.get('verification_uri')} and enter "
                                     f"{flow['user_code']}"))
    result = app.acquire_token_by_device_flow(flow)
    if "access_token" not in result:
        ident.sign_in_refused(settings, result)
        raise DeliveryError("sign-in", f"the sign-in did not complete ({result.get('error')})",
                            "run 'ftc-office auth login' again and finish it in the browser")
    account.con.token_backend.save_token(force=True)
    ident.write_record(token_cache_path(settings), settings)
    claims = result.get("id_token_claims") or {}
    return str(claims.get("preferred_username") or _signed_in_name(account))


def login_url(settings: O365Settings, prompt: Callable[[str], str], *,
              verify: bool | str = True) -> str:
    """Sign in by pasting the redirected URL: ``prompt(consent_url)`` returns it.
    Returns the signed-in account name."""
    account, app_only = _account_for_login(settings, verify)
    if app_only:
        return app_only
    try:
        ok = account.authenticate(requested_scopes=list(ident.needed_scopes(settings)),
                                  redirect_uri=account.con.oauth_redirect_url,
                                  handle_consent=prompt)
    except (RuntimeError, ValueError) as exc:
        ident.sign_in_refused(settings, {"error_description": str(exc)})
        raise
    if not ok:
        raise DeliveryError("sign-in", "the sign-in did not complete",
                            "run 'ftc-office auth login --url' again and paste the whole "
                            "address of the blank page you land on")
    account.con.token_backend.save_token(force=True)
    ident.write_record(token_cache_path(settings), settings)
    return _signed_in_name(account)

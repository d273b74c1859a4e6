"""``ftc-office doctor``: the pre-flight checks an FM runs once, and before a big send.

Each check is a function returning a :class:`Check` (ok, what, fix): the config, the data
folder, the ledger, then the chosen backend's own checks — the outbox folder; an SMTP
connect, TLS, login and ``NOOP``; for Outlook the cached token, its scopes, ``GET /me``, the
Sent Items folder of the configured mailbox, the send-as right when another mailbox sends,
and what the cloud offers. A check that cannot run because an earlier one failed is left
out rather than reported twice. Nothing is sent and no token is ever shown.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlparse

from ftc_office.config import Settings, load_settings
from ftc_office.errors import FtcError

#: Graph hosts of the US Government clouds: no attachment upload sessions there
#: (learn.microsoft.com, attachment: createUploadSession, national cloud availability).
US_GOV_GRAPH_HOSTS = ("graph.microsoft.us", "dod-graph.microsoft.us")
#: Delegated scopes every send needs (the identities add theirs: o365_identity).
NEEDED_SCOPES = ("Mail.ReadWrite", "Mail.Send", "User.Read")


class Check(NamedTuple):
    """One check's outcome: ``what`` was found, and ``fix`` when it is not ok."""

    ok: bool
    what: str
    fix: str = ""


def _from_error(exc: FtcError) -> Check:
    return Check(False, f"{exc.where}: {exc.what}", exc.fix)


# -- common checks -----------------------------------------------------------------------

def check_config(explicit: str | None) -> tuple[Check, Settings | None]:
    """The config is found and valid; which file it is, or the built-in defaults."""
    try:
        settings = load_settings(explicit)
    except FtcError as exc:
        return _from_error(exc), None
    where = str(settings.source) if settings.source else "built-in defaults (no ftc-office.toml)"
    return Check(True, f"config: {where}"), settings


def _nearest_existing(folder: Path) -> Path:
    p = folder
    while not p.exists() and p != p.parent:
        p = p.parent
    return p


def writable(folder: Path) -> str:
    """Why ``folder`` cannot be used (empty when it exists and takes a file, or when it can
    be created). Probes with a real temporary file: ``os.access`` misses read-only mounts."""
    base = _nearest_existing(folder)
    if not base.is_dir():
        return f"{base} is not a folder"
    if base != folder:
        return "" if os.access(base, os.W_OK | os.X_OK) else f"cannot create it in {base}"
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"not writable ({exc.strerror or exc})"
    return ""


def check_data_folder(settings: Settings) -> Check:
    """The data folder (ledger, locks, backups) is writable."""
    folder = settings.data_folder()
    problem = writable(folder)
    if problem:
        return Check(False, f"data folder {folder}: {problem}",
                     "set paths.data_dir (or FTC_OFFICE_DATA_DIR) to a folder you can write")
    return Check(True, f"data folder {folder}: writable")


def check_ledger(settings: Settings) -> Check:
    """The ledger opens: SQLite in the data folder or the team's PostgreSQL."""
    from ftc_office.ledger import Ledger
    from ftc_office.ledger.select import ledger_url

    try:
        url = ledger_url(settings)
    except FtcError as exc:
        return _from_error(exc)
    kind = (f"PostgreSQL {_without_password(url)}" if url
            else f"SQLite {settings.data_folder() / 'ledger.sqlite3'}")
    try:
        ledger = Ledger.open(settings.data_folder(), settings)
        ledger.close()
    except FtcError as exc:
        return _from_error(exc)
    except Exception as exc:  # a driver's own error: say which, never a traceback
        return Check(False, f"ledger {kind}: cannot open ({type(exc).__name__}: {exc})",
                     "check ledger.url / FTC_OFFICE_LEDGER_URL and that the server is up")
    return Check(True, f"ledger: {kind} opens")


def _without_password(url: str) -> str:
    parts = urlparse(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@", 1)
    return url


# -- outbox and SMTP ---------------------------------------------------------------------

def check_outbox(settings: Settings) -> list[Check]:
    """The outbox folder exists or can be created and is writable; which mode it is in."""
    d = settings.delivery
    folder = settings.resolve_path(d.outbox_dir).absolute()
    problem = writable(folder)
    state = "writable" if folder.is_dir() else "will be created"
    mode = ("drafts: .eml files to open in Outlook and send; 'ftc-office mark-sent' records "
            "them" if d.outbox_mode == "drafts" else "pickup: a mail server's pickup folder")
    return [Check(not problem, f"outbox folder {folder}: {problem or state}",
                  "set delivery.outbox_dir or give --outbox a folder you can write"
                  if problem else ""),
            Check(True, f"outbox mode {mode}")]


def check_smtp(settings: Settings, ca_file: Path | None = None) -> list[Check]:
    """Connect, TLS per ``security``, login when a username is set, ``NOOP``, quit."""
    from ftc_office.backends.smtp_connect import SmtpFailure, connect

    s = settings.delivery.smtp
    where = f"SMTP server {s.host}:{s.port}"
    try:
        conn = connect(s, ca_file)
    except SmtpFailure as exc:
        return [_from_error(exc.error)]
    except FtcError as exc:
        return [_from_error(exc)]
    try:
        code, _reply = conn.noop()
        conn.quit()
    except Exception as exc:
        conn.close()
        return [Check(False, f"{where}: the connection broke after login ({exc})",
                      "check the network and run 'ftc-office doctor' again")]
    security = {"none": "no TLS", "starttls": "STARTTLS", "tls": "TLS"}[s.security]
    login = f"logged in as {s.username}" if s.username else "no login (no username set)"
    return [Check(True, f"{where}: connected, {security}, {login}"),
            Check(code == 250, f"{where}: NOOP answered {code}",
                  "the server is not ready; try again later or ask its administrator"
                  if code != 250 else "")]


# -- Outlook (Microsoft Graph) -----------------------------------------------------------

def granted_scopes(target: str) -> list[str]:
    """Scope names from a token's space-separated scope string, without the resource URL
    (``https://graph.microsoft.com/Mail.Send`` → ``Mail.Send``)."""
    return [s.rsplit("/", 1)[-1] for s in target.split() if s]


def cached_token(settings: Settings) -> tuple[Check, dict[str, Any] | None]:
    """The sign-in in the token cache (no network): present and unexpired, or renewable."""
    from ftc_office.backends.o365_auth import token_status
    from ftc_office.backends.token_cache import ProtectedTokenBackend

    o = settings.delivery.o365
    st = token_status(o)
    where = f"token cache {st.cache_path}"
    login = "run 'ftc-office auth login'"
    if not st.signed_in:
        return Check(False, f"{where}: not signed in", login), None
    backend = ProtectedTokenBackend(st.cache_path)
    backend.load_token()
    token = backend.get_access_token(username=st.account) or {}
    who = st.account or "the app (app-only)"
    if not st.expired:
        until = st.expires_at.isoformat(timespec="seconds") if st.expires_at else "?"
        return Check(True, f"signed in as {who}; access token valid until {until}"), token
    if st.has_refresh_token:
        renewed = _renew(settings, who)
        return renewed, token if renewed.ok else None
    return Check(False, f"{where}: the access token of {who} expired and there is no "
                 "refresh token", f"{login} to sign in again"), None


def _renew(settings: Settings, who: str) -> Check:
    """An expired access token renewed with the refresh token (one sign-in request)."""
    from ftc_office.backends.o365_auth import build_account, ensure_token

    o = settings.delivery.o365
    try:
        ensure_token(build_account(o, request_retries=0), o)
    except FtcError as exc:
        return Check(False, f"{exc.where}: the access token of {who} expired and could not "
                     f"be renewed: {exc.what}", exc.fix)
    return Check(True, f"signed in as {who}; the expired access token was renewed")


def check_scopes(settings: Settings, token: dict[str, Any], account: str | None) -> list[Check]:
    """The scopes granted to the cached token; then what the sending identity
    (``delivery.o365.identity``) needs beyond them, and whether the sign-in was made for
    these settings (:mod:`ftc_office.backends.o365_identity`)."""
    from ftc_office.backends import o365_identity as ident
    from ftc_office.backends.o365_auth import token_cache_path

    o = settings.delivery.o365
    scopes = granted_scopes(str(token.get("target", "")))
    checks = []
    missing = [s for s in NEEDED_SCOPES if s not in scopes]
    fix = ("add the delegated Graph permissions to the app registration, then run "
           "'ftc-office auth login' again")
    checks.append(Check(not missing, "scopes granted: " + (" ".join(sorted(scopes)) or "none")
                        + (f" (missing {', '.join(missing)})" if missing else ""),
                        fix if missing else ""))
    changed = ident.sign_in_changed(token_cache_path(o), o)
    if changed:
        checks.append(Check(False, f"sign-in: {changed}", "run 'ftc-office auth login' to "
                            "sign in again for these settings"))
    identity = ident.identity_of(o)
    extra = [s for s in ident.needed_scopes(o) if s not in NEEDED_SCOPES]
    if extra:
        lacking = ident.missing_scopes(o, scopes)
        what = (f"identity {identity!r} (from {ident.sends_from(o)}): "
                + (", ".join(lacking) + " not granted" if lacking else
                   " ".join(extra) + f" granted; {ident.EXCHANGE_RIGHT[identity]} is checked "
                   "by Exchange at the first send"))
        checks.append(Check(not lacking, what, ident.scope_refusal(o, account or "", lacking)[1]
                            if lacking else ""))
    return checks


def check_cloud(settings: Settings) -> Check:
    """What the configured Graph cloud offers (US Gov: no attachment upload sessions)."""
    from ftc_office.backends.o365_auth import graph_url

    url = graph_url(settings.delivery.o365)
    host = urlparse(url).hostname or url
    if host in US_GOV_GRAPH_HOSTS:
        return Check(True, f"cloud {host}: no upload sessions — attachments over 3 MB cannot "
                     "be sent (share a link instead)")
    return Check(True, f"cloud {host}: large attachments by upload session")


def check_mailbox(settings: Settings, *, verify: bool | str = True) -> list[Check]:
    """``GET /me`` (delegated sign-in) and the Sent Items folder of the configured mailbox."""
    from ftc_office.backends.o365_auth import build_account, ensure_token

    o = settings.delivery.o365
    box = o.mailbox or "your mailbox"
    try:
        account = build_account(o, verify=verify, request_retries=0)
        ensure_token(account, o)
    except FtcError as exc:
        return [_from_error(exc)]
    checks: list[Check] = []
    try:
        if o.auth == "credentials":
            checks.append(Check(True, f"app-only token for {o.mailbox} acquired"))
        else:
            me = _graph(lambda: account.con.get(f"{account.protocol.service_url}me").json())
            if isinstance(me, Check):
                return [me._replace(what=f"GET /me: {me.what}")]
            name = me.get("userPrincipalName") or me.get("mail") or "?"
            checks.append(Check(True, f"GET /me: {name}"))
        folder = account.mailbox(resource=o.mailbox or None).sent_folder()
        found = _graph(lambda: list(folder.get_messages(limit=1)))
        if isinstance(found, Check):
            return [*checks, found._replace(what=f"Sent Items of {box}: {found.what}")]
        checks.append(Check(True, f"Sent Items of {box}: readable"))
        if o.mailbox and o.auth == "public":  # the shared identity: may we write there?
            checks.append(_probe(settings, account))
    finally:
        session = getattr(account.con, "session", None)
        if session is not None:
            session.close()
    return checks


def _probe(settings: Settings, account: Any) -> Check:
    """A draft created and deleted in the shared mailbox (Full Access)."""
    from ftc_office.backends.o365 import O365Backend
    from ftc_office.backends.o365_identity import probe_mailbox

    o = settings.delivery.o365
    backend = O365Backend(o)
    backend._account = account
    try:
        probe_mailbox(backend, o.mailbox)
    except FtcError as exc:
        return _from_error(exc)
    return Check(True, f"drafts in {o.mailbox}: one created and deleted (Full Access)")


def _graph(call: Callable[[], Any]) -> Any:
    """The call's result, or a failed Check saying what Graph answered."""
    import requests

    try:
        return call()
    except requests.HTTPError as exc:
        status = exc.response.status_code if exc.response is not None else "?"
        code = ""
        with contextlib.suppress(ValueError, KeyError, TypeError):
            code = exc.response.json()["error"]["code"] if exc.response is not None else ""
        return Check(False, f"Graph answered {status} {code}".rstrip(),
                     "check delivery.o365.mailbox and your rights on it (403/404), or run "
                     "'ftc-office auth login' again (401)")
    except requests.RequestException as exc:
        return Check(False, f"cannot reach Graph ({type(exc).__name__})",
                     "check the network and delivery.o365.graph_url")


def check_o365(settings: Settings, *, verify: bool | str = True) -> list[Check]:
    """Token, scopes, mailbox, send-as right and cloud, in that order."""
    from ftc_office.backends.o365_auth import token_status

    if not settings.delivery.o365.client_id:
        return [Check(False, "delivery.o365.client_id: no app registration (client id) is set",
                      "set it to the Application (client) ID of your Entra app registration")]
    if settings.delivery.o365.auth == "credentials":  # app-only: a token is fetched now
        return [*check_mailbox(settings, verify=verify), check_cloud(settings)]
    checks = [check_cloud(settings)]
    token_check, token = cached_token(settings)
    checks.insert(0, token_check)
    if token is None:
        return checks
    checks[1:1] = check_scopes(settings, token, token_status(settings.delivery.o365).account)
    checks[-1:-1] = check_mailbox(settings, verify=verify)
    return checks


def check_token_cache() -> Check:
    """No other user account can read the Outlook token cache (a refresh token is a
    long-lived credential): encrypted, or a plain file with mode 0600."""
    from ftc_office.backends.o365_auth import token_cache_path
    from ftc_office.backends.token_cache import describe, exposure

    path = token_cache_path()
    problem = exposure(path)
    if problem:
        return Check(False, f"token cache: {problem}",
                     f"run 'ftc-office auth logout' then 'ftc-office auth login' (or chmod 600 "
                     f"{path}), and revoke the sign-in if another account may have read it")
    return Check(True, f"token cache {path}: {describe(path)}")


# -- all of it -----------------------------------------------------------------------------

BACKEND_CHECKS: dict[str, Callable[[Settings], list[Check]]] = {
    "outbox": check_outbox, "smtp": check_smtp, "o365": check_o365}


def run_checks(explicit_config: str | None, backend: str | None = None) -> list[Check]:
    """Every check for the config and the backend (default: ``delivery.backend``)."""
    config_check, settings = check_config(explicit_config)
    if settings is None:
        return [config_check]
    checks = [config_check, check_data_folder(settings)]
    if checks[-1].ok:
        checks.append(check_ledger(settings))
    name = backend or settings.delivery.backend
    checks.append(Check(True, f"backend: {name}"))
    cache = check_token_cache()  # before the backend's checks read (and tighten) the cache
    if not cache.ok:  # any backend: a left-over exposed cache is a credential lying about
        checks.append(cache)
    checks.extend(BACKEND_CHECKS[name](settings))
    return checks

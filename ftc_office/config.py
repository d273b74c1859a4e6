"""Project config: a TOML file turned into frozen settings.

Looked up in this order: ``--config PATH``, the ``FTC_OFFICE_CONFIG`` environment variable,
``ftc-office.toml`` in the current folder, then the built-in defaults. Unknown keys and wrong
types are errors that name the key and suggest the nearest valid one. Secrets never live
here: passwords come from an environment variable or the system keyring.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ftc_office.errors import ConfigError
from ftc_office.paths import data_dir

CONFIG_NAME = "ftc-office.toml"
CONFIG_ENV = "FTC_OFFICE_CONFIG"
URL_ENV = "FTC_OFFICE_LEDGER_URL"  # a shared ledger's URL; beats ledger.url

DEFAULT_QUEUES = {
    "Americas": "FTCQ Inactive Americas",
    "APJ": "FTCQ Inactive APJ",
    "EMEA": "FTCQ Inactive EMEA",
}
DEFAULT_REGION_ALIASES = {
    "Americas": "Americas", "AMER": "Americas", "AMERICA": "Americas", "NA": "Americas",
    "North America": "Americas", "LATAM": "Americas", "Latin America": "Americas",
    "APJ": "APJ", "APAC": "APJ", "Asia Pacific": "APJ", "Asia Pacific Japan": "APJ",
    "Japan": "APJ",
    "EMEA": "EMEA", "Europe": "EMEA", "Middle East": "EMEA", "Africa": "EMEA",
}


@dataclass(frozen=True)
class TrackerSettings:
    """How trackers are read."""

    sheet: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    max_header_row: int = 30


@dataclass(frozen=True)
class RoutingSettings:
    """Region spellings → region → assignment queue."""

    queues: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_QUEUES))
    regions: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_REGION_ALIASES))


@dataclass(frozen=True)
class MailSettings:
    """Addresses and audiences."""

    internal_domains: list[str] = field(default_factory=lambda: ["microsoft.com"])
    assignment_team: str = "ftc-assignment@microsoft.com"
    sender: str = ""
    queue_move_grouping: Literal["per-queue", "per-tenant"] = "per-queue"
    cc_fm: bool = True


@dataclass(frozen=True)
class FtopSettings:
    """FTOP status texts written to the tracker."""

    status_disengaged: str = "Disengaged - pending queue move"
    status_closed: str = "Closed - moved to inactive queue"
    default_service_status: Literal["Adoption", "Migration"] = "Adoption"


@dataclass(frozen=True)
class SmtpSettings:
    """SMTP delivery. The password comes from ``password_env`` or the keyring, never here."""

    host: str = "localhost"
    port: int = 587
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str = ""
    password_env: str = "FTC_SMTP_PASSWORD"
    use_keyring: bool = False
    timeout: float = 30.0
    helo_domain: str = ""


@dataclass(frozen=True)
class O365Settings:
    """Outlook delivery through Microsoft Graph (O365 library)."""

    client_id: str = ""
    tenant_id: str = ""  # the Directory (tenant) ID; empty: asked for at sign-in
    auth: Literal["public", "credentials"] = "public"
    mailbox: str = ""
    # who sends (README "Signing in to Outlook"): "self" (default; "shared" when mailbox
    # is set), "as-fm" (Send As), "on-behalf" (Send on Behalf), "shared" (mailbox sends)
    identity: Literal["", "self", "as-fm", "on-behalf", "shared"] = ""
    mode: Literal["send", "draft"] = "send"
    graph_url: str = "https://graph.microsoft.com/"
    authority: str = "https://login.microsoftonline.com"
    timeout: float = 30.0
    max_per_minute: int = 30
    daily_recipient_limit: int = 9500
    max_retries: int = 5
    max_retry_wait: float = 120.0
    sent_items_grace: float = 300.0
    max_message_mb: float = 35.0


@dataclass(frozen=True)
class DeliverySettings:
    """Which backend delivers, and each backend's settings."""

    backend: Literal["outbox", "smtp", "o365"] = "outbox"
    outbox_dir: str = "ftc-office-out/outbox"
    # "drafts": .eml files that open in Outlook as unsent drafts, recorded as drafted (not
    # sent) until `ftc-office mark-sent`; "pickup": a mail server's pickup folder (sent)
    outbox_mode: Literal["drafts", "pickup"] = "drafts"
    smtp: SmtpSettings = field(default_factory=SmtpSettings)
    o365: O365Settings = field(default_factory=O365Settings)


@dataclass(frozen=True)
class PathSettings:
    """Override folders for templates and mailers, and the data folder (ledger, locks,
    backups); relative to the config file. ``FTC_OFFICE_DATA_DIR`` beats ``data_dir``."""

    templates: str = ""
    mailers: str = ""
    data_dir: str = ""


PAGE_SIZES = ("A4", "Letter")


@dataclass(frozen=True)
class WordSettings:
    """Word attachments: the page size per region (``page_sizes``), else ``page_size``."""

    page_size: Literal["A4", "Letter"] = "A4"
    page_sizes: dict[str, str] = field(default_factory=lambda: {"Americas": "Letter"})

    def page_for(self, region: str) -> str:
        """The page size for a tenant's region (A4 for EMEA and APJ by default)."""
        return self.page_sizes.get(region, self.page_size)


@dataclass(frozen=True)
class LedgerSettings:
    """The ledger: personal SQLite in the data folder (``url`` empty, the default) or a
    team's PostgreSQL (``url = "postgresql://USER@HOST/DB"``; ``FTC_OFFICE_LEDGER_URL``
    wins). The password comes from PGPASSWORD or ~/.pgpass, or with ``use_keyring`` from the
    system keyring (service ``ftc-office-ledger``, the URL's user), never from here. ``user``
    names you in claims and history (default: the login name; ``FTC_OFFICE_USER`` wins)."""

    url: str = ""
    user: str = ""
    lease_seconds: float = 60.0
    use_keyring: bool = False


@dataclass(frozen=True)
class RunSettings:
    """How a large run shares its work out: ``compose_workers`` processes compose the
    messages of the tenants after the first ``compose_head`` while the run sends (0: the
    run composes everything itself). The messages are the same either way."""

    compose_workers: int = 1
    compose_head: int = 100


@dataclass(frozen=True)
class Settings:
    """All settings. ``source`` is the config file they came from, if any."""

    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    mail: MailSettings = field(default_factory=MailSettings)
    ftop: FtopSettings = field(default_factory=FtopSettings)
    delivery: DeliverySettings = field(default_factory=DeliverySettings)
    paths: PathSettings = field(default_factory=PathSettings)
    # address → display name, for greetings and headers when the tracker gives no name
    people: dict[str, str] = field(default_factory=dict)
    word: WordSettings = field(default_factory=WordSettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    run: RunSettings = field(default_factory=RunSettings)
    source: Path | None = None

    def resolve_path(self, value: str) -> Path:
        """A path from the config, relative to the config file's folder."""
        p = Path(value).expanduser()
        if not p.is_absolute() and self.source is not None:
            p = self.source.parent / p
        return p

    def data_folder(self) -> Path:
        """The data folder: ``FTC_OFFICE_DATA_DIR``, else ``paths.data_dir``, else per-user."""
        return data_dir(self.resolve_path(self.paths.data_dir) if self.paths.data_dir else None)


def find_config(explicit: str | os.PathLike[str] | None) -> Path | None:
    """The config file to use, or None for the built-in defaults."""
    if explicit:
        p = Path(explicit)
        if not p.is_file():
            raise ConfigError(str(p), "config file not found",
                              "check the --config path, or run 'ftc-office init' to create one")
        return p
    env = os.environ.get(CONFIG_ENV)
    if env:
        p = Path(env)
        if not p.is_file():
            raise ConfigError(f"{CONFIG_ENV}={env}", "config file not found",
                              f"fix or unset the {CONFIG_ENV} environment variable")
        return p
    local = Path.cwd() / CONFIG_NAME
    return local if local.is_file() else None


def load_settings(explicit: str | os.PathLike[str] | None = None) -> Settings:
    """Load and validate the config; every error names the key and suggests a fix."""
    path = find_config(explicit)
    if path is None:
        return Settings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError:
        raise ConfigError(str(path), "the file is not UTF-8 text",
                          "save it as UTF-8 (Notepad: Save As → Encoding UTF-8)") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(path), f"not valid TOML ({exc})",
                          "fix the syntax at that line; 'ftc-office init' shows a valid example"
                          ) from None
    settings = _build(Settings, data, str(path), "")
    settings = dataclasses.replace(settings, source=path.resolve())
    _check_semantics(settings, str(path))
    return settings


def _build(cls: type, data: Any, file: str, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(f"{file}, key {prefix.rstrip('.') or '(top)'}",
                          f"expected a table, got {type(data).__name__}",
                          f"write it as [{prefix.rstrip('.')}]")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "source"}
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            near = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.5)
            hint = f"did you mean '{prefix}{near[0]}'?" if near else (
                "valid keys here: " + ", ".join(prefix + k for k in fields))
            raise ConfigError(f"{file}, key {prefix}{key}", "unknown key", hint)
        kwargs[key] = _convert(hints[key], value, file, prefix + key)
    return cls(**kwargs)


def _convert(tp: Any, value: Any, file: str, key: str) -> Any:
    where = f"{file}, key {key}"
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value, file, key + ".")  # type: ignore[arg-type]
    if origin is Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            near = difflib.get_close_matches(str(value), [str(c) for c in choices], n=1)
            hint = f"did you mean '{near[0]}'?" if near else "use one of: " + ", ".join(
                map(str, choices))
            raise ConfigError(where, f"{value!r} is not allowed", hint)
        return value
    if origin is dict:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise ConfigError(where, "expected a table of text values",
                              f'write it as [{key}] with lines like name = "text"')
        return dict(value)
    if origin is list:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConfigError(where, "expected a list of text values",
                              f'write it as {key.rsplit(".", 1)[-1]} = ["a", "b"]')
        return list(value)
    if isinstance(tp, types.UnionType):
        tp = str
    expected: tuple[type, ...] = (tp,)
    if tp is float:
        expected = (int, float)
    if isinstance(value, bool) and tp is not bool:
        expected = ()
    if not isinstance(value, expected):
        raise ConfigError(where, f"expected {getattr(tp, '__name__', tp)}, "
                          f"got {type(value).__name__} {value!r}",
                          "fix the value's type (text needs quotes; numbers and true/false "
                          "do not)")
    if tp is float:
        return float(typing.cast(float, value))
    return value


def _check_semantics(s: Settings, file: str) -> None:
    from ftc_office.fields import FIELDS  # local import: fields imports nothing from here

    for name in s.tracker.headers:
        if name not in FIELDS:
            near = difflib.get_close_matches(name, list(FIELDS), n=1, cutoff=0.5)
            raise ConfigError(f"{file}, key tracker.headers.{name}", "unknown field",
                              f"did you mean '{near[0]}'?" if near else
                              "fields are listed in the README's column table")
    _check_people(s.people, file)
    _check_o365(s.delivery.o365, file)
    for region, size in s.word.page_sizes.items():
        if size not in PAGE_SIZES:
            raise ConfigError(f"{file}, key word.page_sizes.{region}",
                              f"{size!r} is not a page size", 'use "A4" or "Letter"')
    for key in ("compose_workers", "compose_head"):
        if getattr(s.run, key) < 0:
            raise ConfigError(f"{file}, key run.{key}", "must not be negative",
                              "use 0 or more (compose_workers = 0: no worker processes)")
    for alias, region in s.routing.regions.items():
        if region not in s.routing.queues:
            raise ConfigError(f"{file}, key routing.regions.{alias}",
                              f"region {region!r} has no queue in [routing.queues]",
                              "add it to [routing.queues] or fix the spelling")


def _check_o365(o: O365Settings, file: str) -> None:
    """The sending identity fits the mailbox and the sign-in kind."""
    where = f"{file}, key delivery.o365.identity"
    if o.identity == "shared" and not o.mailbox:
        raise ConfigError(where, "identity \"shared\" needs the shared mailbox to send from",
                          'set delivery.o365.mailbox = "team@contoso.com"')
    if o.identity in ("self", "as-fm", "on-behalf") and o.mailbox and o.auth == "public":
        raise ConfigError(where, f"identity {o.identity!r} sends from your own mailbox, but "
                          f"delivery.o365.mailbox is set to {o.mailbox}",
                          'remove delivery.o365.mailbox, or set identity = "shared"')
    if o.identity in ("as-fm", "on-behalf") and o.auth == "credentials":
        raise ConfigError(where, f"identity {o.identity!r} needs a signed-in person; "
                          "app-only sign-in (auth = \"credentials\") sends from "
                          "delivery.o365.mailbox", 'use identity = "shared", or '
                          'auth = "public"')


def _check_people(people: dict[str, str], file: str) -> None:
    from ftc_office.addresses import AddressError, check_name, parse_address

    for addr, name in people.items():
        try:
            parse_address(addr)
            check_name(name)
        except AddressError as exc:
            raise ConfigError(f"{file}, key people.{addr}", str(exc),
                              'write it as "name@domain" = "Display Name"') from None


def ledger_url(settings: Any = None) -> str:
    """The shared ledger's URL, or "" for the personal SQLite ledger (here, not in
    `ftc_office.ledger`: `plan` asks it without importing the ledger)."""
    env = os.environ.get(URL_ENV, "").strip()
    if env:
        return env
    url = str(getattr(getattr(settings, "ledger", None), "url", "") or "").strip()
    if url:
        _no_password(url, settings)
    return url


def _no_password(url: str, settings: Any) -> None:
    from psycopg.conninfo import conninfo_to_dict

    try:
        has_password = "password" in conninfo_to_dict(url)
    except Exception:
        has_password = False
    if has_password:
        where = f"{getattr(settings, 'source', None) or 'the config'}, key ledger.url"
        raise ConfigError(where, "the URL holds a password; the config is no place for one",
                          "remove it from the URL and set PGPASSWORD or a ~/.pgpass line, "
                          "or store it in the keyring (ledger.use_keyring = true)")

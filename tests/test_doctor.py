"""``ftc-office doctor``: exact transcripts against real parts — a local aiosmtpd, a closed
port, the fake Graph with the real O365 library and a seeded token cache."""

from __future__ import annotations

import datetime as dt
import json
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from fakegraph import FakeAuthority, FakeGraph, seed_token_cache
from fakegraph import fake_authority_fixture as fake_authority_fixture  # the fixture
from fakegraph import fake_graph_fixture as fake_graph_fixture  # the fixture
from runhelpers import ftc, smtp_config

from ftc_office.backends.o365_auth import SecureFileTokenBackend, token_cache_path
from ftc_office.cli.doctor_cmd import marks

if TYPE_CHECKING:
    from collections.abc import Iterator

    from smtpserver import SmtpServer

pytest_plugins = ["smtpserver"]
CLIENT = "11111111-2222-3333-4444-555555555555"
SCOPES = ["Mail.ReadWrite", "Mail.Send", "User.Read"]


class GraphWithMe(FakeGraph):
    """The fake Graph plus ``GET /v1.0/me`` (the signed-in user's profile)."""

    def route(self, method: str, path: str, query: dict[str, str], headers: dict[str, str],
              body: bytes, data: Any) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and path == "/v1.0/me":
            return 200, {}, {"userPrincipalName": "ann@contoso.com", "displayName": "Ann Lee"}
        return super().route(method, path, query, headers, body, data)


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh current folder (short, exact paths in the output)."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def graph() -> Iterator[GraphWithMe]:
    """A running fake Graph that also answers ``GET /me``."""
    g = GraphWithMe().start()
    try:
        yield g
    finally:
        g.stop()


def head(user_dirs: Path, here: Path, backend: str, config: bool = True) -> list[str]:
    """The common first lines: config, data folder, ledger, backend."""
    data = user_dirs / "data"
    return [f"✓ config: {here / 'ftc-office.toml'}" if config
            else "✓ config: built-in defaults (no ftc-office.toml)",
            f"✓ data folder {data}: writable",
            f"✓ ledger: SQLite {data / 'ledger.sqlite3'} opens",
            f"✓ backend: {backend}"]


def test_all_good_on_the_outbox(here: Path, user_dirs: Path) -> None:
    result = ftc("doctor")
    assert result.output.splitlines() == [
        *head(user_dirs, here, "outbox", config=False),
        f"✓ outbox folder {here / 'ftc-office-out/outbox'}: will be created",
        "✓ outbox mode drafts: .eml files to open in Outlook and send; 'ftc-office mark-sent' "
        "records them",
        "6 check(s): all good"]
    assert result.exit_code == 0


def test_an_outbox_folder_that_cannot_be_written(here: Path, user_dirs: Path) -> None:
    (here / "blocked").write_text("a file, not a folder", encoding="utf-8")
    (here / "ftc-office.toml").write_text(
        '[delivery]\noutbox_dir = "blocked/outbox"\noutbox_mode = "pickup"\n', encoding="utf-8")
    result = ftc("doctor")
    assert result.output.splitlines()[4:] == [
        f"✗ outbox folder {here / 'blocked/outbox'}: {here / 'blocked'} is not a folder — "
        "set delivery.outbox_dir or give --outbox a folder you can write",
        "✓ outbox mode pickup: a mail server's pickup folder",
        "6 check(s): 1 failed"]
    assert result.exit_code == 1


def test_all_good_on_smtp(here: Path, user_dirs: Path, smtp_plain: SmtpServer) -> None:
    smtp_config(here, smtp_plain)
    result = ftc("doctor")
    where = f"SMTP server 127.0.0.1:{smtp_plain.port}"
    assert result.output.splitlines() == [
        *head(user_dirs, here, "smtp"),
        f"✓ {where}: connected, no TLS, no login (no username set)",
        f"✓ {where}: NOOP answered 250",
        "6 check(s): all good"]
    assert result.exit_code == 0
    assert smtp_plain.handler.received == []  # nothing was sent


def test_smtp_login_over_starttls(here: Path, user_dirs: Path, smtp_auth: SmtpServer,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A login is tried when a username is set; the CA comes from the environment."""
    assert smtp_auth.ca_file is not None
    monkeypatch.setenv("SSL_CERT_FILE", str(smtp_auth.ca_file))
    monkeypatch.setenv("FTC_SMTP_PASSWORD", smtp_auth.password)
    (here / "ftc-office.toml").write_text(
        f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {smtp_auth.port}\n'
        f'username = "{smtp_auth.user}"\nhelo_domain = "localhost"\ntimeout = 5.0\n',
        encoding="utf-8")
    result = ftc("doctor", "--backend", "smtp")
    where = f"SMTP server 127.0.0.1:{smtp_auth.port}"
    assert result.output.splitlines()[4:] == [
        f"✓ {where}: connected, STARTTLS, logged in as {smtp_auth.user}",
        f"✓ {where}: NOOP answered 250", "6 check(s): all good"]


def test_unreachable_smtp(here: Path, user_dirs: Path) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (here / "ftc-office.toml").write_text(
        f'[delivery]\nbackend = "smtp"\n[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\n'
        'security = "none"\nhelo_domain = "localhost"\ntimeout = 5.0\n', encoding="utf-8")
    result = ftc("doctor")
    assert result.output.splitlines() == [
        *head(user_dirs, here, "smtp"),
        f"✗ SMTP server 127.0.0.1:{port}: cannot connect ([Errno 111] Connection refused) — "
        "check delivery.smtp.host, port and security and the network; run the same command "
        "again later; messages already sent are skipped",
        "5 check(s): 1 failed"]
    assert result.exit_code == 1


def o365_config(here: Path, graph: FakeGraph, extra: str = "") -> None:
    (here / "ftc-office.toml").write_text(
        f'[delivery]\nbackend = "o365"\n[delivery.o365]\nclient_id = "{CLIENT}"\n'
        f'graph_url = "{graph.url}"\ntimeout = 5.0\n{extra}', encoding="utf-8")


def seed(expires_in: int, scopes: list[str] = SCOPES) -> None:
    seed_token_cache(SecureFileTokenBackend(token_cache_path()), None, client_id=CLIENT,
                     scopes=scopes, expires_in=expires_in, access_token="seed-at",
                     refresh_token="seed-rt")


def valid_until(result_lines: list[str]) -> str:
    """The exact token line, its time read from MSAL's own record in the cache file."""
    cache = json.loads(token_cache_path().read_text(encoding="utf-8"))
    (token,) = cache["AccessToken"].values()
    until = dt.datetime.fromtimestamp(int(token["expires_on"]), dt.UTC)
    return ("✓ signed in as ann@contoso.com; access token valid until "
            f"{until.isoformat(timespec='seconds')}")


def test_all_good_on_outlook(here: Path, user_dirs: Path, graph: GraphWithMe) -> None:
    o365_config(here, graph)
    seed(10 * 86400)
    result = ftc("doctor")
    lines = result.output.splitlines()
    assert lines == [
        *head(user_dirs, here, "o365"), valid_until(lines),
        "✓ scopes granted: Mail.ReadWrite Mail.Send User.Read",
        "✓ GET /me: ann@contoso.com",
        "✓ Sent Items of your mailbox: readable",
        "✓ cloud 127.0.0.1: large attachments by upload session",
        "9 check(s): all good"]
    assert result.exit_code == 0
    assert [c.path for c in graph.calls("GET")] == [
        "/v1.0/me", "/v1.0/me/mailFolders/SentItems/messages"]


def test_an_expired_token(here: Path, user_dirs: Path, fake_graph: FakeGraph,
                          fake_authority: FakeAuthority, monkeypatch: pytest.MonkeyPatch
                          ) -> None:
    """Expired, and the refresh token was revoked: the sign-in service refuses it."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_authority.ca_path))
    o365_config(here, fake_graph, f'tenant_id = "{fake_authority.tenant}"\n'
                f'authority = "{fake_authority.url}"\n')
    seed_token_cache(SecureFileTokenBackend(token_cache_path()), fake_authority,
                     client_id=CLIENT, scopes=SCOPES, expires_in=-60, refresh_token="old-rt")
    fake_authority.refresh_tokens.clear()  # revoked
    result = ftc("doctor")
    assert result.output.splitlines() == [
        *head(user_dirs, here, "o365"),
        f"✗ token cache {token_cache_path()}: the access token of ann@contoso.com expired "
        "and could not be renewed: the token refresh was refused (Refresh token operation "
        "failed: invalid_grant) — run 'ftc-office auth login' to sign in again",
        "✓ cloud 127.0.0.1: large attachments by upload session",
        "6 check(s): 1 failed"]
    assert result.exit_code == 1
    assert fake_graph.requests == []


def test_a_shared_mailbox_without_mail_send_shared(here: Path, user_dirs: Path,
                                                   graph: GraphWithMe) -> None:
    o365_config(here, graph, 'mailbox = "team@contoso.com"\n')
    seed(10 * 86400)
    result = ftc("doctor")
    lines = result.output.splitlines()
    assert lines == [
        *head(user_dirs, here, "o365"), valid_until(lines),
        "✓ scopes granted: Mail.ReadWrite Mail.Send User.Read",
        "✗ identity 'shared' (from team@contoso.com): Mail.ReadWrite.Shared, Mail.Send.Shared "
        "not granted — add Mail.ReadWrite.Shared, Mail.Send.Shared to the app registration's "
        "API permissions, then run 'ftc-office auth login' again; the Exchange admin must "
        "also grant ann@contoso.com Full Access and Send As on team@contoso.com",
        "✓ GET /me: ann@contoso.com",
        "✓ Sent Items of team@contoso.com: readable",
        "✓ drafts in team@contoso.com: one created and deleted (Full Access)",
        "✓ cloud 127.0.0.1: large attachments by upload session",
        "11 check(s): 1 failed"]
    assert result.exit_code == 1
    assert graph.calls("GET", "/users/team@contoso.com/mailFolders/SentItems/messages")


def test_a_sender_without_mail_send_shared(here: Path, user_dirs: Path,
                                          graph: GraphWithMe) -> None:
    """identity as-fm (each FM's mailbox), own sign-in: Mail.Send.Shared is missing."""
    o365_config(here, graph, 'identity = "as-fm"\n[mail]\nsender = "fm@contoso.com"\n')
    seed(10 * 86400)
    result = ftc("doctor")
    lines = result.output.splitlines()
    assert lines == [
        *head(user_dirs, here, "o365"), valid_until(lines),
        "✓ scopes granted: Mail.ReadWrite Mail.Send User.Read",
        "✗ identity 'as-fm' (from each FM's mailbox): Mail.Send.Shared not granted — add "
        "Mail.Send.Shared to the app registration's API permissions, then run 'ftc-office "
        "auth login' again; the Exchange admin must also grant ann@contoso.com Send As on "
        "each FM's mailbox",
        "✓ GET /me: ann@contoso.com",
        "✓ Sent Items of your mailbox: readable",
        "✓ cloud 127.0.0.1: large attachments by upload session",
        "10 check(s): 1 failed"]
    assert result.exit_code == 1


def test_a_sender_with_mail_send_shared_granted(here: Path, user_dirs: Path,
                                                graph: GraphWithMe) -> None:
    o365_config(here, graph, 'identity = "as-fm"\n[mail]\nsender = "fm@contoso.com"\n')
    seed(10 * 86400, scopes=[*SCOPES, "Mail.Send.Shared"])
    result = ftc("doctor")
    assert ("✓ identity 'as-fm' (from each FM's mailbox): Mail.Send.Shared granted; Send As "
            "is checked by Exchange at the first send") in result.output
    assert result.exit_code == 0


def test_a_mailbox_without_rights(here: Path, user_dirs: Path, graph: GraphWithMe) -> None:
    o365_config(here, graph, 'mailbox = "team@contoso.com"\n')
    seed(10 * 86400, scopes=[*SCOPES, "Mail.ReadWrite.Shared", "Mail.Send.Shared"])
    graph.fail("GET", "SentItems", "error", status=403, code="ErrorAccessDenied")
    result = ftc("doctor")
    assert result.output.splitlines()[8:] == [
        "✗ Sent Items of team@contoso.com: Graph answered 403 ErrorAccessDenied — check "
        "delivery.o365.mailbox and your rights on it (403/404), or run 'ftc-office auth "
        "login' again (401)",
        "✓ cloud 127.0.0.1: large attachments by upload session",
        "10 check(s): 1 failed"]
    assert result.exit_code == 1


def test_app_only_sign_in(here: Path, user_dirs: Path, fake_graph: FakeGraph,
                          fake_authority: FakeAuthority, monkeypatch: pytest.MonkeyPatch
                          ) -> None:
    """auth = "credentials": no cached sign-in needed; an app token is fetched."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_authority.ca_path))
    monkeypatch.setenv("FTC_O365_CLIENT_SECRET", "s3cret")
    o365_config(here, fake_graph, f'auth = "credentials"\nmailbox = "team@contoso.com"\n'
                f'tenant_id = "{fake_authority.tenant}"\nauthority = "{fake_authority.url}"\n')
    result = ftc("doctor")
    assert result.output.splitlines() == [
        *head(user_dirs, here, "o365"),
        "✓ app-only token for team@contoso.com acquired",
        "✓ Sent Items of team@contoso.com: readable",
        "✓ cloud 127.0.0.1: large attachments by upload session",
        "7 check(s): all good"]
    assert result.exit_code == 0
    assert "client_credentials" in fake_authority.grants()


def test_us_government_cloud_has_no_upload_sessions() -> None:
    from ftc_office.config import DeliverySettings, O365Settings, Settings
    from ftc_office.doctor import check_cloud

    gov = Settings(delivery=DeliverySettings(o365=O365Settings(
        graph_url="https://graph.microsoft.us/")))
    assert check_cloud(gov).what == ("cloud graph.microsoft.us: no upload sessions — "
                                     "attachments over 3 MB cannot be sent (share a link "
                                     "instead)")


def test_marks_fall_back_to_ascii() -> None:
    assert marks("utf-8") == ("✓", "✗")
    assert marks("ascii") == ("ok  ", "FAIL")
    assert marks("cp1252") == ("ok  ", "FAIL")

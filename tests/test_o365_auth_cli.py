"""``ftc-office auth`` against the https fake sign-in service (real MSAL, real requests)."""

from __future__ import annotations

import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import click
import pytest
from click.testing import CliRunner
from fakegraph import (
    FakeAuthority,
    FakeGraph,
    fake_authority_fixture,  # noqa: F401  (fixture "fake_authority")
    fake_graph_fixture,  # noqa: F401  (fixture "fake_graph")
)

from ftc_office.backends.o365_auth import login_url, token_cache_path
from ftc_office.cli.auth import auth
from ftc_office.config import load_settings

CLIENT_ID = "11111111-2222-3333-4444-555555555555"


@click.group()
@click.option("--config", "config")
@click.pass_context
def root(ctx: click.Context, config: str | None) -> None:
    """Stands in for the main CLI, which attaches ``auth`` the same way."""
    ctx.ensure_object(dict)["config"] = config


root.add_command(auth)


@pytest.fixture
def config(tmp_path: Path, fake_graph: FakeGraph, fake_authority: FakeAuthority,
           monkeypatch: pytest.MonkeyPatch) -> Path:
    # The CLI verifies TLS with the default store; point requests at the fake CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_authority.ca_path))
    path = tmp_path / "ftc-office.toml"
    path.write_text(f"""
[delivery.o365]
client_id = "{CLIENT_ID}"
tenant_id = "{fake_authority.tenant}"
authority = "{fake_authority.url}"
graph_url = "{fake_graph.url}"
""", encoding="utf-8")
    return path


def test_status_login_status_logout(config: Path, fake_authority: FakeAuthority) -> None:
    runner = CliRunner()
    out = runner.invoke(root, ["--config", str(config), "auth", "status"])
    assert out.exit_code == 0, out.output
    assert "signed in:   no" in out.output

    out = runner.invoke(root, ["--config", str(config), "auth", "login", "--device-code"])
    assert out.exit_code == 0, out.output
    assert "ABCD-EFGH" in out.output  # Microsoft's instructions were shown
    assert "signed in as ann@contoso.com" in out.output
    assert fake_authority.grants() == ["urn:ietf:params:oauth:grant-type:device_code"]
    device = next(r for r in fake_authority.requests if r["path"].endswith("/devicecode"))
    assert "Mail.Send" in device["form"]["scope"] and "offline_access" in device["form"][
        "scope"]
    assert stat.S_IMODE(token_cache_path().stat().st_mode) == 0o600

    out = runner.invoke(root, ["--config", str(config), "auth", "status"])
    assert out.exit_code == 0, out.output
    assert "signed in:   ann@contoso.com" in out.output
    assert str(token_cache_path()) in out.output
    assert "valid until" in out.output and "(renewable)" in out.output
    for token in fake_authority.issued + sorted(fake_authority.refresh_tokens):
        assert token not in out.output

    out = runner.invoke(root, ["--config", str(config), "auth", "logout"])
    assert out.exit_code == 0 and "signed out" in out.output
    assert not token_cache_path().exists()


@pytest.mark.filterwarnings("ignore:response_mode:UserWarning")  # MSAL's advice for web apps
def test_login_by_pasting_the_url(config: Path, fake_authority: FakeAuthority) -> None:
    settings = load_settings(config).delivery.o365
    seen: list[str] = []

    def prompt(consent_url: str) -> str:
        seen.append(consent_url)
        q = parse_qs(urlsplit(consent_url).query)
        fake_authority.nonce = q["nonce"][0]  # what a real sign-in page would carry over
        return f"{q['redirect_uri'][0]}?code=the-code&state={q['state'][0]}"

    assert login_url(settings, prompt) == "ann@contoso.com"
    assert seen[0].startswith(f"{fake_authority.url}/{fake_authority.tenant}/oauth2/v2.0/"
                              "authorize?")
    assert "authorization_code" in fake_authority.grants()
    assert token_cache_path().exists()


def test_login_error_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "ftc-office.toml"
    path.write_text("[delivery.o365]\nauth = \"public\"\n", encoding="utf-8")
    out = CliRunner().invoke(root, ["--config", str(path), "auth", "login"])
    assert out.exit_code == 1
    assert "client_id" in out.output and "Traceback" not in out.output

"""``ftc-office auth``: sign in to Outlook for the O365 backend, show the sign-in, sign out.

The main CLI attaches this group with ``cli.add_command(auth)``. Tokens are never printed;
the MSAL cache lives in the per-user config folder with mode 0600.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from ftc_office.cli.boundary import boundary, settings_of
from ftc_office.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def get_settings() -> Settings:
    """The project settings for the current command (``--config`` of the main CLI)."""
    return settings_of(click.get_current_context())


@click.group()
def auth() -> None:
    """Sign in to Outlook (Microsoft Graph) for the o365 backend.

    \b
    Example:
      ftc-office auth login
      ftc-office auth status
    """


@auth.command()
@click.option("--device-code", "mode", flag_value="device", default=True,
              help="Sign in with a code shown here, in any browser (default).")
@click.option("--url", "mode", flag_value="url",
              help="Open a sign-in address, then paste back the address you land on.")
@boundary
def login(mode: str) -> None:
    """Sign in and keep the token in the per-user token cache.

    Uses delivery.o365.client_id / tenant_id / authority from the config. With
    auth = "credentials" (app-only) this checks that the app secret in
    FTC_O365_CLIENT_SECRET works instead.

    \b
    Example:
      ftc-office --config team.toml auth login --device-code
    """
    from ftc_office.backends import o365_auth

    settings = get_settings().delivery.o365
    if mode == "url":
        def prompt(consent_url: str) -> str:
            click.echo("Open this address in a browser and sign in:\n\n"
                       f"  {consent_url}\n\nThen paste the address of the page you land on "
                       "(it may look blank).", err=True)
            return str(click.prompt("Address", err=True, default="", show_default=False))

        name = o365_auth.login_url(settings, prompt)
    else:
        name = o365_auth.login_device_code(settings, lambda text: click.echo(text, err=True))
    click.echo(f"signed in as {name}; token cache {o365_auth.token_cache_path(settings)}")


@auth.command()
@boundary
def status() -> None:
    """Show who is signed in, where the token cache is and when the access token expires.

    Never prints a token. An expired access token is renewed automatically while the
    refresh token is valid.

    \b
    Example:
      ftc-office auth status
    """
    from ftc_office.backends import o365_auth, o365_identity

    settings = get_settings().delivery.o365
    st = o365_auth.token_status(settings)
    click.echo(f"auth mode:   {st.auth}" + (f" (mailbox {st.mailbox})" if st.mailbox else ""))
    click.echo(f"identity:    {o365_identity.identity_of(settings)} (sends from "
               f"{o365_identity.sends_from(settings)})")
    click.echo(f"token cache: {st.cache_path}"
               + ("" if st.cache_path.exists() else " (none)"))
    if not st.signed_in:
        click.echo("signed in:   no — run 'ftc-office auth login'")
        return
    click.echo(f"signed in:   {st.account or 'the app (app-only)'}")
    if st.expires_at is not None:
        state = "expired" if st.expired else "valid"
        click.echo(f"access token {state} until {st.expires_at.isoformat(timespec='seconds')}"
                   + (" (renewable)" if st.has_refresh_token else ""))
    what, fix = o365_identity.status_problem(settings, st.cache_path, st.account)
    if what:
        click.echo(f"new sign-in needed: {what} — {fix}")


@auth.command()
@boundary
def logout() -> None:
    """Sign out on this computer: delete the token cache.

    \b
    Example:
      ftc-office auth logout
    """
    from ftc_office.backends import o365_auth

    path = o365_auth.token_cache_path(get_settings().delivery.o365)
    if o365_auth.logout(path=path):
        click.echo(f"signed out: deleted {path}")
    else:
        click.echo(f"not signed in (no token cache at {path})")

"""Who sends through Outlook (issue 20): the sending identity per message, the rights checked
before the first send, tokens that fit the mode. The real O365 library against the fake
Graph (tests/fakegraph.py), whose :class:`IdentityRules` know Exchange's rules for
``from``/``sender`` and where the sent copy lands."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import test_o365_backend
from fakegraph import (
    FakeAuthority,
    FakeGraph,
    fake_authority_fixture,  # noqa: F401  (fixture "fake_authority")
    fake_graph_fixture,  # noqa: F401  (fixture "fake_graph")
    seed_token_cache,
)
from O365.utils.token import MemoryTokenBackend
from runhelpers import ftc
from test_o365_backend import CLIENT_ID, settings_for

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.o365 import O365Backend, SendLog
from ftc_office.backends.o365_auth import SecureFileTokenBackend, token_cache_path
from ftc_office.backends.o365_identity import write_record
from ftc_office.errors import DeliveryError
from ftc_office.message import OutgoingMessage

clock = test_o365_backend.clock
LEAD = "ann@contoso.com"  # the signed-in team lead (seed_token_cache's user)
FM = "fm.two@contoso.com"
TOKEN = "identity-access-token-abcdefgh"
BASE = ["Mail.ReadWrite", "Mail.Send", "User.Read"]
SHARED = "team@contoso.com"
ROOT = Path(__file__).resolve().parents[1]


def fm_msg(key: str = "atu.t1.teams.id1", sender: str = FM) -> OutgoingMessage:
    return OutgoingMessage(key=key, kind="atu", audience="internal",
                           to=(parse_address("it@contoso.com"),),
                           cc=(parse_address(sender),), sender=parse_address(sender),
                           subject="Enablement complete", text="hi", html="<p>hi</p>")


@pytest.fixture
def backend_for(fake_graph: FakeGraph, clock: Any, tmp_path: Path
                ) -> Callable[..., O365Backend]:
    """A backend signed in as LEAD with ``scopes``, on settings ``overrides``."""
    def make(scopes: list[str], **overrides: Any) -> O365Backend:
        tb = MemoryTokenBackend()
        seed_token_cache(tb, None, client_id=CLIENT_ID, scopes=scopes, expires_in=86400,
                         access_token=TOKEN, refresh_token="rt", username=LEAD)
        fake_graph.identity.sign_in(TOKEN, LEAD, scopes)
        return O365Backend(settings_for(fake_graph, **overrides), clock=clock.time,
                           sleep=clock.sleep, token_backend=tb, requests_delay_ms=0,
                           send_log=SendLog(tmp_path / "sends.sqlite"))
    return make


def created(fake: FakeGraph) -> dict[str, Any]:
    return [r.json for r in fake.requests if r.path.endswith("Drafts/messages")][-1]


def address_of(part: dict[str, Any] | None) -> str:
    return str(((part or {}).get("emailAddress") or {}).get("address", ""))


# -- each identity against the fake Graph ----------------------------------------------


def test_self_sends_from_the_signed_in_user_with_the_fm_in_reply_to(
        fake_graph: FakeGraph, backend_for: Any) -> None:
    backend = backend_for(BASE)  # no .Shared scope, no Exchange right: out of the box
    backend.open()
    result = backend.deliver(fm_msg())
    assert result.status is Status.SENT, result.error
    create = created(fake_graph)
    assert "from" not in create and "sender" not in create
    assert [address_of(r) for r in create["replyTo"]] == [FM]
    assert [address_of(r) for r in create["ccRecipients"]] == [FM]
    (sent,) = fake_graph.sent
    assert sent.mailbox == "me" and address_of(sent.data["sender"]) == LEAD
    assert backend.lookup(Sought.of(fm_msg())) is Status.SENT


def test_self_when_the_fm_signs_in_has_no_reply_to(fake_graph: FakeGraph,
                                                  backend_for: Any) -> None:
    result = backend_for(BASE).deliver(fm_msg(sender=LEAD))
    assert result.status is Status.SENT
    assert created(fake_graph)["replyTo"] == []


def test_as_fm_with_send_as_sends_from_the_fm(fake_graph: FakeGraph,
                                             backend_for: Any) -> None:
    fake_graph.identity.grant(LEAD, FM, "send-as")
    backend = backend_for([*BASE, "Mail.Send.Shared"], identity="as-fm")
    backend.open()
    assert backend.deliver(fm_msg()).status is Status.SENT
    create = created(fake_graph)
    assert address_of(create["from"]) == FM and "sender" not in create
    (sent,) = fake_graph.sent
    assert address_of(sent.data["sender"]) == FM  # Send As: no trace of the lead
    assert sent.mailbox == "me"  # sent through /me: the lead's Sent Items
    assert backend.lookup(Sought.of(fm_msg())) is Status.SENT


def test_as_fm_without_mail_send_shared_is_refused_before_any_request(
        fake_graph: FakeGraph, backend_for: Any) -> None:
    backend = backend_for(BASE, identity="as-fm")
    with pytest.raises(DeliveryError) as err:
        backend.open()
    text = str(err.value)
    assert "Mail.Send.Shared" in text and "each FM's mailbox" in text and LEAD in text
    assert "Send As" in text and "auth login" in text
    assert fake_graph.requests == []


def test_as_fm_without_the_exchange_right_stops_at_the_first_message(
        fake_graph: FakeGraph, backend_for: Any) -> None:
    backend = backend_for([*BASE, "Mail.Send.Shared"], identity="as-fm")
    backend.open()
    with pytest.raises(DeliveryError) as err:
        backend.deliver(fm_msg())
    text = str(err.value)
    assert text.startswith(f"mailbox {FM}") and "ErrorSendAsDenied" in text
    assert "Send As" in text and "identity = \"self\"" in text
    assert not fake_graph.sent and not fake_graph.drafts  # the draft is deleted


def test_on_behalf_sets_sender_to_the_signed_in_user(fake_graph: FakeGraph,
                                                    backend_for: Any) -> None:
    fake_graph.identity.grant(LEAD, FM, "send-on-behalf")
    backend = backend_for([*BASE, "Mail.Send.Shared"], identity="on-behalf")
    backend.open()
    assert backend.deliver(fm_msg()).status is Status.SENT
    create = created(fake_graph)
    assert address_of(create["from"]) == FM and address_of(create["sender"]) == LEAD
    (sent,) = fake_graph.sent
    assert address_of(sent.data["sender"]) == LEAD and address_of(sent.data["from"]) == FM
    assert sent.mailbox == "me"


def test_on_behalf_without_the_right_names_send_on_behalf(fake_graph: FakeGraph,
                                                         backend_for: Any) -> None:
    backend = backend_for([*BASE, "Mail.Send.Shared"], identity="on-behalf")
    with pytest.raises(DeliveryError, match=r"Send on Behalf on fm\.two@contoso\.com"):
        backend.deliver(fm_msg())


def test_shared_sends_from_the_mailbox_and_its_sent_items(fake_graph: FakeGraph,
                                                         backend_for: Any) -> None:
    fake_graph.identity.grant(LEAD, SHARED, "full-access", "send-as")
    backend = backend_for([*BASE, "Mail.ReadWrite.Shared", "Mail.Send.Shared"],
                          identity="shared", mailbox=SHARED)
    backend.open()  # the rights check: a draft created and deleted in the mailbox
    assert [(r.method, r.path) for r in fake_graph.requests] == [
        ("POST", f"/v1.0/users/{SHARED}/mailFolders/Drafts/messages"),
        ("DELETE", f"/v1.0/users/{SHARED}/messages/draft-00001")]
    assert backend.deliver(fm_msg()).status is Status.SENT
    create = created(fake_graph)
    assert address_of(create["from"]) == SHARED
    assert [address_of(r) for r in create["replyTo"]] == [FM]
    (sent,) = fake_graph.sent
    assert sent.mailbox == f"users/{SHARED}"
    assert backend.lookup(Sought.of(fm_msg())) is Status.SENT
    assert fake_graph.requests[-1].path.startswith(f"/v1.0/users/{SHARED}/mailFolders/")


def test_shared_without_full_access_is_refused_at_open(fake_graph: FakeGraph,
                                                      backend_for: Any) -> None:
    backend = backend_for([*BASE, "Mail.ReadWrite.Shared", "Mail.Send.Shared"],
                          identity="shared", mailbox=SHARED)
    with pytest.raises(DeliveryError) as err:
        backend.open()
    assert str(err.value).startswith(f"mailbox {SHARED}")
    assert "Full Access" in str(err.value)
    assert not fake_graph.calls("POST", "/send")


def test_the_fake_copies_a_send_as_message_to_the_from_mailbox_when_told(
        fake_graph: FakeGraph, backend_for: Any) -> None:
    fake_graph.identity.grant(LEAD, FM, "send-as")
    fake_graph.identity.copy_sent_as.add(FM)
    backend_for([*BASE, "Mail.Send.Shared"], identity="as-fm").deliver(fm_msg())
    assert sorted(m.mailbox for m in fake_graph.sent) == ["me", f"users/{FM}"]


def test_the_fake_answers_404_for_a_send_of_a_draft_that_moved(fake_graph: FakeGraph,
                                                             backend_for: Any) -> None:
    import requests

    result = backend_for(BASE).deliver(fm_msg())
    answer = requests.post(f"{fake_graph.url}v1.0/me/messages/{result.provider_id}/send",
                           headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ErrorItemNotFound"


# -- tokens that fit the mode -----------------------------------------------------------


def test_app_only_never_uses_a_leftover_delegated_token(
        fake_graph: FakeGraph, fake_authority: FakeAuthority,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FTC_O365_CLIENT_SECRET", "s3cret-value")
    settings = settings_for(fake_graph, auth="credentials", tenant_id=fake_authority.tenant,
                            mailbox=SHARED, authority=fake_authority.url)
    assert token_cache_path(settings) != token_cache_path()  # separate files
    tokens = MemoryTokenBackend()  # the same cache holding a valid delegated sign-in
    seed_token_cache(tokens, fake_authority, client_id=CLIENT_ID, scopes=BASE,
                     expires_in=86400, access_token="delegated-token-left-over")
    backend = O365Backend(settings, token_backend=tokens, verify=str(fake_authority.ca_path),
                          requests_delay_ms=0, send_log=SendLog(tmp_path / "s.sqlite"))
    backend.open()
    assert fake_authority.grants() == ["client_credentials"]
    assert backend.deliver(fm_msg()).status is Status.SENT
    used = {r.headers["authorization"] for r in fake_graph.requests}
    assert used == {f"Bearer {fake_authority.issued[-1]}"}


def test_a_mailbox_set_after_sign_in_needs_a_new_sign_in(fake_graph: FakeGraph,
                                                         tmp_path: Path) -> None:
    signed_in = settings_for(fake_graph, tenant_id="tenant-1")
    cache = SecureFileTokenBackend(token_cache_path())
    seed_token_cache(cache, None, client_id=CLIENT_ID,
                     scopes=[*BASE, "Mail.ReadWrite.Shared", "Mail.Send.Shared"],
                     expires_in=86400, access_token=TOKEN)
    write_record(token_cache_path(), signed_in)
    changed = settings_for(fake_graph, tenant_id="tenant-1", mailbox=SHARED)
    backend = O365Backend(changed, requests_delay_ms=0, send_log=SendLog(tmp_path / "s.db"))
    with pytest.raises(DeliveryError) as err:
        backend.open()
    assert "mailbox '(none)' → 'team@contoso.com'" in str(err.value)
    assert "identity 'self' → 'shared'" in str(err.value)
    assert "auth login" in str(err.value)
    assert fake_graph.requests == []
    # the same settings as at sign-in: fine
    O365Backend(signed_in, requests_delay_ms=0, send_log=SendLog(tmp_path / "s.db")).open()


# -- a team lead's run over the sample tracker -------------------------------------------


def lead_run(tmp_path: Path, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch,
             identity: str, scopes: list[str]) -> Any:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ftc-office.toml").write_text(
        f'[delivery.o365]\nclient_id = "{CLIENT_ID}"\ngraph_url = "{fake_graph.url}"\n'
        f'identity = "{identity}"\ntimeout = 5.0\nmax_per_minute = 10000\n', encoding="utf-8")
    cache = SecureFileTokenBackend(token_cache_path())
    seed_token_cache(cache, None, client_id=CLIENT_ID, scopes=scopes, expires_in=86400,
                     access_token=TOKEN, refresh_token="rt", username=LEAD)
    fake_graph.identity.sign_in(TOKEN, LEAD, scopes)
    tracker = tmp_path / "tracker.xlsx"
    shutil.copyfile(ROOT / "samples" / "tracker.xlsx", tracker)
    return ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run", "--yes",
               "--backend", "o365")


def test_a_team_leads_run_in_self_mode_sends_everything(
        tmp_path: Path, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    result = lead_run(tmp_path, fake_graph, monkeypatch, "self", BASE)
    # exit 1 only for the sample's four deliberately invalid tenants
    assert "sent 27 message(s)" in result.output, result.output
    assert "0 unknown; 4 invalid tenant(s); 0 error(s)" in result.output
    sends = fake_graph.calls("POST", "/send")
    assert len(fake_graph.sent) == len(sends) == 27  # every message sent, none refused
    assert all(address_of(m.data["sender"]) == LEAD for m in fake_graph.sent)
    assert not fake_graph.drafts


def test_a_team_leads_run_as_fm_without_the_scope_sends_nothing(
        tmp_path: Path, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    result = lead_run(tmp_path, fake_graph, monkeypatch, "as-fm", BASE)
    assert result.exit_code != 0
    assert "Mail.Send.Shared" in result.output and LEAD in result.output
    assert not fake_graph.calls("POST") and not fake_graph.sent


def test_a_team_leads_run_as_fm_without_send_as_stops_at_the_first_send(
        tmp_path: Path, fake_graph: FakeGraph, monkeypatch: pytest.MonkeyPatch) -> None:
    result = lead_run(tmp_path, fake_graph, monkeypatch, "as-fm", [*BASE, "Mail.Send.Shared"])
    assert not fake_graph.sent and not fake_graph.drafts
    assert len(fake_graph.calls("POST", "/send")) == 1
    assert "ErrorSendAsDenied" in result.output and "Send As on " in result.output
    assert "delivery stopped" in result.output


# -- signing in: tenant id, settings changed after sign-in --------------------------------


def cli_config(path: Path, fake_graph: FakeGraph, fake_authority: FakeAuthority,
               extra: str = "", tenant: str | None = None) -> Path:
    tenant = fake_authority.tenant if tenant is None else tenant
    path.write_text(
        f'[delivery]\nbackend = "o365"\n[delivery.o365]\nclient_id = "{CLIENT_ID}"\n'
        + (f'tenant_id = "{tenant}"\n' if tenant else "")
        + f'authority = "{fake_authority.url}"\ngraph_url = "{fake_graph.url}"\n'
        f"timeout = 5.0\n{extra}", encoding="utf-8")
    return path


@pytest.fixture
def signed_in(tmp_path: Path, fake_graph: FakeGraph, fake_authority: FakeAuthority,
              monkeypatch: pytest.MonkeyPatch) -> Path:
    """`auth login --device-code` through the real CLI in self mode; the config path."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_authority.ca_path))
    monkeypatch.chdir(tmp_path)
    config = cli_config(tmp_path / "ftc-office.toml", fake_graph, fake_authority)
    out = ftc("--config", str(config), "auth", "login", "--device-code")
    assert out.exit_code == 0, out.output
    return config


def test_a_mailbox_set_after_login_needs_a_new_sign_in_everywhere(
        signed_in: Path, fake_graph: FakeGraph, fake_authority: FakeAuthority,
        tmp_path: Path) -> None:
    out = ftc("--config", str(signed_in), "auth", "status")
    assert "identity:    self (sends from your own mailbox)" in out.output
    assert "new sign-in needed" not in out.output
    cli_config(signed_in, fake_graph, fake_authority, f'mailbox = "{SHARED}"\n')
    out = ftc("--config", str(signed_in), "auth", "status")
    assert (f"new sign-in needed: the sign-in was made for other settings (identity 'self' → "
            f"'shared'; mailbox '(none)' → '{SHARED}')") in out.output
    doctor = ftc("--config", str(signed_in), "doctor")
    assert doctor.exit_code == 1
    assert "✗ sign-in: the sign-in was made for other settings" in doctor.output
    tracker = tmp_path / "tracker.xlsx"
    shutil.copyfile(ROOT / "samples" / "tracker.xlsx", tracker)
    fake_graph.reset_requests()
    run = ftc("--config", str(signed_in), "run", str(tracker), "--as-of", "2026-11-26",
              "--no-dry-run", "--yes")
    assert run.exit_code != 0
    assert "identity = 'shared'" in run.output and "auth login" in run.output
    assert not fake_graph.calls("POST")  # refused before anything was sent
    # signing in again for the new settings asks for the shared scopes and clears it
    out = ftc("--config", str(signed_in), "auth", "login", "--device-code")
    assert out.exit_code == 0, out.output
    scope = [r["form"]["scope"] for r in fake_authority.requests
             if r["path"].endswith("/devicecode")][-1]
    assert "Mail.Send.Shared" in scope and "Mail.ReadWrite.Shared" in scope
    assert "new sign-in needed" not in ftc("--config", str(signed_in), "auth",
                                           "status").output


def test_login_without_a_tenant_id_says_where_to_find_it(
        tmp_path: Path, fake_graph: FakeGraph, fake_authority: FakeAuthority) -> None:
    config = cli_config(tmp_path / "c.toml", fake_graph, fake_authority, tenant="")
    out = ftc("--config", str(config), "auth", "login")
    assert out.exit_code == 1
    assert out.output.startswith("error: delivery.o365.tenant_id: no tenant is set")
    assert "Tenant ID" in out.output and "AADSTS50194" in out.output
    assert fake_authority.requests == []


def test_aadsts50194_becomes_the_tenant_id_instruction(
        tmp_path: Path, fake_graph: FakeGraph, fake_authority: FakeAuthority,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_authority.ca_path))
    fake_authority.single_tenant = True
    config = cli_config(tmp_path / "c.toml", fake_graph, fake_authority,
                        tenant="organizations")
    out = ftc("--config", str(config), "auth", "login", "--device-code")
    assert out.exit_code == 1, out.output
    assert out.output.startswith("error: delivery.o365.tenant_id = 'organizations': the app "
                                 "registration is single-tenant"), out.output
    assert "Entra admin center" in out.output and "Traceback" not in out.output


@pytest.mark.parametrize("identity", ["self", "as-fm", "shared"])
def test_503_then_404_is_settled_where_the_identity_puts_the_sent_copy(
        fake_graph: FakeGraph, backend_for: Any, clock: Any, identity: str) -> None:
    fake_graph.identity.grant(LEAD, FM, "send-as")
    fake_graph.identity.grant(LEAD, SHARED, "full-access", "send-as")
    extra = {"mailbox": SHARED} if identity == "shared" else {}
    scopes = [*BASE, "Mail.ReadWrite.Shared", "Mail.Send.Shared"]
    fake_graph.fail("POST", r"/send$", "error_after", status=503)
    m = fm_msg()
    result = backend_for(scopes, identity=identity, **extra).deliver(m)
    assert result.status is Status.UNKNOWN, result.error  # sent, then 503; the retry: 404
    clock.now += 10_000  # past the grace period: only the Sent Items copy can tell
    later = backend_for(scopes, identity=identity, **extra)
    assert later.lookup(Sought.of(m, result.provider_id)) is Status.SENT  # by id
    fake_graph.reset_requests()
    assert later.lookup(Sought.of(m)) is Status.SENT  # by key, in the right Sent Items
    box = "users/" + SHARED if identity == "shared" else "me"
    assert fake_graph.requests[-1].path == f"/v1.0/{box}/mailFolders/SentItems/messages"
    (sent,) = fake_graph.sent_with_key(m.key)
    assert sent.mailbox == box

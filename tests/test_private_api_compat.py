"""Compatibility guards for the private APIs of our dependencies that ftc-office leans on.

Each test names the dependency, the private thing, and where we use it; each fails with
that message when a new release drops or changes it, instead of a template budget that
silently stops counting, a sign-in against the wrong host, or a draft re-uploading
attachments. On such a failure: read that release's changes, adapt the named module, and
update the expectation here.

- Jinja2 ``CodeGenerator.visit_For`` / ``visit_Concat`` (``ftc_office/rendering/environment.py``:
  the loop-step budget and the size check on ``~``), with ``nodes.Call`` fields and the
  runtime's ``str_join`` / ``markup_join`` our generated code calls, ``Template.
  root_render_func`` / ``new_context`` (our streaming ``render``).
- O365 ``Connection._msal_client`` / ``_msal_authority`` and the ``msal_client`` property
  (``ftc_office/backends/o365_auth.py``: the MSAL app for our authority), the protocol class
  attributes ``_protocol_url`` / ``_oauth_scope_prefix`` (the Graph URL), ``Message.
  _track_changes`` (``ftc_office/backends/o365.py``: nothing re-sent after an upload), the
  token backend's ``_cache`` / ``_has_state_changed`` (``SecureFileTokenBackend.save_token``).
- docxtpl ``DocxTemplate.patch_xml(src_xml)`` (``ftc_office/rendering/word.py``: cached tag
  repair) and ``render(context, jinja_env, autoescape)``.
"""

from __future__ import annotations

import inspect
import io
from pathlib import Path
from typing import Any

import jinja2
import jinja2.compiler
import jinja2.nodes
import jinja2.runtime
import pytest
from docx import Document
from docxtpl import DocxTemplate
from O365.connection import Connection, MSGraphProtocol
from O365.message import Message
from O365.utils.token import BaseTokenBackend, MemoryTokenBackend

from ftc_office.backends import o365_auth
from ftc_office.backends.o365_auth import (
    FtcConnection,
    SecureFileTokenBackend,
    build_account,
    make_protocol,
)
from ftc_office.config import O365Settings
from ftc_office.rendering import environment
from ftc_office.rendering.environment import make_environment
from ftc_office.rendering.word import _DocxTemplate, render_docx


def params(func: Any) -> list[str]:
    return list(inspect.signature(func).parameters)


def incompatible(dist: str, what: str, where: str) -> str:
    return (f"{dist} changed a private API: {what} (used by {where}) — the installed release "
            "is not compatible with ftc-office; adapt that module or pin the older release")


# --- Jinja2 ---------------------------------------------------------------------------------

JINJA_WHERE = "ftc_office/rendering/environment.py (_GuardedCodeGenerator)"


@pytest.mark.parametrize("hook", ["visit_For", "visit_Concat"])
def test_jinja_code_generator_hooks_exist_with_node_and_frame(hook: str) -> None:
    method = getattr(jinja2.compiler.CodeGenerator, hook, None)
    assert callable(method), incompatible("Jinja2", f"CodeGenerator.{hook} is gone", JINJA_WHERE)
    assert params(method) == ["self", "node", "frame"], incompatible(
        "Jinja2", f"CodeGenerator.{hook}{inspect.signature(method)}", JINJA_WHERE)
    for name in ("write", "visit"):
        assert callable(getattr(jinja2.compiler.CodeGenerator, name, None)), incompatible(
            "Jinja2", f"CodeGenerator.{name} is gone", JINJA_WHERE)


def test_jinja_nodes_and_runtime_names_our_generated_code_uses() -> None:
    assert jinja2.nodes.Call.fields == ("node", "args", "kwargs", "dyn_args", "dyn_kwargs"), \
        incompatible("Jinja2", f"nodes.Call.fields = {jinja2.nodes.Call.fields}", JINJA_WHERE)
    assert "iter" in jinja2.nodes.For.fields, incompatible("Jinja2", "nodes.For has no iter",
                                                            JINJA_WHERE)
    assert jinja2.nodes.EnvironmentAttribute.fields == ("name",), incompatible(
        "Jinja2", "nodes.EnvironmentAttribute.fields", JINJA_WHERE)
    for name in ("str_join", "markup_join"):
        assert name in jinja2.runtime.exported, incompatible(
            "Jinja2", f"runtime.{name} is no longer in the compiled templates' namespace",
            JINJA_WHERE)
    template = make_environment([], html=False).from_string("x")
    for name in ("root_render_func", "new_context"):
        assert callable(getattr(template, name, None)), incompatible(
            "Jinja2", f"Template.{name} is gone",
            "ftc_office/rendering/environment.py (_BudgetTemplate.render)")


def test_jinja_calls_our_hooks_when_it_compiles() -> None:
    env = make_environment([], html=False)
    code = env.compile("{% for i in items %}{{ i ~ '-' }}{% endfor %}", raw=True)
    assert "environment.ftc_steps" in code, incompatible(
        "Jinja2", "the code generator no longer goes through visit_For (no loop budget)",
        JINJA_WHERE)
    assert "environment.ftc_parts((" in code, incompatible(
        "Jinja2", "the code generator no longer goes through visit_Concat (no ~ size check)",
        JINJA_WHERE)
    template = env.from_string("{% for i in items %}{{ i ~ '-' }}{% endfor %}")
    assert template.render(items=[1, 2, 3]) == "1-2-3-"
    html = make_environment([], html=True).from_string("{{ a ~ b }}")
    assert html.render(a="<", b="&") == "&lt;&amp;"  # markup_join escapes


def test_jinja_loop_budget_really_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment, "MAX_STEPS", 10)
    template = make_environment([], html=False).from_string(
        "{% for i in range(4) %}{% for j in range(4) %}.{% endfor %}{% endfor %}")
    with pytest.raises(jinja2.TemplateError, match="more than 10 loop steps"):
        template.render()


# --- O365 -----------------------------------------------------------------------------------

O365_AUTH = "ftc_office/backends/o365_auth.py"
CLIENT = "11111111-2222-3333-4444-555555555555"


def account(**overrides: Any) -> Any:
    values: dict[str, Any] = {"client_id": CLIENT, "graph_url": "http://127.0.0.1:9/",
                              "authority": "https://127.0.0.1:9", "tenant_id": "tenant-1"}
    values.update(overrides)
    return build_account(O365Settings(**values), token_backend=MemoryTokenBackend())


def test_o365_connection_keeps_its_msal_app_where_we_override_it(
        monkeypatch: pytest.MonkeyPatch) -> None:
    prop = Connection.__dict__.get("msal_client")
    assert isinstance(prop, property), incompatible(
        "O365", "Connection.msal_client is no longer a property", f"{O365_AUTH} (FtcConnection)")
    assert "self.msal_client" in inspect.getsource(Connection), incompatible(
        "O365", "Connection no longer gets its MSAL app through self.msal_client (our "
        "authority would be ignored)", f"{O365_AUTH} (FtcConnection)")
    con = account().con
    assert isinstance(con, FtcConnection)
    for name in ("_msal_client", "_msal_authority"):
        assert hasattr(con, name), incompatible("O365", f"Connection.{name} is gone",
                                                f"{O365_AUTH} (FtcConnection.msal_client)")
    built: list[dict[str, Any]] = []

    class App:  # MSAL itself would fetch the authority's OpenID configuration
        def __init__(self, **kwargs: Any) -> None:
            built.append(kwargs)

    monkeypatch.setattr(o365_auth, "PublicClientApplication", App)
    client = con.msal_client
    assert con.msal_client is client and con._msal_client is client  # cached where O365 looks
    assert [b["authority"] for b in built] == ["https://127.0.0.1:9/tenant-1"], incompatible(
        "O365", "our authority did not reach MSAL", O365_AUTH)
    assert built[0]["token_cache"] is con.token_backend


def test_o365_protocol_reads_its_url_from_the_class_attributes() -> None:
    for name in ("_protocol_url", "_oauth_scope_prefix"):
        assert isinstance(getattr(MSGraphProtocol, name, None), str), incompatible(
            "O365", f"MSGraphProtocol.{name} is gone", f"{O365_AUTH} (make_protocol)")
    url = "http://127.0.0.1:9/"
    protocol = make_protocol(O365Settings(client_id=CLIENT, graph_url=url), None)
    assert protocol.protocol_url == url, incompatible(
        "O365", "the protocol no longer reads _protocol_url (Graph URL ignored)", O365_AUTH)
    assert protocol.protocol_scope_prefix == url, incompatible(
        "O365", "the protocol no longer reads _oauth_scope_prefix", O365_AUTH)
    assert protocol.service_url.startswith(url)


def test_o365_message_tracks_changes_in_a_set() -> None:
    message: Message = account().new_message()
    changes = getattr(message, "_track_changes", None)
    assert isinstance(changes, set), incompatible(
        "O365", "Message._track_changes is no longer a set",
        "ftc_office/backends/o365.py (deliver: cleared after the attachment upload)")
    message.subject = "hello"
    assert message._cc("subject") in message._track_changes
    message._track_changes.clear()
    assert not message._track_changes
    assert "self._track_changes" in inspect.getsource(Message.save_draft), incompatible(
        "O365", "Message.save_draft no longer sends only the tracked changes",
        "ftc_office/backends/o365.py (deliver)")


def test_o365_token_backend_state_we_read() -> None:
    backend = MemoryTokenBackend()
    for name in ("_cache", "_has_state_changed"):
        assert hasattr(backend, name), incompatible(
            "O365", f"BaseTokenBackend.{name} is gone",
            f"{O365_AUTH} (SecureFileTokenBackend.save_token)")
    assert backend._has_state_changed is False and not backend._cache
    assert issubclass(SecureFileTokenBackend, BaseTokenBackend)
    backend.add({"client_id": CLIENT, "scope": ["Mail.Send"],
                 "token_endpoint": "https://127.0.0.1/t/oauth2/v2.0/token",
                 "response": {"token_type": "Bearer", "access_token": "at",
                              "expires_in": 3600, "scope": "Mail.Send"}})
    assert backend._has_state_changed is True and backend._cache, incompatible(
        "O365", "adding a token no longer marks the backend changed (our save would skip it)",
        f"{O365_AUTH} (SecureFileTokenBackend.save_token)")


def test_secure_token_backend_saves_through_those_flags(tmp_path: Path) -> None:
    backend = SecureFileTokenBackend(tmp_path / "cache.json")
    assert backend.save_token() is False  # empty: nothing to save
    backend.add({"client_id": CLIENT, "scope": ["Mail.Send"],
                 "token_endpoint": "https://127.0.0.1/t/oauth2/v2.0/token",
                 "response": {"token_type": "Bearer", "access_token": "at",
                              "expires_in": 3600, "scope": "Mail.Send"}})
    assert backend.save_token() is True
    assert (tmp_path / "cache.json").is_file()


# --- docxtpl --------------------------------------------------------------------------------

WORD_WHERE = "ftc_office/rendering/word.py (_DocxTemplate)"


def test_docxtpl_patch_xml_and_render_signatures() -> None:
    assert callable(getattr(DocxTemplate, "patch_xml", None)), incompatible(
        "docxtpl", "DocxTemplate.patch_xml is gone", WORD_WHERE)
    assert params(DocxTemplate.patch_xml) == ["self", "src_xml"], incompatible(
        "docxtpl", f"DocxTemplate.patch_xml{inspect.signature(DocxTemplate.patch_xml)}",
        WORD_WHERE)
    assert params(DocxTemplate.render)[:4] == ["self", "context", "jinja_env", "autoescape"], \
        incompatible("docxtpl", f"DocxTemplate.render{inspect.signature(DocxTemplate.render)}",
                     "ftc_office/rendering/word.py (render_docx)")


def test_docxtpl_calls_our_patch_xml_when_it_renders(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[int] = []
    original = _DocxTemplate.patch_xml

    def counting(self: _DocxTemplate, src_xml: str) -> str:
        calls.append(len(src_xml))
        return original(self, src_xml)

    monkeypatch.setattr(_DocxTemplate, "patch_xml", counting)
    doc = Document()
    doc.add_paragraph("Brief for {{ tenant.customer }}")
    path = tmp_path / "brief.docx"
    doc.save(str(path))
    data = render_docx(path, {"tenant": {"customer": "AT&T"}}, "tenant t-1")
    assert calls, incompatible("docxtpl", "render no longer calls patch_xml (our cached "
                               "override is dead code)", WORD_WHERE)
    assert data[:2] == b"PK"
    rendered = Document(io.BytesIO(data))
    assert rendered.paragraphs[0].text == "Brief for AT&T"

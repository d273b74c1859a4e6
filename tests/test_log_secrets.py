"""Secrets and personal data in logs: none, even with every logger at DEBUG.

A user (or an application embedding ftc_office) may configure logging at DEBUG — and may
even turn the O365, MSAL and urllib3 loggers to DEBUG themselves. At DEBUG the O365 library
logs session headers (the bearer token) and urllib3 logs request URLs (an upload session URL
is a credential). Two flows run with a root FileHandler at DEBUG plus caplog:

- the O365 backend: an expired token refreshed against the https fake authority, a message
  with a 3 MB attachment (upload session), a throttled send, a look-up;
- the CLI: ``ftc-office run --backend o365 --report`` on a tracker (refresh again).

Every log line (file, caplog with its arguments), the CLI's output and the JSON report are
scanned for ``Bearer ``, JWTs, every access and refresh token the fake authority issued or
the cache was seeded with, and a marker placed in the message bodies. The figure is 0 hits.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import make_tracker, row
from fakegraph import (
    FakeAuthority,
    FakeGraph,
    fake_authority_fixture,  # noqa: F401  (fixture "fake_authority")
    fake_graph_fixture,  # noqa: F401  (fixture "fake_graph")
    seed_token_cache,
)
from runhelpers import ftc

from ftc_office.addresses import parse_address
from ftc_office.backends.base import Sought, Status
from ftc_office.backends.o365 import O365Backend, SendLog
from ftc_office.backends.o365_auth import SecureFileTokenBackend, token_cache_path
from ftc_office.config import O365Settings
from ftc_office.message import Attachment, OutgoingMessage

CLIENT_ID = "11111111-2222-3333-4444-555555555555"
SCOPES = ["Mail.ReadWrite", "Mail.Send", "User.Read"]
MARKER = "BODY-MARKER-5f0c1e-confidential"
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ")
LIBRARY_LOGGERS = ("O365", "O365.connection", "msal", "urllib3", "urllib3.connectionpool",
                   "requests_oauthlib", "oauthlib")


@pytest.fixture
def debug_log(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> Iterator[Path]:
    """Root at DEBUG with a FileHandler (as ``basicConfig(level=DEBUG)`` would), and the
    library loggers turned to DEBUG by the user, before anything of ours runs."""
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
    root = logging.getLogger()
    old_level = root.level
    old = {n: logging.getLogger(n).level for n in LIBRARY_LOGGERS}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    caplog.set_level(logging.DEBUG)
    for name in LIBRARY_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(old_level)
        for name, level in old.items():
            logging.getLogger(name).setLevel(level)


def hits(texts: dict[str, str], secrets: list[str]) -> list[str]:
    out = []
    for where, text in texts.items():
        if "Bearer " in text:
            out.append(f"{where}: 'Bearer '")
        out += [f"{where}: JWT {m[:20]}..." for m in JWT.findall(text)]
        out += [f"{where}: {s[:24]}..." for s in secrets if s and s in text]
        if MARKER in text:
            out.append(f"{where}: message body marker")
    return out


def log_texts(path: Path, caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    args = "\n".join(f"{r.name} {r.msg!s} {r.args!r}" for r in caplog.records)
    return {"log file": path.read_text(encoding="utf-8"), "caplog": caplog.text,
            "caplog args": args}


def test_backend_flow_logs_no_secret(fake_graph: FakeGraph, fake_authority: FakeAuthority,
                                     debug_log: Path, caplog: pytest.LogCaptureFixture,
                                     tmp_path: Path) -> None:
    cache = SecureFileTokenBackend(token_cache_path())
    stale = seed_token_cache(cache, fake_authority, client_id=CLIENT_ID,
                             scopes=[f"{fake_graph.url}{s}" for s in SCOPES], expires_in=-60,
                             refresh_token="rt-seeded-secret-1")
    fake_graph.valid_tokens = set()  # only tokens the authority issues are accepted
    fake_graph.fail("POST", r"/send$", "throttle", retry_after=0)
    settings = O365Settings(client_id=CLIENT_ID, graph_url=fake_graph.url,
                            authority=fake_authority.url, tenant_id=fake_authority.tenant,
                            timeout=5.0, max_retry_wait=1.0, max_per_minute=10_000)
    backend = O365Backend(settings, verify=str(fake_authority.ca_path), requests_delay_ms=0,
                          send_log=SendLog(tmp_path / "s.sqlite"))
    backend.open()
    big = Attachment("deck.pptx", os.urandom(3 * 1024 * 1024 + 10), "application/x-deck")
    message = OutgoingMessage(key="atu.t1.teams.abc", kind="atu", audience="internal",
                              to=(parse_address("ann@microsoft.com"),), subject="Enablement",
                              text=f"text {MARKER}", html=f"<p>{MARKER}</p>",
                              attachments=(big,))
    assert backend.deliver(message).status is Status.SENT
    assert backend.lookup(Sought.of(message)) is Status.SENT
    backend.close()
    assert fake_authority.grants() == ["refresh_token"] and fake_authority.issued
    # the library really ran at DEBUG for the user: our quieting is what keeps them out
    assert any(r.name.startswith("ftc_office") for r in caplog.records)
    secrets = [stale, "rt-seeded-secret-1", *fake_authority.issued,
               *fake_authority.refresh_tokens]
    found = hits(log_texts(debug_log, caplog), secrets)
    print(f"log secrets (backend flow): {len(found)} hits")
    assert found == []
    for name in ("O365", "msal", "urllib3"):
        assert logging.getLogger(name).getEffectiveLevel() >= logging.WARNING


def test_cli_run_with_report_logs_no_secret(fake_graph: FakeGraph, fake_authority: FakeAuthority,
                                            debug_log: Path, caplog: pytest.LogCaptureFixture,
                                            tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(fake_authority.ca_path))
    templates = tmp_path / "tpl" / "email" / "atu"
    templates.mkdir(parents=True)
    builtin = Path(__file__).parents[1] / "templates" / "email" / "atu"
    for name in ("body.txt", "body.html"):
        text = (builtin / name).read_text(encoding="utf-8")
        marked = text.replace("{{ greeting }}", f"{{{{ greeting }}}} {MARKER}", 1)
        (templates / name).write_text(marked, encoding="utf-8")
    (tmp_path / "ftc-office.toml").write_text(f"""
[paths]
templates = "tpl"

[delivery.o365]
client_id = "{CLIENT_ID}"
tenant_id = "{fake_authority.tenant}"
authority = "{fake_authority.url}"
graph_url = "{fake_graph.url}"
max_per_minute = 10000
""", encoding="utf-8")
    cache = SecureFileTokenBackend(token_cache_path())
    stale = seed_token_cache(cache, fake_authority, client_id=CLIENT_ID,
                             scopes=[f"{fake_graph.url}{s}" for s in SCOPES], expires_in=-60,
                             refresh_token="rt-seeded-secret-2")
    fake_graph.valid_tokens = set()
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1"), row("t-2", "Intune")])
    report = tmp_path / "report.json"
    result = ftc("run", str(tracker), "--as-of", "2026-11-26", "--backend", "o365",
                 "--no-dry-run", "--outbox-mode", "pickup", "--yes", "--report", str(report))
    assert result.exit_code == 0, result.output
    sent = [m for m in fake_graph.sent if MARKER in str(m.data.get("body"))]
    assert len(sent) == 2  # the marker really is in what was sent
    assert "refresh_token" in fake_authority.grants()  # the CLI refreshed the stale token
    texts = log_texts(debug_log, caplog)
    texts["cli output"] = result.output
    texts["report"] = report.read_text(encoding="utf-8")
    secrets = [stale, "rt-seeded-secret-2", *fake_authority.issued,
               *fake_authority.refresh_tokens]
    found = hits(texts, secrets)
    print(f"log secrets (CLI run + report): {len(found)} hits")
    assert found == []

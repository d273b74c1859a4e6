"""The wire bytes written directly are the email package's bytes, byte for byte (issue 17).

`ftc_office.backends.wire` writes a message without building the email package's tree.
The reference is that tree, flattened: ``wire_mime(message, date).as_bytes()`` with CRLF
line ends. Compared for every message of the sample (the built-in mailers, with their Word
and Excel attachments, and without attachments) and for generated messages: subjects in
any script, bodies with CR, LF and CRLF, trailing spaces, long lines and "=", Cc or not, a
sender or not, extra headers, attachment names with quotes and backslashes, empty files.
A non-ASCII attachment name takes the email package's path (RFC 2231), and still the same.
"""

from __future__ import annotations

import datetime as dt
import pickle
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ftc_office.addresses import parse_address
from ftc_office.backends import wire
from ftc_office.compose.composer import Composer, compose_all
from ftc_office.config import PathSettings, Settings
from ftc_office.message import Attachment, OutgoingMessage
from ftc_office.planning import load_workspace, plan_workspace

ROOT = Path(__file__).resolve().parents[1]
DATE = "Thu, 26 Nov 2026 09:00:00 +0000"
LATER = "Mon, 07 Dec 2026 17:45:09 +0000"


def _reference(m: OutgoingMessage, date: str = DATE) -> bytes:
    data = wire._EOL.sub(b"\r\n", wire.wire_mime(m, date).as_bytes())
    return data if data.endswith(b"\r\n") else data + b"\r\n"


def _plain_mailers(folder: Path) -> Path:
    from ftc_office.mailers import builtin_root

    folder.mkdir(parents=True, exist_ok=True)
    for src in (builtin_root() / "mailers").glob("*.toml"):
        text = src.read_text(encoding="utf-8")
        (folder / src.name).write_text(text.split("[[attachments]]")[0], encoding="utf-8")
    return folder


@pytest.mark.parametrize("attachments", [True, False])
def test_every_sample_message_is_the_email_package_s(attachments: bool, tmp_path: Path
                                                      ) -> None:
    s = Settings() if attachments else Settings(
        paths=PathSettings(mailers=str(_plain_mailers(tmp_path / "mailers"))))
    as_of = dt.date(2026, 11, 26)
    ws = load_workspace([ROOT / "samples" / "tracker.xlsx"], s)
    messages = [j.message for j in compose_all(Composer(s, as_of), plan_workspace(ws, as_of)
                                               ).jobs if j.message]
    assert len(messages) > 10
    assert any(m.attachments for m in messages) == attachments
    for m in messages:
        assert wire._direct_body(m) is not None
        assert wire.wire_bytes(m, DATE) == _reference(m)
        # encoded ahead (a compose-ahead worker), pickled to the run: the same bytes, for
        # any date
        fresh = pickle.loads(pickle.dumps(replace(m)))
        wire.prepare(fresh)
        # a copy with other fields (a --test-to copy) is written afresh, never from these
        assert wire._PARTS not in replace(fresh, subject="[TEST] x").__dict__
        sent = pickle.loads(pickle.dumps(fresh))
        assert wire._PARTS in sent.__dict__
        for date in (DATE, LATER):  # the kept pieces, then made afresh
            assert wire.wire_bytes(sent, date) == _reference(m, date)
            assert wire._PARTS not in sent.__dict__  # let go once handed over
    assert all(wire._PARTS not in m.__dict__ for m in messages)  # kept only when prepared


BODY = st.text(alphabet=st.sampled_from(list("ab =.\r\n\t–é€北😀<>&\"")), max_size=300)
NAMES = st.sampled_from(["brief.docx", 'say "hi".txt', "back\\slash.pdf", "a b;c.xlsx"])


@st.composite
def messages(draw: st.DrawFn) -> OutgoingMessage:
    people = [parse_address(a) for a in ("a@contoso.test", "Lopez, Maria <m@contoso.test>",
                                          "Zoë Brandt <zoe@contoso.test>")]
    atts = tuple(Attachment(draw(NAMES), draw(st.binary(max_size=200)),
                            "application/octet-stream")
                 for _ in range(draw(st.integers(0, 2))))
    return OutgoingMessage(
        key=f"k.{draw(st.integers(0, 10**6))}", kind="atu", audience="internal",
        to=tuple(draw(st.lists(st.sampled_from(people), min_size=1, max_size=3))),
        cc=tuple(draw(st.lists(st.sampled_from(people), max_size=2))),
        sender=draw(st.sampled_from([None, *people])),
        subject=draw(st.text(alphabet=st.sampled_from(list("Sub jct:–é北😀,")), min_size=1,
                             max_size=120).filter(str.strip)),
        text=draw(BODY), html=draw(BODY), attachments=atts,
        extra_headers=tuple(draw(st.lists(st.sampled_from(
            [("X-Test", "one"), ("Reply-To", "m@contoso.test")]), max_size=2))))


@settings(max_examples=300, deadline=None)
@given(messages())
def test_generated_messages_are_the_email_package_s(m: OutgoingMessage) -> None:
    assert wire.wire_bytes(m, DATE) == _reference(m)
    wire.prepare(m)
    assert wire.wire_bytes(m, LATER) == _reference(m, LATER)  # the body kept on it


def test_a_non_ascii_attachment_name_takes_the_email_package_s_path() -> None:
    m = OutgoingMessage(key="k.1", kind="atu", audience="internal",
                        to=(parse_address("a@contoso.test"),), subject="S", text="t", html="h",
                        attachments=(Attachment("Zusammenfassung für Müller.docx", b"x",
                                                "application/octet-stream"),))
    assert wire._direct_body(m) is None
    assert wire.wire_bytes(m, DATE) == _reference(m)
    assert b"filename*=utf-8''" in wire.wire_bytes(m, DATE)

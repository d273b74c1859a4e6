"""`mime_headers` gives the email package's header bytes, only faster (issue 17).

The references are the email package itself: ``Header(text, "utf-8").encode()`` for the
Subject's RFC 2047 words, compat32's ``_fold`` at ``max_line_length=998`` for every header.
Generated text covers ASCII, accents, the en dash our subjects carry, CJK and emoji (where
base64 words are the shorter), "=?" and "?=" in the text, and lengths across the point
where a header starts to fold.
"""

from __future__ import annotations

from email.charset import QP, Charset
from email.header import Header
from email.policy import Compat32

from hypothesis import given, settings
from hypothesis import strategies as st

from ftc_office.mime_headers import UTF8_HEADER, FastFold, qp_body

TEXT = st.text(alphabet=st.sampled_from(list("abc XYZ,:;=?_\"'()<>@–éü€北京😀\t")), max_size=400)
ASCII = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=1200)


@settings(max_examples=500, deadline=None)
@given(TEXT)
def test_subject_words_are_the_email_package_s(subject: str) -> None:
    expected = Header(subject, "utf-8", header_name="Subject").encode()
    assert Header(subject, UTF8_HEADER, header_name="Subject").encode() == expected


def test_cjk_subjects_take_base64_words_like_the_email_package() -> None:
    subject = "北京微软" * 40
    ours = Header(subject, UTF8_HEADER, header_name="Subject").encode()
    assert ours == Header(subject, "utf-8", header_name="Subject").encode()
    assert "?b?" in ours


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["To", "Cc", "Subject", "X-Ftc-Office-Key", "Content-Type"]),
       ASCII | TEXT)
def test_headers_fold_as_compat32_folds_them(name: str, value: str) -> None:
    reference = Compat32(max_line_length=998)
    ours = FastFold(max_line_length=998)
    assert ours.fold_binary(name, value) == reference.fold_binary(name, value)
    assert ours.fold(name, value) == reference.fold(name, value)


def test_long_and_multi_line_values_are_left_to_compat32() -> None:
    reference, ours = Compat32(max_line_length=998), FastFold(max_line_length=998)
    for value in ("a, " * 400, "x" * 2000, "one\r\n two"):
        assert ours.fold("To", value) == reference.fold("To", value)


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP
BODY = st.text(alphabet=st.sampled_from(list("ab =.\r\n\t–é€北😀<>&\"\x0b\x0c\x1c\x85")),
               max_size=600)


@settings(max_examples=500, deadline=None)
@given(BODY, st.integers(0, 200))
def test_bodies_are_quoted_as_the_email_package_quotes_them(text: str, pad: int) -> None:
    for body in (text, "x" * pad + text, text + " " * (pad % 4), text + "\t"):
        data = body.encode("utf-8")
        assert qp_body(data) == (_UTF8_QP.body_encode(data) if data else "")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_byte_is_quoted_as_the_email_package_quotes_it(data: bytes) -> None:
    """`qp_body` quotes byte values (`bytes.replace` per value present): every one of the
    256, in any mix, as the email package does."""
    assert qp_body(data) == (_UTF8_QP.body_encode(data) if data else "")


def test_every_byte_value_once() -> None:
    data = bytes(range(256)) * 2
    assert qp_body(data) == _UTF8_QP.body_encode(data)

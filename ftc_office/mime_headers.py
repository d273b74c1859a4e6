"""Header encoding and folding: the email package's own results, computed without its cost.

Profiling the rendering of 1,746 messages (issue 17) found two stdlib hot spots, both
pure-Python loops whose results are easy to compute directly:

* ``Charset.header_encode_lines`` (RFC 2047 encoding of a non-ASCII Subject) re-encodes and
  re-measures the whole line after every character: quadratic, 2.7 ms a subject.
  `UTF8_HEADER` is a ``Charset("utf-8")`` whose method keeps a running length instead (the
  encoded length of quoted-printable and base64 words is additive in the characters'
  bytes), and produces the same encoded words.
* compat32's ``_fold`` passes every header, plain ASCII included, through ``Header.encode``
  (~80 µs each, 15 headers a message). `FastFold` writes an ASCII value that fits the
  line as it is, which is exactly what ``Header.encode`` returns for such a value, and
  leaves everything else to compat32.

tests/test_mime_headers.py compares both with the email package on generated text.
"""

from __future__ import annotations

from collections.abc import Iterator
from email import base64mime, quoprimime
from email.charset import RFC2047_CHROME_LEN, Charset
from email.policy import Compat32
from functools import partial
from typing import Any

# the length of each byte in a quoted-printable header word ("_" for a space, "=XX" or itself)
_QP_LEN = bytes(quoprimime.header_length(bytes([b])) for b in range(256))
# A value this short (name, ": " and value) is never folded by Header.encode at
# max_line_length 998 (it starts splitting near 990 characters); longer ones go to compat32.
_FITS = 960


class FastFold(Compat32):
    """compat32 that writes a short, plain ASCII header value as it is (what
    ``Header(value).encode()`` gives for one), and folds anything else as compat32 does."""

    def _fold(self, name: str, value: Any, sanitize: bool) -> str:
        if (isinstance(value, str) and value.isascii() and len(name) + len(value) < _FITS
                and "\r" not in value and "\n" not in value):
            return f"{name}: {value}{self.linesep}"
        return str(super()._fold(name, value, sanitize))  # type: ignore[misc]


class _FastCharset(Charset):
    """``Charset`` whose ``header_encode_lines`` runs in linear time (same result)."""

    def header_encode_lines(self, string: str, maxlengths: Iterator[int]) -> list[str | None]:
        """The encoded words of `string`, each fitting the next of `maxlengths` (the email
        package's algorithm, with the encoded length kept as a running sum)."""
        codec = self.output_codec or "us-ascii"
        module = self._get_encoder(string.encode(codec))  # type: ignore[attr-defined]
        if module is quoprimime:
            def size(ch: str) -> int:
                o = ord(ch)
                return _QP_LEN[o] if o < 128 else sum(_QP_LEN[b] for b in ch.encode(codec))
        elif module is base64mime:
            def size(ch: str) -> int:
                return len(ch.encode(codec))  # bytes; a word takes 4 per started 3 of them
        else:  # no header encoding (an ASCII charset): the email package's own method
            return list(super().header_encode_lines(string, maxlengths))
        encoder = partial(module.header_encode, charset=codec)
        charset = self.get_output_charset() or codec
        extra = len(charset) + RFC2047_CHROME_LEN
        lines: list[str | None] = []
        current: list[str] = []
        running = 0
        maxlen = next(maxlengths) - extra
        for ch in string:
            running += size(ch)
            length = running if module is quoprimime else 4 * -(-running // 3)
            if length > maxlen:
                if not lines and not current:
                    lines.append(None)
                else:
                    lines.append(encoder("".join(current).encode(codec)))
                current = [ch]
                running = size(ch)
                maxlen = next(maxlengths) - extra
            else:
                current.append(ch)
        lines.append(encoder("".join(current).encode(codec)))
        return lines


UTF8_HEADER = _FastCharset("utf-8")

"""Header and body encoding: the email package's own results, computed without its cost.

Profiling the rendering of 1,746 messages (issue 17) found three stdlib hot spots, each
pure Python whose result is easy to compute directly:

* ``Charset.header_encode_lines`` (RFC 2047 encoding of a non-ASCII Subject) re-encodes and
  re-measures the whole line after every character: quadratic, 2.7 ms a subject.
  `UTF8_HEADER` is a ``Charset("utf-8")`` whose method keeps a running length instead (the
  encoded length of quoted-printable and base64 words is additive in the characters'
  bytes), and produces the same encoded words.
* compat32's ``_fold`` passes every header, plain ASCII included, through ``Header.encode``
  (~80 µs each, 15 headers a message). `FastFold` writes an ASCII value that fits the
  line as it is, which is exactly what ``Header.encode`` returns for such a value, and
  leaves everything else to compat32.
* ``quoprimime.body_encode`` quotes every character through ``str.translate`` with a
  256-entry table (0.6 of the 0.7 ms an HTML body took). `qp_body` quotes only the
  bytes that need it, by ``bytes.replace``, then wraps the lines as it does.

tests/test_mime_headers.py compares all three with the email package on generated text.
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


# what quoprimime.body_encode's table changes: every byte but printable ASCII, tab, CR, LF
# (and "=", which it quotes); each becomes "=XX"
_QP_BODY = quoprimime._QUOPRI_BODY_ENCODE_MAP  # type: ignore[attr-defined]
#: the bytes left as they are, "=" among them (it is quoted first, on its own)
_QP_KEEP = bytes(i for i in range(256) if _QP_BODY[i] == chr(i) or i == ord("="))
#: each other byte and its "=XX"
_QP_ESCAPES = {i: (bytes([i]), _QP_BODY[i].encode("ascii")) for i in range(256)
               if i not in _QP_KEEP}


def qp_body(data: bytes) -> str:
    """``Charset("utf-8")`` with quoted-printable bodies: ``body_encode(data)``, which is
    ``quoprimime.body_encode(data.decode("latin-1"))``: the same text, with the quoting done
    by ``bytes.replace``, once for "=" and once for each other byte value that needs it
    (`_QP_ESCAPES`: a body holds a few; a regular expression took 0.15 ms to scan a 7 kB
    HTML body for them), then the lines wrapped as the email package wraps them."""
    if not data:
        return ""
    data = data.replace(b"=", b"=3D")  # first: every escape written after it has an "="
    for byte in set(data.translate(None, _QP_KEEP)):
        data = data.replace(*_QP_ESCAPES[byte])
    body = data.decode("ascii")
    soft_break = "=\n"
    out: list[str] = []
    append = out.append
    for line in body.splitlines():
        start = 0
        laststart = len(line) - 1 - 76
        while start <= laststart:
            stop = start + 75
            if line[stop - 2] == "=":  # never split an escape
                append(line[start:stop - 1])
                start = stop - 2
            elif line[stop - 1] == "=":
                append(line[start:stop])
                start = stop - 1
            else:
                append(line[start:stop] + "=")
                start = stop
        if line and line[-1] in " \t":  # trailing whitespace is quoted or soft-broken
            room = start - laststart
            if room >= 3:
                q = quoprimime.quote(line[-1])
            elif room == 2:
                q = line[-1] + soft_break
            else:
                q = soft_break + quoprimime.quote(line[-1])
            append(line[start:-1] + q)
        else:
            append(line[start:])
    if body[-1] in "\r\n":
        append("")
    return "\n".join(out)

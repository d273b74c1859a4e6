"""Console output that never crashes on an encoding (Windows' cp1252, cp437, ASCII pipes).

`configure_console` runs once at CLI start-up: where stdout or stderr cannot encode every
character, a character it cannot encode is written in an ASCII spelling (``>=`` for ``≥``,
``-`` for ``—``) or as ``?`` instead of raising. `json_text` ASCII-escapes JSON for such a
stream, so JSON output always parses. An ASCII stream is renamed ``ftc-office-ascii`` (the same
codec): Click takes a stream named ASCII for a misconfigured one and writes UTF-8 to it.
"""

from __future__ import annotations

import codecs
import io
import json
import sys
import unicodedata
from typing import Any

ERRORS = "ftc-office-ascii"
ASCII = "ftc-office-ascii"
_SPELLINGS = {
    "≥": ">=", "≤": "<=", "—": "-", "–": "-", "→": "->", "←": "<-", "·": "-", "…": "...",
    "✓": "ok", "✗": "x", "‘": "'", "’": "'", "“": '"', "”": '"', "„": '"', "•": "*",
    "×": "x", "\u00a0": " ", "\u202f": " ",
}


def _spell(ch: str) -> str:
    if ch in _SPELLINGS:
        return _SPELLINGS[ch]
    folded = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode("ascii")
    return folded or "?"


def _fallback(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(_spell(ch) for ch in exc.object[exc.start:exc.end]), exc.end


def is_utf(encoding: str | None) -> bool:
    """True when `encoding` is a UTF encoding (every character can be written)."""
    return codecs.lookup(encoding or "ascii").name.startswith("utf")


def _ascii_codec(name: str) -> codecs.CodecInfo | None:
    """ASCII under a name Click does not take for a misconfigured stream."""
    if name.replace("_", "-") != ASCII:
        return None
    base = codecs.lookup("ascii")
    return codecs.CodecInfo(base.encode, base.decode, name=ASCII,
                            incrementalencoder=base.incrementalencoder,
                            incrementaldecoder=base.incrementaldecoder)


def configure_console() -> None:
    """Give stdout and stderr the ASCII-fallback error handler where they are not UTF."""
    codecs.register_error(ERRORS, _fallback)
    try:
        codecs.lookup(ASCII)
    except LookupError:
        codecs.register(_ascii_codec)
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and not is_utf(stream.encoding):
            ascii_only = codecs.lookup(stream.encoding).name == "ascii"
            stream.reconfigure(encoding=ASCII if ascii_only else None, errors=ERRORS)


def json_text(obj: Any, **kwargs: Any) -> str:
    """`obj` as JSON for stdout: UTF-8 as is, ASCII-escaped for any other encoding."""
    encoding = getattr(sys.stdout, "encoding", None)
    return json.dumps(obj, ensure_ascii=not is_utf(encoding), **kwargs)

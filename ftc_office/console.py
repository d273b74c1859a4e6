"""Console output that never crashes on an encoding (Windows' cp1252, cp437, ASCII pipes).

`configure_console` runs once at CLI start-up: where stdout or stderr cannot encode every
character, a character it cannot encode is written in an ASCII spelling (``>=`` for ``≥``,
``-`` for ``—``) or as ``?`` instead of raising. `json_text` ASCII-escapes JSON for such a
stream, so JSON output always parses. An ASCII stream is renamed ``ftc-office-ascii`` (the same
codec): Click takes a stream named ASCII for a misconfigured one and writes UTF-8 to it.
"""

from __future__ import annotations

import codecs
import contextlib
import gc
import io
import json
import re
import sys
import unicodedata
from collections.abc import Iterator
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


#: set by a command that has written all it had to once it returns (`leave_quickly`), only
#: when it runs as the process's entry point
_quick = False
#: set by `main`: the command runs as the process's entry point, not in-process (tests)
_entry = False


def entry_point() -> None:
    """Say that this process is the command line itself (`main`): a command that asked to
    `leave_quickly` then ends the process with its output."""
    global _entry
    _entry = True


def leave_quickly() -> None:
    """Say that this command writes nothing but its output (`plan`, `check`): `main` then ends
    the process without freeing its objects one by one (`end_now`). Only a command run by
    `main` (`entry_point`) is affected; one run in-process (Click's test runner) is not."""
    global _quick
    _quick = _entry


def quick_exit_wanted() -> bool:
    """Whether the command asked for `leave_quickly`."""
    return _quick


def end_now(code: int) -> None:
    """End the process with ``code`` once stdout and stderr are flushed and the exit handlers
    have run, skipping the interpreter's teardown: freeing a 10,000-row tracker's million
    objects one by one took `plan` 0.1 s after its last line. Returns (and the caller exits
    as usual) when a stream cannot be flushed, so the usual error handling applies."""
    import atexit
    import os

    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (OSError, ValueError):
        return
    atexit._run_exitfuncs()
    os._exit(code)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection inside the block: while a tracker becomes records (a
    10,000-row sheet is ~1,000,000 new objects, none of them in a cycle, and the collections
    they trigger walk them all over again: ~0.1 s of `plan`'s 2 s), and for the whole of a
    command that reads and prints (`plan`, `check`). Reference counting frees everything as
    usual; the collector runs again afterwards (nested blocks: when the outer one ends),
    unless the process ends with the command (`entry_point` and `leave_quickly`): the first
    collection would walk the million objects read, 0.08 s of `plan`, for nothing."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled and not _quick:
            gc.enable()


def tune_collector() -> None:
    """Collect garbage every 50,000 allocations instead of Python's 700: a tracker becomes
    hundreds of thousands of small objects, nearly none of them in a cycle, and collecting
    the youngest generation that often cost `plan` 5 % on 10,000 rows. Cycles are still
    collected, less often. Called once when the command line starts."""
    gc.set_threshold(50_000, 20, 100)


def json_text(obj: Any, indent: int | None = None) -> str:
    """`obj` as JSON for stdout: UTF-8 as is, ASCII-escaped for any other encoding.

    ``indent=2`` is written by orjson (json's indenting encoder is pure Python: 190 ms for
    10,000 tenants against 5 ms), the same text as ``json.dumps(obj, indent=2)``; anything
    orjson refuses (a lone surrogate, a type it does not know) falls back to json."""
    ascii_only = not is_utf(getattr(sys.stdout, "encoding", None))
    if indent == 2:
        import orjson

        try:
            text = orjson.dumps(obj, option=orjson.OPT_INDENT_2).decode()
        except TypeError:  # orjson.JSONEncodeError is one
            pass
        else:
            return _NON_ASCII.sub(_json_escape, text) if ascii_only else text
    return json.dumps(obj, ensure_ascii=ascii_only, indent=indent)


_NON_ASCII = re.compile(r"[^\x00-\x7e]")  # json escapes DEL (0x7f) as well


def _json_escape(m: re.Match[str]) -> str:
    """A non-ASCII character as json's ``ensure_ascii`` writes it (``\\u00e9``, a surrogate
    pair above U+FFFF); outside strings JSON has no such character, so this is exact."""
    return json.dumps(m.group())[1:-1]

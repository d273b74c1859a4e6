"""File names that are valid on Windows, macOS and Linux: the one implementation.

`safe_filename` names a file after a key (the outbox's and the preview's ``.eml`` files, so a
previewed message has the name the outbox would give it); `attachment_filename` cleans a
human-readable attachment name, keeping its spaces and extension. Neither ever gives a name
Windows reserves for a device (`reserved`: ``CON``, ``NUL``, ``COM1``…, with any extension).
"""

from __future__ import annotations

import hashlib
import re

MAX_STEM = 100
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"123456789", "¹", "²", "³"]}
_BAD_FILENAME = re.compile(r'[\x00-\x1f<>:"/\\|?*]+')


def reserved(name: str) -> bool:
    """True when Windows takes ``name`` for a device (``CON``, ``nul.txt``, ``COM1 .docx``):
    the part before the first dot, trailing spaces ignored, in any case."""
    return name.split(".", 1)[0].rstrip(" ").upper() in _RESERVED


def safe_filename(key: str, suffix: str = ".eml") -> str:
    """A file name for a key that is valid on Windows, macOS and Linux.

    Keys that are already safe (lower-case letters, digits, ``._-``) keep their name. Any
    other key gets a digest of the original appended, so two keys never share a file, even
    on a case-insensitive file system.
    """
    stem = _UNSAFE.sub("_", key).rstrip(". ") or "message"
    changed = stem != key or key != key.lower()
    if reserved(stem):
        stem, changed = "_" + stem, True
    if changed or len(stem) > MAX_STEM:
        digest = hashlib.sha256(key.encode()).hexdigest()[:12]
        stem = f"{stem[:MAX_STEM - 13].rstrip('. ')}-{digest}"
    return stem + suffix


def attachment_filename(name: str) -> str:
    """An attachment's file name Windows and Outlook accept (spaces collapsed, at most 120
    characters, the extension kept)."""
    name = _BAD_FILENAME.sub("_", " ".join(name.split())).strip(" .")
    if reserved(name):
        name = "_" + name
    stem, dot, ext = name.rpartition(".")
    if len(name) > 120:
        name = stem[: 110 - len(ext)] + dot + ext
    return name or "attachment"

"""Word documents from docxtpl templates, rendered with escaping and made deterministic.

docxtpl escapes nothing by default (``AT&T`` would break the file), so it is always called
with ``autoescape=True`` and a sandboxed environment of its own (it mutates the one it is
given: it sets ``autoescape``). That environment is shared by every Word rendering and keeps
the compiled templates: docxtpl compiles each XML part of the document on every render,
which was a quarter of the time a message took (its tag-repair pass is cached likewise).
The output zip gets fixed timestamps so the same input gives the same bytes — the ledger's
content hash depends on it.
"""

from __future__ import annotations

import functools
import io
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from docxtpl import DocxTemplate

from ftc_office.errors import TemplateError
from ftc_office.rendering.environment import make_environment, template_location

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
_FIXED_TIME = (2026, 1, 1, 0, 0, 0)
# Control characters are not allowed in Word or Excel XML. The ones that separate text
# (vertical tab is Word's manual line break, form feed, the file/group/record separators)
# become a space so words do not run together; the others are dropped. Tab, CR, LF stay.
_CONTROL: dict[int, str | None] = {
    **dict.fromkeys([*range(0, 9), 14, *range(15, 28), 31]),
    **dict.fromkeys([11, 12, 28, 29, 30], " "),
}


def strip_control(text: str) -> str:
    """Text without the control characters Word and Excel cannot store."""
    return text.translate(_CONTROL)


def _clean(value: Any) -> Any:
    """Every string of a template context, without control characters."""
    if isinstance(value, str):
        return strip_control(value)
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


@functools.cache
def _docx_environment() -> jinja2.Environment:
    """The one sandboxed, autoescaping environment for Word templates, whose ``from_string``
    (the only call docxtpl makes) reuses the compiled template for a source it has seen."""
    env = make_environment([], html=True)
    compiled: OrderedDict[str, jinja2.Template] = OrderedDict()
    plain = env.from_string

    def from_string(source: str | jinja2.nodes.Template, globals: Any = None,
                    template_class: Any = None) -> jinja2.Template:
        if globals is not None or template_class is not None or not isinstance(source, str):
            return plain(source, globals, template_class)
        found = compiled.get(source)
        if found is None:
            found = compiled[source] = plain(source)
            if len(compiled) > 64:
                compiled.popitem(last=False)
        else:
            compiled.move_to_end(source)
        return found

    env.from_string = from_string  # type: ignore[method-assign]
    return env


class _DocxTemplate(DocxTemplate):
    """docxtpl whose tag-repair pass (a dozen regexes over each XML part) runs once per
    distinct part: it depends on nothing but the part's XML."""

    _patched: ClassVar[OrderedDict[str, str]] = OrderedDict()

    def patch_xml(self, src_xml: str) -> str:
        cache = _DocxTemplate._patched
        found = cache.get(src_xml)
        if found is None:
            found = cache[src_xml] = super().patch_xml(src_xml)
            if len(cache) > 64:
                cache.popitem(last=False)
        return found


def render_docx(template: Path, context: dict[str, Any], who: str) -> bytes:
    """Render a .docx template; failures name the template and the tenant."""
    try:
        doc = _DocxTemplate(str(template))
        doc.render(_clean(context), jinja_env=_docx_environment(), autoescape=True)
        buf = io.BytesIO()
        doc.save(buf)
    except TemplateError:
        raise
    except Exception as exc:
        where = template_location(exc, template.name)
        if where == template.name:
            where = str(template)
        msg = getattr(exc, "message", None) or str(exc)
        raise TemplateError(where, f"Word template failed for {who}: {msg}",
                            "fix the tag in the Word template (open it in Word) or fill the "
                            "missing value in the tracker") from None
    return normalise_zip(buf.getvalue())


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps and order kept, so equal content → equal bytes."""
    fast = _fix_times(data)
    return fast if fast is not None else rewrite_zip(data)


def rewrite_zip(data: bytes) -> bytes:
    """:func:`normalise_zip` the slow way: every member read and deflated again."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


_CREATE_SYSTEM = 0 if sys.platform == "win32" else 3  # what zipfile.ZipInfo writes here


def _fix_times(data: bytes) -> bytes | None:
    """The bytes :func:`normalise_zip` would write, by patching the timestamps in place.

    python-docx and openpyxl write each member with ``writestr`` (default ZipInfo, deflate at
    the default level), so rewriting the archive only changes the date and time fields;
    deflating every member again (0.8 MB of styles in a .docx) doubled the cost of a Word
    attachment. Anything else (data descriptors, extra fields, zip64, comments) → None, and
    the archive is rewritten the slow way.
    """
    y, mo, d, h, mi, sec = _FIXED_TIME
    dos_time, dos_date = h << 11 | mi << 5 | sec // 2, (y - 1980) << 9 | mo << 5 | d
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
        eocd = data.rfind(b"PK\x05\x06")
        if eocd < 0 or eocd + 22 != len(data):
            return None
        pos = struct.unpack_from("<I", data, eocd + 16)[0]
        out = bytearray(data)
        for info in infos:
            if (info.compress_type != zipfile.ZIP_DEFLATED or info.extra or info.comment
                    or info.flag_bits & ~0x800 or info.create_system != _CREATE_SYSTEM
                    or info.create_version != 20 or info.extract_version != 20
                    or data[pos:pos + 4] != b"PK\x01\x02"):
                return None
            n, m, k = struct.unpack_from("<HHH", data, pos + 28)
            struct.pack_into("<HH", out, pos + 12, dos_time, dos_date)
            struct.pack_into("<I", out, pos + 38, 0o600 << 16)
            head = info.header_offset
            if data[head:head + 4] != b"PK\x03\x04" or struct.unpack_from(
                    "<H", data, head + 28)[0]:
                return None
            struct.pack_into("<HH", out, head + 10, dos_time, dos_date)
            pos += 46 + n + m + k
        return bytes(out)
    except (zipfile.BadZipFile, struct.error, ValueError):
        return None

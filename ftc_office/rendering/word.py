"""Word documents from docxtpl templates, rendered with escaping and made deterministic.

docxtpl escapes nothing by default (``AT&T`` would break the file), so it is always called
with ``autoescape=True`` and a fresh sandboxed environment (it mutates the one it is given).
The output zip is rewritten with fixed timestamps so the same input gives the same bytes —
the ledger's content hash depends on it.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

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


def render_docx(template: Path, context: dict[str, Any], who: str) -> bytes:
    """Render a .docx template; failures name the template and the tenant."""
    try:
        doc = DocxTemplate(str(template))
        env = make_environment([], html=True)
        doc.render(_clean(context), jinja_env=env, autoescape=True)
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
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()

"""Word documents from docxtpl templates, rendered with escaping and made deterministic.

docxtpl escapes nothing by default (``AT&T`` would break the file), so it is always called
with ``autoescape=True`` and a sandboxed environment of its own (it mutates the one it is
given: it sets ``autoescape``). That environment is shared by every Word rendering and keeps
the compiled templates: docxtpl compiles each XML part of the document on every render,
which was a quarter of the time a message took (its tag-repair pass is cached likewise).
The output zip gets fixed timestamps (`ftc_office.xlsx.normalise.normalise_zip`) so the same
input gives the same bytes — the ledger's content hash depends on it.
"""

from __future__ import annotations

import functools
import io
from collections import OrderedDict
from pathlib import Path
from typing import Any, ClassVar

import jinja2
from docxtpl import DocxTemplate

from ftc_office.errors import TemplateError
from ftc_office.rendering.environment import make_environment, template_location
from ftc_office.xlsx.normalise import normalise_zip, rewrite_zip

__all__ = ["DOCX_MIME", "normalise_zip", "render_docx", "rewrite_zip", "strip_control"]

DOCX_MIME = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
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

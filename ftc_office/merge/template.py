"""A merge template: a folder holding ``subject.txt`` and the body as ``body.html``,
``body.txt`` and/or ``body.md`` (Markdown: rendered to the HTML part through the playbook
mails' Outlook-grade layout, and its source is the text part). Templates get the same strict,
sandboxed environment as the playbook messages.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from markdown_it import MarkdownIt
from markupsafe import Markup

from ftc_office.errors import TemplateError
from ftc_office.mailers import builtin_root
from ftc_office.merge.data import MergeError
from ftc_office.rendering.environment import make_environment, one_line, render

SUBJECT, BODY_HTML, BODY_TEXT, BODY_MD = "subject.txt", "body.html", "body.txt", "body.md"
_LAYOUT = ('{% extends "email/layout.html" %}{% block title %}{{ subject }}{% endblock %}'
           "{% block body %}{{ body }}{% endblock %}{% block toolnote %}{% endblock %}")


class _BomlessLoader(jinja2.FileSystemLoader):
    """Notepad may save UTF-8 with a byte-order mark; it must not start the subject."""

    def get_source(self, environment: jinja2.Environment, template: str
                   ) -> tuple[str, str, Callable[[], bool]]:
        source, filename, uptodate = super().get_source(environment, template)
        return source.removeprefix("\ufeff"), filename, uptodate


@dataclass
class MergeTemplate:
    """A merge template folder, compiled once."""

    folder: Path
    has_html: bool
    has_text: bool
    word: Path | None = None
    has_md: bool = False
    envs: dict[str, jinja2.Environment] = field(default_factory=dict)

    def render(self, name: str, context: dict[str, Any], who: str) -> str:
        env = self.envs["subject" if name == SUBJECT else "html" if name == BODY_HTML
                        else "text"]  # body.md renders as text, then through Markdown
        try:
            return render(env, name, context, who)
        except TemplateError as exc:
            raise TemplateError(f"{self.folder / exc.where}", exc.what, exc.fix) from None


def load_template(folder: Path, word: Path | None = None) -> MergeTemplate:
    """Check the template folder (and Word template) and compile every template in it."""
    where = str(folder)
    if not folder.is_dir():
        raise MergeError(where, "template folder not found" if not folder.exists() else
                         "--template must be a folder",
                         f"create a folder holding {SUBJECT} and {BODY_HTML}, {BODY_TEXT} "
                         f"or {BODY_MD}")
    if not (folder / SUBJECT).is_file():
        raise MergeError(where, f"no {SUBJECT} in the template folder",
                         f"add {SUBJECT} with the subject on one line")
    has_html = (folder / BODY_HTML).is_file()
    has_text = (folder / BODY_TEXT).is_file()
    has_md = (folder / BODY_MD).is_file()
    if has_md and (has_html or has_text):
        raise MergeError(where, f"{BODY_MD} beside {BODY_HTML} or {BODY_TEXT}",
                         f"keep {BODY_MD} alone (it makes both parts) or remove it")
    if not (has_html or has_text or has_md):
        raise MergeError(where, f"no {BODY_HTML}, {BODY_TEXT} or {BODY_MD} in the template "
                         "folder", "add the message body as one of them")
    if word is not None and (not word.is_file() or word.suffix.lower() != ".docx"):
        raise MergeError(str(word), "Word template not found" if not word.exists() else
                         "not a .docx file", "give a .docx with {{ column }} tags")
    tpl = MergeTemplate(folder, has_html, has_text, word, has_md)
    for kind, html_mode, finalize in (("subject", False, one_line), ("text", False, None),
                                      ("html", True, None)):
        env = make_environment([folder], html=html_mode, finalize=finalize)
        env.loader = _BomlessLoader([str(folder)], encoding="utf-8")
        tpl.envs[kind] = env
    for name, kind in ((SUBJECT, "subject"), (BODY_HTML, "html"), (BODY_TEXT, "text"),
                       (BODY_MD, "text")):
        if (folder / name).is_file():
            try:
                tpl.envs[kind].get_template(name)
            except jinja2.TemplateSyntaxError as exc:
                raise TemplateError(f"{folder / name}:{exc.lineno}",
                                    f"template syntax: {exc.message}",
                                    "fix the template at that line") from None
            except UnicodeDecodeError:
                raise TemplateError(str(folder / name), "the file is not UTF-8 text",
                                    "save it as UTF-8") from None
    return tpl



_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
_LAYOUT_ENV: list[jinja2.Environment] = []


def markdown_html(source: str, subject: str) -> str:
    """A Markdown body as HTML inside the playbook mails' layout (raw HTML in the Markdown,
    and so in any value, is shown as text, never as markup)."""
    if not _LAYOUT_ENV:
        env = make_environment([builtin_root() / "templates"], html=True)
        _LAYOUT_ENV.append(env)
    env = _LAYOUT_ENV[0]
    return env.from_string(_LAYOUT).render(subject=subject, body=Markup(_MD.render(source)))

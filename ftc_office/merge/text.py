"""Deriving one body from the other: plain text as simple HTML, HTML as readable text."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser


def text_to_html(text: str, title: str) -> str:
    """A plain-text body as simple HTML: paragraphs at blank lines, line breaks kept."""
    paras = [p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()]
    body = "\n".join("<p>" + html.escape(p).replace("\n", "<br>\n") + "</p>" for p in paras)
    return (f'<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>{html.escape(title)}'
            '</title><style>p, body { font-family: "Segoe UI", Calibri, Arial, sans-serif; '
            f"font-size: 11pt; }}</style></head>\n<body>\n{body}\n</body></html>\n")


class _Text(HTMLParser):
    BLOCK = frozenset({"p", "div", "h1", "h2", "h3", "h4", "table", "ul", "ol", "blockquote"})
    SKIP = frozenset({"head", "style", "script", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0
        self.first_cell = False
        self.href: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self.skip += 1
        elif tag in self.BLOCK:
            self.out.append("\n\n")
        elif tag in ("br", "tr"):
            self.out.append("\n")
            self.first_cell = True
        elif tag == "li":
            self.out.append("\n- ")
        elif tag in ("td", "th"):
            self.out.append("" if self.first_cell else " | ")
            self.first_cell = False
        elif tag == "a":
            self.href.append(dict(attrs).get("href"))

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self.skip = max(0, self.skip - 1)
        elif tag in self.BLOCK:
            self.out.append("\n\n")
        elif tag == "a" and self.href:
            href = (self.href.pop() or "").removeprefix("mailto:")
            shown = "".join(self.out[-3:]).rstrip()
            if (href.startswith(("http", "www")) or "@" in href) and not shown.endswith(href):
                self.out.append(f" ({href})")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(re.sub(r"\s+", " ", data))


def html_to_text(source: str) -> str:
    """A readable plain-text alternative for an HTML body (links kept as ``text (url)``)."""
    parser = _Text()
    parser.feed(source)
    parser.close()
    text = "".join(parser.out)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"

"""A rendered Word part written without lxml: the part's layout, learnt once, and its texts.

The fast path parses each rendered body with lxml, runs docxtpl's post-passes and the page
finish on the tree and serialises it again (~0.6 ms). Every one of those steps reads only
the tags and attributes, never the text — except the check for a URL to link, which the
caller makes on the texts. So two renderings with the same tags, attributes and text
positions (the same *layout*: the XML with each text replaced by ``\\x00``) are written the
same way but for their texts, and lxml writes a text as it was read with only ``&``, ``<``
and ``>`` escaped. The first rendering of a layout goes through lxml; its output, split at
its texts, becomes a format string with a ``%s`` per text; the next renderings of that
layout fill it in.

That holds only where the rendered text is read back as the same characters and written as
read: `split` declines (None: the lxml path) a carriage return (lxml reads it as a newline),
a ``>`` in a text (lxml writes ``&gt;``; and a ``>`` inside an attribute value would look
like the end of a tag), a character XML forbids, or a character reference other than the
apostrophe and quote that Jinja's escaping writes. `layout` declines, once per layout, one
whose first rendering is not well-formed (the parser's recovery could depend on the text),
holds a comment, CDATA or a processing instruction (each starts with a ``<``, which no text
holds, so it is in the layout), or whose lxml output does not hold exactly the rendered
texts, in order (a pass that added or moved a text). A later rendering with the same layout
and texts `split` accepts is then well-formed too, with the same tree but for its texts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

__all__ = ["Slots", "fill", "layout", "split"]

# a non-empty text: between the end of one tag and the start of the next
_TEXT = re.compile(r">([^<]+)<")
_MASK = ">\x00<"
XML_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_STRICT = etree.XMLParser(resolve_entities=False)  # no recovery: well-formed or an error


@dataclass(frozen=True)
class Slots:
    """A rendered part split: its layout (the key of its format string) and its texts as
    lxml writes them, joined by ``<`` (which no text holds)."""

    layout: str
    texts: str


def split(xml: str) -> Slots | None:
    """The layout and texts of a rendered part; None where lxml would not write the texts
    back as they are (see the module's docstring)."""
    if not xml.startswith("<") or "\r" in xml:
        return None
    # one pass: [what precedes the first text, text, what lies between, text, …]
    parts = _TEXT.split(xml)
    joined = "<".join(parts[1::2])
    if ">" in joined or XML_UNSAFE.search(joined):
        return None
    # Jinja escapes ' and " as character references; lxml writes both as they are
    texts = (joined.replace("&#39;", "'").replace("&#34;", '"').replace("&apos;", "'")
             .replace("&quot;", '"'))
    if texts.count("&") != texts.count("&amp;") + texts.count("&lt;") + texts.count("&gt;"):
        return None  # another reference: lxml would write the character it stands for
    return Slots(_MASK.join(parts[0::2]), texts)


def layout(xml: str, slots: Slots, written: bytes, start: str) -> str | None:
    """``written`` (lxml's output for ``xml``) as a format string: ``%s`` for each text
    after ``start`` (where the rendered part begins), ``%`` doubled elsewhere. None when
    ``xml`` is not well-formed, holds a comment, CDATA or a processing instruction, or
    the texts lxml wrote after ``start`` are not the rendered ones."""
    if "<!" in slots.layout or "<?" in slots.layout:  # a "<" is never inside a text: checked
        return None  # once here, for every rendering of the layout
    try:
        etree.fromstring(xml.encode("utf-8"), parser=_STRICT)
    except etree.XMLSyntaxError:
        return None
    out = written.decode("utf-8")
    at = out.find(start)
    if at < 0 or "<".join(_TEXT.findall(out, at)) != slots.texts:
        return None
    pieces, pos = [], 0
    for m in _TEXT.finditer(out, at):
        pieces += [out[pos:m.start(1)].replace("%", "%%"), "%s"]
        pos = m.end(1)
    pieces.append(out[pos:].replace("%", "%%"))
    return "".join(pieces)


def fill(form: str, slots: Slots) -> bytes:
    """The part written for ``slots``, by its layout's format string."""
    texts = tuple(slots.texts.split("<")) if slots.texts else ()
    return (form % texts).encode("utf-8")

"""Message HTML that mail clients show whole.

Gmail clips an HTML body over about 102 KB ("[Message clipped] View entire message"), and
the inlined styles that Outlook needs make every table cell long. Every message's HTML stays
under `HTML_LIMIT`: a queue move lists at most `LISTED` tenants and fewer when they do not
fit, the template says "and K more — see the attached workbook", and the attached workbook
always has every row.
"""

from __future__ import annotations

from collections.abc import Callable

import css_inline

from ftc_office.errors import MessageError

HTML_LIMIT = 100_000
"""Bytes of HTML (UTF-8, styles inlined) a message body stays under."""

LISTED = 40
"""At most this many tenants are listed in a queue-move body; the workbook has them all."""


def inline_html(source: str) -> str:
    """The rendered template with its ``<style>`` rules copied onto each element."""
    return css_inline.inline(source)


def html_size(html: str) -> int:
    """The size a mail client counts: bytes of UTF-8."""
    return len(html.encode("utf-8"))


def check_size(html: str, where: str) -> str:
    """The HTML, or an error naming ``where`` when it is over the limit."""
    size = html_size(html)
    if size >= HTML_LIMIT:
        raise MessageError(where, f"the HTML body is {size:,} bytes, over the "
                           f"{HTML_LIMIT:,}-byte limit (Gmail clips long messages)",
                           "shorten the HTML template or the values it repeats")
    return html


def fit_listing(render: Callable[[int], str], total: int, where: str) -> str:
    """Inlined HTML listing as many of ``total`` items as fit: ``render(n)`` renders the
    template listing the first ``n``; ``n`` starts at `LISTED` and halves until the HTML is
    under the limit (the template says how many more the attachment holds)."""
    listed = min(total, LISTED)
    while True:
        html = inline_html(render(listed))
        if html_size(html) < HTML_LIMIT or listed == 0:
            return check_size(html, where)
        listed //= 2

"""How a Word attachment is finished for its recipient: paper, author, date.

The page size follows the tenant's region (``[word]`` in the config: A4 for EMEA and APJ,
Letter for the Americas by default); the document is from the FM (the FM's name when one is
known, else the address) and dated the as-of date, so the same run gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from ftc_office.config import Settings
from ftc_office.rendering.word import DocxFinish


def docx_finish(settings: Settings, ctx: dict[str, Any]) -> DocxFinish:
    """The finish of a Word attachment rendered with the template context ``ctx``."""
    tenant = ctx.get("tenant") or {}
    region = str(tenant.get("region") or "")
    author = str(tenant.get("fm_name") or tenant.get("fm") or "")
    as_of = ctx.get("as_of")
    return DocxFinish(page=settings.word.page_for(region), author=author,
                      date=as_of if isinstance(as_of, dt.date) else None)

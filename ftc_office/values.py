"""Typed cell values: whole numbers, yes/no, dates, address lists (docs/DOMAIN.md forms).

Each parser returns the value or raises :class:`ValueProblem` with what is wrong and what to
do; the caller adds the file, sheet and cell. Nothing is guessed: an ambiguous date such as
``03/04/2026`` is a problem, not a choice between March and April.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from typing import Any

from ftc_office.addresses import Address, AddressError, parse_address, parse_address_list


class ValueProblem(ValueError):
    """A cell value that cannot be used: ``what`` is wrong, ``fix`` says what to do."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


YES = {"yes", "y", "true", "1", "x", "ja", "oui", "si", "sí"}
NO = {"no", "n", "false", "0", "nein", "non"}
_THOUSANDS = re.compile(r"^\d{1,3}(,\d{3})+$")
_MONTHS = {m.lower(): i for i, m in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_ISO = re.compile(r"^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[ T]\d{1,2}:\d{2}(?::\d{2})?)?$")
_DMY_NAMED = re.compile(r"^(\d{1,2})[\s\-/.]+([A-Za-z]{3,9})\.?[\s\-/.,]+(\d{4})$")
_MDY_NAMED = re.compile(r"^([A-Za-z]{3,9})\.?[\s\-/.]+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})$")
_NUMERIC = re.compile(r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}$")


def to_text(value: Any) -> str:
    """Any cell value as text; whole floats lose their ``.0``."""
    if type(value) is str:  # most cells: the common case first
        return value.strip()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    return str(value).strip()


def _shown(value: Any) -> str:
    """A cell value as the person sees it: text quoted, numbers and dates as typed."""
    return repr(value) if isinstance(value, str) else repr(to_text(value))


def to_int(value: Any, minimum: int = 0) -> int:
    """A whole number ≥ minimum, from a number or digits (``1,000`` allowed)."""
    if isinstance(value, bool):
        raise ValueProblem(f"{value} is not a number", "type a whole number")
    if isinstance(value, int | float):
        if isinstance(value, float) and not value.is_integer():
            raise ValueProblem(f"{value} is not a whole number", "type a whole number")
        n = int(value)
    elif isinstance(value, str):
        text = value.strip().replace("\u00a0", "")
        if text.isdigit():
            n = int(text)
        elif _THOUSANDS.match(text):
            n = int(text.replace(",", ""))
        else:
            raise ValueProblem(f"{value!r} is not a whole number", "type digits only, e.g. 1200")
    else:
        raise ValueProblem(f"{_shown(value)} is not a whole number",
                           "type digits only, e.g. 1200")
    if n < minimum:
        raise ValueProblem(f"{n} is below {minimum}", f"type a number of at least {minimum}")
    return n


def to_bool(value: Any) -> bool:
    """Yes/no in every docs/DOMAIN.md form: yes/no, y/n, true/false, booleans, 1/0, x."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float) and value in (0, 1):
        return bool(value)
    text = to_text(value).casefold()
    if text in YES:
        return True
    if text in NO:
        return False
    raise ValueProblem(f"{_shown(value)} is not yes or no", "type Yes or No (or leave it empty)")


def to_date(value: Any) -> dt.date:
    """A real Excel date, ISO text, or an unambiguous typed form such as ``26 Nov 2026``."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueProblem(f"{to_text(value)} is a number, not a date",
                           "format the cell as a date, or type it as 2026-11-26")
    text = to_text(value)
    try:
        m = _ISO.match(text)
        if m:
            return dt.date(int(m[1]), int(m[2]), int(m[3]))
        m = _DMY_NAMED.match(text)
        if m and m[2][:3].lower() in _MONTHS:
            return dt.date(int(m[3]), _MONTHS[m[2][:3].lower()], int(m[1]))
        m = _MDY_NAMED.match(text)
        if m and m[1][:3].lower() in _MONTHS:
            return dt.date(int(m[3]), _MONTHS[m[1][:3].lower()], int(m[2]))
    except ValueError:
        raise ValueProblem(f"{text!r} is not a real date", "type an existing date, e.g. 2026-11-26"
                           ) from None
    if _NUMERIC.match(text):
        raise ValueProblem(f"{text!r} is ambiguous (day/month or month/day?)",
                           "type it as 2026-11-26 or 26 Nov 2026, or enter a real Excel date")
    raise ValueProblem(f"{text!r} is not a date", "type it as 2026-11-26 or enter a real date")


# Validating an address costs ~80 µs and trackers repeat the same ones on every row of a
# tenant and for every tenant of an FM: cache by cell text (results are immutable).
@functools.lru_cache(maxsize=65536)
def _address_list(text: str) -> tuple[tuple[Address, ...], tuple[str, ...]]:
    good, bad = parse_address_list(text)
    return tuple(good), tuple(bad)


@functools.lru_cache(maxsize=65536)
def _address(text: str) -> Address | str:
    try:
        return parse_address(text)
    except AddressError as exc:
        return str(exc)


def to_addresses(value: Any) -> tuple[Address, ...]:
    """Addresses separated by ``;``, ``,`` or line breaks; every one must be valid."""
    good, bad = _address_list(to_text(value))
    if bad:
        raise ValueProblem("; ".join(bad), "correct the address: name@domain or "
                           "Display Name <name@domain>, entries separated by ';'")
    return good


def to_address(value: Any) -> Address:
    """Exactly one valid address."""
    found = _address(to_text(value))
    if isinstance(found, str):
        raise ValueProblem(found, "type one address, e.g. name@microsoft.com or "
                           "Alex Wilber <alexw@microsoft.com>")
    return found


def to_service_status(value: Any) -> str:
    """Adoption or Migration."""
    text = to_text(value).casefold()
    for choice in ("Adoption", "Migration"):
        if text == choice.casefold():
            return choice
    raise ValueProblem(f"{_shown(value)} is not a service status", "choose Adoption or Migration")


def to_mark(value: Any) -> dt.date | str:
    """A 'done' column: a date when it is one, otherwise the text a person typed."""
    if isinstance(value, dt.date | dt.datetime):
        return to_date(value)
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, int | float):
        raise ValueProblem(f"{to_text(value)} is a number, not a date",
                           "format the cell as a date, or type it as 2026-11-26")
    text = to_text(value)
    try:
        return to_date(text)
    except ValueProblem:
        return text

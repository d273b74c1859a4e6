"""E-mail address parsing and validation, shared by the reader and the message builder.

Addresses are parsed by us, never by the email package: a cell ``"a@x.com, b@evil.com"``
placed in a header would silently become two recipients. Each address is validated with
email-validator (syntax only, no network) and normalised; domains are compared in their
ASCII (IDNA) form so that look-alike Unicode domains never match an allow-list entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email

# Line breaks of every kind that a header value must never contain.
LINE_BREAKS = re.compile("[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
# An RFC 2047 encoded word (``=?utf-8?b?...?=``). Python's email package (3.11.7, open to
# CVE-2024-6923) decodes one while folding a header and writes the decoded text back raw: an
# encoded CRLF becomes a real line break, i.e. a new header such as ``Bcc:``. No header value
# we build may contain one.
ENCODED_WORD = re.compile(r"=\?.*\?=", re.S)
_SPLIT = re.compile(r"[;,\r\n]+")


@dataclass(frozen=True, order=True)
class Address:
    """A validated mailbox: the normalised address and its ASCII domain."""

    email: str
    ascii_domain: str

    def __str__(self) -> str:
        return self.email


class AddressError(ValueError):
    """An address that is not a valid mailbox; the message says why."""


def parse_address(text: str) -> Address:
    """Validate one address (no display name) and return it normalised."""
    raw = text.strip()
    if not raw:
        raise AddressError("empty address")
    if LINE_BREAKS.search(raw) or any(ch in raw for ch in "<>\"'()[]\\ \t"):
        raise AddressError(f"{raw!r} is not a plain address (no names, brackets or spaces)")
    if "=?" in raw:
        raise AddressError(f"{raw!r} contains '=?', the start of an encoded word (RFC 2047), "
                           "which a mail header would decode")
    try:
        # test_environment: allow the reserved ".test" TLD that sample and test data use
        info = validate_email(raw, check_deliverability=False, allow_smtputf8=False,
                              test_environment=True)
    except EmailNotValidError as exc:
        raise AddressError(f"{raw!r} is not a valid address: {exc}") from None
    ascii_domain = (info.ascii_domain or info.domain).lower()
    local = info.local_part
    return Address(email=f"{local}@{ascii_domain}", ascii_domain=ascii_domain)


def split_addresses(text: str) -> list[str]:
    """Split a cell holding addresses separated by ``;``, ``,`` or line breaks."""
    return [part.strip() for part in _SPLIT.split(text) if part.strip()]


def parse_address_list(text: str) -> tuple[list[Address], list[str]]:
    """Parse a list cell; return the valid addresses and a message per invalid one."""
    good: list[Address] = []
    bad: list[str] = []
    seen: set[str] = set()
    for part in split_addresses(text):
        try:
            addr = parse_address(part)
        except AddressError as exc:
            bad.append(str(exc))
            continue
        if addr.email not in seen:
            seen.add(addr.email)
            good.append(addr)
    return good, bad


def domain_allowed(addr: Address, allowed: tuple[str, ...] | list[str]) -> bool:
    """True when the address's ASCII domain is an allowed domain or a subdomain of one."""
    dom = addr.ascii_domain
    return any(dom == d or dom.endswith("." + d) for d in allowed)

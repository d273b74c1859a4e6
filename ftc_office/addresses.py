"""E-mail address parsing and validation, shared by the reader and the message builder.

Addresses are parsed by us, never by the email package: a cell ``"a@x.com, b@evil.com"``
placed in a header would silently become two recipients. Each address is validated with
email-validator (syntax only, no network) and normalised; domains are compared in their
ASCII (IDNA) form so that look-alike Unicode domains never match an allow-list entry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

# Line breaks of every kind that a header value must never contain.
_BREAKS = "\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
LINE_BREAKS = re.compile(f"[{_BREAKS}]")
# An RFC 2047 encoded word (``=?utf-8?b?...?=``). Python's email package (3.11.7, open to
# CVE-2024-6923) decodes one while folding a header and writes the decoded text back raw: an
# encoded CRLF becomes a real line break, i.e. a new header such as ``Bcc:``. No header value
# we build may contain one.
ENCODED_WORD = re.compile(r"=\?.*\?=", re.S)
# ``Display Name <address>`` (Outlook's paste form); the name may be quoted.
_NAMED = re.compile(r'\s*(?P<name>"[^"]*"|[^<>"]*?)\s*<(?P<addr>[^<>]*)>\s*', re.S)
MAX_NAME = 100
# what a plain address never holds: a line break, brackets, quotes, spaces
_NOT_PLAIN = re.compile(f"[{_BREAKS}<>\"'()\\[\\]\\\\ \t]")
# The common case, decided without email-validator (its IDNA checks cost ~40 µs an address,
# and its import ~50 ms): a plain ASCII dot-atom local part and an ASCII host name with a
# letters-only top-level domain, nothing near a length limit, no "--" (Punycode and its
# look-alikes) and no special-use domain. Every address this accepts, email-validator
# accepts with the same normalisation (tests/test_addresses_fast.py compares the two); any
# other text goes to email-validator, which gives the verdict and the message.
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_FAST = re.compile(r"(?P<local>[A-Za-z0-9_+-]{1,64}(?:\.[A-Za-z0-9_+-]{1,64})*)"
                   rf"@(?P<domain>(?:{_LABEL}\.)+[A-Za-z]{{2,63}})")
_FAST_MAX = 200  # well inside email-validator's 254 (address), 253 (domain), 64 (local part)
# email-validator's SPECIAL_USE_DOMAIN_NAMES but "test" (which we allow); a test compares
_RESERVED = frozenset(("arpa", "invalid", "local", "localhost", "onion"))


def _fast_address(raw: str) -> Address | None:
    """The address when `_FAST` alone decides it valid; None to ask email-validator."""
    if len(raw) > _FAST_MAX or "--" in raw:
        return None
    m = _FAST.fullmatch(raw)
    if m is None or m.end("local") > 64:
        return None
    local, domain = m.group("local", "domain")
    domain = domain.lower()
    # every special-use name is one label and `_FAST` needs two: only the last one can be it
    if domain[domain.rfind(".") + 1:] in _RESERVED:
        return None
    return Address(f"{local}@{domain}", domain)


@dataclass(frozen=True, order=True)
class Address:
    """A validated mailbox: the normalised address, its ASCII domain and, when one was given,
    the person's display name (not part of equality: one mailbox is one recipient)."""

    email: str
    ascii_domain: str
    name: str = field(default="", compare=False)

    def __str__(self) -> str:
        return self.email

    def named(self, name: str) -> Address:
        """The same mailbox with this display name (checked like a parsed one)."""
        return replace(self, name=check_name(name))

    @property
    def header(self) -> str:
        """``Name <address>`` for a header (RFC 2047-encoded when not ASCII), or the bare
        address when no name is known."""
        if not self.name:
            return self.email
        from email.utils import formataddr  # not at import: `plan` reads without it (6 ms)

        return formataddr((self.name, self.email), charset="utf-8")

    @property
    def first_name(self) -> str:
        """The given name from the display name (``Lopez, Maria`` → ``Maria``), or ``""``."""
        family, comma, given = self.name.partition(",")
        words = (given if comma and given.strip() else family).split()
        return words[0] if words else ""


class AddressError(ValueError):
    """An address that is not a valid mailbox; the message says why."""


def check_name(name: str) -> str:
    """A display name safe for a header: one line, no encoded word, not too long."""
    clean = " ".join(name.strip().strip('"').split())
    if LINE_BREAKS.search(name) or "=?" in clean or any(c in clean for c in '<>"\\@'):
        # '@': "it@contoso.test <evil@x>" would show one address and send to another
        raise AddressError(f"display name {name!r} contains a line break, '=?', '@', a "
                           "quote or angle brackets")
    if len(clean) > MAX_NAME:
        raise AddressError(f"display name {clean[:30]!r}… is longer than {MAX_NAME} characters")
    return clean


def parse_address(text: str) -> Address:
    """Validate one address, plain or ``Display Name <address>``, and return it
    normalised (with the name, when one was given)."""
    raw = text.strip()
    if not raw:
        raise AddressError("empty address")
    m = _NAMED.fullmatch(raw) if "<" in raw else None  # a display name needs the "<"
    if m:
        addr = parse_address(m["addr"]) if "<" not in m["addr"] else None
        if addr is None:
            raise AddressError(f"{raw!r} is not a valid address")
        return addr.named(m["name"]) if m["name"].strip('" ') else addr
    if _NOT_PLAIN.search(raw):
        raise AddressError(f"{raw!r} is not an address (write it as name@domain or as "
                           "Display Name <name@domain>)")
    if "=?" in raw:
        raise AddressError(f"{raw!r} contains '=?', the start of an encoded word (RFC 2047), "
                           "which a mail header would decode")
    fast = _fast_address(raw)
    if fast is not None:
        return fast
    from email_validator import EmailNotValidError, validate_email

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
    """Split a cell holding addresses separated by ``;``, ``,`` or line breaks; separators
    inside quotes or angle brackets do not split, and Outlook's ``Lopez, Maria <m@x>``
    stays one entry (a piece without ``@`` joins the named address after it)."""
    if '"' not in text and "<" not in text:  # nothing quoted: every separator splits
        return _join_names(_SEPARATORS.split(text))
    return _join_names(_split_quoted(text))


def _split_quoted(text: str) -> list[str]:
    """Split at separators outside quotes and angle brackets (one character at a time)."""
    pieces: list[str] = []
    buf: list[str] = []
    quoted = bracket = False
    for ch in text:
        if ch == '"' and not bracket:
            quoted = not quoted
        elif ch == "<" and not quoted:
            bracket = True
        elif ch == ">" and not quoted:
            bracket = False
        if ch in ";,\r\n" and not quoted and not bracket:
            pieces.append("".join(buf))
            buf = []
            continue
        buf.append(ch)
    pieces.append("".join(buf))
    return pieces


_SEPARATORS = re.compile(r"[;,\r\n]")


def _join_names(pieces: list[str]) -> list[str]:
    """Non-empty pieces, a piece without ``@`` joined to the named address after it."""
    out: list[str] = []
    pending = ""
    for piece in (p.strip() for p in pieces):
        if not piece:
            continue
        if pending:
            piece = f"{pending}, {piece}"
            pending = ""
        if "@" not in piece and "<" not in piece and not piece.startswith('"'):
            pending = piece  # "Lopez" of "Lopez, Maria <m@x>"
            continue
        out.append(piece)
    if pending:
        out.append(pending)
    return out


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

"""The address fast path gives email-validator's verdict, and its normalisation, exactly.

`ftc_office.addresses` decides plain ASCII addresses with one regular expression and hands
every other text to email-validator. Here both answer the same inputs: every address of a
generated tracker, the sample's, hand-picked edge cases (lengths, hyphens, Punycode,
numeric and special-use top-level domains) and generated strings over the characters that
matter. Whenever the fast path accepts, email-validator accepts with the same address and
ASCII domain; whenever email-validator rejects, `parse_address` rejects.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import email_validator
import pytest
from email_validator import EmailNotValidError, validate_email
from hypothesis import given, settings
from hypothesis import strategies as st
from python_calamine import CalamineWorkbook

from ftc_office import addresses
from ftc_office.addresses import AddressError, parse_address

ROOT = Path(__file__).resolve().parents[1]
ADDRESS = re.compile(r"[^\s,;<>\"]+@[^\s,;<>\"]+")


def _reference(raw: str) -> tuple[str, str] | None:
    """email-validator's verdict as parse_address uses it: (address, ASCII domain) or None."""
    try:
        info = validate_email(raw, check_deliverability=False, allow_smtputf8=False,
                              test_environment=True)
    except EmailNotValidError:
        return None
    dom = (info.ascii_domain or info.domain).lower()
    return f"{info.local_part}@{dom}", dom


def _agree(raw: str) -> bool:
    """Assert the fast path agrees with email-validator; True when it decided alone."""
    fast = addresses._fast_address(raw)
    ref = _reference(raw)
    if fast is not None:
        assert ref == (fast.email, fast.ascii_domain), raw
    if ref is None and not any(c in raw for c in "<>"):
        with pytest.raises(AddressError):
            parse_address(raw)
    return fast is not None


EDGES = [
    "a@b.co", "A.B@Contoso.COM", "x+tag@sub.contoso.example", "_x-@a-b.c-d.museum",
    "a@b.c", "a@b.c1", "a@1.23", "a@b", "a@localhost", "a@x.localhost", "a@x.local",
    "a@x.onion", "a@4.3.2.1.in-addr.arpa", "a@x.invalid", "a@x.test", "a@test",
    "a@xn--bcher-kva.example", "a@ab--cd.example", "a@-a.com", "a@a-.com", "a@a..com",
    ".a@b.com", "a.@b.com", "a..b@c.com", "a@b.com.", "a@.b.com",
    "l" * 64 + "@x.com", "l" * 65 + "@x.com", "a@" + "d" * 63 + ".com", "a@" + "d" * 64 + ".com",
    "a@" + ".".join(["abcdefghi"] * 24) + ".com", "a@" + ".".join(["abcdefghi"] * 26) + ".com",
    "a@b.co\u200b", "ä@b.com", "a@bä.com", "a@b.c_m", "a_b@c_d.com", "a!b@c.com",
    "a@b.com-", "a@B.COM", "postmaster@contoso.example",
]


@pytest.mark.parametrize("raw", EDGES)
def test_edge_cases_agree(raw: str) -> None:
    _agree(raw)


def test_a_generated_trackers_addresses_agree_and_mostly_skip_email_validator(
        tmp_path: Path) -> None:
    tracker = tmp_path / "t.xlsx"
    subprocess.run([sys.executable, str(ROOT / "bench" / "make_tracker.py"), "2000",
                    str(tracker)], check=True, capture_output=True, timeout=240)
    texts = {str(c) for path in (tracker, ROOT / "samples" / "tracker.xlsx")
             for sheet in CalamineWorkbook.from_path(str(path)).sheet_names
             for row in CalamineWorkbook.from_path(str(path)).get_sheet_by_name(sheet)
             .to_python() for c in row}
    found = {a for t in texts for a in ADDRESS.findall(t)}
    assert len(found) > 1000
    decided = sum(_agree(a) for a in found)
    assert decided > 0.9 * len(found)  # the fast path is what answers the tracker


ATOM = st.text(alphabet="aZ09-_+.!", min_size=0, max_size=12)
LABEL = st.sampled_from(["a", "Z9", "ab-c", "-a", "a-", "xn--p1ai", "ab--c", "1", "", "co",
                         "local", "localhost", "arpa", "onion", "test", "invalid", "c0m"])


@settings(max_examples=600, deadline=None)
@given(ATOM, st.lists(LABEL, min_size=1, max_size=5))
def test_generated_addresses_agree(local: str, labels: list[str]) -> None:
    _agree(f"{local}@{'.'.join(labels)}")


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab.-@_+1", min_size=1, max_size=20))
def test_generated_strings_agree(raw: str) -> None:
    _agree(raw)


def test_the_special_use_domains_are_email_validators() -> None:
    assert set(addresses._RESERVED) | {"test"} == set(email_validator.SPECIAL_USE_DOMAIN_NAMES)

"""People's names: never guessed from an address.

A name comes, in this order, from the address cell itself (``Maria Lopez <mlopez@…>``), from
the tracker's optional name columns (*FM Name*, *Customer Contact Name*), or from the
config's ``[people]`` table. An address with none of these has no name: greetings then say
"Hello," and signatures carry no name, rather than "Hello Mlopez,".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ftc_office.addresses import Address


class Directory:
    """The config's ``[people]`` table: address → display name (checked when loaded)."""

    def __init__(self, people: Mapping[str, str]) -> None:
        self.people = {k.strip().lower(): v for k, v in people.items()}

    def name(self, addr: Address, *candidates: str | None) -> Address:
        """``addr`` with its own name, else the first non-empty candidate, else the
        directory's entry, else unnamed."""
        if addr.name:
            return addr
        for cand in (*candidates, self.people.get(addr.email.lower())):
            if cand and cand.strip():
                return addr.named(cand)
        return addr

    def names(self, addrs: Sequence[Address], column: Sequence[str] = ()) -> tuple[Address, ...]:
        """Name each address; ``column`` holds names aligned with the addresses (the tracker's
        name column, used only when it lists exactly one name per address)."""
        aligned = list(column) if len(column) == len(addrs) else [""] * len(addrs)
        return tuple(self.name(a, n) for a, n in zip(addrs, aligned, strict=True))


def split_names(cell: str | None) -> list[str]:
    """A name column's cell: names separated by ``;`` or line breaks (a comma may be part of
    a name: "Lopez, Maria")."""
    if not cell:
        return []
    return [p.strip() for p in cell.replace("\r", "\n").replace(";", "\n").split("\n")
            if p.strip()]


def greeting(recipients: Iterable[Address]) -> str:
    """"Hello Maria and Eduardo," when every recipient's given name is known, else "Hello,"
    (greeting some by name and not others reads worse than greeting none)."""
    firsts = [a.first_name for a in recipients]
    if not firsts or not all(firsts) or len(firsts) > 4:
        return "Hello,"
    head = ", ".join(firsts[:-1])
    return f"Hello {head + ' and ' if head else ''}{firsts[-1]},"


@dataclass(frozen=True)
class TenantPeople:
    """A tenant's FM, account team and customer contacts, each with the name we know."""

    fm: Address | None
    account_team: tuple[Address, ...]
    customer_contacts: tuple[Address, ...]

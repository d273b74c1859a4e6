"""Header near-misses: a header cell that is almost a known column ("Licenced Seats",
"Next Action Dt") is named, so a typo is not read as a missing column or, for an output
column, made into a second one by write-back.

Headers are compared normalised (`ftc_office.fields.normalise_header`) with difflib; a cell
is a near miss of a field when their ratio reaches `CUTOFF`, unless the two differ by a
negation only ("FM Assigned" is not "FM Unassigned") or the cell adds a word to the whole
header ("Customer Email Sent Date" is another column). Cells that already name a field,
and output fields mapped in ``[tracker.headers]`` (the way to say "that is another
column"), are never near misses.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ftc_office.fields import FIELDS, OUTPUT_FIELDS, normalise_header
from ftc_office.xlsx.cells import col_letter

CUTOFF = 0.88  # "Next Action Dt" 0.92, "Licenced Seats" 0.92; "Last Action Date" 0.86
_NEGATIONS = ("un", "non", "not")


@dataclass(frozen=True)
class NearMiss:
    """A header cell that looks like a known column's header (or one of its aliases)."""

    field: str
    ref: str  # the header cell, e.g. "D4"
    text: str  # what the cell holds
    like: str  # the header or alias it resembles

    def __str__(self) -> str:
        canonical = FIELDS[self.field].header
        extra = f" ({canonical})" if self.like != canonical else ""
        return f"'{self.text}' in {self.ref} looks like '{self.like}'{extra}"


def _negated(a: str, b: str) -> bool:
    """Whether two normalised headers differ only by a negating prefix somewhere."""
    return any(x != y and x.replace(neg, "", 1) == y for x, y in ((a, b), (b, a))
               for neg in _NEGATIONS)


def _related(cell: str, target: str) -> bool:
    """Whether a cell is another column by design, not a typo: it differs by a negation
    only ("FM Assigned"), or adds a word to the whole header ("Customer Email Sent Date")."""
    return _negated(cell, target) or (target in cell and len(cell) >= len(target) + 3)


def unmapped_outputs(columns: dict[str, int], overrides: dict[str, str]) -> list[str]:
    """Output fields the sheet lacks and the config does not map: a run would add them."""
    return [n for n in OUTPUT_FIELDS if n not in columns and n not in overrides]


def near_miss_headers(header: Sequence[Any], header_r: int, index: dict[str, str],
                      overrides: dict[str, str], fields: Sequence[str]) -> list[NearMiss]:
    """For each of ``fields`` (missing from the header row), its best near miss among the
    header cells that name no field, if any reaches `CUTOFF`; in the order of ``fields``."""
    cells = [(c, v.strip(), normalise_header(v)) for c, v in enumerate(header)
             if isinstance(v, str) and v.strip() and normalise_header(v) not in index]
    out: list[NearMiss] = []
    for name in fields:
        f = FIELDS[name]
        texts = [overrides[name]] if name in overrides else [f.header, *f.aliases]
        best: tuple[float, NearMiss] | None = None
        for c, text, norm in cells:
            for like in texts:
                target = normalise_header(like)
                ratio = difflib.SequenceMatcher(None, norm, target).ratio()
                if ratio >= CUTOFF and not _related(norm, target) and (
                        best is None or ratio > best[0]):
                    best = (ratio, NearMiss(name, f"{col_letter(c + 1)}{header_r + 1}",
                                            text, like))
        if best:
            out.append(best[1])
    return out


def rename_fix(near: Sequence[NearMiss], output: bool = False) -> str:
    """What to do about near misses: rename the cells, or map them in the config (for an
    output column, also how to say it is another column)."""
    renames = ", ".join(f"{n.ref} to '{n.like}'" for n in near)
    maps = "; ".join(f'{n.field} = "{n.text}"' for n in near)
    other = "; ".join(f'{n.field} = "{FIELDS[n.field].header}"' for n in near)
    return (f"rename {renames}, or map it under [tracker.headers] in ftc-office.toml "
            f"({maps})" + (f"; or ({other}) if it is another column" if output else ""))

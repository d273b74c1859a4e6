"""Which output columns a write-back adds to a tracker, in one canonical order.

The canonical order is the order of the output fields in ``fields.FIELD_LIST``
(``fields.OUTPUT_FIELDS``: ATU Sent, ATU Status, Customer Email Sent, Task 4058 Complete, Queue
Requested, Target Queue, Next Action Date, FTOP Status, Service Status, FM Unassigned,
Engagement Note). When a stamp needs a column the tracker lacks, every missing output column
is added at once, in that order: the header row is then the same whichever step stamped first
(an ATU, a no-ATU note, a follow-up) and wherever a run was interrupted.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from ftc_office.fields import FIELDS, OUTPUT_FIELDS

#: the order output columns are added in (defined once, in ``fields.FIELD_LIST``)
CANONICAL_OUTPUTS: tuple[str, ...] = OUTPUT_FIELDS


def output_columns_to_add(needed: Iterable[str], present: Collection[str]) -> list[str]:
    """The fields to add columns for: none when every ``needed`` field has a column in
    ``present``; else every output field the tracker lacks, in canonical order, then the
    needed input fields it lacks (Queue Confirmed, which confirm-queue stamps)."""
    wanted = set(needed)
    lacking = [f for f in FIELDS if f in wanted and f not in present]
    if not lacking:
        return []
    return [f for f in CANONICAL_OUTPUTS if f not in present] + \
        [f for f in lacking if f not in CANONICAL_OUTPUTS]


__all__ = ["CANONICAL_OUTPUTS", "output_columns_to_add"]

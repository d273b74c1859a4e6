"""The dry run of a merge as the run's review page (ftc_office.review): ``OUT/index.html``
with one card per row (its message rendered inline, From/To/Cc, subject, attachments saved
beside the page, the .eml file), the rows that have a problem under *Needs attention*, and
the counts on top. The .eml files are the bytes a backend would send (``wire_bytes``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from email.utils import format_datetime
from pathlib import Path

from ftc_office.atomic import atomic_write_bytes
from ftc_office.backends.wire import wire_bytes
from ftc_office.filenames import safe_filename
from ftc_office.merge import schedule
from ftc_office.merge.compose import MergeResult
from ftc_office.merge.data import MergeData
from ftc_office.review import Customer, Review, item_of, render_review

COMMAND = "ftc-office merge … --no-dry-run"


def write_review(result: MergeResult, data: MergeData, out: Path, failures: Sequence[str],
                 times: dict[str, dt.datetime] | None = None,
                 when: dt.datetime | None = None) -> Path:
    """Write each message as an .eml file and the review page; return the page's path."""
    when = when or dt.datetime.now(dt.UTC)
    out.mkdir(parents=True, exist_ok=True)
    times = times if times is not None else result.send_at
    cards = []
    for job in result.jobs:
        assert job.message is not None
        atomic_write_bytes(out / safe_filename(job.key),
                           wire_bytes(job.message, format_datetime(when)))
        row = result.rows[job.key]
        at = times.get(job.key)
        card = Customer(job.key.split(".", 2)[-1], f"{data.sheet} row {row.number}",
                        data.path.name, str(data.path),
                        schedule.label(at) if at else "send now", "")
        card.items.append(item_of(job, out))
        cards.append(card)
    counts = {"Messages": len(result.jobs), "Rows with a problem": len(failures)}
    if result.filtered:
        counts["Rows left out by --where"] = result.filtered
    if times:
        counts["Scheduled"] = sum(1 for j in result.jobs if j.key in times)
    attention = [*failures, *(f"{c.customer}: {w}" for c in cards for i in c.items
                              for w in i.warnings)]
    review = Review(when.astimezone().date(), cards, [], attention, counts,
                    title=f"What the merge of {data.path.name} will send",
                    command=COMMAND)
    return render_review(review, out)

"""Mark drafts sent: the FM says the drafts they sent from Outlook went out.

An outbox in ``drafts`` mode (and Outlook's draft mode) records messages as *drafted*: nothing
was sent, so no sent date is stamped. Once the FM has sent them, `ftc-office mark-sent`
moves the drafted entries of a tracker (or of one tenant, or one key) to *sent* — recorded in
the ledger as the FM's word, with the time they said it — and stamps the tracker then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ftc_office.config import Settings
from ftc_office.errors import UsageError
from ftc_office.jobs import State
from ftc_office.ledger import Entry
from ftc_office.paths import tracker_id
from ftc_office.run.locks import locked_ledger
from ftc_office.writeback import WritebackResult, write_back


@dataclass
class MarkSentResult:
    """What `mark-sent` did: the entries it marked, and each tracker's write-back."""

    marked: list[Entry] = field(default_factory=list)
    writebacks: list[WritebackResult] = field(default_factory=list)


def select_drafts(entries: Sequence[Entry], trackers: set[str], tenant: str | None,
                  key: str | None) -> list[Entry]:
    """The drafted entries of these trackers, narrowed to one tenant or one key."""
    out = []
    for e in entries:
        if key is not None and e.key != key:
            continue
        if tenant is not None and tenant.casefold() not in {t.casefold() for t in e.tenant_ids}:
            continue
        if not trackers & set(e.trackers):
            continue
        out.append(e)
    return out


def mark_sent(paths: Sequence[Path], settings: Settings, *, tenant: str | None = None,
              key: str | None = None, data: Path | None = None, force: bool = False
              ) -> MarkSentResult:
    """Mark the selected drafts sent and stamp their trackers. A key or tenant with no
    draft is a UsageError naming it (nothing is marked)."""
    data = data or settings.data_folder()
    ids = {tracker_id(p) for p in paths}
    result = MarkSentResult()
    with locked_ledger(paths, data, settings) as ledger:
        chosen = select_drafts(ledger.entries((State.DRAFTED,)), ids, tenant, key)
        if not chosen and (key or tenant):
            what = f"key {key}" if key else f"tenant {tenant}"
            raise UsageError(what, "no drafted message for it in these trackers",
                             "'ftc-office status' lists the drafts; check the key or tenant")
        for e in chosen:
            ledger.transition(e.key, State.SENT, event="marked_sent", by="user")
            result.marked.append(e)
        for p in paths:
            result.writebacks.append(write_back(p, ledger, settings, force=force, data=data))
    return result

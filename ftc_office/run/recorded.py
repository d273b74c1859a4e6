"""`plan`'s view of the trackers as recorded: the ledger's pending stamps applied.

Its own module so that `plan` on a folder without a ledger imports none of the run (the
ledger, the report, the write-back): `as_recorded` imports them only when there is a ledger
to read.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ftc_office.config import Settings
    from ftc_office.planning import Workspace


def as_recorded(ws: Workspace, settings: Settings, data: Path | None = None
                ) -> tuple[Workspace, list[str]]:
    """`plan`'s view: the workspace with the ledger's pending stamps applied (see
    `pending_stamps`; the ledger read, never locked nor created), and the lines to say about
    it — each restored tracker, or why the ledger could not be read."""
    from ftc_office.config import ledger_url

    folder = data or settings.data_folder()
    if not ws.trackers or (not ledger_url(settings)
                           and not (folder / "ledger.sqlite3").is_file()):
        return ws, []  # nothing recorded yet
    # the ledger, the run's plan and the workbook identity: only when there is a ledger
    from ftc_office.errors import FtcError
    from ftc_office.ledger import Ledger
    from ftc_office.paths import tracker_id
    from ftc_office.planning import apply_stamps
    from ftc_office.run.identity import tracker_identity
    from ftc_office.run.plan import pending_stamps

    try:
        with Ledger.open(folder, settings) as ledger:
            for tr in ws.trackers:
                found = tracker_identity(tr.source.path, create=False)
                if found:
                    ledger.identities[tracker_id(tr.source.path)] = found
            pending = pending_stamps(ledger, ws)
    except FtcError as exc:  # the plan still shows the trackers, as they are
        return ws, [f"{exc.where}: {exc.what}; this plan shows the trackers without what "
                    f"the ledger recorded — {exc.fix}"]
    return apply_stamps(ws, pending.stamps), pending.notices()

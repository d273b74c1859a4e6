"""One simulation behind `preview`, the dry run and the run: what you preview is what is sent.

The simulation *is* a run — the same runner, passes, cascade (a last follow-up making
disengagement due in the same run), ledger rules and write-back — carried out on copies:

- the trackers are copied into a temporary folder, and the write-back stamps the copies;
  the cells that changed (old → new) are what the real run would change;
- the ledger is a snapshot of the real one (so what was sent before is skipped exactly as
  the real run skips it), with its tracker names pointed at the copies;
- the backend writes each message as the outbox would (same bytes, same file names) into a
  folder, and answers what the real backend would answer: *drafted* for outbox drafts and
  Outlook's draft mode (no cascade, nothing stamped), *sent* otherwise.

Nothing is sent, nothing in the real ledger or trackers changes. Not simulated: the look-up
at the provider of messages left in doubt by an earlier crash (the real run asks the
provider first; the simulation reports them as in doubt).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

from ftc_office.backends.base import DeliveryResult, PreparedHook, Status
from ftc_office.backends.outbox import OutboxBackend
from ftc_office.backends.wire import wire_date
from ftc_office.config import Settings
from ftc_office.jobs import Job
from ftc_office.ledger import Ledger
from ftc_office.ledger.entry import FIELDS
from ftc_office.ledger.sqlite import SqliteLedger
from ftc_office.message import OutgoingMessage
from ftc_office.paths import tracker_id
from ftc_office.run.cells import CellChange, changed_cells
from ftc_office.run.identity import tracker_identity
from ftc_office.run.report import RunOptions, RunReport
from ftc_office.run.runner import Runner


class SimulatedBackend(OutboxBackend):
    """Writes each message as the outbox would into ``folder`` and answers as the real
    backend ``name`` would (``done``); nothing leaves the machine."""

    def __init__(self, folder: Path, mode: str, name: str, done: Status) -> None:
        super().__init__(folder, "drafts" if mode == "drafts" else "pickup")
        self.name = name
        self.done = done
        self.date: str | None = None  # a fixed Date header, for byte-for-byte comparisons

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        """Write the message's file; the real backend's answer."""
        target = self.path_for(message)
        self.open()
        target.write_bytes(self.file_bytes(message, self.date or wire_date()))
        return DeliveryResult(message.key, self.done, provider_id=str(target))


def real_outcome(settings: Settings, backend: str) -> Status:
    """What the real backend answers for a delivered message."""
    if backend == "outbox":
        return Status.DRAFTED if settings.delivery.outbox_mode == "drafts" else Status.SENT
    if backend == "o365" and settings.delivery.o365.mode == "draft":
        return Status.DRAFTED
    return Status.SENT


@dataclass
class Simulation:
    """What the run would do: its report, the messages (as files in ``outbox``), the jobs it
    would carry out, and every cell it would change."""

    report: RunReport
    outbox: Path
    jobs: list[Job] = field(default_factory=list)
    changes: list[CellChange] = field(default_factory=list)


@contextmanager
def simulate(paths: Sequence[Path], settings: Settings, options: RunOptions, backend: str,
             *, outbox: Path | None = None, data: Path | None = None,
             date: str | None = None) -> Iterator[Simulation]:
    """Carry out the run on copies (see the module doc); the copies live while the context
    is open. ``outbox`` keeps the message files (default: a temporary folder)."""
    with tempfile.TemporaryDirectory(prefix="ftc-sim-") as tmp:
        root = Path(tmp)
        copies = _copy_trackers(paths, root / "trackers")
        ledger = _ledger_snapshot(data or settings.data_folder(), settings, root / "data",
                                  dict(zip(paths, copies, strict=True)))
        folder = outbox or root / "outbox"
        sim = SimulatedBackend(folder, settings.delivery.outbox_mode, backend,
                               real_outcome(settings, backend))
        sim.date = date
        jobs: list[Job] = []
        try:
            runner = Runner(settings, ledger, sim, replace(options, dry_run=False,
                                                           simulate=True),
                            data=root / "data", observe=jobs.append)
            report = runner.run(copies)
        finally:
            ledger.close()
        report.dry_run = True
        _name_originals(report, dict(zip(copies, paths, strict=True)))
        changes = [change for p, copy in zip(paths, copies, strict=True)
                   for change in changed_cells(p, copy)]
        yield Simulation(report, folder, jobs, changes)


def _name_originals(report: RunReport, originals: dict[Path, Path]) -> None:
    """Every place and message in the report names the real tracker, not its copy."""
    def fix(text: str) -> str:
        for copy, real in originals.items():
            text = text.replace(str(copy), str(real))
        return text

    for out in report.tenants.values():
        out.tracker = fix(out.tracker)
        out.problems = [fix(p) for p in out.problems]
        out.actions = [fix(a) for a in out.actions]
    report.errors = [fix(e) for e in report.errors]
    report.notices = [fix(n) for n in report.notices]
    for wb in report.writebacks:
        wb.tracker = fix(wb.tracker)


def _copy_trackers(paths: Sequence[Path], folder: Path) -> list[Path]:
    """A copy of each tracker, under its own name (numbered folders keep names apart)."""
    out = []
    for n, p in enumerate(paths):
        target = folder / str(n) / p.name
        target.parent.mkdir(parents=True, exist_ok=True)
        if p.is_file():
            shutil.copyfile(p, target)
        out.append(target)
    return out


def _ledger_snapshot(data: Path, settings: Settings, folder: Path,
                     renamed: dict[Path, Path]) -> Ledger:
    """A private SQLite copy of the configured ledger (personal or shared), taken now, whose
    tracker names point at the copies (the copies written to as well, and each copy knows
    its workbook's ID): the simulation skips and re-stamps exactly what the run would."""
    keys = {tracker_id(old): tracker_id(new) for old, new in renamed.items()}
    with Ledger.open(data, settings) as real:  # opens (and migrates) it like a run would
        rows = [dict(r) for r in real._read("SELECT * FROM jobs")]
        marks = ",".join("?" * len(keys)) or "NULL"
        written = [dict(r) for r in real._read(
            f"SELECT * FROM copies_written WHERE copy_path IN ({marks})", tuple(keys))]
    names = [(json.dumps(old)[1:-1], json.dumps(new)[1:-1]) for old, new in keys.items()]
    folder.mkdir(parents=True, exist_ok=True)
    copy = SqliteLedger(folder / "ledger.sqlite3")
    with copy._tx() as db:
        for row in rows:
            job = {k: v for k, v in row.items() if k in FIELDS}
            for old, new in names:
                for k in ("trackers", "stamps"):
                    job[k] = str(job[k]).replace(old, new)
            cols = list(job)
            db.execute(f"INSERT INTO jobs({', '.join(cols)}) VALUES "
                       f"({','.join('?' * len(cols))})", [job[c] for c in cols])
        for w in written:
            db.execute("INSERT INTO copies_written(key, copy_path, at) VALUES (?,?,?)",
                       (w["key"], keys[w["copy_path"]], w["at"]))
    for path in renamed.values():
        if (uid := tracker_identity(path, create=False)) is not None:
            copy.identities[tracker_id(path)] = uid
    return copy

"""The library entry point: one `RunRequest` in, one `RunReport` out.

The CLI's `run`, `send` and `demo` are a few lines over `run`; a script can call it too::

    from ftc_office.config import load_settings
    from ftc_office.run.api import RunRequest, run

    report = run(RunRequest(("tracker.xlsx",), as_of=dt.date(2026, 11, 26), dry_run=False,
                            yes=True), load_settings())
    print(report.sent, report.failed)
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

from ftc_office.backends.base import Backend
from ftc_office.backends.registry import make_backend
from ftc_office.config import Settings
from ftc_office.errors import UsageError
from ftc_office.mailers import load_mailers, mail_kinds
from ftc_office.planning import require_tenant
from ftc_office.run.execute import Confirm, Progress
from ftc_office.run.files import check_trackers
from ftc_office.run.locks import locked_ledger
from ftc_office.run.report import RunOptions, RunReport
from ftc_office.run.runner import Runner
from ftc_office.run.simulate import simulate
from ftc_office.run.testsend import TestSendReport, check_test_address, send_test_copies
from ftc_office.tracker.locate import expand_paths


@dataclass(frozen=True)
class RunRequest:
    """Everything a run is asked to do (the options of `ftc-office run`)."""

    trackers: Sequence[str | Path]  # files or globs (expanded here, on Windows too)
    as_of: dt.date
    backend: str | None = None  # None: delivery.backend from the config
    dry_run: bool = True
    limit: int | None = None
    tenant: str | None = None
    fm: str | None = None
    yes: bool = False  # do not ask before the first real send
    per_tenant: bool = False
    outbox: Path | None = None  # folder for .eml files (outbox backend)
    # "drafts" | "pickup" (default: delivery.outbox_mode)
    outbox_mode: Literal["drafts", "pickup"] | None = None
    report_path: Path | None = None  # write the JSON report here
    force: bool = False
    mail_only: bool = False  # `send`: only the kinds whose mailer sends a message
    data_dir: Path | None = None  # ledger, locks, backups (default: Settings.data_folder())

    def options(self, settings: Settings) -> RunOptions:
        """The runner's options for this request."""
        kinds = mail_kinds(load_mailers(settings)) if self.mail_only else None
        return RunOptions(as_of=self.as_of, dry_run=self.dry_run, limit=self.limit,
                          tenant=self.tenant, fm=self.fm, per_tenant=self.per_tenant,
                          kinds=kinds, force=self.force)


def run(request: RunRequest, settings: Settings, *, progress: Progress | None = None,
        confirm: Confirm | None = None) -> RunReport:
    """Carry out one run and return its report.

    ``confirm(n)`` is asked once before the first real send (not for the outbox backend, nor
    with ``yes``); answering False is an outcome (``report.declined``), not an error. Without
    ``confirm`` a real send that needs confirming is refused with a UsageError.
    ``progress(done, total, what)`` is called before each job of a real run.
    """
    paths = expand_paths([str(t) for t in request.trackers])
    if request.outbox_mode:
        settings = replace(settings, delivery=replace(settings.delivery,
                                                      outbox_mode=request.outbox_mode))
    data = request.data_dir or settings.data_folder()
    # a tracker a real run could not write back is refused before anything is sent
    files = check_trackers(paths, dry_run=request.dry_run, force=request.force)
    if request.dry_run:  # the very run, carried out on copies: what it says is what happens
        report = _simulated(request, files.usable, settings, data)
    else:
        report = _real(request, files.usable, settings, data, progress, confirm)
    report.errors[:0] = files.refused
    report.notices[:0] = files.warnings
    require_tenant(request.tenant, bool(report.tenants or files.refused))
    if request.report_path:
        request.report_path.write_text(json.dumps(report.to_json(), indent=2, default=str),
                                       encoding="utf-8")
    return report


def run_test(request: RunRequest, address: str, settings: Settings) -> TestSendReport:
    """``--test-to``: a test copy of each message the run would send, to ``address`` through
    the configured backend; nothing recorded, nothing stamped (ftc_office.run.testsend)."""
    paths = expand_paths([str(t) for t in request.trackers])
    if request.outbox_mode:
        settings = replace(settings, delivery=replace(settings.delivery,
                                                      outbox_mode=request.outbox_mode))
    data = request.data_dir or settings.data_folder()
    check_test_address(address, settings)
    backend = make_backend(settings, request.backend, request.outbox, data)
    return send_test_copies(paths, settings, request.options(settings), backend, address,
                            data=data, limit=request.limit)


def _simulated(request: RunRequest, paths: Sequence[Path], settings: Settings, data: Path
               ) -> RunReport:
    """The dry run: the simulation of the run (ftc_office.run.simulate)."""
    name = (request.backend or settings.delivery.backend).strip().lower()
    with simulate(paths, settings, request.options(settings), name, data=data) as sim:
        sim.report.changes = sim.changes
        return sim.report


def _real(request: RunRequest, paths: Sequence[Path], settings: Settings, data: Path,
          progress: Progress | None, confirm: Confirm | None) -> RunReport:
    """The real run: locks, the backend, the runner."""
    backend = make_backend(settings, request.backend, request.outbox, data)
    ask = None if request.yes or backend.name == "outbox" else (confirm or _nobody(backend))
    with ExitStack() as stack:
        ledger = stack.enter_context(locked_ledger(paths, data, settings))
        backend.open()
        stack.callback(backend.close)
        runner = Runner(settings, ledger, backend, request.options(settings), progress=progress,
                        confirm=ask, data=data)
        report = runner.run(paths)
    if backend.name == "outbox":
        report.outbox = str(getattr(backend, "folder", ""))
        report.outbox_mode = settings.delivery.outbox_mode
    return report


def _nobody(backend: Backend) -> Confirm:
    """The answer when nobody can be asked: refuse, and say how to confirm in a script."""
    def refuse(n: int) -> bool:
        raise UsageError("--no-dry-run", f"{n} due tenant(s) would send messages through "
                         f"{backend.name} and nobody can confirm",
                         "add --yes to confirm in scripts")
    return refuse

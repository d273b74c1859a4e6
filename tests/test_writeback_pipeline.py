"""Write-back after real runs: fidelity on the sample tracker, matching rows by Tenant ID,
and every way a shared workbook can be in the way (Excel's owner file, read-only, a formula,
deleted mid-run, a colleague's value).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import stat
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from builders import make_tracker, row
from openpyxl import load_workbook
from python_calamine import CalamineWorkbook
from runhelpers import Delegating, at, emls, ftc, header_map, rows, run, set_cells

from ftc_office.backends.base import DeliveryResult, PreparedHook
from ftc_office.backends.memory import MemoryBackend
from ftc_office.backends.outbox import OutboxBackend
from ftc_office.config import load_settings
from ftc_office.ledger import Ledger
from ftc_office.message import OutgoingMessage
from ftc_office.paths import data_dir
from ftc_office.run.report import RunOptions
from ftc_office.run.runner import Runner

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "tracker.xlsx"
CHANGED_PARTS = {"xl/worksheets/sheet1.xml", "xl/styles.xml", "xl/workbook.xml",
                 "xl/tables/table1.xml",  # and for the new Notes sheet:
                 "xl/_rels/workbook.xml.rels", "[Content_Types].xml"}


@pytest.fixture
def sample(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    target = tmp_path / "tracker.xlsx"
    shutil.copyfile(SAMPLE, target)
    return target


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {i.filename: z.read(i) for i in z.infolist()}


def expected_cells(ledger: Ledger, tracker: Path) -> dict[tuple[str, str, str], object]:
    """(tenant, workload, header) → the value the newest finished job stamped on that row
    (a tenant-level stamp lands on every row of the tenant)."""
    from ftc_office.fields import FIELDS

    order = {e["key"]: i for i, e in enumerate(ledger.events())
             if e["event"] in ("sent", "done", "reconciled_sent")}
    sheet_rows = list(rows(tracker))
    out: dict[tuple[str, str, str], object] = {}
    entries = [e for e in ledger.entries(("sent", "done")) if str(tracker) in e.trackers]
    for e in sorted(entries, key=lambda e: order[e.key]):
        for s in e.stamps:
            value = dt.datetime.fromisoformat(s["value"]) if s["is_date"] else s["value"]
            targets = [(t, w) for t, w in sheet_rows if t.casefold() == s["tenant_id"].casefold()
                       and (s["workload"] is None or w == s["workload"])]
            assert targets, s
            for t, w in targets:
                out[(t, w, FIELDS[s["field"]].header)] = value
    return out


def test_sample_run_changes_only_the_tracker_parts_and_stamps_what_the_ledger_says(
        sample: Path, tmp_path: Path) -> None:
    before = members(sample)
    result = run(sample, "2026-11-26", tmp_path / "outbox")
    assert result.exit_code == 1, result.output  # the sample's invalid tenants, nothing else
    assert "4 invalid tenant(s); 0 error(s)" in result.stdout
    after = members(sample)
    # + the Notes sheet, its table and relationships; order kept
    assert list(after) == [*before, "xl/worksheets/sheet3.xml", "xl/tables/table2.xml",
                           "xl/worksheets/_rels/sheet3.xml.rels"]
    for name, data in before.items():
        if name not in CHANGED_PARTS:
            assert after[name] == data, f"{name} changed"
    assert after["xl/worksheets/sheet1.xml"] != before["xl/worksheets/sheet1.xml"]
    # what is in the cells is what the ledger says was stamped, read by two other readers
    ledger = Ledger.open()
    try:
        wanted = expected_cells(ledger, sample)
    finally:
        ledger.close()
    assert len(wanted) > 200
    by_row = rows(sample)
    for (tid, wl, header), value in wanted.items():
        got = by_row[(tid, wl)][header]
        assert got == value, (tid, wl, header)
        if isinstance(value, dt.datetime):
            assert isinstance(got, dt.datetime)
    cal = CalamineWorkbook.from_path(str(sample)).get_sheet_by_name("Tracker").to_python()
    assert len(cal) > 60
    wb = load_workbook(sample)  # the chart sheet and the table survive
    assert wb.sheetnames == [*load_workbook(SAMPLE).sheetnames, "Notes"]
    assert list(wb["Tracker"].tables) == list(load_workbook(SAMPLE)["Tracker"].tables)
    # backups of the file as it was before each write, in the data folder
    backups = sorted((data_dir() / "backups").glob("tracker.*.xlsx"))
    assert len(backups) == len(result.stderr.split("; backup ")) - 1 >= 1
    assert backups[0].read_bytes() == SAMPLE.read_bytes()


def test_rows_are_matched_by_tenant_id_after_a_colleague_sorted_them(tmp_path: Path,
                                                                     monkeypatch:
                                                                     pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx",
                           [row(f"t-{i}", "Teams", account_team=f"ann{i}@microsoft.com")
                            for i in range(1, 6)])
    owner = tmp_path / "~$tracker.xlsx"
    outbox = tmp_path / "outbox"
    # a colleague opens the workbook in Excel while the run sends (a run refuses one that is
    # open before its first send): sent, but not written
    backend = Meanwhile(OutboxBackend(outbox, "pickup"),
                        lambda: owner.write_bytes(bytes([11]) + b"Anna Keller" + b" " * 43))
    ledger = Ledger.open()
    try:
        report = Runner(load_settings(None), ledger, backend,
                        RunOptions(as_of=dt.date(2026, 11, 26), dry_run=False)).run([tracker])
    finally:
        ledger.close()
    assert report.failed
    assert len(emls(outbox)) == 5
    assert any("the workbook is open in Excel by Anna Keller (~$tracker.xlsx exists)" in e
               for e in report.errors)
    assert not any(c["ATU Sent"] for c in rows(tracker).values())
    refused = ftc("writeback", str(tracker))
    assert refused.exit_code == 1 and "open in Excel by Anna Keller" in refused.stderr
    # meanwhile the colleague sorts the rows (Z→A), saves and closes Excel
    wb = load_workbook(tracker)
    ws = wb["Tracker"]
    _hr, cols = header_map(tracker)
    data = [[c.value for c in r] for r in ws.iter_rows(min_row=2, max_row=6)]
    for r, values in enumerate(reversed(data), 2):
        for c, v in enumerate(values, 1):
            ws.cell(row=r, column=c).value = v
    wb.save(tracker)
    owner.unlink()
    assert load_workbook(tracker)["Tracker"].cell(row=2, column=cols["Tenant ID"]).value == "t-5"
    wrote = ftc("writeback", str(tracker))
    assert wrote.exit_code == 0, wrote.output
    assert "10 cell(s) written for 5 recorded step(s)" in wrote.stdout
    for (tid, _wl), cells in rows(tracker).items():
        assert cells["ATU Sent"] == at("2026-11-26")
        # each note names its own tenant's account team: it landed on its own row
        assert f"(ann{tid[2:]}@microsoft.com)" in cells["Engagement Note"]


def test_owner_file_refuses_until_force(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1", "Teams")])
    (tmp_path / "~$tracker.xlsx").write_bytes(bytes([9]) + b"Jo Bloggs" + b" " * 45)
    before = tracker.read_bytes()
    outbox = tmp_path / "outbox"
    first = run(tracker, "2026-11-26", outbox)
    assert first.exit_code == 1
    assert "open in Excel by Jo Bloggs" in first.stdout
    assert "nothing was sent for its tenants" in first.stdout
    assert "--force if the owner file is stale" in first.stdout
    assert emls(outbox) == {}  # refused before the first send
    assert tracker.read_bytes() == before
    forced = run(tracker, "2026-11-26", outbox, "--force")
    assert forced.exit_code == 0, forced.output
    assert len(emls(outbox)) == 1
    assert rows(tracker)[("t-1", "Teams")]["ATU Sent"] == at("2026-11-26")
    again = run(tracker, "2026-11-26", outbox, "--force")
    assert again.exit_code == 0 and len(emls(outbox)) == 1  # nothing sent twice


def test_read_only_tracker_is_refused_before_sending(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1", "Teams"), row("t-2", "Teams")])
    tracker.chmod(0o444)
    before = tracker.read_bytes()
    outbox = tmp_path / "outbox"
    result = run(tracker, "2026-11-26", outbox)
    assert result.exit_code == 1
    assert (f"error: {tracker}: the workbook is read-only — nothing was sent for its tenants; "
            "make it writable (Properties → clear Read-only), then run the same command "
            "again\n") in result.stdout
    assert emls(outbox) == {}
    assert tracker.read_bytes() == before
    assert stat.S_IMODE(tracker.stat().st_mode) == 0o444
    tracker.chmod(0o644)
    assert run(tracker, "2026-11-26", outbox).exit_code == 0
    assert len(emls(outbox)) == 2


def test_read_only_mid_run_clear_message_ledger_right_later_writeback_succeeds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1", "Teams"), row("t-2", "Teams")])
    outbox = tmp_path / "outbox"
    before = tracker.read_bytes()
    backend = Meanwhile(OutboxBackend(outbox, "pickup"), lambda: tracker.chmod(0o444))
    ledger = Ledger.open()
    try:
        report = Runner(load_settings(None), ledger, backend,
                        RunOptions(as_of=dt.date(2026, 11, 26), dry_run=False)).run([tracker])
        assert report.failed and report.sent == 2
        assert any("read-only" in e and "nothing was lost" in e for e in report.errors)
        assert [(e.state, e.written_at) for e in ledger.entries(None)] == [("sent", None)] * 2
    finally:
        ledger.close()
    assert tracker.read_bytes() == before
    assert stat.S_IMODE(tracker.stat().st_mode) == 0o444
    rerun = run(tracker, "2026-11-26", outbox)
    assert rerun.exit_code == 1 and len(emls(outbox)) == 2  # refused; nothing sent again
    tracker.chmod(0o644)
    wrote = ftc("writeback", str(tracker))
    assert wrote.exit_code == 0, wrote.output
    assert "4 cell(s) written for 2 recorded step(s)" in wrote.stdout
    assert all(c["ATU Sent"] == at("2026-11-26") for c in rows(tracker).values())


def test_formula_in_an_output_cell_is_refused_and_the_other_rows_are_still_stamped(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        row("t-1", "Teams", engagement_note="=CONCAT(\"see \", B2)"), row("t-2", "Teams")])
    outbox = tmp_path / "outbox"
    result = run(tracker, "2026-11-26", outbox)
    assert result.exit_code == 1, result.output
    assert len(emls(outbox)) == 2
    assert "Tracker!Z2: the cell holds a formula" in result.stdout
    cells = rows(tracker)
    # the formula is kept; the row's other stamp and the other tenant are written
    assert cells[("t-1", "Teams")]["Engagement Note"] == "=CONCAT(\"see \", B2)"
    assert cells[("t-1", "Teams")]["ATU Sent"] == at("2026-11-26")
    assert cells[("t-2", "Teams")]["ATU Sent"] == at("2026-11-26")
    assert cells[("t-2", "Teams")]["Engagement Note"].startswith("2026-11-26")
    # after the person clears the formula, a writeback finishes the job
    set_cells(tracker, {("t-1", "Teams"): {"Engagement Note": None}})
    wrote = ftc("writeback", str(tracker))
    assert wrote.exit_code == 0, wrote.output
    assert rows(tracker)[("t-1", "Teams")]["Engagement Note"].startswith("2026-11-26")
    assert len(emls(outbox)) == 2


class Meanwhile(Delegating):
    """A real backend; someone does ``action`` (opens the tracker in Excel, marks it
    read-only) while the first message is being delivered."""

    def __init__(self, inner: Any, action: Callable[[], object]) -> None:
        self.inner, self.action, self.name = inner, action, inner.name
        self.done = False

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        if not self.done:
            self.done = True
            self.action()
        return self.inner.deliver(message, prepared)


@dataclass
class DeleteDuring(Delegating):
    """A backend that delivers into memory and deletes the tracker during the first call."""

    tracker: Path
    inner: MemoryBackend = field(default_factory=MemoryBackend)
    name: str = "memory"

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        if self.tracker.exists():
            shutil.move(self.tracker, self.tracker.with_suffix(".moved"))
        return self.inner.deliver(message, prepared)


def test_tracker_deleted_mid_run_is_a_clear_message_and_nothing_is_lost(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [row("t-1", "Teams"), row("t-2", "Teams")])
    backend = DeleteDuring(tracker)
    ledger = Ledger.open()
    try:
        report = Runner(load_settings(None), ledger, backend,
                        RunOptions(as_of=dt.date(2026, 11, 26), dry_run=False)).run([tracker])
        assert report.sent == 2
        assert report.failed
        assert f"{tracker}: file not found — check the path (quote it if it has spaces)" in \
            report.errors
        assert [(e.state, e.written_at) for e in ledger.entries(None)] == [("sent", None)] * 2
    finally:
        ledger.close()
    shutil.move(tracker.with_suffix(".moved"), tracker)
    wrote = ftc("writeback", str(tracker))
    assert wrote.exit_code == 0, wrote.output
    assert all(c["ATU Sent"] == at("2026-11-26") for c in rows(tracker).values())


def test_a_date_someone_else_filled_is_a_conflict_and_kept(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        row("t-1", "Teams", atu_sent=dt.date(2026, 10, 1), discussion_date=dt.date(2026, 10, 8),
            customer_email_sent=dt.date(2026, 10, 9), task_4058=dt.date(2026, 11, 20)),
    ])
    outbox = tmp_path / "outbox"
    report_path = tmp_path / "run.json"
    result = run(tracker, "2026-11-26", outbox, "--report", str(report_path))
    assert len(emls(outbox)) == 1  # the queue move goes out
    cells = rows(tracker)[("t-1", "Teams")]
    assert cells["Task 4058 Complete"] == at("2026-11-20")  # the colleague's value stays
    assert cells["Queue Requested"] == at("2026-11-26")
    assert cells["Next Action Date"] == at("2027-12-31")
    conflict = ("Tracker!S2: holds '2026-11-20', someone else's value; ftc-office wanted "
                "'2026-11-26' — left as is")
    import json

    data = json.loads(report_path.read_text("utf-8"))
    assert any(conflict in c for w in data["writebacks"] for c in w["conflicts"])
    assert conflict in result.output  # the person running it is told, not only the JSON
    assert result.exit_code == 1
    # reported once; the job is recorded as written, so a rerun is quiet
    again = run(tracker, "2026-11-26", outbox)
    assert again.exit_code == 0, again.output
    assert os.path.getsize(tracker) > 0

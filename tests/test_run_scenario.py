"""End to end: `ftc-office run` over several simulated days with the outbox backend.

A person edits the tracker between days (openpyxl writes into the test's copy, as Excel
would); the toolkit runs through click's CliRunner exactly as typed at a prompt. After each
day the test reads back the workbook cells, the .eml files and `ftc-office status`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from builders import DEFAULT_COLUMNS, make_tracker, row
from fakegraph import FakeGraph, seed_token_cache
from fakegraph import fake_graph_fixture as fake_graph_fixture  # the fixture
from python_calamine import CalamineWorkbook
from runhelpers import addresses, at, attachment, emls, ftc, rows, run, set_cells, xlsx_rows

from ftc_office.backends.o365_auth import SecureFileTokenBackend, token_cache_path

FM = "fm.one@microsoft.com"
ANN = "ann@microsoft.com"
NAD = dt.datetime(2027, 12, 31)  # 12/31 of the year after every run date below
DISENGAGED = "Disengaged - pending queue move"
CLOSED = "Closed - moved to inactive queue"
MULTI = ("Exchange Online", "Teams", "SharePoint Online")
COLUMNS = (*DEFAULT_COLUMNS, "service_status_next")
O365_CLIENT = "11111111-2222-3333-4444-555555555555"


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Four tenants at different steps, one with three workloads; title rows and a table."""
    monkeypatch.chdir(tmp_path)  # no stray ./ftc-office.toml
    return make_tracker(tmp_path / "tracker.xlsx", [
        row("t-single", "Teams", customer="Alpine Ski House", region="EMEA",
            customer_contacts="it@alpine.example", service_status_next="Migration"),
        *(row("t-multi", w, customer="Northwind", region="AMER", seats=800, active_users=80,
              account_team="bob@microsoft.com; ann@microsoft.com",
              customer_contacts="ops@northwind.example") for w in MULTI),
        row("t-noteam", "Intune", customer="Fourth Coffee", region="APAC", account_team=None,
            customer_contacts="owner@fourthcoffee.example"),
        row("t-small", "Teams", customer="Tiny Co", seats=2000, active_users=50),
    ], header_row=3, table=True, columns=COLUMNS)


def status_lines() -> list[str]:
    result = ftc("status")
    assert result.exit_code == 0, result.output
    return [ln.strip() for ln in result.stdout.splitlines()[1:]]


def rerun_changes_nothing(tracker: Path, day: str, outbox: Path) -> None:
    before_files = sorted(p.name for p in outbox.glob("*.eml"))
    before_bytes = tracker.read_bytes()
    again = run(tracker, day, outbox)
    assert again.exit_code == 0, again.output
    assert "sent 0 message(s); 0 note-only step(s)" in again.stdout
    assert sorted(p.name for p in outbox.glob("*.eml")) == before_files
    assert tracker.read_bytes() == before_bytes


def test_four_days_from_atu_to_unassigned_fm(tracker: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"

    # ---- day 1: one ATU per eligible tenant covering its workloads, a note for the unknown
    # team
    day1 = run(tracker, "2026-11-02", outbox)
    assert day1.exit_code == 0, day1.output
    assert "sent 2 message(s); 1 note-only step(s); 0 unknown; 0 error(s)" in day1.stdout
    mails = emls(outbox)
    assert len(mails) == 2
    assert all(n.startswith("atu.") for n in mails)
    multi = [m for n, m in mails.items() if ".t-multi." in n]
    assert len(multi) == 1  # three workloads due together: one message, one brief
    assert all(w in str(multi[0]["Subject"]) for w in ("Exchange Online", "Teams"))
    for m in multi:
        assert addresses(m, "To") == ["bob@microsoft.com", ANN]
        assert addresses(m, "Cc") == [FM]
    single = [m for n, m in mails.items() if ".t-single." in n]
    assert [addresses(m, "To") for m in single] == [[ANN]]
    cells = rows(tracker)
    for w in MULTI:
        assert cells[("t-multi", w)]["ATU Sent"] == at("2026-11-02")
        assert isinstance(cells[("t-multi", w)]["ATU Sent"], dt.datetime)
        assert cells[("t-multi", w)]["Engagement Note"].startswith("2026-11-02")
        assert w in cells[("t-multi", w)]["Engagement Note"]
    assert cells[("t-single", "Teams")]["ATU Sent"] == at("2026-11-02")
    noteam = cells[("t-noteam", "Intune")]
    assert noteam["ATU Status"] == ("No ATU (2026-11-02): the Microsoft account team is not "
                                    "known")
    assert noteam["ATU Sent"] is None  # a date column holds only dates
    assert "ATU email not sent" in noteam["Engagement Note"]
    assert "FAQ was reviewed" in noteam["Engagement Note"]
    assert cells[("t-small", "Teams")]["ATU Sent"] is None
    assert cells[("t-small", "Teams")]["Engagement Note"] is None
    assert status_lines() == ["sent     2", "done     1"]
    rerun_changes_nothing(tracker, "2026-11-02", outbox)

    # ---- between days: the FM records the completion discussions (not SharePoint yet)
    discussed = {"Discussion Date": dt.date(2026, 11, 6)}
    set_cells(tracker, {
        ("t-single", "Teams"): {**discussed, "Ready For Workloads": "Intune",
                                "RFA Form Demoed": "yes"},
        ("t-multi", "Exchange Online"): {**discussed, "RFA Form Demoed": "no"},
        ("t-multi", "Teams"): discussed,
        ("t-noteam", "Intune"): discussed,
    })

    # ---- day 2: follow-ups per discussed workload; disengagement only when all are done
    day2 = run(tracker, "2026-11-10", outbox)
    assert day2.exit_code == 0, day2.output
    new = {n: m for n, m in emls(outbox).items() if n not in mails}
    follow = {n: m for n, m in new.items() if n.startswith("customer_followup.")}
    moves = {n: m for n, m in new.items() if n.startswith("queue_move.")}
    assert len(follow) == 3 and len(moves) == 2 and len(new) == 5
    assert sorted(addresses(m, "To")[0] for m in follow.values()) == [
        "it@alpine.example", "ops@northwind.example", "owner@fourthcoffee.example"]
    assert all(addresses(m, "Cc") == [FM] for m in follow.values())
    assert {str(m["Subject"]).split(" – ")[0] for m in moves.values()} == {
        "[FTC Queue Move] FTCQ Inactive EMEA", "[FTC Queue Move] FTCQ Inactive APJ"}
    assert all(addresses(m, "To") == ["ftc-assignment@microsoft.com"] for m in moves.values())
    cells = rows(tracker)
    assert cells[("t-multi", "Exchange Online")]["Customer Email Sent"] == at("2026-11-10")
    assert cells[("t-multi", "Teams")]["Customer Email Sent"] == at("2026-11-10")
    assert cells[("t-multi", "SharePoint Online")]["Customer Email Sent"] is None
    for w in MULTI:  # not disengaged: its last workload is still open
        assert cells[("t-multi", w)]["Task 4058 Complete"] is None
        assert cells[("t-multi", w)]["Queue Requested"] is None
    for tid, wl, queue in (("t-single", "Teams", "FTCQ Inactive EMEA"),
                           ("t-noteam", "Intune", "FTCQ Inactive APJ")):
        c = cells[(tid, wl)]
        assert c["Customer Email Sent"] == at("2026-11-10")
        assert c["Task 4058 Complete"] == at("2026-11-10")
        assert c["Queue Requested"] == at("2026-11-10")
        assert c["Target Queue"] == queue
        assert c["Next Action Date"] == NAD and isinstance(c["Next Action Date"], dt.datetime)
        assert c["FTOP Status"] == DISENGAGED
        assert queue in c["Engagement Note"]
    assert status_lines() == ["sent     7", "done     1"]
    rerun_changes_nothing(tracker, "2026-11-10", outbox)

    # ---- day 3: the last SharePoint discussion is recorded; its follow-up disengages t-multi
    set_cells(tracker, {("t-multi", "SharePoint Online"): {
        "Discussion Date": dt.date(2026, 11, 12), "Ready For Workloads": "Teams Phone"}})
    day3 = run(tracker, "2026-11-17", outbox)
    assert day3.exit_code == 0, day3.output
    before = set(mails) | set(new)
    new3 = {n: m for n, m in emls(outbox).items() if n not in before}
    assert sorted(n.split(".")[0] for n in new3) == ["customer_followup", "queue_move"]
    move3 = next(m for n, m in new3.items() if n.startswith("queue_move."))
    assert "FTCQ Inactive Americas – 1 tenant – 2026-11-17" in str(move3["Subject"])
    _name, data = attachment(move3, ".xlsx")
    assert [r["Tenant ID"] for r in xlsx_rows(data)] == ["t-multi"]
    cells = rows(tracker)
    for w in MULTI:  # tenant-level stamps land on every row of the tenant
        assert cells[("t-multi", w)]["Task 4058 Complete"] == at("2026-11-17")
        assert cells[("t-multi", w)]["Target Queue"] == "FTCQ Inactive Americas"
        assert cells[("t-multi", w)]["Next Action Date"] == NAD
    assert status_lines() == ["sent     9", "done     1"]
    rerun_changes_nothing(tracker, "2026-11-17", outbox)
    # later that day the assignment team confirms t-single's move
    confirmed = ftc("confirm-queue", str(tracker), "--tenant", "t-single", "--date",
                    "2026-11-17")
    assert confirmed.exit_code == 0, confirmed.output
    assert "queue move of t-single confirmed on 2026-11-17 (1 cell(s) written)" in \
        confirmed.stdout
    c = rows(tracker)[("t-single", "Teams")]
    assert c["Queue Confirmed"] == at("2026-11-17")
    assert c["FM Unassigned"] is None  # the next run unassigns, not confirm-queue
    assert status_lines() == ["sent     9", "done     2"]

    # ---- day 4: the confirmed tenant is closed: FM unassigned, final status, service
    n_files = len(emls(outbox))
    day4 = run(tracker, "2026-11-24", outbox)
    assert day4.exit_code == 0, day4.output
    assert "sent 0 message(s); 1 note-only step(s)" in day4.stdout
    assert len(emls(outbox)) == n_files
    c = rows(tracker)[("t-single", "Teams")]
    assert c["FM Unassigned"] == at("2026-11-24")
    assert c["FTOP Status"] == CLOSED
    assert c["Service Status"] == "Migration"
    assert rows(tracker)[("t-noteam", "Intune")]["FM Unassigned"] is None  # not confirmed
    assert status_lines()[0] == "sent     9"
    rerun_changes_nothing(tracker, "2026-11-24", outbox)
    # every other reader still opens it and sees the same dates
    wb = CalamineWorkbook.from_path(str(tracker))
    assert wb.sheet_names == ["Tracker", "Notes"]


def test_without_a_sender_each_fm_requests_their_own_moves(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        done_row("e-1", "EMEA"), done_row("e-2", "Europe", fm_email="fm.two@microsoft.com")])
    result = run(tracker, "2026-11-26", tmp_path / "outbox")
    assert result.exit_code == 0, result.output
    moves = [m for n, m in emls(tmp_path / "outbox").items() if n.startswith("queue_move.")]
    # every request has a From: its FM's (no guessed team sender, no missing header)
    assert sorted((addresses(m, "From")[0], xlsx_rows(attachment(m, ".xlsx")[1])[0]["Tenant ID"])
                  for m in moves) == [(FM, "e-1"), ("fm.two@microsoft.com", "e-2")]


def done_row(tid: str, region: str, workload: str = "Teams", **values: object) -> dict[str, object]:
    """A row whose ATU and customer follow-up are already done (disengagement due)."""
    return row(tid, workload, region=region, atu_sent=dt.date(2026, 10, 1),
               discussion_date=dt.date(2026, 10, 8), customer_email_sent=dt.date(2026, 10, 9),
               **values)


def test_queue_moves_list_exactly_the_tenants_disengaged_that_day_one_message_per_queue(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        done_row("e-1", "EMEA"),
        done_row("e-2", "Europe", fm_email="fm.two@microsoft.com"),
        done_row("a-1", "Americas"),
        # reaches disengagement in this same run, through its last follow-up
        done_row("e-3", "EMEA", "Exchange Online"),
        row("e-3", "Teams", region="EMEA", atu_sent=dt.date(2026, 10, 1),
            discussion_date=dt.date(2026, 11, 20)),
        # requested before: not again
        done_row("e-old", "EMEA", task_4058=dt.date(2026, 10, 20),
                 queue_requested=dt.date(2026, 10, 20), target_queue="FTCQ Inactive EMEA"),
        # still waiting for its discussion: not yet
        row("e-wait", "Teams", region="EMEA", atu_sent=dt.date(2026, 10, 1)),
    ])
    outbox = tmp_path / "outbox"
    # a team lead's sender: one request per queue, whichever FM holds its tenants
    (tmp_path / "ftc-office.toml").write_text('[mail]\nsender = "Team Lead <lead@microsoft.com>"'
                                             '\n', encoding="utf-8")
    result = run(tracker, "2026-11-26", outbox)
    assert result.exit_code == 0, result.output
    moves = {n: m for n, m in emls(outbox).items() if n.startswith("queue_move.")}
    assert len(moves) == 2
    by_queue = {}
    for m in moves.values():
        assert str(m["From"]) == "Team Lead <lead@microsoft.com>"
        name, data = attachment(m, ".xlsx")
        table = xlsx_rows(data)
        queues = {r["Target Queue"] for r in table}
        assert len(queues) == 1
        queue = queues.pop()
        assert name == f"Queue move - {queue} - 2026-11-26.xlsx"
        assert f"[FTC Queue Move] {queue} – {len(table)} tenant" in str(m["Subject"])
        assert addresses(m, "To") == ["ftc-assignment@microsoft.com"]
        html = m.get_body(("html",))
        assert html is not None
        for r in table:
            assert r["Tenant ID"] in html.get_content()
            assert r["Disengaged"] == at("2026-11-26")
            assert r["Next Action Date"] == at("2027-12-31")
        by_queue[queue] = sorted(r["Tenant ID"] for r in table)
    assert by_queue == {"FTCQ Inactive EMEA": ["e-1", "e-2", "e-3"],
                        "FTCQ Inactive Americas": ["a-1"]}
    emea = next(m for m in moves.values() if "EMEA" in str(m["Subject"]))
    assert sorted(addresses(emea, "Cc")) == [FM, "fm.two@microsoft.com"]
    cells = rows(tracker)
    assert cells[("e-old", "Teams")]["Queue Requested"] == at("2026-10-20")
    assert cells[("e-wait", "Teams")]["Queue Requested"] is None
    assert cells[("e-3", "Teams")]["Queue Requested"] == at("2026-11-26")


def test_report_json_failed_tenant_exit_1_others_still_go_out(tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        row("good", "Teams"),
        row("leaky", "Teams", account_team="partner@contoso.com"),
        row("waiting", "Teams", seats=5000, active_users=3),
    ])
    outbox = tmp_path / "outbox"
    report = tmp_path / "run.json"
    result = run(tracker, "2026-11-26", outbox, "--report", str(report))
    assert result.exit_code == 1, result.output
    # refused when the tracker is read, like check does (issue 21), not when composing
    assert "Account Team partner@contoso.com is outside the internal domains" in result.stdout
    assert [n.split(".")[1] for n in emls(outbox)] == ["good"]
    data = json.loads(report.read_text("utf-8"))
    assert data["as_of"] == "2026-11-26" and data["dry_run"] is False
    assert data["backend"] == "outbox" and data["messages_sent"] == 1
    tenants = {t["tenant_id"]: t for t in data["tenants"]}
    assert tenants["good"]["status"] == "done"
    assert tenants["good"]["step_before"] == "send_atu"
    assert tenants["good"]["step_after"] == "await_discussion"
    assert tenants["good"]["actions"] == [
        "wrote ATU for Teams to ann@microsoft.com (cc fm.one@microsoft.com)"]
    assert tenants["leaky"]["status"] == "skipped"
    assert "outside the internal domains" in tenants["leaky"]["problems"][0]
    assert tenants["waiting"]["status"] == "waiting"
    assert tenants["waiting"]["step_before"] == "not_eligible"
    assert data["writebacks"][0]["cells"] == 2
    cells = rows(tracker)
    assert cells[("good", "Teams")]["ATU Sent"] == at("2026-11-26")
    assert cells[("leaky", "Teams")]["ATU Sent"] is None
    # the failure is not recorded as done: fixing the address lets the next run send it
    set_cells(tracker, {("leaky", "Teams"): {"Account Team": "lee@microsoft.com"}})
    again = run(tracker, "2026-11-27", outbox)
    assert again.exit_code == 0, again.output
    assert sorted(n.split(".")[1] for n in emls(outbox)) == ["good", "leaky"]


def test_limit_sends_at_most_n_and_the_next_run_continues(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx",
                           [row("t-1", "Teams"), row("t-2", "Teams"), row("t-3", "Teams")])
    outbox = tmp_path / "outbox"
    first = run(tracker, "2026-11-26", outbox, "--limit", "1")
    assert first.exit_code == 0, first.output
    assert "sent 1 message(s)" in first.stdout and "--limit reached" in first.stdout
    assert len(emls(outbox)) == 1
    assert sum(1 for c in rows(tracker).values() if c["ATU Sent"]) == 1
    rest = run(tracker, "2026-11-26", outbox)
    assert rest.exit_code == 0, rest.output
    assert "sent 2 message(s)" in rest.stdout
    assert len(emls(outbox)) == 3
    assert all(c["ATU Sent"] == at("2026-11-26") for c in rows(tracker).values())


def test_dry_run_writes_nothing_sends_nothing_and_says_would(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    monkeypatch.chdir(tmp_path)
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        row("t-1", "Teams"), done_row("t-2", "EMEA"), row("t-3", "Teams", account_team=None)])
    before = tracker.read_bytes()
    outbox = tmp_path / "outbox"
    result = ftc("run", str(tracker), "--as-of", "2026-11-26", "--outbox", str(outbox),
                 "--outbox-mode", "pickup")
    assert result.exit_code == 0, result.output
    assert "would send ATU for Teams to ann@microsoft.com (cc fm.one@microsoft.com)" in \
        result.stdout
    assert ("would send queue-move request to FTCQ Inactive EMEA for 1 tenant(s) (set Next "
            "Action Date = 2027-12-31)") in result.stdout
    assert "would record a note instead of the ATU for Teams" in result.stdout
    assert "would send 2 message(s); 1 note-only step(s)" in result.stdout
    assert "dry run: nothing was sent or written" in result.stderr
    assert tracker.read_bytes() == before
    assert not outbox.exists()
    assert ftc("status").stdout.splitlines()[1:] == ["  (empty)"]


def test_shortened_scenario_through_outlook_against_the_fake_graph(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_graph: FakeGraph) -> None:
    """Day 1 ATUs, day 2 follow-ups and the queue move, with --backend o365: the real O365
    library talks HTTP to the fake Graph on 127.0.0.1; the token comes from the per-user
    cache file, as after `ftc-office auth login`."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ftc-office.toml").write_text(
        "[delivery.o365]\n"
        f'client_id = "{O365_CLIENT}"\ngraph_url = "{fake_graph.url}"\ntimeout = 5.0\n'
        "max_per_minute = 10000\n"
        f'[people]\n"{ANN}" = "Ann Lee"\n', encoding="utf-8")
    cache = SecureFileTokenBackend(token_cache_path())
    seed_token_cache(cache, None, client_id=O365_CLIENT, scopes=["Mail.ReadWrite", "Mail.Send",
                     "User.Read"], expires_in=10 * 86400, access_token="seed-at",
                     refresh_token="seed-rt")
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        row("t-1", "Teams", customer_contacts="it@alpine.example"),
        row("t-1", "Intune", customer_contacts="it@alpine.example")], header_row=2, table=True)

    def o365(day: str) -> None:
        result = ftc("run", str(tracker), "--as-of", day, "--no-dry-run",
                     "--outbox-mode", "pickup", "--yes",
                     "--backend", "o365")
        assert result.exit_code == 0, result.output
        assert "sent " in result.stdout

    o365("2026-11-02")
    # both workloads due together: one ATU
    assert sorted(m.recipients() for m in fake_graph.sent) == [[ANN, FM]]
    # the name from [people] reaches Graph's emailAddress (what Outlook shows)
    assert fake_graph.sent[0].data["toRecipients"] == [
        {"emailAddress": {"address": ANN, "name": "Ann Lee"}}]
    assert all(not m.is_draft for m in fake_graph.sent)
    assert all(c["ATU Sent"] == at("2026-11-02") for c in rows(tracker).values())
    o365("2026-11-02")  # rerun: nothing new
    assert len(fake_graph.sent) == 1
    set_cells(tracker, {("t-1", w): {"Discussion Date": dt.date(2026, 11, 6)}
                        for w in ("Teams", "Intune")})
    o365("2026-11-10")
    assert len(fake_graph.sent) == 3
    subjects = [str(m.data.get("subject")) for m in fake_graph.sent[1:]]
    assert sum(s.startswith("[FTC Queue Move] FTCQ Inactive EMEA") for s in subjects) == 1
    move = next(m for m in fake_graph.sent if "Queue Move" in str(m.data.get("subject")))
    assert move.recipients() == ["ftc-assignment@microsoft.com", FM]
    assert [a.get("name") for a in move.attachments] == [
        "Queue move - FTCQ Inactive EMEA - 2026-11-10.xlsx"]
    for c in rows(tracker).values():
        assert c["Customer Email Sent"] == at("2026-11-10")
        assert c["Queue Requested"] == at("2026-11-10")
        assert c["Next Action Date"] == NAD
    sends = len(fake_graph.calls("POST", "/send"))
    o365("2026-11-10")
    assert len(fake_graph.calls("POST", "/send")) == sends


def test_one_bad_tenant_does_not_hold_back_its_queue_group(tmp_path: Path) -> None:
    """An FM outside the internal domains fails only that tenant's part of the request."""
    from ftc_office.compose.composer import Composer, queue_move_batch
    from ftc_office.config import Settings
    from ftc_office.planning import load_workspace
    from ftc_office.playbook import plan_tenant
    from ftc_office.tracker.builder import load_tracker

    done = {"atu_sent": dt.date(2026, 10, 1), "discussion_date": dt.date(2026, 11, 1),
            "customer_email_sent": dt.date(2026, 11, 2)}
    tracker = make_tracker(tmp_path / "t.xlsx", [
        row("good-1", **done), row("good-2", **done),
        row("bad-1", fm_email="fm@partner.example.com", **done)])
    settings = Settings()
    assert load_workspace([tracker], settings).problems  # check refuses bad-1 (issue 21) ...
    # ... and the composer's own guard holds for records read without that validation
    plans = [plan_tenant(t, dt.date(2026, 11, 26)) for t in load_tracker(tracker, settings).tenants]
    comp = queue_move_batch(Composer(settings, dt.date(2026, 11, 26)), plans, False)
    assert [j.tenant_ids for j in comp.jobs] == [("good-1", "good-2")]
    assert [(t.tenant_id, "partner.example.com" in str(p)) for t, p in comp.failures] == [
        ("bad-1", True)]

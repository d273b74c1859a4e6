"""`confirm-queue --from-mailbox` and `run --read-replies`: the assignment team's replies in
Outlook, read with the real O365 library from the fake Graph on 127.0.0.1 (tests/fakegraph.py,
which refuses queries Graph would refuse). The queries are also checked against Microsoft's
documented syntax on their own, not only against the fake."""

from __future__ import annotations

import datetime as dt
import io
import re
from pathlib import Path

import openpyxl
import pytest
from builders import make_tracker, row
from fakegraph import FakeGraph, StoredMessage, check_query, seed_token_cache
from fakegraph import fake_graph_fixture as fake_graph_fixture  # the fixture
from runhelpers import at, ftc, rows

from ftc_office.backends.o365_auth import SecureFileTokenBackend, token_cache_path
from ftc_office.backends.o365_replies import reply_params, sent_copy_params

CLIENT = "11111111-2222-3333-4444-555555555555"
TEAM = "ftc-assignment@microsoft.com"
TODAY = dt.date.today()


def done_row(tid: str, customer: str, region: str = "EMEA") -> dict[str, object]:
    return row(tid, "Teams", customer=customer, region=region,
               atu_sent=dt.date(2026, 10, 1), discussion_date=dt.date(2026, 10, 8),
               customer_email_sent=dt.date(2026, 10, 9))


@pytest.fixture
def requested(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fake_graph: FakeGraph
              ) -> tuple[Path, dict[str, StoredMessage]]:
    """Two queue-move requests (EMEA: e-1, e-2; Americas: a-1) sent through Outlook."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ftc-office.toml").write_text(
        "[delivery.o365]\n"
        f'client_id = "{CLIENT}"\ngraph_url = "{fake_graph.url}"\ntimeout = 5.0\n'
        "max_per_minute = 10000\n", encoding="utf-8")
    seed_token_cache(SecureFileTokenBackend(token_cache_path()), None, client_id=CLIENT,
                     scopes=["Mail.ReadWrite", "Mail.Send", "User.Read"],
                     expires_in=10 * 86400, access_token="seed-at", refresh_token="seed-rt")
    tracker = make_tracker(tmp_path / "tracker.xlsx", [
        done_row("e-2", "Northwind"), done_row("e-1", "Alpine Ski House"),
        done_row("a-1", "Tailspin", region="Americas")])
    day = (TODAY - dt.timedelta(days=2)).isoformat()
    result = ftc("run", str(tracker), "--as-of", day, "--no-dry-run", "--yes",
                 "--backend", "o365")
    assert result.exit_code == 0, result.output
    moves = {("EMEA" if "EMEA" in str(m.data["subject"]) else "Americas"): m
             for m in fake_graph.sent if "Queue Move" in str(m.data.get("subject"))}
    assert sorted(moves) == ["Americas", "EMEA"]
    fake_graph.reset_requests()
    return tracker, moves


def filled(msg: StoredMessage, fills: dict[str, dt.date]) -> tuple[str, bytes]:
    """The request's own attachment, Moved On filled for some tenants."""
    import base64

    (att,) = msg.attachments
    wb = openpyxl.load_workbook(io.BytesIO(base64.b64decode(att["contentBytes"])))
    ws = wb.worksheets[0]
    for r in range(2, ws.max_row + 1):
        if ws.cell(r, 1).value in fills:
            ws.cell(r, 8).value = fills[str(ws.cell(r, 1).value)]
    buf = io.BytesIO()
    wb.save(buf)
    return str(att["name"]), buf.getvalue()


def assert_read_only(fake: FakeGraph) -> None:
    calls = fake.calls()
    assert calls and {c.method for c in calls} == {"GET"}


def test_done_confirms_the_request_a_question_is_listed_others_are_ignored(
        requested: tuple[Path, dict[str, StoredMessage]], fake_graph: FakeGraph) -> None:
    tracker, moves = requested
    fake_graph.deliver_reply(moves["EMEA"], TEAM.upper(), "Done.\n\nRegards, Pat")
    fake_graph.deliver_reply(moves["Americas"], "someone@microsoft.com", "Done")
    fake_graph.deliver_reply(moves["Americas"], TEAM, "Which queue should a-1 go to?")
    before = dt.date.today()
    result = ftc("confirm-queue", str(tracker), "--from-mailbox")
    # the command stamps the day it runs: either side of a midnight it may cross
    days = {at(before.isoformat()), at(dt.date.today().isoformat())}
    assert result.exit_code == 0, result.output
    assert_read_only(fake_graph)
    assert "mailbox: 2 open queue-move request(s), 2 reply(ies)" in result.stderr
    assert "to read: reply from ftc-assignment@microsoft.com" in result.stdout
    assert "'Which queue should a-1 go to?' — read it; it confirms nothing" in result.stdout
    cells = rows(tracker)
    assert cells[("e-1", "Teams")]["Queue Confirmed"] in days
    assert cells[("e-2", "Teams")]["Queue Confirmed"] in days
    assert cells[("a-1", "Teams")]["Queue Confirmed"] is None
    assert "source=reply" in ftc("history", "--tenant", "e-2").stdout
    # the query the backend sent: the documented syntax, accepted by the strict fake
    (listing,) = [c for c in fake_graph.calls("GET") if c.path.endswith("/me/messages")][:1]
    assert re.fullmatch(r"conversationId eq '[^']+' and receivedDateTime ge "
                        r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", listing.query["$filter"])
    assert 'outlook.body-content-type="text"' in listing.headers["prefer"].split(", ")


def test_a_returned_workbook_in_a_reply_confirms_exactly_its_rows_and_run_unassigns(
        requested: tuple[Path, dict[str, StoredMessage]], fake_graph: FakeGraph) -> None:
    tracker, moves = requested
    moved = TODAY - dt.timedelta(days=1)
    fake_graph.deliver_reply(moves["EMEA"], TEAM, "Moved the first one, see attached",
                             attachments=(filled(moves["EMEA"], {"e-1": moved}),))
    result = ftc("run", str(tracker), "--as-of", TODAY.isoformat(), "--no-dry-run", "--yes",
                 "--backend", "o365", "--read-replies")
    assert result.exit_code == 0, result.output
    assert f"confirmed e-1 moved on {moved.isoformat()} (reply-workbook:" in result.stdout
    cells = rows(tracker)
    assert cells[("e-1", "Teams")]["Queue Confirmed"] == at(moved.isoformat())
    assert cells[("e-2", "Teams")]["Queue Confirmed"] is None
    # the same run then unassigned exactly the confirmed tenant
    assert cells[("e-1", "Teams")]["FM Unassigned"] == at(TODAY.isoformat())
    assert cells[("e-2", "Teams")]["FM Unassigned"] is None
    assert cells[("a-1", "Teams")]["FM Unassigned"] is None
    assert not [c for c in fake_graph.calls() if c.method != "GET" and "/send" in c.path]


def test_a_bad_workbook_in_a_reply_confirms_nothing(
        requested: tuple[Path, dict[str, StoredMessage]], fake_graph: FakeGraph) -> None:
    tracker, moves = requested
    fake_graph.deliver_reply(moves["Americas"], TEAM, "Done")
    fake_graph.deliver_reply(moves["EMEA"], TEAM, "attached", attachments=(
        filled(moves["EMEA"], {"e-1": dt.date(2020, 1, 1)}),))
    before = tracker.read_bytes()
    result = ftc("confirm-queue", str(tracker), "--from-mailbox")
    assert result.exit_code == 1
    assert "Queue moves!H2: 2020-01-01 is before the request" in result.stderr
    assert tracker.read_bytes() == before


def test_the_queries_follow_graphs_documented_syntax() -> None:
    """Checked without the fake: OData string literals in single quotes (a quote doubled),
    DateTimeOffset literals unquoted in UTC, only documented message properties selected."""
    since = dt.datetime(2026, 11, 26, 9, 30, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    params = reply_params("AAQk'x==", since)
    assert params["$filter"] == ("conversationId eq 'AAQk''x==' and receivedDateTime ge "
                                 "2026-11-26T08:30:00Z")
    assert params["$select"].split(",") == ["id", "from", "receivedDateTime", "subject",
                                            "uniqueBody", "hasAttachments"]
    key = sent_copy_params("queue_move.q.2026-11-26.abc")
    assert key["$filter"].startswith("singleValueExtendedProperties/any(ep: ep/id eq 'String {")
    assert check_query("/messages", params) is None
    assert check_query("/mailFolders/SentItems/messages", key) is None
    # what Graph refuses, the fake refuses too
    quoted = dict(params, **{"$filter": "receivedDateTime ge '2026-11-26T08:30:00Z'"})
    assert check_query("/messages", quoted) is not None
    assert check_query("/messages", dict(params, **{"$select": "id,sender/name"})) is not None
    assert check_query("/messages", dict(params, **{"$orderby": "subject"})) is not None

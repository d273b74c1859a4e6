"""`ftc-office merge --no-dry-run`: delivery through the real backends (aiosmtpd on
loopback, the outbox), the real ledger and the real workbook write-back; crashes by
SIGKILL in a child process at the named crash points."""

from __future__ import annotations

import asyncio
import datetime as dt
import email
import email.policy
import os
import random
import signal
import subprocess
import sys
from collections import Counter
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from click.testing import Result
from fakegraph import FakeGraph, seed_token_cache
from fakegraph import fake_graph_fixture as fake_graph_fixture  # the fixture
from openpyxl import Workbook, load_workbook
from runhelpers import ftc, smtp_config

from ftc_office.backends.o365_auth import SecureFileTokenBackend, token_cache_path

if TYPE_CHECKING:
    from smtpserver import SmtpServer

pytest_plugins = ["smtpserver"]

HEADER = ["Name", "Email", "Cc", "Bcc", "Files", "Region", "Renewal"]


def people(n: int, start: int = 0) -> list[list[Any]]:
    """Rows with a Cc on every other row, a Bcc on every third, 1-2 attachments each."""
    out = []
    for i in range(start, start + n):
        out.append([f"Person {i}", f"p{i}@contoso.com", f"cc{i}@contoso.com" if i % 2 else "",
                    f"audit{i}@fabrikam.com" if i % 3 == 0 else "",
                    f"files/a{i % 5}.txt" + ("; files/big.bin" if i % 7 == 0 else ""),
                    "EMEA" if i % 2 else "APAC", dt.date(2026, 12, 1 + i % 28)])
    return out


def workbook(path: Path, rows: list[list[Any]], header: list[str] = HEADER) -> Path:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = "Mailing"
    ws.append(header)
    for r in rows:
        ws.append(r)
    wb.save(path)
    return path


@pytest.fixture
def setup(tmp_path: Path) -> Path:
    """Template folder, attachment files; returns the folder."""
    tpl = tmp_path / "reminder"
    tpl.mkdir()
    (tpl / "subject.txt").write_text("Reminder for {{ name }}", encoding="utf-8")
    (tpl / "body.txt").write_text("Hello {{ name }}, renewal {{ renewal | date }}.\n",
                                  encoding="utf-8")
    files = tmp_path / "files"
    files.mkdir()
    for i in range(5):
        (files / f"a{i}.txt").write_text(f"attachment {i}\n", encoding="utf-8")
    (files / "big.bin").write_bytes(os.urandom(50_000))
    return tmp_path


def smtp_setup(folder: Path, server: SmtpServer) -> None:
    """ftc-office.toml: SMTP to the local server, with a sender."""
    smtp_config(folder, server)
    with (folder / "ftc-office.toml").open("a", encoding="utf-8") as fh:
        fh.write('[mail]\nsender = "fm@contoso.com"\n')


def merge(folder: Path, *extra: str) -> Result:
    config = folder / "ftc-office.toml"
    base = ["--config", str(config)] if config.exists() else []
    return ftc(*base, "merge", "--template", str(folder / "reminder"), "--data",
               str(folder / "data.xlsx"), "--attach-column", "Files", "--cc-column", "Cc",
               "--bcc-column", "Bcc", "--out", str(folder / "preview"),
               # the outbox as a pickup folder: its messages count as sent (drafts: Drafted)
               *(() if "--outbox-mode" in extra else ("--outbox-mode", "pickup")), *extra)


def statuses(path: Path) -> dict[str, Any]:
    """Email → Merge Status, as openpyxl reads the saved workbook."""
    ws = load_workbook(path, read_only=True)["Mailing"]
    rows = list(ws.iter_rows(values_only=True))
    col = {h: i for i, h in enumerate(rows[0])}
    return {r[col["Email"]]: r[col["Merge Status"]] if "Merge Status" in col else None
            for r in rows[1:]}


def parsed(data: bytes) -> EmailMessage:
    msg = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_fifty_rows_with_cc_bcc_and_attachments_over_smtp(
        setup: Path, smtp_plain: SmtpServer) -> None:
    data = workbook(setup / "data.xlsx", people(50))
    smtp_setup(setup, smtp_plain)
    dry = merge(setup)
    assert dry.exit_code == 0, dry.output
    assert "would send 50 message(s)" in dry.stdout and not smtp_plain.handler.received
    result = merge(setup, "--no-dry-run", "--yes")
    assert result.exit_code == 0, result.output
    assert "50 sent" in result.stdout
    got = smtp_plain.handler.received
    assert len(got) == 50
    by_to = {parsed(r.data)["To"]: (r, parsed(r.data)) for r in got}
    for i in range(50):
        rec, msg = by_to[f"p{i}@contoso.com"]
        expected = {f"p{i}@contoso.com"} | ({f"cc{i}@contoso.com"} if i % 2 else set()) | (
            {f"audit{i}@fabrikam.com"} if i % 3 == 0 else set())
        assert set(rec.rcpt_tos) == expected
        assert msg["Bcc"] is None and b"audit" not in rec.data  # Bcc: envelope only
        assert (msg["Cc"] == f"cc{i}@contoso.com") == bool(i % 2)
        names = [p.get_filename() for p in msg.iter_attachments()]
        assert names == [f"a{i % 5}.txt"] + (["big.bin"] if i % 7 == 0 else [])
    status = statuses(data)
    assert all(str(s).startswith("Sent 20") for s in status.values()), status
    again = merge(setup, "--no-dry-run", "--yes")
    assert again.exit_code == 0, again.output
    assert "0 sent" in again.stdout and "50 already delivered" in again.stdout
    assert len(smtp_plain.handler.received) == 50


def test_rows_inserted_and_resorted_between_runs_change_nothing(setup: Path) -> None:
    outbox = setup / "outbox"
    rows = people(12)
    data = workbook(setup / "data.xlsx", rows[:10])
    first = merge(setup, "--no-dry-run", "--outbox", str(outbox))
    assert first.exit_code == 0, first.output
    inodes = {p.name: p.stat().st_ino for p in outbox.glob("*.eml")}
    assert len(inodes) == 10
    shuffled = rows[:]  # two new rows among the old ones, in another order
    random.Random(7).shuffle(shuffled)
    workbook(data, shuffled)
    assert merge(setup).stdout.count("would send 2 message(s); 10 already") == 1
    second = merge(setup, "--no-dry-run", "--outbox", str(outbox))
    assert second.exit_code == 0, second.output
    assert "2 sent" in second.stdout and "10 already delivered" in second.stdout
    after = {p.name: p.stat().st_ino for p in outbox.glob("*.eml")}
    assert len(after) == 12 and all(after[n] == ino for n, ino in inodes.items())
    tos = sorted(parsed(p.read_bytes())["To"] for p in outbox.glob("*.eml"))
    assert tos == sorted(f"p{i}@contoso.com" for i in range(12))
    assert all(str(s).startswith("Sent ") for s in statuses(data).values())


def test_a_cleared_row_with_only_its_status_left_is_no_row(setup: Path) -> None:
    outbox = setup / "outbox"
    data = workbook(setup / "data.xlsx", people(3))
    assert merge(setup, "--no-dry-run", "--outbox", str(outbox)).exit_code == 0
    wb = load_workbook(data)
    ws = wb["Mailing"]
    for cell in ws[3][:len(HEADER)]:  # a person clears row 3, except the status
        cell.value = None
    wb.save(data)
    result = merge(setup, "--no-dry-run", "--outbox", str(outbox))
    assert result.exit_code == 0, result.output
    assert "2 already delivered" in result.stdout


def test_changed_message_for_a_sent_row_is_refused_naming_the_row(setup: Path) -> None:
    outbox = setup / "outbox"
    rows = people(3)
    data = workbook(setup / "data.xlsx", rows)
    assert merge(setup, "--no-dry-run", "--outbox", str(outbox)).exit_code == 0
    rows[1][0] = "Someone Else"
    workbook(data, rows)
    result = merge(setup, "--no-dry-run", "--outbox", str(outbox))
    assert result.exit_code == 1
    assert f"{data}, Mailing row 3: this row's message was sent" in result.stderr
    assert "ftc-office resolve merge.reminder.p1-contoso-com." in result.stderr
    assert len(list(outbox.glob("*.eml"))) == 3


@pytest.mark.parametrize(("extra", "rows", "wanted", "code"), [
    ((), [["A", "a@contoso.com", "", "", "files/missing.pdf", "", ""]],
     "Mailing!E2: attachment 'files/missing.pdf' not found", 1),
    (("--key-column", "Region"), [["A", "a@contoso.com", "", "", "", "EMEA", ""],
                                  ["B", "b@contoso.com", "", "", "", "emea ", ""]],
     "Mailing!F3: the same key 'emea' as ", 1),
    (("--where", "Country=France"), [["A", "a@contoso.com", "", "", "", "", ""]],
     "--where 'Country=France': no column 'Country'", 2),
    (("--internal",), [["A", "a@contoso.com", "x@gmail.com", "", "", "", ""]],
     "Mailing!C2: x@gmail.com outside mail.internal_domains", 1),
    (("--send-at", "2020-01-01 09:00"), [], "--send-at 2020-01-01 09:00: the time is in the "
     "past", 2),
    (("--send-at-column", "When"), [], "--send-at-column must be one of", 1),
    (("--step", "await_discussion"), [], "--step and --fm need a tracker", 1),
])
def test_bad_input_is_an_error_before_anything_is_sent(
        setup: Path, smtp_plain: SmtpServer, extra: tuple[str, ...],
        rows: list[list[Any]], wanted: str, code: int) -> None:
    workbook(setup / "data.xlsx", rows + people(3))
    smtp_setup(setup, smtp_plain)
    result = merge(setup, "--no-dry-run", "--yes", *extra)
    assert result.exit_code == code, result.output
    assert wanted in result.stderr
    assert "Traceback" not in result.output
    assert not smtp_plain.handler.received


def test_duplicate_key_names_both_cells(setup: Path) -> None:
    rows = [["A", "a@contoso.com", "", "", "", "", ""], ["B", "A@Contoso.com", "", "", "", "", ""]]
    data = workbook(setup / "data.xlsx", rows)
    result = merge(setup)
    assert f"{data}, Mailing!B3: the same key 'A@Contoso.com' as {data}, Mailing!B2" \
        in result.stderr
    assert result.exit_code == 1 and "0 message(s) from 2 row(s)" in result.stderr


def test_workbook_open_in_excel_is_refused_before_sending(setup: Path,
                                                          smtp_plain: SmtpServer
                                                          ) -> None:
    data = workbook(setup / "data.xlsx", people(3))
    (setup / "~$data.xlsx").write_bytes(b"\x05Alice" + b" " * 50)
    smtp_setup(setup, smtp_plain)
    result = merge(setup, "--no-dry-run", "--yes")
    assert result.exit_code == 1
    assert f"{data}: the workbook is open in Excel by Alice" in result.stderr
    assert not smtp_plain.handler.received


def test_where_filters_and_limit(setup: Path) -> None:
    workbook(setup / "data.xlsx", people(20))
    outbox = setup / "outbox"
    args = ("--where", "Region=emea", "--where", "Renewal<2026-12-10", "--where", "Cc!=")
    dry = merge(setup, *args)
    # odd i (EMEA, with Cc) and renewal day 1 + i < 10: i in 1, 3, 5, 7
    assert "would send 4 message(s)" in dry.stdout, dry.output
    first = merge(setup, *args, "--no-dry-run", "--outbox", str(outbox), "--limit", "3")
    assert "3 sent" in first.stdout and "stopped at --limit" in first.stdout
    second = merge(setup, *args, "--no-dry-run", "--outbox", str(outbox))
    assert "1 sent" in second.stdout and "3 already delivered" in second.stdout
    tos = sorted(parsed(p.read_bytes())["To"] for p in outbox.glob("*.eml"))
    assert tos == [f"p{i}@contoso.com" for i in (1, 3, 5, 7)]


def test_csv_data_is_never_rewritten(setup: Path) -> None:
    data = setup / "data.csv"
    data.write_text("Name,Email\nAnn,ann@contoso.com\nBob,bob@contoso.com\n", encoding="utf-8")
    before = data.read_bytes()
    result = ftc("merge", "--template", str(setup / "reminder"), "--data", str(data),
                 "--no-dry-run", "--outbox", str(setup / "outbox"), "--outbox-mode", "pickup")
    assert "Hello" not in result.output and result.exit_code == 1  # {{ renewal }} undefined
    (setup / "reminder" / "body.txt").write_text("Hello {{ name }}\n", encoding="utf-8")
    result = ftc("merge", "--template", str(setup / "reminder"), "--data", str(data),
                 "--no-dry-run", "--outbox", str(setup / "outbox"), "--outbox-mode", "pickup")
    assert result.exit_code == 0, result.output
    assert data.read_bytes() == before
    status = (setup / "data.status.csv").read_text(encoding="utf-8-sig").splitlines()
    assert status[0] == "Row,Ledger Key,Merge Status" and len(status) == 3
    assert status[1].startswith("2,merge.reminder.ann-contoso-com.") and ",Sent 20" in status[1]


def test_markdown_body_renders_both_parts(setup: Path) -> None:
    tpl = setup / "reminder"
    (tpl / "body.txt").unlink()
    (tpl / "body.md").write_text("# Hello {{ name }}\n\nYour **renewal** is due.\n\n"
                                 "- one\n- <script>x</script>\n", encoding="utf-8")
    workbook(setup / "data.xlsx", [["<b>Ann</b>", "ann@contoso.com", "", "", "", "", ""]])
    outbox = setup / "outbox"
    assert merge(setup, "--no-dry-run", "--outbox", str(outbox)).exit_code == 0
    msg = parsed(next(outbox.glob("*.eml")).read_bytes())
    html_part, text_part = msg.get_body(("html",)), msg.get_body(("plain",))
    assert html_part is not None and text_part is not None
    html = str(html_part.get_content())
    assert "<strong" in html and "renewal</strong>" in html and "<h1" in html
    assert "<script>" not in html and "&lt;b&gt;Ann&lt;/b&gt;" in html
    assert "font-family: 'Segoe UI'" in html  # the playbook mails' layout, inlined
    assert "Your **renewal** is due." in str(text_part.get_content())


def test_refused_recipient_is_written_to_the_status_column(
        setup: Path, smtp_plain: SmtpServer) -> None:
    rows = people(3)
    rows[2][1] = "refused@contoso.com"  # row 4: no Cc, no Bcc
    data = workbook(setup / "data.xlsx", rows)
    smtp_setup(setup, smtp_plain)
    result = merge(setup, "--no-dry-run", "--yes")
    assert result.exit_code == 1 and "2 sent" in result.stdout
    assert f"{data}, Mailing row 4: refused: " in result.stderr
    status = statuses(data)
    assert str(status["refused@contoso.com"]).startswith("Refused: ")
    assert "mailbox unavailable" in str(status["refused@contoso.com"])
    again = merge(setup, "--no-dry-run", "--yes")  # never retried by a rerun
    assert again.exit_code == 1 and len(smtp_plain.handler.received) == 2


def test_test_to_sends_only_to_me_and_leaves_the_rows_unsent(setup: Path) -> None:
    data = workbook(setup / "data.xlsx", people(5))
    outbox = setup / "outbox"
    result = merge(setup, "--test-to", "me@contoso.com", "--limit", "2", "--outbox",
                   str(outbox))
    assert result.exit_code == 0, result.output
    msgs = [parsed(p.read_bytes()) for p in outbox.glob("*.eml")]
    assert len(msgs) == 2
    assert {m["To"] for m in msgs} == {"me@contoso.com"} and all(
        m["Cc"] is None and m["Subject"].startswith("[TEST] Reminder for") for m in msgs)
    assert set(statuses(data).values()) == {None}  # no status column: nothing real went out
    assert "would send 5 message(s); 0 already" in merge(setup).stdout


def o365_setup(folder: Path, graph: FakeGraph) -> None:
    """ftc-office.toml for the fake Graph, and a signed-in token cache."""
    client = "11111111-2222-3333-4444-555555555555"
    (folder / "ftc-office.toml").write_text(
        f'[delivery.o365]\nclient_id = "{client}"\ngraph_url = "{graph.url}"\n'
        "timeout = 5.0\nmax_per_minute = 10000\n", encoding="utf-8")
    seed_token_cache(SecureFileTokenBackend(token_cache_path()), None, client_id=client,
                     scopes=["Mail.ReadWrite", "Mail.Send", "User.Read"],
                     expires_in=10 * 86400, access_token="seed-at", refresh_token="seed-rt")


def test_bcc_and_attachments_through_outlook_against_the_fake_graph(
        setup: Path, fake_graph: FakeGraph) -> None:
    o365_setup(setup, fake_graph)
    data = workbook(setup / "data.xlsx", people(4))
    result = merge(setup, "--no-dry-run", "--yes", "--backend", "o365")
    assert result.exit_code == 0, result.output
    sent = {m.data["toRecipients"][0]["emailAddress"]["address"]: m for m in fake_graph.sent}
    assert len(sent) == 4
    bcc = sent["p3@contoso.com"].data.get("bccRecipients")
    assert [r["emailAddress"]["address"] for r in bcc] == ["audit3@fabrikam.com"]
    assert not sent["p1@contoso.com"].data.get("bccRecipients")
    assert [a["name"] for a in sent["p0@contoso.com"].attachments] == ["a0.txt", "big.bin"]
    assert all(str(s).startswith("Sent ") for s in statuses(data).values())
    assert merge(setup, "--no-dry-run", "--yes", "--backend", "o365").exit_code == 0
    assert len(fake_graph.sent) == 4


# ---- scheduled sending -----------------------------------------------------------------------

def later(**delta: float) -> dt.datetime:
    """A local time (whole minutes) that far from now."""
    return (dt.datetime.now() + dt.timedelta(**delta)).replace(second=0, microsecond=0)


def test_send_at_through_outlook_carries_the_deferred_send_time(
        setup: Path, fake_graph: FakeGraph) -> None:
    o365_setup(setup, fake_graph)
    data = workbook(setup / "data.xlsx", people(2))
    when = later(days=3)
    result = merge(setup, "--no-dry-run", "--yes", "--backend", "o365", "--send-at",
                   f"{when:%Y-%m-%d %H:%M}")
    assert result.exit_code == 0, result.output
    utc = when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    created = [c.json for c in fake_graph.calls("POST") if isinstance(c.json, dict)
               and "subject" in c.json]
    assert len(created) == 2
    for body in created:
        props = {p["id"]: p["value"] for p in body["singleValueExtendedProperties"]}
        assert props["SystemTime 0x3FEF"] == utc
    assert set(statuses(data).values()) == {f"Scheduled for {when:%Y-%m-%d %H:%M}"}
    assert merge(setup, "--no-dry-run", "--yes", "--backend", "o365", "--send-at",
                 f"{when:%Y-%m-%d %H:%M}").exit_code == 0
    assert len(fake_graph.sent) == 2  # a rerun sends nothing twice


def test_send_at_through_the_outbox_is_kept_in_the_ledger_until_due(setup: Path) -> None:
    from ftc_office.config import load_settings
    from ftc_office.merge import (
        MergeOptions,
        SendRequest,
        deliver,
        load_template,
        read_data,
    )
    from ftc_office.merge import merge as merge_rows

    data = workbook(setup / "data.xlsx", people(3))
    outbox = setup / "outbox"
    when = later(hours=2)
    result = merge(setup, "--no-dry-run", "--outbox", str(outbox), "--send-at",
                   f"{when:%Y-%m-%d %H:%M}")
    assert result.exit_code == 0, result.output
    assert "3 message(s) scheduled for" in result.stdout and not outbox.exists()
    assert set(statuses(data).values()) == {f"Scheduled for {when:%Y-%m-%d %H:%M}"}
    # the same merge, run when the time has come (the library's clock moved on)
    rows = read_data(data)
    merged = merge_rows(load_template(setup / "reminder"), rows, MergeOptions(
        cc_column="Cc", bcc_column="Bcc", attach_column="Files"))
    aware = when.astimezone()
    report = deliver(merged, rows, load_settings(None), SendRequest(
        dry_run=False, outbox=outbox, outbox_mode="pickup", send_at=aware,
        now=aware + dt.timedelta(minutes=1)))
    assert report.sent == 3 and len(list(outbox.glob("*.eml"))) == 3
    assert all(str(s).startswith("Sent ") for s in statuses(data).values())


def test_send_at_in_the_past_is_refused_before_anything_is_sent(setup: Path) -> None:
    workbook(setup / "data.xlsx", people(2))
    outbox = setup / "outbox"
    result = merge(setup, "--no-dry-run", "--outbox", str(outbox), "--send-at",
                   f"{later(hours=-1):%Y-%m-%d %H:%M}")
    assert result.exit_code == 2
    assert "the time is in the past" in result.stderr and "leave out --send-at" in result.stderr
    assert not outbox.exists()


# ---- killed and rerun ------------------------------------------------------------------------

def child(folder: Path, crash_at: str | None, *extra: str) -> int:
    """``python -m ftc_office merge ... --no-dry-run --yes`` in a child process."""
    proc = start_child(folder, crash_at, *extra)
    proc.wait(timeout=120)
    return proc.returncode


def start_child(folder: Path, crash_at: str | None, *extra: str) -> subprocess.Popen[bytes]:
    """The child process of :func:`child`, started."""
    env = dict(os.environ)
    env.pop("FTC_OFFICE_CRASH_AT", None)
    if crash_at:
        env["FTC_OFFICE_CRASH_AT"] = crash_at
    if (folder / "ftc-office.toml").exists():
        env["FTC_OFFICE_CONFIG"] = str(folder / "ftc-office.toml")
    args = ["merge", "--template", str(folder / "reminder"), "--data",
            str(folder / "data.xlsx"), "--attach-column", "Files", "--cc-column", "Cc",
            "--bcc-column", "Bcc", "--no-dry-run", "--yes", "--outbox-mode", "pickup", *extra]
    # a child of a background job inherits SIGINT ignored (bash does that): restore it, so
    # Ctrl-C is a KeyboardInterrupt in the child however the test run was started
    return subprocess.Popen([sys.executable, "-m", "ftc_office", *args], env=env, cwd=folder,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


@pytest.mark.parametrize("point", ["before_intent@4", "after_intent@4", "after_response@4",
                                   "during_writeback", "after_replace"])
def test_killed_and_rerun_sends_each_row_once_over_smtp(
        setup: Path, smtp_plain: SmtpServer, point: str) -> None:
    data = workbook(setup / "data.xlsx", people(8))
    smtp_setup(setup, smtp_plain)
    assert child(setup, point) == -9  # killed by SIGKILL at the point
    for _ in range(3):
        if child(setup, None) == 0:
            break
    keys = Counter(parsed(r.data)["X-FTC-Message-Key"] for r in smtp_plain.handler.received)
    tos = Counter(parsed(r.data)["To"] for r in smtp_plain.handler.received)
    if point.startswith("after_response"):
        # the server has the 4th message, its result not recorded: that one is "unknown"
        # and waits for a person (SMTP cannot be asked); every other row goes out once
        assert max(keys.values()) == 1 and len(keys) == 8
    else:
        assert sorted(tos) == sorted(f"p{i}@contoso.com" for i in range(8))
        assert set(tos.values()) == {1}
        assert all(str(s).startswith("Sent ") for s in statuses(data).values())
    load_workbook(data).close()  # the workbook is readable after every kill


def test_killed_and_rerun_through_the_outbox(setup: Path) -> None:
    data = workbook(setup / "data.xlsx", people(8))
    outbox = setup / "outbox"
    assert child(setup, "after_response@3", "--outbox", str(outbox)) == -9
    inodes = {p.name: p.stat().st_ino for p in outbox.glob("*.eml")}
    assert len(inodes) == 3
    assert child(setup, None, "--outbox", str(outbox)) == 0
    after = {p.name: p.stat().st_ino for p in outbox.glob("*.eml")}
    assert len(after) == 8 and all(after[n] == ino for n, ino in inodes.items())
    assert all(str(s).startswith("Sent ") for s in statuses(data).values())


def test_ctrl_c_then_rerun_sends_nothing_twice(setup: Path, smtp_plain: SmtpServer) -> None:
    """Ctrl-C (SIGINT) while the 3rd message is at the server: exit 130; the rerun finds
    that message in doubt (SMTP cannot be asked) and sends every other row once; after a
    person's ``resolve --sent`` the merge is complete."""
    data = workbook(setup / "data.xlsx", people(8))
    smtp_setup(setup, smtp_plain)
    handler = smtp_plain.handler
    original = handler.handle_DATA
    procs: list[subprocess.Popen[bytes]] = []

    async def interrupting(server: Any, session: Any, envelope: Any) -> str:
        reply = await original(server, session, envelope)
        if len(handler.received) == 3:
            procs[0].send_signal(signal.SIGINT)
            await asyncio.sleep(1.0)  # the reply comes after the interrupt
        return reply

    handler.handle_DATA = interrupting  # type: ignore[method-assign]
    procs.append(start_child(setup, None))
    assert procs[0].wait(timeout=120) == 130
    handler.handle_DATA = original  # type: ignore[method-assign]
    assert len(handler.received) == 3
    assert child(setup, None) == 1  # the 3rd message is in doubt; the others went out
    tos = Counter(parsed(r.data)["To"] for r in handler.received)
    assert len(tos) == 8 and set(tos.values()) == {1}
    third = parsed(handler.received[2].data)["X-FTC-Message-Key"]
    assert statuses(data)["p2@contoso.com"] == "In doubt: see 'ftc-office status'"
    assert ftc("resolve", third, "--sent").exit_code == 0
    assert child(setup, None) == 0
    assert len(handler.received) == 8
    assert all(str(s).startswith("Sent ") for s in statuses(data).values())


@pytest.mark.skipif(os.name != "posix", reason="a pseudo-terminal is POSIX")
def test_progress_is_the_runs_bar_and_leaves_no_debris(setup: Path) -> None:
    """On a terminal the merge draws run's rich bar (N/M messages, transient), not a
    hand-drawn line."""
    import re

    from runhelpers import on_pty

    workbook(setup / "data.xlsx", people(12))
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES", "NO_COLOR")}
    code, text = on_pty(["merge", str(setup / "reminder"), str(setup / "data.xlsx"),
                         "--attach-column", "Files", "--no-dry-run", "--outbox-mode",
                         "pickup", "--outbox", str(setup / "outbox")], 80,
                        env | {"TERM": "xterm-256color"})
    assert code == 0, text
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", text)
    counts = re.findall(r"(\d+)/12 ", plain)
    assert counts and "━" in plain, text  # rich's bar, counting the 12 messages
    assert "[" not in plain.split("/12")[0][-6:]  # not the old "[ 3/12]" line
    assert "\x1b[2K" in text  # transient: the bar's line is erased at the end

"""The ledger: states, the intent before the call, refusals, resolve/history, the lock,
reconciliation at start, and an SMTP hang-up after DATA.

Runs go through the real Runner / CLI against real trackers; the only stand-ins are tiny
backends written here (they delegate to our MemoryBackend or OutboxBackend, they subclass
nothing of ours) and a real aiosmtpd server on loopback.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from builders import make_tracker, row
from runhelpers import Delegating, at, emls, ftc, rows, run, set_cells, smtp_config

from ftc_office.backends.base import DeliveryResult, PreparedHook, Status
from ftc_office.backends.memory import MemoryBackend
from ftc_office.backends.outbox import OutboxBackend
from ftc_office.backends.smtp import SmtpBackend
from ftc_office.compose.composer import Composer, compose_all
from ftc_office.config import load_settings
from ftc_office.errors import LedgerError
from ftc_office.ledger import Ledger
from ftc_office.message import OutgoingMessage
from ftc_office.planning import load_workspace, plan_workspace
from ftc_office.run.locks import lock_trackers
from ftc_office.run.report import RunOptions
from ftc_office.run.runner import Runner

if TYPE_CHECKING:
    from smtpserver import SmtpServer

pytest_plugins = ["smtpserver", "pgserver"]

AS_OF = dt.date(2026, 11, 26)


class Crash(BaseException):
    """Stands for the process dying inside the network call (not an FtcError)."""


@dataclass
class Probe(Delegating):
    """A backend that looks at the ledger from a second connection at the moment of the call,
    then delegates to a real backend. ``crash_before``/``crash_after`` simulate a kill."""

    inner: MemoryBackend | OutboxBackend
    seen: list[tuple[str, str | None]] = field(default_factory=list)
    crash_before: bool = False
    crash_after: bool = False
    during: list[object] = field(default_factory=list)
    name: str = "probe"

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        other = Ledger.open()
        try:
            entry = other.get(message.key)
            self.seen.append((message.key, entry.state if entry else None))
        finally:
            other.close()
        for action in self.during:
            if callable(action):
                action()
        if self.crash_before:
            raise Crash
        result = self.inner.deliver(message, prepared)
        if self.crash_after:
            raise Crash
        return result


@pytest.fixture(autouse=True, params=["sqlite", "postgres"])
def kind(request: pytest.FixtureRequest) -> str:
    """Every test runs against both ledgers: the personal SQLite one, and a shared one on a
    real PostgreSQL server (a fresh database per test, chosen through the environment)."""
    if request.param == "postgres":
        request.getfixturevalue("pg_url")
    return str(request.param)


@pytest.fixture
def tracker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return make_tracker(tmp_path / "tracker.xlsx", [row("t-1", "Teams"), row("t-2", "Intune")])


def runner(backend: object, **options: object) -> tuple[Runner, Ledger]:
    ledger = Ledger.open()
    opts = RunOptions(as_of=AS_OF, dry_run=False, **options)  # type: ignore[arg-type]
    return Runner(load_settings(None), ledger, backend, opts), ledger  # type: ignore[arg-type]


def keys_by_tenant(ledger: Ledger) -> dict[str, str]:
    return {e.tenant_ids[0]: e.key for e in ledger.entries(None) if e.kind == "atu"}


def status_lines() -> list[str]:
    result = ftc("status")
    assert result.exit_code == 0, result.output
    return result.stdout.splitlines()[1:]


def test_intent_is_committed_before_the_network_call(tracker: Path) -> None:
    probe = Probe(MemoryBackend())
    r, ledger = runner(probe)
    try:
        report = r.run([tracker])
        assert sorted(probe.seen) == sorted((k, "sending") for k in keys_by_tenant(ledger)
                                            .values())
        assert len(probe.seen) == 2 and report.sent == 2
        for entry in ledger.entries(None):
            assert entry.state == "sent" and entry.attempts == 1
            assert entry.provider_id and entry.provider_id.startswith("memory:")
            assert entry.written_at is not None
            events = [e["event"] for e in ledger.events() if e["key"] == entry.key]
            assert events == ["planned", "sending", "sent"]
    finally:
        ledger.close()
    # the workbook write is an event with before/after hashes and the backup
    writes = [e for e in Ledger.open().events() if e["event"] == "workbook_written"]
    assert len(writes) == 1
    assert writes[0]["detail"]["cells"] == 4
    assert Path(writes[0]["detail"]["backup"]).is_file()
    assert writes[0]["detail"]["sha256_before"] != writes[0]["detail"]["sha256_after"]


def test_unknown_state_names_and_missing_keys_are_refused(tracker: Path) -> None:
    ledger = Ledger.open()
    try:
        with pytest.raises(ValueError):
            ledger.transition("nope", "half-sent")
        with pytest.raises(LedgerError, match="no such entry"):
            ledger.transition("nope", "sent")
        with pytest.raises(LedgerError, match="no such entry"):
            ledger.resolve("nope", "sent")
    finally:
        ledger.close()


def due_keys(tracker: Path) -> dict[str, str]:
    """Tenant → key of each job due now (composed by our composer, nothing sent)."""
    settings = load_settings(None)
    ws = load_workspace([tracker], settings)
    jobs = compose_all(Composer(settings, AS_OF), plan_workspace(ws, AS_OF)).jobs
    return {j.tenant_ids[0]: j.key for j in jobs}


def test_a_temporary_failure_is_recorded_and_retried_by_the_next_run(tracker: Path) -> None:
    keys = due_keys(tracker)
    backend = MemoryBackend(outcomes={keys["t-2"]: Status.FAILED_RETRYABLE})
    r, ledger = runner(backend)
    try:
        report = r.run([tracker])
        assert report.failed
        assert report.tenants["t-1"].status == "done"
        assert report.tenants["t-2"].status == "failed"
        assert "failed-retryable — scripted failed-retryable" in report.tenants["t-2"].problems[0]
        e = ledger.get(keys["t-2"])
        assert e is not None and e.state == "failed" and e.written_at is None
        assert e.error == "failed-retryable: scripted failed-retryable"
    finally:
        ledger.close()
    assert rows(tracker)[("t-2", "Intune")]["ATU Sent"] is None
    assert f"failed: {keys['t-2']} to ann@microsoft.com" in "\n".join(status_lines())
    # the next run retries it (attempts 2) and stamps it
    r, ledger = runner(MemoryBackend())
    try:
        report = r.run([tracker])
        assert not report.failed and report.sent == 1
        e = ledger.get(keys["t-2"])
        assert e is not None and e.state == "sent" and e.attempts == 2
    finally:
        ledger.close()
    assert rows(tracker)[("t-2", "Intune")]["ATU Sent"] == at("2026-11-26")


def test_changed_content_for_a_sent_key_is_refused_with_the_explanation(tracker: Path,
                                                                        tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    assert run(tracker, "2026-11-26", outbox).exit_code == 0
    assert len(emls(outbox)) == 2
    # someone clears the stamp and renames the customer: the ledger says the ATU went out,
    # so the stamp comes back (a cleared cell reads as a restored copy) and nothing is sent
    set_cells(tracker, {("t-1", "Teams"): {"ATU Sent": None, "Customer": "Renamed Ltd"}})
    again = run(tracker, "2026-11-27", outbox)
    assert again.exit_code == 0, again.output
    assert f"warning: {tracker}: restored tracker: 1 stamp re-applied from the ledger" \
        in again.output
    assert rows(tracker)[("t-1", "Teams")]["ATU Sent"] == at("2026-11-26")
    assert len(emls(outbox)) == 2
    # another workbook holding the same tenant and workload with other content: the same
    # key, different content — refused, naming the first send
    other = make_tracker(tmp_path / "other.xlsx", [row("t-1", "Teams", customer="Renamed Ltd")])
    refused = run(other, "2026-11-27", outbox)
    assert refused.exit_code == 1
    key = next(n for n in emls(outbox) if ".t-1." in n).removesuffix(".eml")
    assert (f"ledger key {key}: already sent on " in refused.stdout)
    assert "with different content (the tracker changed since)" in refused.stdout
    assert f"nothing was sent; if the new version must go out, run 'ftc-office resolve {key} " \
        "--resend'" in refused.stdout
    assert len(emls(outbox)) == 2
    # the person decides the new version must go out, and clears the step's cell
    resolved = ftc("resolve", key, "--resend")
    assert resolved.exit_code == 0 and resolved.stdout.strip() == f"{key}: sent → resend"
    set_cells(tracker, {("t-1", "Teams"): {"ATU Sent": None}})
    third = run(tracker, "2026-11-27", outbox)
    assert third.exit_code == 0, third.output
    assert "sent 1 message(s)" in third.stdout
    assert "Renamed Ltd" in (outbox / f"{key}.eml").read_text("utf-8", "replace")
    assert rows(tracker)[("t-1", "Teams")]["ATU Sent"] == at("2026-11-27")


def unknown_atus(tracker: Path) -> dict[str, str]:
    """Run with every message's outcome scripted unknown; tenant → key of each ATU."""
    keys = due_keys(tracker)
    r, ledger = runner(MemoryBackend(outcomes=dict.fromkeys(keys.values(), Status.UNKNOWN)))
    try:
        report = r.run([tracker])
        assert sorted(report.unknown) == sorted(keys.values())
        assert report.failed
    finally:
        ledger.close()
    return keys


def test_resolve_sent_resend_skip(tracker: Path, tmp_path: Path) -> None:
    tracker = make_tracker(tracker, [row("t-1", "Teams"), row("t-2", "Teams"),
                                     row("t-3", "Teams")])
    keys = unknown_atus(tracker)
    lines = status_lines()
    assert lines[0] == "  unknown  3"
    assert sum(1 for ln in lines if ln.startswith("unknown: ")) == 3
    assert not any(c["ATU Sent"] for c in rows(tracker).values())
    assert ftc("resolve", keys["t-1"]).exit_code == 2  # must say what happened
    assert ftc("resolve", "no.such.key", "--sent").exit_code != 0
    out = {t: ftc("resolve", keys[t], f"--{a}") for t, a in
           (("t-1", "sent"), ("t-2", "resend"), ("t-3", "skip"))}
    assert out["t-1"].stdout.strip() == f"{keys['t-1']}: unknown → sent"
    assert out["t-2"].stdout.strip() == f"{keys['t-2']}: unknown → resend"
    assert out["t-3"].stdout.strip() == f"{keys['t-3']}: unknown → skip"
    ledger = Ledger.open()
    try:
        states = {t: (e.state if (e := ledger.get(k)) else None) for t, k in keys.items()}
    finally:
        ledger.close()
    assert states == {"t-1": "sent", "t-2": None, "t-3": "skipped"}
    outbox = tmp_path / "outbox"
    after = run(tracker, "2026-11-26", outbox)
    assert after.exit_code == 0, after.output
    # only the --resend one goes out again; --sent is stamped; --skip is never sent
    assert [n.removesuffix(".eml") for n in emls(outbox)] == [keys["t-2"]]
    cells = rows(tracker)
    assert cells[("t-1", "Teams")]["ATU Sent"] == at("2026-11-26")
    assert cells[("t-2", "Teams")]["ATU Sent"] == at("2026-11-26")
    assert cells[("t-3", "Teams")]["ATU Sent"] is None
    assert status_lines()[:2] == ["  sent     2", "  skipped  1"]
    # history of one tenant: its own events only, in order, with who decided
    hist = ftc("history", "--tenant", "t-1")
    assert hist.exit_code == 0
    events = [ln.split()[1] for ln in hist.stdout.splitlines()]
    assert events == ["planned", "sending", "unknown", "resolved_sent"]
    assert all(keys["t-1"] in ln for ln in hist.stdout.splitlines())
    assert "by=user" in hist.stdout.splitlines()[-1]
    hist2 = ftc("history", "--tenant", "T-2")  # tenant IDs are case-insensitive
    assert [ln.split()[1] for ln in hist2.stdout.splitlines()] == [
        "planned", "sending", "unknown", "resolved_resend", "planned", "sending", "sent"]
    assert ftc("history", "--tenant", "nobody").stdout == ""


def test_a_second_run_on_the_same_tracker_is_refused_while_the_first_holds_it(
        tracker: Path, tmp_path: Path) -> None:
    refused: list[str] = []

    def second_run() -> None:
        with ExitStack() as stack, pytest.raises(LedgerError) as exc:
            other = stack.enter_context(Ledger.open())
            lock_trackers([tracker], stack, ledger=other)
        refused.append(str(exc.value))
        cli = run(tracker, "2026-11-26", tmp_path / "other-outbox")
        refused.append(f"exit {cli.exit_code}: {cli.stderr}")

    probe = Probe(MemoryBackend(), during=[second_run])
    with ExitStack() as stack:
        holder = stack.enter_context(Ledger.open())
        lock_trackers([tracker], stack, ledger=holder)  # what `ftc-office run` holds
        r, ledger = runner(probe)
        try:
            r.run([tracker])
        finally:
            ledger.close()
    assert len(refused) == 4  # two deliveries, each tried both ways
    lock_msg = (f"{tracker.resolve()}: another ftc-office run is working on this tracker — "
                "wait for it to finish, then run again")
    assert refused[0] == lock_msg
    assert refused[1] == f"exit 1: error: {lock_msg}\n"
    assert refused[2:] == refused[:2]
    assert not (tmp_path / "other-outbox").exists()
    # released afterwards: a later run works
    with ExitStack() as stack:
        lock_trackers([tracker], stack, ledger=stack.enter_context(Ledger.open()))


def test_reconcile_sending_with_the_outbox_file_present_marks_it_sent_and_stamps(
        tracker: Path, tmp_path: Path) -> None:
    outbox = tmp_path / "outbox"
    probe = Probe(OutboxBackend(outbox), crash_after=True)  # dies right after the file
    r, ledger = runner(probe)
    with pytest.raises(Crash):
        r.run([tracker])
    ledger.close()
    assert len(emls(outbox)) == 1
    assert status_lines()[0] == "  sending  1"
    assert not any(c["ATU Sent"] for c in rows(tracker).values())
    key = next(iter(emls(outbox))).removesuffix(".eml")
    result = run(tracker, "2026-11-26", outbox)
    assert result.exit_code == 0, result.output
    assert "sent 1 message(s)" in result.stdout  # only the other tenant's ATU is new
    assert len(emls(outbox)) == 2
    assert all(c["ATU Sent"] == at("2026-11-26") for c in rows(tracker).values())
    ledger = Ledger.open()
    try:
        e = ledger.get(key)
        assert e is not None and e.state == "sent" and e.attempts == 1
        assert [x["event"] for x in ledger.events() if x["key"] == key] == [
            "planned", "sending", "reconciled_sent"]
    finally:
        ledger.close()


def test_reconcile_sending_without_the_file_sends_it_once(tracker: Path, tmp_path: Path
                                                          ) -> None:
    outbox = tmp_path / "outbox"
    probe = Probe(OutboxBackend(outbox), crash_before=True)  # dies before writing anything
    r, ledger = runner(probe)
    with pytest.raises(Crash):
        r.run([tracker])
    ledger.close()
    assert emls(outbox) == {}
    result = run(tracker, "2026-11-26", outbox)
    assert result.exit_code == 0, result.output
    assert len(emls(outbox)) == 2
    again = run(tracker, "2026-11-26", outbox)
    assert again.exit_code == 0 and len(emls(outbox)) == 2
    ledger = Ledger.open()
    try:
        retried = [e for e in ledger.entries(None) if e.attempts == 2]
        assert len(retried) == 1 and retried[0].state == "sent"
        assert [x["event"] for x in ledger.events() if x["key"] == retried[0].key] == [
            "planned", "sending", "reconciled_not_sent", "sending", "sent"]
    finally:
        ledger.close()
    assert all(c["ATU Sent"] == at("2026-11-26") for c in rows(tracker).values())


def test_smtp_hang_up_after_data_is_unknown_never_resent_and_shown(
        tracker: Path, tmp_path: Path, smtp_plain: SmtpServer) -> None:
    tracker = make_tracker(tracker, [row("t-1", "Teams")])
    smtp_config(tmp_path, smtp_plain)
    smtp_plain.handler.drop_after_data = True
    first = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                "--outbox-mode", "pickup", "--yes")
    assert first.exit_code == 1, first.output
    assert smtp_plain.handler.data_commands == 1
    assert "delivery outcome unknown" in first.stdout
    lines = status_lines()
    assert lines[0] == "  unknown  1"
    m = re.match(r"unknown: (atu\.t-1\.teams\.\w+) to ann@microsoft.com, fm.one@microsoft.com "
                 r"at \S+ — ", lines[1])
    assert m, lines
    key = m.group(1)
    assert rows(tracker)[("t-1", "Teams")]["ATU Sent"] is None
    # the server works again; the next run must not send it a second time
    smtp_plain.handler.drop_after_data = False
    second = ftc("run", str(tracker), "--as-of", "2026-11-27", "--no-dry-run",
                 "--outbox-mode", "pickup", "--yes")
    assert second.exit_code == 1
    assert smtp_plain.handler.data_commands == 1
    assert f"message {key} may have been sent (state unknown)" in second.stdout
    assert f"ftc-office resolve {key} --sent" in second.stdout
    assert status_lines()[0] == "  unknown  1"
    # the person checks: it arrived. Resolve, and the next run stamps without sending
    assert ftc("resolve", key, "--sent").exit_code == 0
    third = ftc("run", str(tracker), "--as-of", "2026-11-27", "--no-dry-run",
                "--outbox-mode", "pickup", "--yes")
    assert third.exit_code == 0, third.output
    assert smtp_plain.handler.data_commands == 1
    assert rows(tracker)[("t-1", "Teams")]["ATU Sent"] == at("2026-11-26")


def test_a_refused_message_is_never_retried_listed_and_released_by_resend(
        tracker: Path, tmp_path: Path, smtp_plain: SmtpServer) -> None:
    """550 at RCPT for every recipient (real aiosmtpd): ``refused`` with the reason, not
    tried by the next run, listed by ``status``; ``resolve --resend`` releases it."""
    tracker = make_tracker(tracker, [row("t-1", "Teams"), row(
        "t-2", "Intune", account_team="refused@microsoft.com",
        fm_email="refused@microsoft.com")])
    smtp_config(tmp_path, smtp_plain)
    first = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                "--outbox-mode", "pickup", "--yes",
                "--report", str(tmp_path / "report.json"))
    assert first.exit_code == 1, first.output
    assert len(smtp_plain.handler.received) == 1  # t-1 only
    ledger = Ledger.open()
    try:
        (key,) = [e.key for e in ledger.entries(None) if e.tenant_ids == ["t-2"]]
        entry = ledger.get(key)
        assert entry is not None and entry.state == "refused" and entry.attempts == 1
        assert "550" in (entry.error or "") and "refused@microsoft.com" in (entry.error or "")
    finally:
        ledger.close()
    assert json.loads((tmp_path / "report.json").read_text())["refused"] == [key]
    lines = status_lines()
    assert "  refused  1" in lines
    assert any(line.startswith(f"refused: {key} to refused@microsoft.com") and "550" in line
               for line in lines), lines
    # the next run does not try it again, and says what to do
    second = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                 "--outbox-mode", "pickup", "--yes")
    assert second.exit_code == 1
    assert f"ftc-office resolve {key} --resend" in second.stdout
    assert "1 refused" in second.stdout
    with Ledger.open() as ledger:
        entry = ledger.get(key)
        assert entry is not None and entry.state == "refused" and entry.attempts == 1
    # a person releases it (say the mailbox exists now): the next run plans it afresh and
    # tries again — here the server still refuses it, so it is refused again
    assert ftc("resolve", key, "--resend").exit_code == 0
    third = ftc("run", str(tracker), "--as-of", "2026-11-26", "--no-dry-run",
                "--outbox-mode", "pickup", "--yes")
    assert third.exit_code == 1
    with Ledger.open() as ledger:
        entry = ledger.get(key)
        assert entry is not None and entry.state == "refused" and entry.attempts == 1
        events = [e["event"] for e in ledger.events() if e["key"] == key]
    assert events == ["planned", "sending", "refused", "resolved_resend", "planned",
                      "sending", "refused"]
    assert len(smtp_plain.handler.received) == 1


class CrashAtMark(Delegating):
    """SMTP delivery that dies (like a SIGKILL) with the message data sent, before the final
    dot: after the ledger's mark (``marked``) or before it."""

    def __init__(self, inner: SmtpBackend, marked: bool) -> None:
        self.inner, self.marked, self.name = inner, marked, inner.name

    def deliver(self, message: OutgoingMessage, prepared: PreparedHook | None = None
                ) -> DeliveryResult:
        def mark(provider_id: str) -> None:
            if self.marked and prepared is not None:
                prepared(provider_id)
            raise Crash

        return self.inner.deliver(message, mark)


@pytest.mark.parametrize("marked", [False, True])
def test_smtp_reconcile_resends_without_the_data_mark_and_asks_with_it(
        tracker: Path, tmp_path: Path, smtp_plain: SmtpServer, marked: bool) -> None:
    """No mark: the final dot never left, the server discarded the transaction (RFC 5321
    4.1.1.4), so the next run sends it once. With the mark: unknown, for a person."""
    tracker = make_tracker(tracker, [row("t-1", "Teams")])
    smtp = SmtpBackend(smtp_plain.settings(), default_sender="ann@microsoft.com")
    r, ledger = runner(CrashAtMark(smtp, marked))
    try:
        with pytest.raises(Crash):
            r.run([tracker])
        (entry,) = ledger.entries(None)
        assert entry.state == "sending" and entry.prepared is marked
    finally:
        ledger.close()
        smtp.close()
    assert smtp_plain.handler.data_commands == 0  # no end of data: nothing was completed
    r, ledger = runner(SmtpBackend(smtp_plain.settings(), default_sender="ann@microsoft.com"))
    try:
        report = r.run([tracker])
        entry = ledger.get(entry.key)
        assert entry is not None
        if marked:
            assert entry.state == "unknown" and report.unknown == [entry.key]
            assert smtp_plain.handler.received == []
        else:
            assert entry.state == "sent" and entry.attempts == 2 and not report.failed
            assert len(smtp_plain.handler.received) == 1
            events = [e["event"] for e in ledger.events() if e["key"] == entry.key]
            assert events == ["planned", "sending", "reconciled_not_sent", "sending",
                              "prepared", "sent"]
    finally:
        ledger.close()


def test_ledger_survives_in_wal_with_full_sync(tracker: Path, kind: str) -> None:
    if kind == "postgres":
        pytest.skip("SQLite's own storage settings")
    ledger = Ledger.open()
    try:
        assert ledger.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert ledger.db.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    finally:
        ledger.close()
    bad = Ledger.open().path
    bad.parent.mkdir(parents=True, exist_ok=True)
    for p in bad.parent.glob(bad.name + "*"):
        p.unlink()
    bad.write_bytes(b"this is not a database" * 100)
    with pytest.raises((LedgerError, sqlite3.DatabaseError)):
        Ledger.open()


def test_the_same_tracker_by_another_path_is_the_same_tracker(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch
                                                               ) -> None:
    """Steps recorded while the tracker was named relatively (and Excel had it open when
    the run came to write it back) are stamped later by a write-back that names it by its
    absolute path."""
    from click.testing import CliRunner

    from ftc_office.cli.main import cli

    team = tmp_path / "team"
    team.mkdir()
    tracker = make_tracker(team / "t.xlsx", [row("t-1")])
    owner = team / "~$t.xlsx"
    owner.write_bytes(b"\x05Alice" + b" " * 40)
    monkeypatch.chdir(team)
    # the runner itself (the CLI refuses a tracker open in Excel before the first send)
    ledger = Ledger.open()
    try:
        report = Runner(load_settings(None), ledger, MemoryBackend(),
                        RunOptions(as_of=dt.date(2026, 11, 26), dry_run=False)
                        ).run([Path("t.xlsx")])
    finally:
        ledger.close()
    assert report.sent == 1
    assert any("open in Excel by Alice" in e for e in report.errors)
    owner.unlink()
    monkeypatch.chdir(tmp_path)
    second = CliRunner().invoke(cli, ["writeback", str(tracker.resolve())])
    assert second.exit_code == 0, second.output
    assert "2 cell(s) written for 1 recorded step(s)" in second.output

"""Messages fit for their recipients, and records that never say "sent" for a draft.

- Names are never guessed from addresses: ``Name <address>`` cells, the FM Name / Customer
  Contact Name columns and the config's ``[people]`` give them; otherwise "Hello,".
- The default outbox writes drafts (``X-Unsent: 1``, always a ``From:``), recorded as drafted:
  no sent date is stamped until ``mark-sent``.
- Workloads of one tenant due together share one message.
- A customer template may not name an internal variable; a customer message never carries
  the internal Next Steps, even through a template that dumps whole objects.
- A follow-up for a discussion held long ago is flagged in preview and in the dry run.
"""

from __future__ import annotations

import datetime as dt
import io
import shutil
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default as default_policy
from pathlib import Path
from typing import cast

import pytest
from builders import DEFAULT_COLUMNS, make_tracker, row
from docx import Document
from runhelpers import emls, ftc, rows

from ftc_office.mailers import builtin_root

AS_OF = "2026-11-26"
FM = "rosiea@microsoft.com"
NAMED_COLUMNS = (*DEFAULT_COLUMNS, "fm_name", "customer_contact_names", "customer_next_steps")
FOLLOWUP_DUE = {"atu_sent": dt.date(2026, 10, 1), "discussion_date": dt.date(2026, 11, 20)}


def parse(path: Path) -> EmailMessage:
    return cast(EmailMessage, BytesParser(policy=default_policy).parsebytes(path.read_bytes()))


def body(msg: EmailMessage, kind: str = "plain") -> str:
    part = msg.get_body((kind,))
    assert part is not None
    return cast(str, part.get_content()).replace("\r\n", "\n")


def preview(tmp_path: Path, tracker: Path, *extra: str) -> dict[str, EmailMessage]:
    out = tmp_path / "p"
    result = ftc("preview", str(tracker), "--as-of", AS_OF, "--out", str(out), *extra)
    assert result.exit_code == 0, result.output
    return {p.name: parse(p) for p in out.glob("*.eml")}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


# ---- names --------------------------------------------------------------------------------

def test_names_come_from_cells_columns_and_people_never_from_the_address(tmp_path: Path
                                                                        ) -> None:
    (tmp_path / "ftc-office.toml").write_text(
        '[people]\n"v-mlopez@microsoft.com" = "María López"\n', encoding="utf-8")
    tracker = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", fm_email=FM, fm_name="Rosie Anderson",
            account_team="Eduardo Díaz <eduardod@microsoft.com>; v-mlopez@microsoft.com"),
        row("t-2", fm_email=FM, account_team="eduardod@microsoft.com"),
        row("t-3", fm_email=FM, **FOLLOWUP_DUE, customer_contacts="Sam Lee <sam@contoso.com>"),
    ], columns=NAMED_COLUMNS)
    mails = preview(tmp_path, tracker)
    atu = next(m for n, m in mails.items() if n.startswith("atu.t-1"))
    text = body(atu)
    assert text.startswith("Hello Eduardo and María,")
    assert "Rosie Anderson" in text and "Rosiea" not in text and "Mlopez" not in text
    # display names in the headers, RFC 2047-encoded when not ASCII
    raw = next(p for p in (tmp_path / "p").glob("atu.t-1*.eml")).read_bytes()
    assert b"=?utf-8?" in raw and "Díaz".encode() not in raw.split(b"\r\n\r\n")[0]
    assert atu["From"] == "Rosie Anderson <rosiea@microsoft.com>"
    assert atu["To"] == ('"Eduardo Díaz" <eduardod@microsoft.com>, '
                         '"María López" <v-mlopez@microsoft.com>').replace('"', "")
    # only an address, no name anywhere: "Hello," and no guessed signature
    follow = next(m for n, m in mails.items() if n.startswith("customer_followup.t-3"))
    assert body(follow).startswith("Hello Sam,")
    atu2 = body(next(m for n, m in mails.items() if n.startswith("atu.t-2")))
    assert atu2.startswith("Hello,\n") and "Eduardod" not in atu2 and "Rosiea" not in atu2
    assert "Thank you for your support,\nFastTrack Manager" in atu2


def test_a_name_column_is_used_only_when_it_matches_the_addresses(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", **FOLLOWUP_DUE, customer_contacts="a@contoso.com; b@contoso.com",
            customer_contact_names="Ann Smith; Bo Jones"),
        row("t-2", **FOLLOWUP_DUE, customer_contacts="a@fabrikam.com; b@fabrikam.com",
            customer_contact_names="Only One"),
    ], columns=NAMED_COLUMNS)
    mails = preview(tmp_path, tracker)
    one = next(m for n, m in mails.items() if n.startswith("customer_followup.t-1"))
    assert body(one).startswith("Hello Ann and Bo,")
    two = next(m for n, m in mails.items() if n.startswith("customer_followup.t-2"))
    assert body(two).startswith("Hello,\n")  # one name for two people: not guessed


# ---- drafts: nothing is "sent" until the FM says so ---------------------------------------

def test_drafts_are_unsent_and_stamp_nothing_until_mark_sent(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path / "t.xlsx", [row("t-1"), row("t-2", **FOLLOWUP_DUE)])
    outbox = tmp_path / "outbox"
    result = ftc("run", str(tracker), "--as-of", AS_OF, "--no-dry-run", "--yes",
                 "--outbox", str(outbox))
    assert result.exit_code == 0, result.output
    assert "sent 0 message(s); wrote 2 draft(s) (not sent)" in result.stdout
    assert "nothing was sent" in result.stderr
    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 2
    for f in files:
        assert f.read_bytes().startswith(b"X-Unsent: 1\r\n")
        assert parse(f)["From"] == "fm.one@microsoft.com"
    cells = rows(tracker)
    assert cells[("t-1", "Teams")].get("ATU Sent") is None
    assert cells[("t-2", "Teams")].get("Customer Email Sent") is None
    # a rerun drafts nothing again
    again = ftc("run", str(tracker), "--as-of", AS_OF, "--no-dry-run", "--yes",
                "--outbox", str(outbox))
    assert "wrote" not in again.stdout.split("\n")[-2] and len(list(outbox.glob("*"))) == 2
    status = ftc("status")
    assert "drafted" in status.output
    # the FM sent one of them from Outlook
    marked = ftc("mark-sent", str(tracker), "--tenant", "t-1")
    assert marked.exit_code == 0, marked.output
    assert "marked sent: ATU for Teams" in marked.stdout
    cells = rows(tracker)
    assert cells[("t-1", "Teams")]["ATU Sent"] == dt.datetime(2026, 11, 26)
    assert cells[("t-2", "Teams")].get("Customer Email Sent") is None
    assert ftc("mark-sent", str(tracker)).exit_code == 0
    assert rows(tracker)[("t-2", "Teams")]["Customer Email Sent"] == dt.datetime(2026, 11, 26)
    nothing = ftc("mark-sent", str(tracker), "--key", "atu.nope")
    assert nothing.exit_code == 2 and "no drafted message" in nothing.output


# ---- one message per recipient set --------------------------------------------------------

def test_three_workloads_due_together_give_one_atu_with_one_brief(tmp_path: Path) -> None:
    wls = ("Exchange Online", "Teams", "SharePoint Online")
    tracker = make_tracker(tmp_path / "t.xlsx", [row("t-1", w) for w in wls])
    mails = preview(tmp_path, tracker)
    atus = [m for n, m in mails.items() if n.startswith("atu.")]
    assert len(atus) == 1
    (msg,) = atus
    assert all(w in str(msg["Subject"]) for w in wls)
    docs = [p for p in msg.iter_attachments()]
    assert len(docs) == 1
    assert docs[0].get_filename() == (
        "ATU brief - Customer t-1 - Exchange Online, Teams and SharePoint Online.docx")
    # each workload row gets its own stamps and note when it is sent
    outbox = tmp_path / "outbox"
    ftc("run", str(tracker), "--as-of", AS_OF, "--no-dry-run", "--yes", "--outbox",
        str(outbox), "--outbox-mode", "pickup")
    cells = rows(tracker)
    assert all(cells[("t-1", w)]["ATU Sent"] == dt.datetime(2026, 11, 26) for w in wls)
    assert all(w in cells[("t-1", w)]["Engagement Note"] for w in wls)
    # a workload added later gets its own message
    tracker2 = make_tracker(tmp_path / "t2.xlsx", [
        *(row("t-1", w, atu_sent=dt.date(2026, 11, 26)) for w in wls), row("t-1", "Intune")])
    shutil.copyfile(tracker2, tracker)
    ftc("run", str(tracker), "--as-of", "2026-11-27", "--no-dry-run", "--yes", "--outbox",
        str(outbox), "--outbox-mode", "pickup")
    later = [n for n in emls(outbox) if n.startswith("atu.") and ".intune." in n]
    assert len(later) == 1


# ---- audience-bound content ---------------------------------------------------------------

def _override(tmp_path: Path, name: str, text: str) -> None:
    folder = tmp_path / "tpl" / "email" / "customer_followup"
    folder.mkdir(parents=True, exist_ok=True)
    src = builtin_root() / "templates" / "email" / "customer_followup"
    for f in src.iterdir():
        shutil.copyfile(f, folder / f.name)
    (folder / name).write_text(text, encoding="utf-8")
    (tmp_path / "ftc-office.toml").write_text('[paths]\ntemplates = "tpl"\n', encoding="utf-8")


def test_a_customer_template_naming_an_internal_variable_is_refused_at_its_line(
        tmp_path: Path) -> None:
    _override(tmp_path, "body.txt", "Hello,\n\nYou have {{ tenant.seats }} seats.\n")
    tracker = make_tracker(tmp_path / "t.xlsx", [row("t-1", **FOLLOWUP_DUE)])
    result = ftc("preview", str(tracker), "--as-of", AS_OF, "--out", str(tmp_path / "p"))
    assert result.exit_code != 0
    assert "customer_followup/body.txt:3" in result.output
    assert "internal variable 'seats'" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("dump", ["{{ tenant }}", "{{ workload }}", "{{ covered }}",
                                  "{% for w in tenant.workloads %}{{ w }}{% endfor %}"])
def test_a_customer_template_dumping_objects_still_shows_nothing_internal(
        tmp_path: Path, dump: str) -> None:
    _override(tmp_path, "body.txt", f"Hello,\n{dump}\n")
    tracker = make_tracker(tmp_path / "t.xlsx", [row(
        "t-1", **FOLLOWUP_DUE, seats=4321, active_users=987,
        next_steps="Customer unhappy with pace; escalated to CSAM")])
    mails = preview(tmp_path, tracker)
    text = body(next(m for n, m in mails.items() if n.startswith("customer_followup")))
    assert "Customer t-1" in text or "Teams" in text  # the dump rendered something
    for secret in ("CSAM", "4321", "987", "account_team", "milestone"):
        assert secret not in text, secret


def test_customer_next_steps_reach_the_customer_and_next_steps_do_not(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path / "t.xlsx", [row(
        "t-1", **FOLLOWUP_DUE, next_steps="Escalated to CSAM",
        customer_next_steps="Book the Teams Phone kickoff with your FastTrack team")],
        columns=NAMED_COLUMNS)
    mails = preview(tmp_path, tracker)
    msg = next(m for n, m in mails.items() if n.startswith("customer_followup"))
    for part in (body(msg), body(msg, "html")):
        assert "Book the Teams Phone kickoff" in part and "CSAM" not in part
    (doc,) = [p.get_content() for p in msg.iter_attachments()]
    words = "\n".join(p.text for p in Document(io.BytesIO(doc)).paragraphs)
    assert "CSAM" not in words


# ---- a discussion held long ago -----------------------------------------------------------

def test_a_stale_discussion_is_flagged_in_preview_and_dry_run(tmp_path: Path) -> None:
    tracker = make_tracker(tmp_path / "t.xlsx", [
        row("t-1", atu_sent=dt.date(2026, 3, 1), discussion_date=dt.date(2026, 4, 18))])
    out = tmp_path / "p"
    result = ftc("preview", str(tracker), "--as-of", AS_OF, "--out", str(out))
    assert ("check: Customer t-1 (t-1): Teams: the completion discussion was on 2026-04-18, "
            "222 days") in result.stderr
    assert "Check: Teams: the completion discussion was on 2026-04-18" in \
        (out / "index.html").read_text(encoding="utf-8")
    dry = ftc("run", str(tracker), "--as-of", AS_OF)
    assert "check: Teams: the completion discussion was on 2026-04-18" in dry.stdout
    text = body(next(parse(p) for p in out.glob("customer_followup*.eml")))
    assert "Thank you for meeting" not in text  # wording that does not assume a recent meeting

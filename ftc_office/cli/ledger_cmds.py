"""Commands over the ledger: `writeback`, `confirm-queue`, `status`, `resolve`, `history`,
and `ledger init` / `ledger import`.

Each opens the configured ledger: the shared PostgreSQL one when ``FTC_OFFICE_LEDGER_URL`` or
``ledger.url`` names it, else SQLite in the data folder (``FTC_OFFICE_DATA_DIR``, else
``paths.data_dir`` from the config, else the per-user folder).
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import click

from ftc_office.cli.boundary import boundary, settings_of
from ftc_office.cli.options import force_option, parse_as_of
from ftc_office.errors import UsageError


@click.command()
@click.argument("tracker", type=click.Path(dir_okay=False))
@force_option
@click.pass_context
@boundary
def writeback(ctx: click.Context, tracker: str, force: bool) -> None:
    """Stamp everything the ledger recorded as done into the tracker (safe to re-run).

    \b
    Example:
      ftc-office writeback tracker.xlsx
    """
    from ftc_office.run.locks import locked_ledger
    from ftc_office.writeback import write_back

    settings = settings_of(ctx)
    path, data = Path(tracker), settings.data_folder()
    with locked_ledger([path], data, settings) as ledger:
        wb = write_back(path, ledger, settings, force=force, data=data)
    for c in wb.conflicts:
        click.echo(f"conflict: {c}", err=True)
    if wb.restored:
        from ftc_office.run.plan import restored_notice

        click.echo(restored_notice(tracker, wb.restored))
    click.echo(f"{tracker}: {wb.cells} cell(s) written for {wb.jobs} recorded step(s)"
               + (f"; backup {wb.backup}" if wb.backup else ""))
    sys.exit(1 if wb.conflicts else 0)


@click.command("confirm-queue")
@click.argument("trackers", nargs=-1, required=True, metavar="TRACKER...")
@click.option("--tenant", metavar="ID", help="The tenant whose move is confirmed.")
@click.option("--date", "date", metavar="YYYY-MM-DD", help="Confirmation date (default: today).")
@click.option("--from", "returned", multiple=True, type=click.Path(dir_okay=False),
              metavar="FILE.xlsx", help="A queue-move workbook returned with Moved On filled "
              "(repeat for several).")
@click.option("--from-mailbox", is_flag=True,
              help="Read the assignment team's replies in Outlook (o365; read-only).")
@force_option
@click.pass_context
@boundary
def confirm_queue_cmd(ctx: click.Context, trackers: tuple[str, ...], tenant: str | None,
                      date: str | None, returned: tuple[str, ...], from_mailbox: bool,
                      force: bool) -> None:
    """Record that the assignment team moved tenants (fills Queue Confirmed): one typed
    tenant, returned workbooks, or their replies in the mailbox.

    \b
    Examples:
      ftc-office confirm-queue tracker.xlsx --tenant 6f1c...-...
      ftc-office confirm-queue tracker.xlsx --from queue-move-returned.xlsx
      ftc-office confirm-queue "team/*.xlsx" --from-mailbox
    """
    from ftc_office.cli.confirm_views import confirm_from_sources
    from ftc_office.run.confirm import confirm_queue
    from ftc_office.run.locks import locked_ledger
    from ftc_office.tracker.locate import expand_paths

    if sum((bool(tenant), bool(returned), from_mailbox)) != 1:
        raise UsageError("confirm-queue", "say what confirms the move",
                         "give exactly one of --tenant ID, --from FILE.xlsx, --from-mailbox")
    if date and not tenant:
        raise UsageError(f"--date {date}", "the date of a workbook or reply is its own",
                         "leave out --date (it goes with --tenant)")
    settings = settings_of(ctx)
    paths, data = expand_paths(trackers), settings.data_folder()
    if not tenant:
        sys.exit(confirm_from_sources(settings, paths, [Path(r) for r in returned],
                                      from_mailbox, force))
    when = parse_as_of(date)
    with locked_ledger(paths, data, settings) as ledger:
        results = confirm_queue(paths, settings, ledger, tenant, when, force, data=data)
    cells = sum(r.cells for r in results)
    click.echo(f"{', '.join(trackers)}: queue move of {tenant} confirmed on "
               f"{when.isoformat()} ({cells} cell(s) written) — the next run unassigns the FM")


@click.command()
@click.option("--fm", metavar="USER", help="Only entries this user claimed (sent).")
@click.option("--tracker", metavar="PATH", help="Only entries of this tracker.")
@click.pass_context
@boundary
def status(ctx: click.Context, fm: str | None, tracker: str | None) -> None:
    """Counts of ledger entries per state, and every message a person has to decide about:
    unknown outcomes, failures, and messages the provider refused (with its reason).

    Each names who sent it from where; messages another run is sending now are listed too.

    \b
    Example:
      ftc-office status --fm alice
    """
    from ftc_office.jobs import NEEDS_PERSON, State
    from ftc_office.ledger import Ledger

    names = _tracker_names(tracker)
    with Ledger.open(settings_of(ctx).data_folder(), settings_of(ctx)) as ledger:
        counts = ledger.counts()
        click.echo(f"ledger {ledger.where}")
        if fm or tracker:  # the counts of the matching entries only
            counts = dict(Counter(e.state for e in ledger.entries()
                                  if _matches(e, fm, names)))
            click.echo("  only " + ", ".join(
                ([f"claimed by {fm}"] if fm else []) + ([f"of {tracker}"] if tracker else [])))
        for state in (State.PLANNED, State.SENDING, State.SENT, State.DRAFTED, State.DONE,
                      State.FAILED, State.REFUSED, State.UNKNOWN, State.SKIPPED):
            if counts.get(state):
                click.echo(f"  {state:8} {counts[state]}")
        if not counts:
            click.echo("  (empty)")
        shown = [e for e in ledger.entries(tuple(NEEDS_PERSON)) if _matches(e, fm, names)]
        busy = {e.key for e in shown if ledger.live(e)}
        scheduled = _scheduled(ledger, fm, names)
    attention = [e for e in shown if e.key not in busy]
    for line in scheduled:
        click.echo(line)
    for e in shown:
        if e.key in busy:
            click.echo(f"sending: {e.key} being sent by {e.by()} since {e.claimed_at}")
    for e in attention:
        click.echo(f"{e.state}: {e.key} to {', '.join(e.recipients)} at {e.updated_at}"
                   + (f" — {e.error}" if e.error else "")
                   + (f" [by {e.by()}]" if e.claimed_by else ""))
    backends = sorted({e.backend or "" for e in attention
                       if e.state in (State.SENDING, State.UNKNOWN)})
    if backends:
        from ftc_office.run.narrate import where_to_look

        look = "; ".join((f"{b}: " if len(backends) > 1 else "") + where_to_look(b)
                         for b in backends)
        click.echo(f"ledger: an outcome is unknown — {look}; then run: ftc-office resolve "
                   "KEY --sent | --resend | --skip", err=True)
    if any(e.state == State.REFUSED for e in attention):
        click.echo("ledger: the provider refused a message (reason above); it is never "
                   "retried by itself — fix the cause, then run: ftc-office resolve KEY "
                   "--resend (or --skip)", err=True)


def _scheduled(ledger: Any, fm: str | None, names: set[str]) -> list[str]:
    """What is scheduled (merge --send-at / Send At), soonest first: time, key, row and
    recipients, and where it waits."""
    from ftc_office.merge.schedule import FORMAT, pending

    items = [p for p in pending(ledger) if _matches(p.entry, fm, names)]
    lines = [f"scheduled ({len(items)}):"] if items else []
    for p in items:
        e = p.entry
        where = "held by Exchange in the Outbox" if p.held else f"{e.backend}, kept in the ledger"
        lines.append(f"  {p.when.astimezone():{FORMAT}}  {e.key}  {e.summary}  ({where})")
    if items:
        lines.append("  cancel one: ftc-office resolve KEY --skip")
    return lines


def _tracker_names(tracker: str | None) -> set[str]:
    """How the ledger may name the tracker of --tracker PATH: this copy's path and, when the
    workbook carries one, its travelling ID (``tracker:<FtcOfficeTrackerId>``), which names
    every synced copy of it on every machine. Empty without --tracker."""
    from ftc_office.paths import tracker_id
    from ftc_office.run.identity import tracker_identity

    if not tracker:
        return set()
    uid = tracker_identity(Path(tracker), create=False) if Path(tracker).is_file() else None
    return {tracker_id(tracker), *([uid] if uid else [])}


def _names_of(entry: Any) -> set[str]:
    """Every name the ledger gives an entry's trackers (paths, travelling IDs)."""
    return {*entry.trackers, *getattr(entry, "tracker_ids", ()),
            *(s.get("uid") for s in entry.stamps if isinstance(s, dict) and s.get("uid"))}


def _matches(entry: Any, fm: str | None, names: set[str]) -> bool:
    """Whether a ledger entry passes the --fm / --tracker filters (``names``: see
    `_tracker_names`)."""
    if fm and (entry.claimed_by or "").casefold() != fm.casefold():
        return False
    return not names or bool(names & _names_of(entry))


@click.command()
@click.argument("key")
@click.option("--sent", "action", flag_value="sent", help="It did go out: record it as sent.")
@click.option("--resend", "action", flag_value="resend",
              help="It did not (or was refused and the cause is fixed): send it again.")
@click.option("--skip", "action", flag_value="skip", help="Never send it.")
@click.pass_context
@boundary
def resolve(ctx: click.Context, key: str, action: str | None) -> None:
    """Decide about a message whose outcome is unknown (after looking where `status` says), or
    release one the provider refused (--resend after fixing the cause, or --skip).

    --skip on a scheduled message (`status` lists them) cancels it: through o365 the message
    Exchange holds in the Outbox is deleted.

    \b
    Example:
      ftc-office resolve atu.6f1c...teams.1a2b3c --sent
      ftc-office resolve merge.reminder.p7@contoso.com --skip
    """
    from ftc_office.ledger import Ledger

    if not action:
        raise UsageError("resolve", "say what happened", "add --sent, --resend or --skip")
    settings = settings_of(ctx)
    with Ledger.open(settings.data_folder(), settings) as ledger:
        if action == "skip":
            cancelled = _cancel(ledger, key, settings)
            if cancelled:
                click.echo(f"{key}: cancelled — {cancelled}")
                return
        before = ledger.resolve(key, action)
    click.echo(f"{key}: {before.state} → {action}")


def _cancel(ledger: Any, key: str, settings: Any) -> str | None:
    """resolve --skip of a scheduled message (None: it is not scheduled)."""
    from ftc_office.backends.registry import make_backend
    from ftc_office.merge.schedule import cancel

    def opened() -> Any:
        backend = make_backend(settings, "o365", None, settings.data_folder())
        backend.open()
        return backend
    return cancel(ledger, key, opened)


@click.command()
@click.option("--tenant", metavar="ID", help="Only this tenant's events.")
@click.option("--fm", metavar="USER", help="Only events recorded by this user.")
@click.option("--tracker", metavar="PATH", help="Only events about this tracker.")
@click.option("--json", "as_json", is_flag=True, help="As JSON.")
@click.pass_context
@boundary
def history(ctx: click.Context, tenant: str | None, fm: str | None, tracker: str | None,
            as_json: bool) -> None:
    """The ledger's event log: every transition and every workbook write, with who recorded
    it and on which host.

    \b
    Example:
      ftc-office history --tenant 6f1c...
    """
    from ftc_office.ledger import Ledger

    names = _tracker_names(tracker)
    with Ledger.open(settings_of(ctx).data_folder(), settings_of(ctx)) as ledger:
        events = ledger.events(tenant)
        of_key = {e.key: _names_of(e) for e in ledger.entries()} if names else {}
    if fm:
        events = [e for e in events if (e["user"] or "").casefold() == fm.casefold()]
    if names:
        events = [e for e in events if names & {*e["trackers"], *of_key.get(e["key"], ()),
                                                e["detail"].get("tracker"),
                                                e["detail"].get("tracker_uid")}]
    if as_json:
        click.echo(json.dumps(events, indent=2, default=str))
        return
    for e in events:
        detail = {k: v for k, v in e["detail"].items() if v not in (None, [], "")}
        who = f"{e['user']}@{e['host']}" if e["user"] else "-"
        click.echo(f"{e['at']}  {e['event']:20} {who}  {e['key'] or ''}  "
                   + " ".join(f"{k}={v}" for k, v in detail.items()))


@click.group("ledger")
def ledger_group() -> None:
    """The ledger itself: create or migrate its schema, import a personal ledger.

    \b
    Examples:
      ftc-office ledger init
      ftc-office ledger import ~/.local/share/ftc-office/ledger.sqlite3
    """


@ledger_group.command("init")
@click.pass_context
@boundary
def ledger_init(ctx: click.Context) -> None:
    """Create the ledger's schema, or migrate it to this version (safe to re-run). For a
    shared ledger run it once, before the team's first run; a newer schema is refused.

    \b
    Example:
      FTC_OFFICE_LEDGER_URL=postgresql://lead@db.contoso.com/ftc ftc-office ledger init
    """
    from ftc_office.ledger import Ledger
    from ftc_office.ledger.select import ledger_password, ledger_url

    settings = settings_of(ctx)
    url = ledger_url(settings)
    if url:
        from ftc_office.ledger.postgres import describe, init_schema

        before, after = init_schema(url, ledger_password(settings, url))
        what = ("already at" if before == after else
                "created at" if before == 0 else f"migrated from version {before} to")
        click.echo(f"ledger {describe(url)}: schema {what} version {after}")
        return
    with Ledger.open(settings.data_folder(), settings) as ledger:
        click.echo(f"ledger {ledger.where}: ready (SQLite, migrated on every opening)")


@ledger_group.command("import")
@click.argument("sqlite_file", type=click.Path(dir_okay=False))
@click.pass_context
@boundary
def ledger_import(ctx: click.Context, sqlite_file: str) -> None:
    """Copy a personal ledger (a ledger.sqlite3 file) into the configured shared one.
    Idempotent; keys that differ are listed as conflicts and left as they are.

    \b
    Example:
      ftc-office ledger import ~/.local/share/ftc-office/ledger.sqlite3
    """
    from ftc_office.ledger import Ledger
    from ftc_office.ledger.transfer import describe_result, import_sqlite

    settings = settings_of(ctx)
    src = Path(sqlite_file)
    with Ledger.open(settings.data_folder(), settings) as ledger:
        if not ledger.shared and Path(ledger.where).resolve() == src.resolve():
            raise UsageError(sqlite_file, "this is the ledger in use itself",
                             "set ledger.url (or FTC_OFFICE_LEDGER_URL) to the shared ledger")
        result = import_sqlite(ledger, src)
    for c in result.conflicts:
        click.echo(f"conflict: {c}", err=True)
    click.echo(f"{sqlite_file} → {ledger.where}: {describe_result(result)}")
    sys.exit(1 if result.conflicts else 0)

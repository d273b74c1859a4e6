"""Team kill campaign: two FMs and their lead on one shared PostgreSQL ledger, sending through
SMTP at the same time, SIGKILLed at random moments and rerun until everything is done.

    .venv/bin/python bench/robustness/team_kill.py [--kills 200] [--rows 40] [--seed S]
        [--per-episode 20] [--lease 4] [--split-ids] [--out bench/robustness/team-kill-DATE.json]

Parts, all real: PostgreSQL 15 (Debian's binaries, started here in a temporary folder by
``tests/pgserver.py``, one fresh database per episode made with the ledger's own
``init_schema``), aiosmtpd on 127.0.0.1 in this process recording the ``X-FTC-Message-Key``
header of every message it accepts (the ledger key of the message; a message counts as
received at its final dot), and ``python -m ftc_office run`` child processes.

An episode: a tracker of ``--rows`` rows (bench/make_tracker.py) gets its
``FtcOfficeTrackerId`` the way the first shared run writes it (`run.identity`), then is copied
to ``alice/tracker.xlsx`` and ``bob/tracker.xlsx`` (the synced copies of one workbook). Three
runners, each with its own data folder, ``ftc-office.toml`` (``ledger.url`` without password,
the password in ``PGPASSWORD``), user and host name: alice over her copy, bob over his, the
lead over both copies. A round starts the three at once; each is SIGKILLed, if it still runs,
at a moment drawn for it: with even odds a time uniform in [0.2 s, T] (T: the longest run of
one clean round of the three, measured first on its own ledger, which also gives the
reference), or the moment the server has accepted k more messages (k uniform over what the
episode has left to send) plus 0–40 ms, which lands the kill in the middle of delivery. Rounds
repeat until an FM's run ends with exit 0 or the episode has ``--per-episode`` kills; then the
runners are rerun one after the other without
kills until both FMs' runs exit 0 with nothing left in doubt. An entry left ``unknown`` (or a
dead claim's ``sending``) that no rerun settles needs a person: it is resolved as a person
would (``resolve KEY --sent`` if the server has it, else ``--resend``) and recorded with why.

Counted over the whole campaign:

- duplicates: a ledger key the server accepted more than once;
- lost: a message of the reference (a clean run of the same tracker on an empty ledger; per
  ``kind:tenant``, since after an interruption a queue's tenants may be requested in two
  messages) never accepted by the server, or a key the server accepted whose ledger entry is
  not ``sent`` at the end;
- needed a person: the entries resolved by hand, with the entry's state, whether its
  prepared mark (data sent, final dot not) was committed, and the ledger's error text.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from crashlib import Sink, start_smtp  # noqa: E402  (the harness shared with the tests)
from pgserver import PG_PASSWORD, PgServer, running_postgres  # noqa: E402

AS_OF = "2026-11-26"
RUNNERS = (("alice", "laptop-a"), ("bob", "laptop-b"), ("lead", "desk-l"))
FINISH_PASSES = 8


@dataclass
class Kill:
    """One SIGKILL: whom, when, and whether it held claims (was in delivery)."""

    episode: int
    round: int
    who: str
    delay: float
    trigger: str
    claims_held: int = 0
    in_flight: int = 0


@dataclass
class Episode:
    """One fresh ledger and tracker pair, its kills and what it ended with."""

    number: int
    rounds: int = 0
    kills: int = 0
    finish_runs: int = 0
    exits: dict[str, list[int]] = field(default_factory=dict)
    received: int = 0
    duplicates: list[str] = field(default_factory=list)
    lost_mail: list[str] = field(default_factory=list)
    lost_records: list[str] = field(default_factory=list)
    needed_a_person: list[dict[str, Any]] = field(default_factory=list)
    sent_by: dict[str, int] = field(default_factory=dict)
    busy_reports: int = 0
    seconds: float = 0.0


class Team:
    """The three runners of one episode: folders, configs, environments."""

    def __init__(self, work: Path, url: str, port: int, lease: float) -> None:
        self.work, self.url = work, url
        self.trackers: dict[str, list[Path]] = {}
        self.envs: dict[str, dict[str, str]] = {}
        copies = [work / "alice" / "tracker.xlsx", work / "bob" / "tracker.xlsx"]
        for user, host in RUNNERS:
            home = work / user
            home.mkdir(exist_ok=True)
            (home / "ftc-office.toml").write_text(
                '[mail]\nsender = "ftc-team@microsoft.com"\n'
                f'[delivery.smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n'
                'helo_domain = "localhost"\ntimeout = 10.0\n'
                f'[ledger]\nurl = "{url}"\nuser = "{user}"\nlease_seconds = {lease}\n',
                encoding="utf-8")
            env = {k: v for k, v in os.environ.items()
                   if not k.startswith(("PYTEST", "FTC_OFFICE_", "PG"))}
            env.update(FTC_OFFICE_HOST=host, FTC_OFFICE_DATA_DIR=str(home / "data"),
                       FTC_OFFICE_CONFIG=str(home / "ftc-office.toml"),
                       FTC_OFFICE_CONFIG_DIR=str(home / "cfg"), PGPASSWORD=PG_PASSWORD)
            self.envs[user] = env
            self.trackers[user] = copies if user == "lead" else [home / "tracker.xlsx"]

    def start(self, user: str, args: list[str] | None = None) -> subprocess.Popen[bytes]:
        """``python -m ftc_office`` as ``user`` (default: the run over their trackers)."""
        args = args or ["run", *map(str, self.trackers[user]), "--as-of", AS_OF,
                        "--backend", "smtp", "--no-dry-run", "--yes"]
        return subprocess.Popen([sys.executable, "-m", "ftc_office", *args],
                                cwd=self.work / user, env=self.envs[user],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def ledger_rows(url: str) -> list[dict[str, Any]]:
    """Every entry of the shared ledger (as any other reader would see it)."""
    import psycopg
    from psycopg.rows import dict_row

    with psycopg.connect(url, password=PG_PASSWORD, row_factory=dict_row) as conn:
        return list(conn.execute(
            "SELECT key, kind, tenant_ids, state, claimed_by, claimed_host, claimed_pid, "
            "prepared_at, error FROM jobs"))


def units(rows: list[dict[str, Any]], keys: set[str]) -> set[str]:
    """``kind:tenant`` covered by the received ``keys``."""
    return {f"{r['kind']}:{t}" for r in rows if r["key"] in keys
            for t in json.loads(r["tenant_ids"])}


def make_pair(base: Path, tracker: Path, number: int, split: bool = False) -> Path:
    """An episode folder with the two FMs' synced copies of one tracker (same ID; with
    ``split`` each copy got its own ID before they synced, so their run locks differ)."""
    from ftc_office.run.identity import tracker_identity

    work = base / f"episode-{number:03d}"
    (work / "alice").mkdir(parents=True)
    (work / "bob").mkdir()
    first, second = work / "alice" / "tracker.xlsx", work / "bob" / "tracker.xlsx"
    shutil.copyfile(tracker, first)
    if split:
        shutil.copyfile(tracker, second)
    uid = tracker_identity(first)  # what the first shared run writes; then OneDrive syncs
    if not split:
        shutil.copyfile(first, second)
    other = tracker_identity(second, create=split)
    assert uid and other and (other != uid) == split
    return work


def fresh_ledger(pg: PgServer) -> str:
    """A new database with the ledger's schema."""
    from ftc_office.ledger.postgres import init_schema

    os.environ["PGPASSWORD"] = PG_PASSWORD
    url = pg.new_database()
    init_schema(url)
    return url


def kill_round(team: Team, ep: Episode, rng: random.Random, ref: tuple[set[str], float, int],
               sink: Sink, kills: list[Kill]) -> None:
    """Start the three runners at once; SIGKILL each, if it still runs, at its moment: half
    the runners at a random time in [0.2 s, T], half once the server has accepted a random
    number of this episode's remaining messages (then 0–40 ms later, so the kill lands
    anywhere between two messages)."""
    procs = {user: team.start(user) for user, _h in RUNNERS}
    base = len(sink.keys)
    left = max(1, ref[2] - len(set(sink.keys)))
    trigger: dict[str, tuple[str, float, float]] = {}
    for user in procs:
        if rng.random() < 0.5:
            trigger[user] = ("time", rng.uniform(0.2, ref[1]), 0.0)
        else:
            trigger[user] = ("mail", rng.randint(1, left), rng.uniform(0.0, 0.04))
    started = time.monotonic()
    fired: dict[str, float] = {}
    while any(p.poll() is None for p in procs.values()):
        now = time.monotonic() - started
        for user, proc in procs.items():
            how, at, extra = trigger[user]
            if proc.poll() is not None or user in fired:
                continue
            if how == "mail" and len(sink.keys) - base >= at:
                fired[user] = now + extra
            elif how == "time" and now >= at:
                fired[user] = now
        for user, when in list(fired.items()):
            proc = procs[user]
            if when <= now and proc.poll() is None and when >= 0:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                mine = [r for r in ledger_rows(team.url) if r["claimed_pid"] == proc.pid
                        and r["claimed_by"] == user]
                kills.append(Kill(ep.number, ep.rounds, user, round(now, 3),
                                  trigger[user][0], len(mine),
                                  sum(1 for r in mine if r["state"] == "sending")))
                ep.kills += 1
                fired[user] = -1.0
        time.sleep(0.005)
    for user, proc in procs.items():
        out = proc.communicate()[0].decode(errors="replace")
        ep.busy_reports += out.count("being sent by")
        ep.exits.setdefault(user, []).append(proc.returncode)
    ep.rounds += 1


def resolve_as_a_person(team: Team, ep: Episode, received: set[str]) -> int:
    """Decide every entry no run settles (``unknown``, or a dead claim's ``sending``)."""
    n = 0
    for r in ledger_rows(team.url):
        if r["state"] not in ("unknown", "sending"):
            continue
        action = "--sent" if r["key"] in received else "--resend"
        who = r["claimed_by"] if r["claimed_by"] in team.envs else "lead"
        proc = team.start(who, ["resolve", r["key"], action])
        out = proc.communicate()[0].decode(errors="replace").strip()
        ep.needed_a_person.append({
            "key": r["key"], "state": r["state"], "claimant": f"{r['claimed_by']}@"
            f"{r['claimed_host']}", "prepared_mark": r["prepared_at"] is not None,
            "server_has_it": r["key"] in received, "decision": action[2:],
            "why": r["error"], "resolve_exit": proc.returncode, "resolve_said": out[-200:]})
        n += 1
    return n


def finish(team: Team, ep: Episode, sink: Sink) -> None:
    """Rerun alice, bob and the lead in turn (no kills) until both FMs end cleanly with
    nothing in doubt; a person decides what the reruns leave ``unknown``."""
    for _ in range(FINISH_PASSES):
        codes = {}
        for user, _h in RUNNERS:
            proc = team.start(user)
            out = proc.communicate()[0].decode(errors="replace")
            ep.busy_reports += out.count("being sent by")
            codes[user] = proc.returncode
            ep.exits.setdefault(user, []).append(proc.returncode)
            ep.finish_runs += 1
        doubt = [r for r in ledger_rows(team.url) if r["state"] in ("unknown", "sending")]
        if doubt:
            resolve_as_a_person(team, ep, set(sink.keys))
            continue
        if codes["alice"] == 0 and codes["bob"] == 0:
            return


def count(team: Team, ep: Episode, sink: Sink, reference: set[str]) -> None:
    """Duplicates, lost mail and lost records of the episode."""
    got = collections.Counter(sink.keys)
    rows = ledger_rows(team.url)
    state = {r["key"]: r["state"] for r in rows}
    ep.received = len(got)
    ep.duplicates = sorted(k for k, c in got.items() if c > 1)
    ep.lost_mail = sorted(reference - units(rows, set(got)))
    ep.lost_records = sorted(k for k in got if state.get(k) != "sent")
    ep.sent_by = dict(collections.Counter(r["claimed_by"] or "-" for r in rows
                                          if r["state"] == "sent"))


def reference_run(pg: PgServer, base: Path, tracker: Path, port: int, sink: Sink,
                  args: argparse.Namespace) -> tuple[set[str], float, int]:
    """One clean round (the three at once, no kills; then alice and bob once more each, since
    the lead may have held the lock and sent nothing): the units mailed, the longest run's
    duration (kill moments are drawn against it), the messages."""
    team = Team(make_pair(base, tracker, 0, args.split_ids), fresh_ledger(pg), port,
                args.lease)
    sink.keys.clear()
    started = time.monotonic()
    procs = [team.start(user) for user, _h in RUNNERS]
    outs = [p.communicate()[0].decode(errors="replace") for p in procs]
    seconds = time.monotonic() - started
    for user in ("alice", "bob"):
        started = time.monotonic()
        outs.append(team.start(user).communicate()[0].decode(errors="replace"))
        seconds = max(seconds, time.monotonic() - started)
    if not sink.keys:
        raise SystemExit("the reference round sent nothing:\n" + "\n".join(outs)[-3000:])
    return units(ledger_rows(team.url), set(sink.keys)), seconds, len(sink.keys)


def episode(pg: PgServer, base: Path, tracker: Path, n: int, args: argparse.Namespace,
            port: int, sink: Sink, ref: tuple[set[str], float, int], rng: random.Random,
            kills: list[Kill]) -> Episode:
    """Kill rounds up to ``--per-episode`` kills, then the finishing reruns; count."""
    ep = Episode(n)
    started = time.monotonic()
    team = Team(make_pair(base, tracker, n, args.split_ids), fresh_ledger(pg), port,
                args.lease)
    sink.keys.clear()
    while ep.kills < args.per_episode and len(kills) < args.kills and ep.rounds < 60:
        kill_round(team, ep, rng, ref, sink, kills)
        if 0 in (ep.exits["alice"][-1], ep.exits["bob"][-1]):
            break  # an FM's run finished everything: the rest is the reruns' job
    finish(team, ep, sink)
    count(team, ep, sink, ref[0])
    ep.seconds = round(time.monotonic() - started, 1)
    shutil.rmtree(team.work, ignore_errors=True)
    return ep


def summarise(args: argparse.Namespace, ref: tuple[set[str], float, int],
              episodes: list[Episode], kills: list[Kill], seconds: float) -> dict[str, Any]:
    """The campaign's figures and every record."""
    people = [p for e in episodes for p in e.needed_a_person]
    return {
        "command": "python bench/robustness/team_kill.py " + " ".join(sys.argv[1:]),
        "date": str(dt.date.today()), "rows": args.rows, "seed": args.seed,
        "lease_seconds": args.lease, "split_ids": args.split_ids,
        "reference_messages": ref[2],
        "reference_seconds": round(ref[1], 2), "episodes": len(episodes),
        "kills": len(kills),
        "kills_by_runner": dict(collections.Counter(k.who for k in kills)),
        "kills_by_trigger": dict(collections.Counter(k.trigger for k in kills)),
        "kills_holding_claims": sum(1 for k in kills if k.claims_held),
        "kills_with_a_send_in_flight": sum(1 for k in kills if k.in_flight),
        "messages_received": sum(e.received for e in episodes),
        "duplicates": sum(len(e.duplicates) for e in episodes),
        "lost_mail": sum(len(e.lost_mail) for e in episodes),
        "lost_records": sum(len(e.lost_records) for e in episodes),
        "needed_a_person": len(people),
        "needed_a_person_why": dict(collections.Counter(
            f"{p['state']}, prepared mark {'set' if p['prepared_mark'] else 'not set'}, "
            f"server {'has' if p['server_has_it'] else 'lacks'} it" for p in people)),
        "being_sent_by_reports": sum(e.busy_reports for e in episodes),
        "sent_by": dict(sum((collections.Counter(e.sent_by) for e in episodes),
                            collections.Counter())),
        "wall_seconds": round(seconds, 1),
        "episodes_detail": [asdict(e) for e in episodes],
        "kills_detail": [asdict(k) for k in kills],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the campaign, write the JSON; 1 when a duplicate or a lost message is found."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kills", type=int, default=200, help="kills in total")
    ap.add_argument("--per-episode", type=int, default=20, help="kills per fresh ledger")
    ap.add_argument("--rows", type=int, default=40)
    ap.add_argument("--lease", type=float, default=4.0, help="ledger.lease_seconds")
    ap.add_argument("--seed", type=int, default=20261128)
    ap.add_argument("--split-ids", action="store_true",
                    help="each copy got its own tracker ID before syncing (locks differ, "
                         "so only the claims keep the FMs' overlapping runs apart)")
    ap.add_argument("--out", type=Path,
                    default=ROOT / "bench/robustness" / f"team-kill-{dt.date.today()}.json")
    args = ap.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="team-kill-"))
    tracker = base / "tracker.xlsx"
    subprocess.run([sys.executable, str(ROOT / "bench/make_tracker.py"), str(args.rows),
                    str(tracker)], check=True, stdout=subprocess.DEVNULL)
    ctl, sink = start_smtp()
    rng = random.Random(args.seed)
    episodes: list[Episode] = []
    kills: list[Kill] = []
    started = time.monotonic()
    try:
        with running_postgres() as pg:
            ref = reference_run(pg, base, tracker, ctl.port, sink, args)
            print(f"reference: {ref[2]} messages in {ref[1]:.1f} s", flush=True)
            while len(kills) < args.kills:
                ep = episode(pg, base, tracker, len(episodes) + 1, args, ctl.port, sink,
                             ref, rng, kills)
                episodes.append(ep)
                print(f"episode {ep.number}: {ep.kills} kills in {ep.rounds} rounds "
                      f"({len(kills)} total), {ep.received} received, duplicates "
                      f"{len(ep.duplicates)}, lost {len(ep.lost_mail)}+"
                      f"{len(ep.lost_records)}, person {len(ep.needed_a_person)}, "
                      f"{ep.seconds} s", flush=True)
                summary = summarise(args, ref, episodes, kills, time.monotonic() - started)
                args.out.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    finally:
        ctl.stop()
        shutil.rmtree(base, ignore_errors=True)
    print(json.dumps({k: v for k, v in summary.items() if not k.endswith("_detail")},
                     indent=2))
    bad = summary["duplicates"] or summary["lost_mail"] or summary["lost_records"]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())

"""Command-line interface: parse, call the library, format. Errors become exit codes here.

Exit codes: 0 all good; 1 problems found or some tenants failed; 2 bad usage or config;
130 interrupted (Ctrl-C). Human messages go to stderr, data (tables, JSON) to stdout.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping

import click

from ftc_office import __version__

__all__ = ["cli", "main"]

CONFIG_NAME = "ftc-office.toml"  # = ftc_office.config.CONFIG_NAME (a test checks)

# Each command lives in its module and is imported when it runs (or for --help): start-up
# then costs click and nothing else, and `plan` never loads the composer or openpyxl.
COMMANDS = {
    "init": "core_cmds:init", "check": "core_cmds:check", "plan": "core_cmds:plan",
    "preview": "core_cmds:preview", "run": "run_cmds:run", "send": "run_cmds:send",
    "demo": "run_cmds:demo", "writeback": "ledger_cmds:writeback",
    "confirm-queue": "ledger_cmds:confirm_queue_cmd", "status": "ledger_cmds:status",
    "resolve": "ledger_cmds:resolve", "history": "ledger_cmds:history", "auth": "auth:auth",
    "merge": "merge:merge", "mark-sent": "marksent:mark_sent_cmd",
    "report": "report_cmd:report", "ledger": "ledger_cmds:ledger_group",
    "doctor": "doctor_cmd:doctor",
}


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands by name; each imported from its module on first access."""

    def __init__(self, specs: dict[str, str]) -> None:
        self._specs = dict(specs)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, attr = self._specs[name].split(":")
            mod = importlib.import_module(f"ftc_office.cli.{module}")
            self._loaded[name] = getattr(mod, attr)
        return self._loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command
        self._specs.setdefault(name, "")

    def __delitem__(self, name: str) -> None:
        del self._specs[name]
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)


class LazyGroup(click.Group):
    """A click group whose commands are imported only when used."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.commands = LazyCommands(COMMANDS)


@click.group(cls=LazyGroup,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--config", "config", type=click.Path(dir_okay=False), envvar="FTC_OFFICE_CONFIG",
              help=f"Project config file (default: ./{CONFIG_NAME} if present).")
@click.version_option(__version__, prog_name="ftc-office")
@click.pass_context
def cli(ctx: click.Context, config: str | None) -> None:
    """Close FastTrack enablement engagements from a tracker workbook.

    Reads the team's tracker (.xlsx), decides each tenant's next playbook step, renders the
    ATU, customer follow-up and queue-move messages, sends them (to .eml files by default,
    or SMTP, or Outlook), and writes the status back into the workbook.

    \b
    Start here:
      ftc-office demo                      the whole job on a copy of the sample
      ftc-office init                      a commented ftc-office.toml to edit
      ftc-office check tracker.xlsx        every problem, with its cell
      ftc-office plan tracker.xlsx         each tenant's next step
      ftc-office run tracker.xlsx          what would happen (add --no-dry-run to do it)

    Every command has --help with an example. Exit codes: 0 all good, 1 problems or failed
    tenants, 2 bad usage or config, 130 interrupted.
    """
    ctx.ensure_object(dict)["config"] = config


def main() -> None:
    """Console entry point."""
    from ftc_office.console import configure_console, entry_point, tune_collector

    entry_point()
    tune_collector()
    configure_console()
    try:
        cli(prog_name="ftc-office")
    except SystemExit as exc:
        from ftc_office.console import end_now, quick_exit_wanted

        if quick_exit_wanted() and (exc.code is None or isinstance(exc.code, int)):
            end_now(exc.code or 0)
        raise

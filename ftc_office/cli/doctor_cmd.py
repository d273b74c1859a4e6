"""``ftc-office doctor``: run the pre-flight checks and print one line per check.

Each line starts with ✓ or ✗ ("ok" / "FAIL" when the output cannot show them) and a failed
check ends with its fix. Exit code 0 when every check passed, 1 otherwise.
"""

from __future__ import annotations

import sys

import click

from ftc_office.cli.boundary import boundary


def marks(encoding: str | None) -> tuple[str, str]:
    """(pass mark, fail mark) that the stream's encoding can show."""
    try:
        "✓✗".encode(encoding or "ascii")
    except (LookupError, UnicodeEncodeError):
        return "ok  ", "FAIL"
    return "✓", "✗"


@click.command()
@click.option("--backend", type=click.Choice(["outbox", "smtp", "o365"]),
              help="Check this backend (default: delivery.backend of the config).")
@click.pass_context
@boundary
def doctor(ctx: click.Context, backend: str | None) -> None:
    """Check the config, the data folder, the ledger and the backend before sending.

    Run it once after setting up, and before a big send. Sends nothing. For Outlook it
    checks the sign-in, the scopes, the mailbox and the send-as right; for SMTP it
    connects, logs in and says NOOP. Exit code 0 when all is well, 1 otherwise.

    \b
    Example:
      ftc-office doctor --backend o365
    """
    from ftc_office.doctor import run_checks

    checks = run_checks(ctx.ensure_object(dict).get("config"), backend)
    good, bad = marks(getattr(sys.stdout, "encoding", None))
    dash = "—" if good == "✓" else "-"
    for check in checks:
        line = f"{good if check.ok else bad} {check.what}"
        click.echo(line + (f" {dash} {check.fix}" if check.fix and not check.ok else ""))
    failed = sum(not c.ok for c in checks)
    click.echo(f"{len(checks)} check(s): " + (f"{failed} failed" if failed else "all good"))
    sys.exit(1 if failed else 0)

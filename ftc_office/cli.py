"""Command-line interface (placeholder while the foundation lands)."""

import click


@click.group()
def cli() -> None:
    """ftc-office: close FastTrack enablement engagements from a tracker workbook."""


def main() -> None:
    cli()

"""`python -m ftc_office` runs the CLI."""

from ftc_office.cli import main

main()

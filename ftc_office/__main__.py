"""`python -m ftc_office` runs the CLI."""

from ftc_office.cli.main import main

main()

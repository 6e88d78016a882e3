"""`python -m brace` runs the CLI."""

from brace.cli.app import main

main()

"""`python -m brace` runs the CLI."""

from brace.cli.start import main

main()

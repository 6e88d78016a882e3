"""The `brace` command line: Typer and Rich live here and nowhere else.

Command modules import the services, the store and config loading inside the commands
that use them, so `brace --help` and each command load only what they need: start-up
time is what users feel most (see bench/cli_startup.py).
"""

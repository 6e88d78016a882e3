"""The `brace` command line: Typer and Rich live here and nowhere else.

Command modules import the services, the store and config loading inside the commands
that use them, so `brace --help` and each command load only what they need: start-up
time is what users feel most (see bench/cli_startup.py). `start.py` is the entry
point, `app.py` holds the command tree and `lazy.py` builds only the part a command
line reaches; `common.py` has the options and output every command shares, `render.py`
and `text.py` the text for people (Rich only for tables that need wrapping),
`failures.py` and `hints.py` how errors read.
"""

"""The `brace` command's entry point (pyproject's [project.scripts], `python -m brace`).

A command line loads Typer, Click and the command modules (some 17,000 objects the
garbage collector tracks), and most commands end a tenth of a second later. The
collector would walk all of them about four times while they load (a full collection,
2-5 ms each here) and once more at exit, for nothing: about a tenth of a short
command's time (bench/cli_startup.py). So it is paused while `brace.cli.app` loads,
and what loaded is then frozen out of its sight (`gc.freeze`). Long-running commands
(`brace server`, `brace watch`) collect as usual, only never those start-up objects,
which live as long as the process anyway.
"""

from __future__ import annotations

import gc


def main() -> None:
    gc.disable()
    try:
        from brace.cli.app import main as run
    finally:
        gc.freeze()
        gc.enable()
    run()

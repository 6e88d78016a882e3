"""How a command that fails says so: one place for every kind of failure the CLI reports.

- A `BraceError`: `Error: message` and `Hint: hint` on stderr, and with `-o json`
  `{"error": message, "hint": hint}` on stdout; the error's exit code.
- A usage error found by Click (an unknown option, a value out of range, a missing
  argument): Click's usage lines and `Error: ...` on stderr, the same JSON on stdout
  with `-o json`; exit code 2. Typer and Click may both add "Did you mean ...?" to the
  same message; it is said once.
- Ctrl-C: exit 130; with `-o json`, `{"error": "interrupted"}` unless the command
  already ended its output (`brace watch` prints a last `stopped` event).

`-o json` is known before any parsing (`requested_output`), so even an error in the
command line itself is answered in JSON.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from brace.cli import text
from brace.cli.common import Output, session
from brace.cli.hints import hint_for
from brace.errors import BraceError, ExitCode, UsageError

if TYPE_CHECKING:
    import click


class Interrupted(BaseException):
    """Ctrl-C, raised by brace's SIGINT handler wherever the command is.

    Not a BraceError, nor even an Exception: a loop that reports and survives its own
    failures (`brace watch` applying a change) must not swallow it; Ctrl-C ends the
    command at once. `reported`: the command already said so on its own output.
    """

    exit_code = ExitCode.INTERRUPTED
    message = "interrupted"

    def __init__(self, *, reported: bool = False) -> None:
        super().__init__(self.message)
        self.reported = reported


def requested_output(argv: Sequence[str]) -> Output:
    """The output asked for on the command line (`-o json`, `--output=json`, `-ojson`),
    found without parsing it (parsing may be what fails)."""
    chosen = Output.text
    arguments = iter(argv)
    for argument in arguments:
        if argument == "--":
            break
        if argument in ("-o", "--output"):
            value = next(arguments, "")
        elif argument.startswith("--output="):
            value = argument.partition("=")[2]
        elif argument.startswith("-o") and not argument.startswith("--"):
            value = argument[2:]
        else:
            continue
        if value in (Output.text, Output.json):
            chosen = Output(value)
    return chosen


_REPEATED = re.compile(r"(\s*\.?\s*(Did you mean [^?]*\?))(?:\.?\s*\2)+")


def said_once(message: str) -> str:
    """`... Did you mean 'x'? Did you mean 'x'?` -> `... Did you mean 'x'?`"""
    return _REPEATED.sub(r"\1", message)


def report(error: BraceError) -> None:
    """The error on stderr (and as JSON on stdout with -o json), with the hint the
    command line gives for its kind (`hints.py`)."""
    hint = hint_for(error)
    if session.output is Output.json:
        body = {"error": error.message, **({"hint": hint} if hint else {})}
        sys.stdout.write(json.dumps(body) + "\n")
        sys.stdout.flush()
    text.err(f"Error: {error.message}", "red")
    if hint:
        text.err(f"Hint: {hint}")


def report_interrupt(error: Interrupted) -> None:
    if session.output is Output.json and not error.reported:
        sys.stdout.write(json.dumps({"error": error.message}) + "\n")
        sys.stdout.flush()


def report_usage(error: click.UsageError) -> None:
    """Click's usage error, as Click prints it but said once, and as JSON with -o json."""
    import click

    context = error.ctx
    if isinstance(error, click.exceptions.NoArgsIsHelpError):
        error.show()  # the command's help, on stderr
        message = "no command given"
    else:
        message = said_once(error.format_message())
        if context is not None:
            usage = context.get_usage()
            sys.stderr.write(f"{usage}\nTry '{context.command_path} --help' for help.\n\n")
        sys.stderr.write(f"Error: {message}\n")
        sys.stderr.flush()
    if session.output is Output.json:
        command = context.command_path if context is not None else "brace"
        hint = f"See `{command} --help`."
        sys.stdout.write(json.dumps(UsageError(message, hint).to_json()) + "\n")
        sys.stdout.flush()

"""`brace secrets set | list | delete`: the secrets in $BRACE_HOME/secrets.

A value is never a command-line argument (it would be in the shell's history and in
`ps`): `set` asks for it without echo on a terminal and reads standard input otherwise.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from brace.cli import text
from brace.cli.common import Output, OutputOpt, YesOpt, confirm, emit
from brace.errors import UsageError

app = typer.Typer(
    help="Secrets models read (config.yaml `secrets:`): saved in the brace home, never shown.",
    no_args_is_help=True,
)

NameArg = Annotated[str, typer.Argument(help="Secret name (letters, digits, '-', '_', '.').")]
RESTART_NOTE = (
    "A replica reads it on its next start (`brace watch` says when one still runs "
    "with the old value)."
)


def read_value(interactive: bool) -> str:
    """The value: asked twice without echo on a terminal, else all of standard input
    with one trailing newline removed (what `echo value |` adds)."""
    if interactive:
        value: str = typer.prompt("Value", hide_input=True, confirmation_prompt=True, err=True)
        return value
    data = sys.stdin.read(2 * 1024 * 1024)  # twice the limit: enough to say it is over
    if data.endswith("\n"):
        data = data[:-1].removesuffix("\r")
    if not data:
        raise UsageError(
            "no value on standard input",
            'Pipe the value in (`printf %s "$TOKEN" | brace secrets set NAME`) or run '
            "the command on a terminal to be asked for it.",
        )
    return data


@app.command("set")
def set_secret(name: NameArg, output: OutputOpt = Output.text) -> None:
    """Create or replace a secret; the value is asked for, or read from standard input.

    Example:

    \b
      printf %s "$HF_TOKEN" | brace secrets set hf_token
    """
    from brace.home import brace_home
    from brace.services import secrets

    secrets.check_name(name)  # before asking for a value
    saved = secrets.save(brace_home(), name, read_value(sys.stdin.isatty()))
    emit(saved.to_json(), f"Saved secret {saved.name}. {RESTART_NOTE}")


@app.command("list")
def list_secrets(output: OutputOpt = Output.text) -> None:
    """List the saved secrets: names and when each was saved, never values.

    Example:

    \b
      brace secrets list
    """
    from brace.home import brace_home
    from brace.services import secrets

    data = {"secrets": [info.to_json() for info in secrets.listing(brace_home())]}

    def show() -> None:
        if not data["secrets"]:
            text.out("No secrets. Save one with `brace secrets set NAME`.")
            return
        rows = [(s["name"], s["created_at"][:19].replace("T", " ")) for s in data["secrets"]]
        text.table(("NAME", "SAVED (UTC)"), rows)

    emit(data, show)


@app.command("delete")
def delete(name: NameArg, yes: YesOpt = False, output: OutputOpt = Output.text) -> None:
    """Delete a saved secret.

    Asks first on a terminal; scripts (and -o json) pass --yes.

    Example:

    \b
      brace secrets delete hf_token --yes
    """
    from brace.home import brace_home
    from brace.services import secrets

    secrets.find(brace_home(), name)
    confirm(f"secret {name}", yes)
    deleted = secrets.delete(brace_home(), name)
    emit({"name": deleted.name, "deleted": True}, f"Deleted secret {deleted.name}.")

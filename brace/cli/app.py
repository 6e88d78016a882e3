"""The `brace` command tree and its entry point.

`main()` runs the Typer app and turns a `BraceError` into one line on stderr (and a
JSON error on stdout with `-o json`) and the error's exit code. Any other exception
is a bug and is shown as a traceback, without local variables (they can hold keys).
"""

from __future__ import annotations

import json
import signal
import sys
from types import FrameType

import typer

from brace import __version__
from brace.cli import deployments, environments, lifecycle, models, rollout
from brace.cli import init as init_cli
from brace.cli import push as push_cli
from brace.cli import server as server_cli
from brace.cli.common import Output, session, stderr
from brace.errors import BraceError, ExitCode

app = typer.Typer(
    name="brace",
    help="Baseten's deployment lifecycle for Truss models, on your own machine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    # Plain help: Typer's Rich help formatter costs ~70 ms of imports on every --help.
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        sys.stdout.write(f"brace {__version__}\n")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """brace runs Truss models locally with Baseten's deployments, environments,
    promotion, rolling deployments and autoscaling.

    State lives in $BRACE_HOME (default ~/.brace).
    """


app.command("init")(init_cli.init_command)
app.command("push")(push_cli.push_command)
app.command("watch")(push_cli.watch_command)
app.command("predict")(server_cli.predict_command)
app.command("promote")(lifecycle.promote_command)
app.command("activate")(lifecycle.activate_command)
app.command("deactivate")(lifecycle.deactivate_command)
app.command("delete")(lifecycle.delete_command)
app.command("rename")(lifecycle.rename_command)
app.add_typer(models.app, name="models")
app.add_typer(deployments.app, name="deployments")
app.add_typer(environments.app, name="environments")
app.add_typer(rollout.app, name="rollout")
app.command("server")(server_cli.server_command)
app.command("up")(server_cli.up_command)
app.command("down")(server_cli.down_command)
app.command("status")(server_cli.status_command)
app.command("logs")(server_cli.logs_command)
app.command("api-key")(server_cli.api_key_command)


class Interrupted(BraceError):
    exit_code = ExitCode.INTERRUPTED


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted("interrupted")


def report(error: BraceError) -> None:
    from brace.cli.hints import hint_for

    hint = hint_for(error)
    if session.output is Output.json:
        body = {"error": error.message, **({"hint": hint} if hint else {})}
        sys.stdout.write(json.dumps(body) + "\n")
    stderr().print(f"Error: {error.message}", style="red", markup=False)
    if hint:
        stderr().print(f"Hint: {hint}", markup=False)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    try:
        app()
    except BraceError as error:
        if not isinstance(error, Interrupted):
            report(error)
        sys.exit(error.exit_code)

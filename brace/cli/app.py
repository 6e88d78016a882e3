"""The `brace` command tree and its entry point.

`main()` runs the Typer app and turns a `BraceError`, a usage error or Ctrl-C into
what failures.py says (one line on stderr, a JSON error on stdout with `-o json`) and
the exit code. Any other exception is a bug and is shown as a traceback, without local
variables (they can hold keys).
"""

from __future__ import annotations

import os
import signal
import sys
from types import FrameType

import click
import typer

from brace import __version__
from brace.cli import deployments, environments, lifecycle, models, rollout
from brace.cli import init as init_cli
from brace.cli import predict as predict_cli
from brace.cli import push as push_cli
from brace.cli import secrets as secrets_cli
from brace.cli import serve as serve_cli
from brace.cli import server as server_cli
from brace.cli import usage as usage_cli
from brace.cli.common import session
from brace.cli.failures import (
    Interrupted,
    report,
    report_interrupt,
    report_usage,
    requested_output,
)
from brace.cli.lazy import command_for
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


def _install_completion(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from typer.completion import install_callback

        install_callback(ctx, param, value)


def _show_completion(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from typer.completion import show_callback

        show_callback(ctx, param, value)


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
    install_completion: bool = typer.Option(
        False,
        "--install-completion",
        callback=_install_completion,
        is_eager=True,
        expose_value=False,
        help="Install completion for the current shell (bash, zsh, fish, PowerShell).",
    ),
    show_completion: bool = typer.Option(
        False,
        "--show-completion",
        callback=_show_completion,
        is_eager=True,
        expose_value=False,
        help="Show the completion script for the current shell, to install it yourself.",
    ),
) -> None:
    """brace runs Truss models locally with Baseten's deployments, environments,
    promotion, rolling deployments and autoscaling.

    State lives in $BRACE_HOME (default ~/.brace).
    """


app.command("init")(init_cli.init_command)
app.command("push")(push_cli.push_command)
app.command("watch")(push_cli.watch_command)
app.command("predict")(predict_cli.predict_command)
app.command("promote")(lifecycle.promote_command)
app.command("activate")(lifecycle.activate_command)
app.command("deactivate")(lifecycle.deactivate_command)
app.command("wake")(lifecycle.wake_command)
app.command("delete")(lifecycle.delete_command)
app.command("rename")(lifecycle.rename_command)
app.add_typer(models.app, name="models")
app.add_typer(deployments.app, name="deployments")
app.add_typer(environments.app, name="environments")
app.add_typer(rollout.app, name="rollout")
app.add_typer(secrets_cli.app, name="secrets")
app.command("server")(serve_cli.server_command)
app.command("up")(server_cli.up_command)
app.command("down")(server_cli.down_command)
app.command("status")(server_cli.status_command)
app.command("logs")(server_cli.logs_command)
app.command("api-key")(server_cli.api_key_command)
app.command("usage")(usage_cli.usage_command)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise Interrupted


COMPLETE_VAR = "_BRACE_COMPLETE"
"""Set by the completion script when the shell asks brace to complete a command line."""


def _command(args: list[str]) -> click.Command:
    """The command tree for this run: only the path `args` names, except when the shell
    asks for completions (the line is in the environment then, and any part of the
    tree may be needed), which is the only time Typer's completion code is imported."""
    if os.environ.get(COMPLETE_VAR):
        from typer._completion_classes import completion_init

        completion_init()
        return typer.main.get_command(app)
    return command_for(app, args)


def main() -> None:
    signal.signal(signal.SIGINT, _interrupt)
    session.output = requested_output(sys.argv[1:])
    try:
        result = _command(sys.argv[1:])(standalone_mode=False)
    except Interrupted as error:
        report_interrupt(error)
        sys.exit(error.exit_code)
    except BraceError as error:
        report(error)
        sys.exit(error.exit_code)
    except click.UsageError as error:
        report_usage(error)
        sys.exit(ExitCode.USAGE)
    except click.ClickException as error:  # Click's other errors (an unreadable file)
        report(BraceError(error.format_message()))
        sys.exit(error.exit_code)
    except click.Abort:  # end of input at a prompt
        report(BraceError("aborted: no answer to the question"))
        sys.exit(ExitCode.ERROR)
    sys.exit(result if isinstance(result, int) else ExitCode.OK)

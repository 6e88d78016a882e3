"""Commands that talk to the brace server: server, up, down, status, predict, logs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from brace.cli.common import ModelOpt, Output, OutputOpt, needs_server

HostOpt = Annotated[str, typer.Option(envvar="BRACE_HOST", help="Server address.")]
PortOpt = Annotated[int, typer.Option(envvar="BRACE_PORT", help="Server port.")]
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def server_command(
    host: HostOpt = DEFAULT_HOST, port: PortOpt = DEFAULT_PORT, output: OutputOpt = Output.text
) -> None:
    """Run the local server in the foreground (gateway, management API, controller).

    Example:

    \b
      brace server --port 8765
    """
    raise needs_server("server")


def up_command(
    host: HostOpt = DEFAULT_HOST, port: PortOpt = DEFAULT_PORT, output: OutputOpt = Output.text
) -> None:
    """Start the local server in the background and print its URL.

    Example:

    \b
      brace up
    """
    raise needs_server("up")


def down_command(
    host: HostOpt = DEFAULT_HOST, port: PortOpt = DEFAULT_PORT, output: OutputOpt = Output.text
) -> None:
    """Stop the local server and every replica.

    Example:

    \b
      brace down
    """
    raise needs_server("down")


def status_command(
    host: HostOpt = DEFAULT_HOST, port: PortOpt = DEFAULT_PORT, output: OutputOpt = Output.text
) -> None:
    """Say whether the local server is running and healthy.

    Example:

    \b
      brace status -o json
    """
    raise needs_server("status")


def predict_command(
    model: ModelOpt = None,
    environment: Annotated[
        str | None, typer.Option("-e", "--environment", help="Call this environment.")
    ] = None,
    deployment: Annotated[
        str | None, typer.Option(help="Call this deployment (id or name).")
    ] = None,
    development: Annotated[bool, typer.Option(help="Call the development deployment.")] = False,
    data: Annotated[str | None, typer.Option("-d", "--data", help="JSON input.")] = None,
    file: Annotated[
        Path | None, typer.Option("-f", "--file", help="File with the JSON input.")
    ] = None,
    host: HostOpt = DEFAULT_HOST,
    port: PortOpt = DEFAULT_PORT,
    output: OutputOpt = Output.text,
) -> None:
    """Call a model's predict endpoint through the local server.

    Example:

    \b
      brace predict -m hello -d '{"text": "hi"}'
    """
    raise needs_server("predict")


def logs_command(
    deployment: Annotated[str, typer.Argument(help="Deployment id or name.")],
    model: ModelOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    output: OutputOpt = Output.text,
) -> None:
    """Print a deployment's replica logs.

    Example:

    \b
      brace logs development -m hello --follow
    """
    raise needs_server("logs")

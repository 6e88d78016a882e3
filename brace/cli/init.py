"""`brace init DIR`."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Annotated

import typer

from brace.cli.common import Output, OutputOpt, emit


def init_command(
    directory: Annotated[Path, typer.Argument(help="Directory to create.")],
    model_name: Annotated[
        str | None, typer.Option(help="Model name (default: the directory's name).")
    ] = None,
    output: OutputOpt = Output.text,
) -> None:
    """Create a new Truss-format model directory that works as it is.

    Example:

    \b
      brace init my-model && brace push my-model
    """
    from brace.config import load_truss
    from brace.scaffold import scaffold

    path = scaffold(directory, model_name)
    truss = load_truss(path)
    emit(
        {"path": str(path), "model_name": truss.config.model_name},
        f"Created {path} (model {truss.config.model_name}). "
        f"Next: brace push {shlex.quote(str(directory))}",
    )

"""The CLI reference (docs/cli.md), generated from every command's --help text."""

from __future__ import annotations

from collections.abc import Iterator

import click
import typer

from brace.cli.app import app

WIDTH = 100
HEADER = (
    "# brace command reference\n\n"
    "Generated from `--help` by `python docs/generate_cli.py`; do not edit by hand.\n"
)


def commands() -> Iterator[tuple[str, str]]:
    """(command path, help text) for `brace` and every command under it, in order."""
    root = typer.main.get_command(app)

    def walk(
        command: click.Command, path: str, parent: click.Context | None
    ) -> Iterator[tuple[str, str]]:
        ctx = click.Context(
            command,
            info_name=path.split()[-1],
            parent=parent,
            terminal_width=WIDTH,
            max_content_width=WIDTH,
        )
        yield path, command.get_help(ctx)
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    yield from walk(sub, f"{path} {name}", ctx)

    yield from walk(root, "brace", None)


def markdown() -> str:
    sections = [HEADER]
    for path, text in commands():
        sections.append(f"## `{path}`\n\n```\n{text.rstrip()}\n```\n")
    return "\n".join(sections)

"""The command tree built for one command line (brace/cli/lazy.py) reads as the full one."""

from __future__ import annotations

import click
import pytest
import typer

from brace.cli.app import app
from brace.cli.lazy import command_for
from brace.cli.reference import WIDTH, commands


def _help(root: click.Command, path: str) -> str:
    """The --help text of the command at `path` ("brace deployments list") under `root`."""
    command, parent = root, None
    names = path.split()
    for depth, name in enumerate(names):
        if depth:
            assert isinstance(command, click.Group)
            found = command.get_command(parent, name)
            assert found is not None, path
            command = found
        parent = click.Context(
            command, info_name=name, parent=parent, terminal_width=WIDTH, max_content_width=WIDTH
        )
    assert parent is not None
    return command.get_help(parent)


@pytest.mark.parametrize(("path", "text"), [pytest.param(p, t, id=p) for p, t in commands()])
def test_every_help_is_the_same_as_the_full_tree_s(path: str, text: str) -> None:
    lazy = command_for(app, [*path.split()[1:], "--help"])
    assert _help(lazy, path) == text


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["deployments", "list"], id="a command in a group"),
        pytest.param(["push", "DIR"], id="a top-level command"),
        pytest.param(["deployments"], id="a group"),
        pytest.param(["--help", "deployments", "list"], id="an option first"),
        pytest.param(["deploymnts", "list"], id="an unknown name"),
    ],
)
def test_only_the_named_path_is_built(args: list[str]) -> None:
    lazy = command_for(app, args)
    full = typer.main.get_command(app)
    assert isinstance(lazy, click.Group) and isinstance(full, click.Group)
    context = click.Context(lazy)
    assert lazy.list_commands(context) == full.list_commands(context)
    first = args[0]
    assert _built(lazy, context) == ({first} if first in ("deployments", "push") else set())


def _built(group: click.Group, context: click.Context) -> set[str]:
    """The entries that are not stand-ins (a stand-in has no parameters and is no group)."""
    built = set()
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        assert command is not None
        if command.params or isinstance(command, click.Group):
            built.add(name)
    return built


def test_inside_a_group_only_the_named_command_is_built() -> None:
    lazy = command_for(app, ["deployments", "list", "-m", "hello"])
    assert isinstance(lazy, click.Group)
    group = lazy.get_command(click.Context(lazy), "deployments")
    assert isinstance(group, click.Group)
    assert _built(group, click.Context(group)) == {"list"}

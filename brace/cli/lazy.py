"""The Click command for one command line, built only as far as that line reaches.

Typer turns a command's signature into Click parameters when it builds the command
(`inspect.signature`, type hints, a `click.Option` each); for brace's whole tree that
is about 20 ms, paid by every run when the whole tree is built. `command_for` follows
the arguments down the groups they name (`deployments`, then `list`) and builds for
real only the command they reach; every other entry becomes a stand-in with the same
name and help and no parameters, which is all a group's `--help` or "No such command
... Did you mean" needs of its neighbours. The first argument that is not a command
name (an option, an unknown name) ends the walk there, so the group whose listing is
shown has only stand-ins, in their order; a group the walk passes through lists its
built entry last, which no output shows.

`typer.main.get_command(app)` still builds the whole tree (docs/cli.md comes from it);
tests/cli/test_lazy.py checks that both give the same help for every command.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import click
import typer
from typer.main import get_command_name, solve_typer_info_defaults
from typer.models import CommandInfo, TyperInfo


def command_for(app: typer.Typer, args: Sequence[str]) -> click.Command:
    """The command tree of `app` with only the path `args` names built for real."""
    return typer.main.get_command(_pruned(app, list(args)))


def _stand_in() -> None:
    raise RuntimeError("a stand-in command ran: brace.cli.lazy chose the wrong path")


def _command_name(info: CommandInfo) -> str:
    assert info.callback is not None
    return info.name or get_command_name(info.callback.__name__)


def _command_stand_in(info: CommandInfo) -> CommandInfo:
    assert info.callback is not None
    return CommandInfo(
        _command_name(info),
        callback=_stand_in,
        help=info.help if info.help is not None else (info.callback.__doc__ or None),
        short_help=info.short_help,
        hidden=info.hidden,
        deprecated=info.deprecated,
    )


def _group_stand_in(info: TyperInfo) -> CommandInfo:
    solved = solve_typer_info_defaults(info)
    return CommandInfo(
        solved.name,
        callback=_stand_in,
        help=solved.help or None,
        short_help=solved.short_help,
        hidden=bool(solved.hidden),
        deprecated=bool(solved.deprecated),
    )


def _pruned(app: typer.Typer, args: list[str]) -> typer.Typer:
    """A copy of `app` whose entries are stand-ins, except the one `args[0]` names
    (itself pruned along the rest of `args` when it is a group)."""
    chosen = args[0] if args and not args[0].startswith("-") else None
    groups = [(solve_typer_info_defaults(g).name, g) for g in app.registered_groups]
    if any(not name for name, _ in groups):  # a group merged into its parent: build it all
        return app
    pruned = copy.copy(app)
    pruned.registered_commands = [
        c if _command_name(c) == chosen else _command_stand_in(c) for c in app.registered_commands
    ]
    pruned.registered_groups = []
    for name, group in groups:
        if name == chosen and group.typer_instance is not None:
            kept = copy.copy(group)
            kept.typer_instance = _pruned(group.typer_instance, args[1:])
            pruned.registered_groups.append(kept)
        else:
            pruned.registered_commands.append(_group_stand_in(group))
    return pruned

"""The Click command for one command line, built only as far as that line reaches.

Typer turns a command's signature into Click parameters when it builds the command
(`inspect.signature`, type hints, a `click.Option` each); for brace's whole tree that
is about 20 ms, paid by every run when the whole tree is built. `command_for` follows
the arguments down the groups they name (`deployments`, then `list`) and has Typer
build only those; every other entry becomes a stand-in, a bare `click.Command` with
the name and help Typer would give it and no parameters, which is all a group's
`--help` or "No such command ... Did you mean" needs of its neighbours. The first
argument that is not a command name (an option, an unknown name) ends the walk there.

`typer.main.get_command(app)` still builds the whole tree (docs/cli.md comes from it);
tests/cli/test_lazy.py checks that both give the same help for every command.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Sequence

import click
import typer
from typer.main import get_command_name, solve_typer_info_defaults
from typer.models import CommandInfo, TyperInfo


def command_for(app: typer.Typer, args: Sequence[str]) -> click.Command:
    """The command tree of `app` with only the path `args` names built for real."""
    return _filled(typer.main.get_command(_pruned(app, list(args))), app)


def _command_name(info: CommandInfo) -> str:
    assert info.callback is not None
    return info.name or get_command_name(info.callback.__name__)


def _group_name(info: TyperInfo) -> str:
    name = solve_typer_info_defaults(info).name
    assert name, "brace.cli.lazy needs every group added with a name"
    return name


def _pruned(app: typer.Typer, args: list[str]) -> typer.Typer:
    """A copy of `app` with only the entry `args[0]` names (itself pruned along the rest
    of `args` when it is a group), or none."""
    chosen = args[0] if args and not args[0].startswith("-") else None
    pruned = copy.copy(app)
    pruned.registered_commands = [c for c in app.registered_commands if _command_name(c) == chosen]
    pruned.registered_groups = []
    for group in app.registered_groups:
        if group.typer_instance is not None and _group_name(group) == chosen:
            kept = copy.copy(group)
            kept.typer_instance = _pruned(group.typer_instance, args[1:])
            pruned.registered_groups.append(kept)
    return pruned


def _filled(command: click.Command, app: typer.Typer) -> click.Command:
    """`command`, built from a pruned `app`, with a stand-in for each entry it lacks, in
    the order Typer lists them (commands, then groups)."""
    assert isinstance(command, click.Group)
    built = command.commands
    entries: dict[str, click.Command] = {}
    for info in app.registered_commands:
        name = _command_name(info)
        entries[name] = built.get(name) or _stand_in(name, _help(info), info)
    for group in app.registered_groups:
        name = _group_name(group)
        sub = built.get(name)
        if sub is not None and group.typer_instance is not None:
            entries[name] = _filled(sub, group.typer_instance)
        else:
            solved = solve_typer_info_defaults(group)
            entries[name] = _stand_in(name, solved.help, solved)
    command.commands = entries
    return command


def _help(info: CommandInfo) -> str | None:
    """A command's help as Typer finds it: given, else the callback's docstring."""
    if info.help is not None:
        return inspect.cleandoc(info.help)
    return inspect.getdoc(info.callback)


def _stand_in(name: str, help: str | None, info: CommandInfo | TyperInfo) -> click.Command:
    return click.Command(
        name,
        callback=_not_built,
        help=help,
        short_help=info.short_help,
        hidden=bool(info.hidden),
        deprecated=bool(info.deprecated),
    )


def _not_built() -> None:
    raise RuntimeError("a stand-in command ran: brace.cli.lazy walked the wrong path")

"""Every hint that names a command runs as printed.

Each kind of refusal the CLI words (brace.cli.hints.HINTS) is caused for real, in a
home with three models, from a folder that is no model's (so nothing is guessed from
config.yaml). Every command a message puts in backticks, in a hint or in a result, is
then run as printed, with its placeholders (DIR, DEPLOYMENT, ...) filled in: none may
fail as a usage error (exit 2), the way `brace rollout cancel -e production` did
without the -m that several models need.
"""

from __future__ import annotations

import ast
import re
import shlex
from pathlib import Path

import pytest

from brace.cli.hints import HINTS
from brace.store import Store
from tests.cli.conftest import become_active, deployment, ok
from tests.conftest import Cli, MakeTruss, Result

COMMAND = re.compile(r"`(brace [^`]+)`")

# Each kind of refusal, and a command that meets it in the world below.
SITUATIONS: list[tuple[str, list[str]]] = [
    ("MODEL_NOT_FOUND", ["deployments", "show", "development", "-m", "nope"]),
    ("MODEL_AMBIGUOUS", ["environments", "list"]),
    ("DEPLOYMENT_AMBIGUOUS", ["deployments", "show", "deployment-1"]),
    ("DEPLOYMENT_NOT_FOUND", ["deployments", "show", "nope"]),
    ("ENVIRONMENT_NOT_FOUND", ["environments", "show", "qa", "-m", "hello"]),
    ("NO_DEVELOPMENT", ["deployments", "show", "development", "-m", "other"]),
    ("PRODUCTION_PENDING", ["deployments", "show", "production", "-m", "other"]),
    ("NO_PRODUCTION", ["deployments", "show", "production", "-m", "bare"]),
    ("PROMOTION_IN_PROGRESS", ["promote", "deployment-1", "-m", "other"]),
    ("DEPLOYMENT_INACTIVE", ["promote", "deployment-2", "-m", "hello"]),
    ("NO_PROMOTION", ["rollout", "pause", "-m", "hello"]),
    ("NOT_ROLLING", ["rollout", "pause", "-m", "other"]),
    (
        "DEVELOPMENT_REPLICAS",
        ["deployments", "autoscaling", "development", "-m", "hello", "--min-replica", "1"],
    ),
    ("IN_PROMOTION", ["delete", "deployment-1", "-m", "other", "--yes"]),
    ("CURRENT_DEPLOYMENT", ["delete", "deployment-1", "-m", "hello", "--yes"]),
    ("RENAME_DEVELOPMENT", ["rename", "development", "v2", "-m", "hello"]),
    ("ENVIRONMENT_PENDING", ["predict", "-m", "other", "--environment", "production", "-d", "1"]),
    (
        "NO_ENVIRONMENT_DEPLOYMENT",
        ["predict", "-m", "hello", "--environment", "staging", "-d", "1"],
    ),
    (
        "SURGE_OR_UNAVAILABLE",
        ["environments", "update", "production", "-m", "hello", "--max-surge-percent", "0"],
    ),
    ("DELETE_PRODUCTION", ["environments", "delete", "production", "-m", "hello", "--yes"]),
    ("ENVIRONMENT_EXISTS", ["environments", "create", "staging", "-m", "hello"]),
    ("CANNOT_WAKE", ["wake", "deployment-2", "-m", "hello"]),
    ("SECRET_NOT_FOUND", ["secrets", "delete", "nope", "--yes"]),
]


def commands_in(result: Result) -> list[str]:
    return COMMAND.findall(result.stdout + result.stderr)


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working folder that is no model's."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


def test_every_hint_runs_as_printed(
    cli: Cli, make_truss: MakeTruss, store: Store, elsewhere: Path
) -> None:
    printed: dict[str, list[str]] = {}  # command -> where it was printed

    def run(*args: str) -> Result:
        result = cli(*args)
        for command in commands_in(result):
            printed.setdefault(command, []).append(" ".join(args))
        return result

    # No models at all.
    seen = {"NO_MODELS"} if commands_in(run("deployments", "show", "development")) else set()

    # hello: development, deployment-1 (production), deployment-2 (inactive), staging.
    # other: deployment-1, being promoted to production (not rolling). bare: development.
    hello = make_truss("hello")
    ok(run("push", str(hello)))
    ok(run("push", str(hello), "--promote"))
    become_active(store, "deployment-1")
    ok(run("push", str(hello), "--publish"))
    ok(run("deactivate", "deployment-2", "-m", "hello"))
    ok(run("environments", "create", "staging", "-m", "hello"))
    ok(run("push", str(make_truss("other")), "--publish"))
    ok(run("promote", "deployment-1", "-m", "other"))
    ok(run("push", str(make_truss("bare"))))

    for code, args in SITUATIONS:
        result = run(*args)
        assert result.exit_code != 0, (code, args)
        seen.add(code)
    assert seen >= set(HINTS) - {"NO_MODEL_NAME"}  # that one names no command

    values = {
        "DIR": str(hello),
        "DEPLOYMENT": deployment(store, "deployment-2").id,
        "MODEL": "hello",
        "ENV": "staging",
        "NAME": "v9",
    }
    assert len(printed) >= 15, printed
    for command, where in printed.items():
        argv = [values.get(word, word) for word in shlex.split(command)[1:]]
        result = cli(*argv)
        if "without confirmation" in result.stderr:
            continue  # a destructive command: on a terminal it asks instead
        assert result.exit_code != 2, (command, where, result.stderr)


def _message_texts() -> list[tuple[str, str]]:
    """(file, text) of every string in brace/ that is not a docstring, an f-string's
    fields written as X."""
    root = Path(__file__).resolve().parents[2] / "brace"
    found = []
    for file in sorted(root.rglob("*.py")):
        tree = ast.parse(file.read_text())
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if id(node) in docstrings:
                continue
            if isinstance(node, ast.JoinedStr):
                text = "".join(
                    part.value if isinstance(part, ast.Constant) else "X" for part in node.values
                )
            elif isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value
            else:
                continue
            found.extend((file.name, command) for command in COMMAND.findall(text))
    return found


def test_every_command_a_message_names_exists_with_its_options() -> None:
    """The static side of the rule: each `brace ...` in a message names a command that
    exists and only options it has, so it cannot fail as a usage error for that."""
    import click
    import typer.main

    from brace.cli.app import app

    root = typer.main.get_command(app)
    named = _message_texts()
    assert len(named) >= 30, named
    for file, command in named:
        words = shlex.split(command)[1:]
        target: click.Command = root
        while isinstance(target, click.Group) and words and words[0] in target.commands:
            target = target.commands[words.pop(0)]
        assert not isinstance(target, click.Group) or not words, (file, command)
        options = {name for param in target.params for name in param.opts}
        for word in words:
            if word.startswith("-") and word not in ("-", "--help"):
                assert word.split("=")[0] in options, (file, command, word)

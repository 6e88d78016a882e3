"""What every command shares: help with an example, `-o json`, errors, exit codes.

The command list is read from the Typer app, so a new command is checked here (and
must be given a JSON case or be listed as needing the server) without editing the tests.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import typer.main

from brace import __version__
from brace.cli.app import app
from tests.cli.conftest import (
    DEPLOYMENT_KEYS,
    ENVIRONMENT_KEYS,
    MODEL_KEYS,
    data,
    error_text,
    expect_error,
    expect_json_error,
    ok,
)
from tests.conftest import Cli


def _leaves(command: object, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    children = getattr(command, "commands", None)
    if not children:
        yield path
        return
    for name, child in children.items():
        yield from _leaves(child, (*path, name))


BraceProcess = Callable[..., subprocess.CompletedProcess[str]]
ROOT = typer.main.get_command(app)
COMMANDS = sorted(_leaves(ROOT))
GROUPS = ("models", "deployments", "environments", "rollout", "secrets")
SERVER_COMMANDS = {
    ("server",),
    ("up",),
    ("down",),
    ("status",),
    ("predict",),
    ("logs",),
    ("watch",),
    ("wake",),
}
STDIN_COMMANDS = {("secrets", "set"), ("secrets", "delete")}
"""Need a value on standard input (set, or before delete): their -o json is checked by
a subprocess in tests/cli/test_secrets.py."""


def _command(path: tuple[str, ...]) -> object:
    command: object = ROOT
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return command


@pytest.mark.parametrize("path", [pytest.param(p, id=" ".join(p)) for p in COMMANDS])
def test_help_has_an_example(cli: Cli, path: tuple[str, ...]) -> None:
    result = cli(*path, "--help")
    assert result.exit_code == 0, result.stderr
    assert "Example" in result.stdout
    assert f"{' '.join(path)} [OPTIONS]" in result.stdout


@pytest.mark.parametrize("path", [pytest.param(p, id=" ".join(p)) for p in COMMANDS])
def test_every_command_takes_output(path: tuple[str, ...]) -> None:
    params = _command(path).params  # type: ignore[attr-defined]
    output = [p for p in params if "--output" in p.opts]
    assert len(output) == 1
    assert set(output[0].opts) == {"-o", "--output"}
    # `brace logs` also prints one object per line (jsonl).
    extra = ["jsonl"] if path == ("logs",) else []
    assert list(output[0].type.choices) == ["text", "json", *extra]


def test_groups_without_a_command_show_help(cli: Cli) -> None:
    for group in ("models", "deployments", "environments", "rollout"):
        result = cli(group)
        assert f"{group} [OPTIONS] COMMAND" in result.stdout + result.stderr
        assert result.exit_code in (0, 2)


def test_version(cli: Cli) -> None:
    assert ok(cli("--version")).stdout == f"brace {__version__}\n"


def test_unknown_output_format_is_a_usage_error(cli: Cli) -> None:
    result = cli("models", "list", "-o", "yaml")
    assert result.exit_code == 2
    assert "--output" in result.stderr
    assert result.stdout == ""


# -o json: one JSON document on stdout, nothing else anywhere.

ROLLING = [
    ["environments", "update", "production", "--rolling-deploy"],
    ["promote", "deployment-2"],
]
# (setup commands, the command, the top-level keys of its JSON)
JSON_CASES: list[tuple[list[list[str]], list[str], frozenset[str]]] = [
    ([], ["init", "{new}"], frozenset({"path", "model_name"})),
    ([], ["push", "{dir}"], frozenset({"model", "deployment"})),
    ([], ["push", "{dir}", "--publish"], frozenset({"model", "deployment"})),
    ([], ["promote", "deployment-2"], DEPLOYMENT_KEYS),
    ([["deactivate", "deployment-2"]], ["activate", "deployment-2"], frozenset({"success"})),
    ([], ["deactivate", "deployment-2"], frozenset({"success"})),
    ([], ["delete", "deployment-2", "--yes"], frozenset({"id", "deleted", "model_id"})),
    ([], ["rename", "deployment-2", "v2"], DEPLOYMENT_KEYS),
    ([], ["models", "list"], frozenset({"models"})),
    ([], ["api-key"], frozenset({"api_key"})),
    ([], ["usage"], frozenset({"days", "since", "usage", "totals"})),
    ([], ["models", "show", "hello"], MODEL_KEYS),
    ([], ["models", "delete", "hello", "--yes"], frozenset({"id", "deleted"})),
    ([], ["deployments", "list"], frozenset({"deployments"})),
    ([], ["deployments", "show", "production"], DEPLOYMENT_KEYS),
    (
        [],
        ["deployments", "autoscaling", "production", "--max-replica", "2"],
        frozenset({"status", "message"}),
    ),
    ([], ["environments", "list"], frozenset({"environments"})),
    ([], ["environments", "show", "staging"], ENVIRONMENT_KEYS),
    ([], ["environments", "create", "canary"], ENVIRONMENT_KEYS),
    (
        [],
        ["environments", "update", "staging", "--rolling-deploy"],
        frozenset({"status", "message"}),
    ),
    (
        [],
        ["environments", "delete", "staging", "--yes"],
        frozenset({"name", "model_id", "deleted"}),
    ),
    (ROLLING, ["rollout", "status"], ENVIRONMENT_KEYS),
    (ROLLING, ["rollout", "pause"], frozenset({"success"})),
    ([*ROLLING, ["rollout", "pause"]], ["rollout", "resume"], frozenset({"success"})),
    (ROLLING, ["rollout", "cancel"], frozenset({"status", "message"})),
    (ROLLING, ["rollout", "force-cancel"], frozenset({"success"})),
    (ROLLING, ["rollout", "force-roll-forward"], frozenset({"success"})),
    ([], ["secrets", "list"], frozenset({"secrets"})),
]


@pytest.mark.parametrize(
    ("setup", "args", "keys"),
    [pytest.param(*case, id=" ".join(case[1][:2])) for case in JSON_CASES],
)
def test_json_output_is_clean(
    cli: Cli,
    world: Path,
    tmp_path: Path,
    setup: list[list[str]],
    args: list[str],
    keys: frozenset[str],
) -> None:
    for step in setup:
        ok(cli(*step))
    argv = [arg.format(dir=world, new=tmp_path / "new") for arg in args]
    result = cli(*argv, "-o", "json")
    assert (result.exit_code, result.stderr) == (0, "")
    body = result.json()  # the whole of stdout is one JSON document
    assert isinstance(body, dict)
    assert set(body) == keys


def test_every_command_has_a_json_case_or_needs_the_server() -> None:
    covered = {tuple(args[:2]) if args[0] in GROUPS else (args[0],) for _, args, _ in JSON_CASES}
    assert covered | SERVER_COMMANDS | STDIN_COMMANDS == set(COMMANDS)


# Errors: "Error: ..." and "Hint: ..." on stderr; with -o json also {"error", "hint"}.

ERROR_TABLE: list[tuple[str, list[str], int, str, str | None]] = [
    (
        "not-found",
        ["deployments", "show", "nope"],
        4,
        "no deployment 'nope'",
        "List them with `brace deployments list`.",
    ),
    (
        "refused",
        ["environments", "delete", "production"],
        5,
        "the production environment cannot be deleted",
        "Delete the whole model with `brace models delete hello` instead.",
    ),
    (
        "refused-with-facts",
        ["environments", "create", "staging"],
        5,
        "model 'hello' already has an environment 'staging'",
        "Change its settings with `brace environments update staging -m hello`, "
        "or choose another name.",
    ),
    (
        "invalid",
        ["deployments", "autoscaling", "production", "--min-replica", "5"],
        5,
        "min_replica (5) must not exceed max_replica (1)",
        None,
    ),
    (
        "no-promotion",
        ["rollout", "pause"],
        5,
        "no promotion is in progress in production",
        "See the last one with `brace rollout status -m hello -e production`.",
    ),
    (
        "usage",
        ["push", "{dir}", "--deployment-name", "x"],
        2,
        "--deployment-name names a published deployment; the development deployment is "
        "always named 'development'",
        "Add --publish (or --promote) to create a published deployment.",
    ),
    (
        "watch-publish",
        ["push", "{dir}", "--watch", "--publish"],
        2,
        "--watch follows the development deployment; it does not go with --publish, "
        "--promote, --environment or --deployment-name",
        "Publish once you are done: `brace push DIR --publish`.",
    ),
    (
        "no-server",
        ["predict", "--development", "-d", "{{}}"],
        6,
        "no brace server is running at http://127.0.0.1:{port}",
        "Start one with `brace up` (BRACE_AUTOSTART=0 keeps commands from starting it).",
    ),
]
ERROR_CASES = [pytest.param(*case[1:], id=case[0]) for case in ERROR_TABLE]


@pytest.mark.parametrize(("args", "code", "message", "hint"), ERROR_CASES)
def test_error_text(
    cli: Cli, world: Path, args: list[str], code: int, message: str, hint: str | None
) -> None:
    port = os.environ["BRACE_PORT"]
    expect_error(cli(*[a.format(dir=world) for a in args]), code, message.format(port=port), hint)


@pytest.mark.parametrize(("args", "code", "message", "hint"), ERROR_CASES)
def test_error_json(
    cli: Cli, world: Path, args: list[str], code: int, message: str, hint: str | None
) -> None:
    argv = [a.format(dir=world) for a in args]
    message = message.format(port=os.environ["BRACE_PORT"])
    expect_json_error(cli(*argv, "-o", "json"), code, message, hint)
    # The long form, given before the arguments, works alike.
    path = 2 if argv[0] in GROUPS else 1
    expect_json_error(cli(*argv[:path], "--output=json", *argv[path:]), code, message, hint)


def test_failed_command_leaves_state_alone(cli: Cli, world: Path) -> None:
    listings = [["models", "list"], ["deployments", "list"], ["environments", "list"]]
    before = [data(cli, *listing) for listing in listings]
    for _, args, code, _, _ in ERROR_TABLE:
        assert cli(*[a.format(dir=world) for a in args]).exit_code == code
    assert [data(cli, *listing) for listing in listings] == before


def test_error_lines_in_a_real_process(brace_process: BraceProcess) -> None:
    result = brace_process("models", "show", "nope", "-o", "json")
    assert result.returncode == 4
    hint = "There are no models yet; push one with `brace push DIR`."
    assert result.stderr == error_text("no model named 'nope'", hint)
    assert result.stdout == f'{{"error": "no model named \'nope\'", "hint": "{hint}"}}\n'


def test_interrupt_exits_130(cli: Cli, world: Path, home: Path) -> None:
    for step in ROLLING:
        ok(cli(*step))
    env = {**os.environ, "BRACE_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "brace", "rollout", "status", "--watch", "--interval", "0.05"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 30)
        assert ready, "rollout status --watch printed nothing"
        first = process.stdout.readline()  # not a terminal: one line per change
        assert re.fullmatch(r"\d\d:\d\d:\d\d production: RELEASING, 0% to .*\n", first), first
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
        assert process.returncode == 130
        assert "Traceback" not in stderr
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()


def test_home_that_is_a_file_is_an_error_not_a_crash(
    brace_process: BraceProcess, home: Path
) -> None:
    home.parent.mkdir(parents=True, exist_ok=True)
    home.write_text("not a directory\n")
    result = brace_process("models", "list")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    first, *rest = result.stderr.splitlines()
    assert first.startswith("Error: ") and str(home) in first
    assert [line for line in rest if line.startswith("Hint: ")]

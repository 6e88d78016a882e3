"""Every command through its failure paths: one error, a non-zero exit, never a traceback.

The table drives each command (read from the Typer app, so a new command must be added
here) through what a server, a model or a user can get wrong: no server, unknown
names, refused lifecycle rules, bad input, usage errors. Each failure is run twice:
as text (`Error:` on stderr, nothing on stdout) and with `-o json` (exactly one JSON
document with an `error`, ending with a newline). An exception escaping `main()`
fails the test. Answers from a misbehaving server (error statuses, cut streams, lost
connections) are in test_predict.py; a server killed mid-call and a model failing
mid-stream, with real processes, in tests/integration/test_cli_failures.py.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from brace.cli.common import Output
from brace.cli.failures import requested_output, said_once
from brace.store import Store
from tests.cli.conftest import become_active, ok
from tests.cli.test_output import COMMANDS, GROUPS
from tests.conftest import Cli

# (the command, its failing arguments, the exit code)
FAILURES: list[tuple[str, list[str], int]] = [
    ("init", ["init", "{file}"], 5),
    ("push", ["push", "{missing}"], 5),
    ("push", ["push", "{broken}"], 5),
    ("push", ["push", "{world}", "--environment", "qa"], 4),
    ("watch", ["watch", "{missing}"], 5),
    ("watch", ["watch", "{world}"], 6),  # no server, none may be started
    ("predict", ["predict", "-d", "{not json"], 5),
    ("predict", ["predict", "-f", "{missing}"], 5),
    ("predict", ["predict", "-m", "nope", "-d", "{}"], 4),
    ("predict", ["predict", "-d", "{}"], 6),
    ("status", ["status", "--bogus"], 2),
    ("wake", ["wake", "nope"], 4),
    ("promote", ["promote", "nope"], 4),
    ("promote", ["promote", "deployment-2", "-e", "qa"], 4),
    ("activate", ["activate", "deployment-2"], 5),
    ("deactivate", ["deactivate", "nope"], 4),
    ("delete", ["delete", "deployment-1", "--yes"], 5),
    ("delete", ["delete", "deployment-2"], 2),
    ("rename", ["rename", "development", "x"], 5),
    ("rename", ["rename", "deployment-2", "no spaces allowed"], 5),
    ("models list", ["models", "list", "--bogus"], 2),
    ("api-key", ["api-key", "--bogus"], 2),
    ("models show", ["models", "show", "nope"], 4),
    ("models delete", ["models", "delete", "hello"], 2),
    ("models delete", ["models", "delete", "nope", "--yes"], 4),
    ("deployments list", ["deployments", "list", "-m", "nope"], 4),
    ("deployments show", ["deployments", "show", "nope"], 4),
    (
        "deployments autoscaling",
        ["deployments", "autoscaling", "production", "--min-replica", "-1"],
        5,
    ),
    (
        "deployments autoscaling",
        ["deployments", "autoscaling", "production", "--min-replica", "two"],
        2,
    ),
    (
        "deployments autoscaling",
        ["deployments", "autoscaling", "production", "--min-replica", "5"],
        5,
    ),
    ("environments list", ["environments", "list", "-m", "nope"], 4),
    ("environments show", ["environments", "show", "qa"], 4),
    ("environments create", ["environments", "create", "staging"], 5),
    (
        "environments update",
        ["environments", "update", "production", "--max-surge-percent", "99"],
        5,
    ),
    ("environments delete", ["environments", "delete", "production", "--yes"], 5),
    ("rollout status", ["rollout", "status", "-e", "qa"], 4),
    ("rollout pause", ["rollout", "pause"], 5),
    ("rollout resume", ["rollout", "resume"], 5),
    ("rollout cancel", ["rollout", "cancel"], 5),
    ("rollout force-cancel", ["rollout", "force-cancel"], 5),
    ("rollout force-roll-forward", ["rollout", "force-roll-forward"], 5),
    ("server", ["server", "--port", "{taken}"], 6),
    ("up", ["up", "--port", "{taken}"], 6),
    ("down", ["down", "--bogus"], 2),
    ("status", ["status", "--bogus"], 2),
    ("wake", ["wake", "nope"], 4),
    ("usage", ["usage", "--days", "0"], 2),
    ("secrets set", ["secrets", "set", "bad/name"], 5),
    ("secrets list", ["secrets", "list", "--bogus"], 2),
    ("secrets delete", ["secrets", "delete", "nope", "--yes"], 4),
    ("logs", ["logs", "nope"], 4),
    ("logs", ["logs", "development", "--lines", "x"], 2),
]


@pytest.fixture
def taken() -> Iterator[int]:
    """A port something else (not a brace server) listens on."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        yield listener.getsockname()[1]


@pytest.fixture
def world(cli: Cli, hello: Path, store: Store, tmp_path: Path) -> dict[str, str]:
    """hello: development, deployment-1 (production), deployment-2, environment staging;
    and the paths the table's arguments name."""
    ok(cli("push", hello))
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("push", hello, "--publish"))
    ok(cli("environments", "create", "staging"))
    broken = tmp_path / "broken"
    (broken / "model").mkdir(parents=True)
    (broken / "config.yaml").write_text("model_name: [unclosed\n")
    (broken / "model" / "model.py").write_text("class Model:\n    pass\n")
    (tmp_path / "a-file").write_text("not a directory\n")
    return {
        "world": str(hello),
        "missing": str(tmp_path / "missing"),
        "broken": str(broken),
        "file": str(tmp_path / "a-file"),
    }


def _argv(args: list[str], paths: dict[str, str], port: int) -> list[str]:
    values = {**paths, "taken": str(port)}
    return [values.get(arg[1:-1], arg) if arg.startswith("{") else arg for arg in args]


def _run(cli: Cli, argv: list[str]) -> tuple[int, str, str]:
    if argv[0] == "server":  # it would serve in this process if it could start
        done = subprocess.run(
            [sys.executable, "-m", "brace", *argv], capture_output=True, text=True, timeout=60
        )
        return done.returncode, done.stdout, done.stderr
    result = cli(*argv)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "code"),
    [pytest.param(args, code, id=" ".join(args)) for _, args, code in FAILURES],
)
def test_every_failure_is_one_error_and_its_exit_code(
    cli: Cli, world: dict[str, str], taken: int, args: list[str], code: int
) -> None:
    argv = _argv(args, world, taken)
    exit_code, stdout, stderr = _run(cli, argv)
    assert exit_code == code, stderr
    assert "Traceback" not in stderr
    assert [line for line in stderr.splitlines() if line.startswith("Error: ")], stderr
    assert stdout == ""

    exit_code, stdout, stderr = _run(cli, [*argv, "-o", "json"])
    assert exit_code == code, stderr
    assert "Traceback" not in stderr
    assert stdout.endswith("\n") and stdout.count("\n") == 1, stdout
    assert set(json.loads(stdout)) <= {"error", "hint"} and "error" in json.loads(stdout)


def test_every_command_has_a_failure_case() -> None:
    covered = {tuple(args[:2]) if args[0] in GROUPS else (args[0],) for _, args, _ in FAILURES}
    assert covered == set(COMMANDS)


@pytest.mark.parametrize(
    ("argv", "output"),
    [
        pytest.param([], Output.text, id="nothing"),
        pytest.param(["models", "list", "-o", "json"], Output.json, id="short"),
        pytest.param(["models", "list", "--output", "json"], Output.json, id="long"),
        pytest.param(["models", "list", "--output=json"], Output.json, id="equals"),
        pytest.param(["models", "list", "-ojson"], Output.json, id="attached"),
        pytest.param(["-o", "yaml"], Output.text, id="not-a-format"),
        pytest.param(["predict", "--", "-o", "json"], Output.text, id="after-dashes"),
    ],
)
def test_requested_output_is_read_before_parsing(argv: list[str], output: Output) -> None:
    assert requested_output(argv) is output


def test_a_suggestion_is_said_once(cli: Cli) -> None:
    assert (
        said_once(
            "No such command 'deploy'. Did you mean 'deployments'? Did you mean 'deployments'?"
        )
        == "No such command 'deploy'. Did you mean 'deployments'?"
    )
    result = cli("deploy")
    assert result.exit_code == 2
    assert result.stderr.endswith("Error: No such command 'deploy'. Did you mean 'deployments'?\n")
    assert result.stderr.count("Did you mean") == 1


@pytest.mark.parametrize(
    ("args", "message", "hint"),
    [
        pytest.param(
            ["deployments", "autoscaling", "x", "--min-replica", "two"],
            "Invalid value for '--min-replica': 'two' is not a valid integer.",
            "See `brace deployments autoscaling --help`.",
            id="not-a-number",
        ),
        pytest.param(
            ["models", "list", "--bogus"],
            "No such option '--bogus'.",
            "See `brace models list --help`.",
            id="unknown-option",
        ),
        pytest.param(
            ["deploy"],
            "No such command 'deploy'. Did you mean 'deployments'?",
            "See `brace --help`.",
            id="unknown-command",
        ),
        pytest.param(
            ["rename", "deployment-1"],
            "Missing argument 'NEW_NAME'.",
            "See `brace rename --help`.",
            id="missing-argument",
        ),
    ],
)
def test_usage_errors_are_json_with_json_output(
    cli: Cli, args: list[str], message: str, hint: str
) -> None:
    result = cli(*args, "-o", "json")
    assert result.exit_code == 2
    assert result.stdout.endswith("\n")
    assert result.json() == {"error": message, "hint": hint}
    assert result.stderr.endswith(f"Error: {message}\n")

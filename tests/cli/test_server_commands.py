"""Server commands without a running server: what they say, and that they change nothing.

The real server is exercised in tests/integration.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from brace.errors import ExitCode
from tests.cli.conftest import data, expect_error, expect_json_error, ok
from tests.conftest import Cli


def test_watch_of_a_directory_that_is_not_a_truss(cli: Cli, tmp_path: Path) -> None:
    message = f"{tmp_path / 'nope'}: no such directory"
    hint = "Pass the directory of a Truss model."
    expect_error(cli("watch", tmp_path / "nope"), 5, message, hint)
    expect_json_error(cli("watch", tmp_path / "nope", "-o", "json"), 5, message, hint)
    assert data(cli, "models", "list") == {"models": []}


def test_status_without_a_server_is_an_answer(cli: Cli) -> None:
    """A stopped server is a state to report (exit 0), not a server error (exit 6)."""
    url = f"http://127.0.0.1:{os.environ['BRACE_PORT']}"
    stopped = ok(cli("status"))
    assert (stopped.stdout, stopped.stderr) == (
        f"brace server stopped: none is running at {url} (start it with `brace up`).\n",
        "",
    )
    assert data(cli, "status") == {"running": False, "url": url}


def test_down_without_a_server(cli: Cli) -> None:
    assert data(cli, "down") == {"stopped": False, "pid": None}
    assert cli("down").stdout == "No server was running.\n"


def test_predict_checks_its_input_before_starting_anything(cli: Cli, hello: Path) -> None:
    ok(cli("push", hello))
    expect_error(
        cli("predict", "--development", "-d", "{not json"),
        5,
        "the input is not valid JSON: Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        None,
    )
    expect_error(
        cli("predict", "--development", "-e", "staging", "-d", "{}"),
        2,
        "choose one of --environment, --deployment and --development",
        None,
    )
    expect_error(
        cli("predict", "-m", "nope", "-d", "{}"), 4, "no model named 'nope'", "Models: hello."
    )


def test_logs_of_a_deployment_that_never_ran(cli: Cli, hello: Path) -> None:
    ok(cli("push", hello))
    assert cli("logs", "development").stdout == ""
    assert data(cli, "logs", "development") == {"logs": []}
    expect_error(
        cli("logs", "nope"), 4, "no deployment 'nope'", "List them with `brace deployments list`."
    )


def test_the_ray_backend_needs_an_address(cli: Cli) -> None:
    result = cli("server", "--backend", "ray")
    assert result.exit_code == 2
    assert "--backend ray needs the cluster's address" in result.stderr
    assert "--address HOST:PORT" in result.stderr


def test_the_ray_backend_without_ray_installed(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Refused before anything starts, with the command that installs it."""
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees without Ray
    expect_error(
        cli("server", "--backend", "ray", "--address", "127.0.0.1:6379"),
        ExitCode.SERVER,
        "--backend ray needs Ray, which is not installed",
        "Install it with `pip install 'brace[ray]'` (docs/scale-out.md).",
    )

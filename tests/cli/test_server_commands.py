"""Commands that need the brace server, which this version does not include yet.

Each one fails with exit code 6 and says so, in text and JSON mode, and changes nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import data, expect_error, expect_json_error, ok
from tests.conftest import Cli

HINT = "State commands (push, promote, deployments, environments, rollout) work without it."


@pytest.mark.parametrize(
    ("args", "command"),
    [
        pytest.param(["server"], "server", id="server"),
        pytest.param(["server", "--port", "9000"], "server", id="server-port"),
        pytest.param(["up"], "up", id="up"),
        pytest.param(["down"], "down", id="down"),
        pytest.param(["status"], "status", id="status"),
        pytest.param(["predict", "-m", "hello", "-d", '{"x": 1}'], "predict", id="predict"),
        pytest.param(["logs", "development", "--follow"], "logs", id="logs"),
        pytest.param(["watch", "{dir}"], "watch", id="watch"),
        pytest.param(["push", "{dir}", "--wait"], "push --wait", id="push-wait"),
        pytest.param(["promote", "development", "--wait"], "promote --wait", id="promote-wait"),
    ],
)
def test_needs_the_server(cli: Cli, hello: Path, args: list[str], command: str) -> None:
    argv = [arg.replace("{dir}", str(hello)) for arg in args]
    message = (
        f"`brace {command}` needs the brace server, which this version of brace does not "
        "include yet"
    )
    expect_error(cli(*argv), 6, message, HINT)
    expect_json_error(cli(*argv, "-o", "json"), 6, message, HINT)
    assert data(cli, "models", "list") == {"models": []}


def test_push_wait_with_publish_creates_nothing(cli: Cli, hello: Path) -> None:
    ok(cli("push", hello))
    result = cli("push", hello, "--publish", "--wait", "--timeout-seconds", "5")
    assert result.exit_code == 6
    assert [d["name"] for d in data(cli, "deployments", "list")["deployments"]] == ["development"]

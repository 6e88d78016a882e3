"""Numbers that parse but mean nothing: every option that reads one refuses them by
name (exit 5 for settings, 2 for the command's own options), and nothing is stored or
printed (`-o json` never prints NaN)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from brace.store import Store
from tests.cli.conftest import (
    DEFAULT_AUTOSCALING,
    DEFAULT_PROMOTION_SETTINGS,
    deployment,
    environment,
    expect_error,
    ok,
)
from tests.conftest import Cli

HUGE = "1" + "0" * 4000


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param(
            "--min-replica",
            HUGE,
            "min_replica must be 0 to 1000, got a number of about 4001 digits",
            id="min-10^4000",
        ),
        pytest.param(
            "--max-replica",
            "1" + "0" * 30,
            "max_replica must be 1 to 1000, got a number of about 31 digits",
            id="max-10^30",
        ),
        pytest.param(
            "--concurrency-target",
            "1" + "0" * 19,
            "concurrency_target must be 1 to 1000000, got a number of about 20 digits",
            id="concurrency-2^64",
        ),
    ],
)
def test_a_huge_integer_is_refused_and_not_stored(
    cli: Cli, hello: Path, store: Store, option: str, value: str, message: str
) -> None:
    ok(cli("push", hello, "--publish"))
    both = ["--min-replica", value, "--max-replica", value] if option == "--min-replica" else []
    result = cli("deployments", "autoscaling", "deployment-1", *(both or [option, value]))
    expect_error(result, 5, message)
    assert deployment(store, "deployment-1").autoscaling.to_json() == DEFAULT_AUTOSCALING


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "infinity", "1e999"])
def test_a_non_finite_ratio_is_refused_and_json_stays_json(
    cli: Cli, hello: Path, store: Store, value: str
) -> None:
    ok(cli("push", hello, "--publish"))
    result = cli(
        "environments", "update", "production", "--rollback-max-p99-ratio", value, "-o", "json"
    )
    assert result.exit_code == 5, result
    assert "max_p99_latency_ratio must be a finite number" in json.loads(result.stdout)["error"]
    assert environment(store, "production").promotion_settings.to_json() == (
        DEFAULT_PROMOTION_SETTINGS
    )
    listed = ok(cli("environments", "list", "-o", "json"))
    assert "NaN" not in listed.stdout and "Infinity" not in listed.stdout
    json.loads(listed.stdout)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["rollout", "status", "--watch", "--interval", "nan"], id="interval"),
        pytest.param(["server", "--hold-timeout", "nan"], id="hold-timeout"),
        pytest.param(["server", "--header-timeout", "inf"], id="header-timeout"),
    ],
)
def test_a_non_finite_option_of_a_command_is_a_usage_error(cli: Cli, args: list[str]) -> None:
    result = cli(*args)
    assert result.exit_code == 2, result
    assert "is not a finite number" in result.stderr


@pytest.mark.parametrize(
    ("size", "message"),
    [
        pytest.param(HUGE, "is larger than 1024GiB", id="10^4000-bytes"),
        pytest.param("2TiB", "not a size", id="unknown-unit"),
        pytest.param("2048GiB", "is larger than 1024GiB", id="2TiB"),
    ],
)
def test_a_body_size_beyond_any_use_is_refused(cli: Cli, size: str, message: str) -> None:
    result = cli("server", "--max-body-size", size)
    assert result.exit_code == 2, result
    assert message in result.stderr


@pytest.mark.parametrize("port", ["99999999999999999999", "9" * 5000, "0", "http"])
def test_a_port_that_is_no_port_is_a_usage_error(
    cli: Cli, hello: Path, monkeypatch: pytest.MonkeyPatch, port: str
) -> None:
    monkeypatch.setenv("BRACE_PORT", port)
    for command in (["status"], ["deployments", "list"], ["predict", "-m", "hello", "-d", "{}"]):
        result = cli(*command)
        assert result.exit_code in (0, 2), (command, result)
        assert "Traceback" not in result.stderr


def test_a_wait_beyond_any_use_is_a_usage_error(cli: Cli, hello: Path) -> None:
    """A timeout of 10^4000 seconds once overflowed the float of a deadline."""
    result = cli("push", hello, "--wait", "--timeout-seconds", HUGE)
    assert result.exit_code == 2, result
    assert "Traceback" not in result.stderr

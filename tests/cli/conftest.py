"""Shared helpers for the CLI tests: expected JSON shapes, error checks, state look-ups.

Every CLI test checks three things where they apply (as sqlite-utils' tests do): the
exit code, the exact error line or JSON shape, and the state the command left behind.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from brace.store import Deployment, DeploymentStatus, Environment, Promotion, Store
from tests.api_shapes import DEPLOYMENT_KEYS as DEPLOYMENT_KEYS
from tests.api_shapes import ENVIRONMENT_KEYS as ENVIRONMENT_KEYS
from tests.api_shapes import MODEL_KEYS as MODEL_KEYS
from tests.conftest import Cli, MakeTruss, Result, come_up

DEFAULT_AUTOSCALING: dict[str, int] = {
    "min_replica": 0,
    "max_replica": 1,
    "autoscaling_window": 60,
    "scale_down_delay": 900,
    "concurrency_target": 1,
    "target_utilization_percentage": 70,
}
DEFAULT_PROMOTION_SETTINGS: dict[str, Any] = {
    "rolling_deploy": False,
    "rolling_deploy_config": {
        "rolling_deploy_strategy": "REPLICA",
        "max_surge_percent": 10,
        "max_unavailable_percent": 0,
        "stabilization_time_seconds": 0,
        "replica_overhead_percent": 0,
    },
    "promotion_cleanup_strategy": "SCALE_TO_ZERO",
    "automatic_rollback": {
        "enabled": False,
        "max_error_rate_percent": 5,
        "min_requests": 50,
        "max_p99_latency_ratio": None,
    },
}


def ok(result: Result) -> Result:
    """`result` after checking that the command succeeded."""
    assert result.exit_code == 0, (result.exit_code, result.stderr, result.stdout)
    return result


def data(cli: Cli, *args: str | Path) -> Any:
    """Run `brace ARGS... -o json`, check it succeeded, and return the parsed stdout."""
    return ok(cli(*args, "-o", "json")).json()


def error_text(message: str, hint: str | None = None) -> str:
    return f"Error: {message}\n" + (f"Hint: {hint}\n" if hint else "")


def expect_error(result: Result, code: int, message: str, hint: str | None = None) -> None:
    """A text-mode failure: the exit code, `Error:` and `Hint:` on stderr, nothing on stdout."""
    assert (result.exit_code, result.stderr, result.stdout) == (
        code,
        error_text(message, hint),
        "",
    )


def expect_json_error(result: Result, code: int, message: str, hint: str | None = None) -> None:
    """A `-o json` failure: as in text mode, plus {"error", "hint"} on stdout."""
    body = {"error": message} | ({"hint": hint} if hint else {})
    assert (result.exit_code, result.stderr) == (code, error_text(message, hint))
    assert result.json() == body


def rows(text: str) -> dict[str, str]:
    """The key/value lines of a text-mode `show` (title line excluded)."""
    pairs = (re.split(r"\s{2,}", line.strip(), maxsplit=1) for line in text.splitlines()[1:])
    return {pair[0]: pair[1] for pair in pairs if len(pair) == 2}


def model_id(store: Store, name: str = "hello") -> str:
    with store.read() as tx:
        model = tx.model_by_name(name)
    assert model is not None, f"no model {name}"
    return model.id


def deployment(store: Store, name: str, model: str = "hello") -> Deployment:
    """The stored deployment `name` of `model`."""
    found = model_id(store, model)
    with store.read() as tx:
        matches = [d for d in tx.deployments(found) if d.name == name]
    assert len(matches) == 1, f"{model} has no deployment {name}"
    return matches[0]


def set_status(store: Store, name: str, status: DeploymentStatus, model: str = "hello") -> None:
    """Record deployment `name`'s status, as the server's controller would."""
    found = deployment(store, name, model)
    with store.transaction() as tx:
        tx.update_deployment(found, status=status)


def become_active(store: Store, name: str, model: str = "hello") -> Deployment:
    """Deployment `name` of `model` comes up, as the server's controller would record it:
    ACTIVE, and the environment's current deployment if a non-rolling promotion was
    waiting for it (see `tests.conftest.come_up`)."""
    found = model_id(store, model)
    with store.transaction() as tx:
        matches = [d for d in tx.deployments(found) if d.name == name]
        assert len(matches) == 1, f"{model} has no deployment {name}"
        return come_up(tx, matches[0])


def deployment_names(store: Store, model: str = "hello") -> list[str]:
    found = model_id(store, model)
    with store.read() as tx:
        return [d.name for d in tx.deployments(found)]


def environment(store: Store, name: str, model: str = "hello") -> Environment:
    found = model_id(store, model)
    with store.read() as tx:
        env = tx.environment(found, name)
    assert env is not None, f"{model} has no environment {name}"
    return env


def latest_promotion(store: Store, env: str = "production", model: str = "hello") -> Promotion:
    found = model_id(store, model)
    with store.read() as tx:
        promotion = tx.latest_promotion(found, env)
    assert promotion is not None
    return promotion


@pytest.fixture
def hello(make_truss: MakeTruss) -> Path:
    """A minimal Truss directory whose model_name is `hello`."""
    return make_truss("hello")


@pytest.fixture
def world(cli: Cli, hello: Path, store: Store) -> Path:
    """hello: development, deployment-1 (production), deployment-2, environment staging."""
    ok(cli("push", hello))
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    ok(cli("push", hello, "--publish"))
    ok(cli("environments", "create", "staging"))
    return hello

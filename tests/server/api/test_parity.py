"""The same refusal through the CLI and through the management API: one rule, one
message, the kind as the exit code on one side and as the status and error_code on the
other."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from brace.services.push import push
from brace.store import Deployment, Store
from tests.conftest import Cli
from tests.services.conftest import enable_rolling

# (case, CLI arguments, API call, exit code, HTTP status, error_code), with
# {model}, {production} and {other} filled in.
Case = tuple[list[str], Callable[[TestClient, dict[str, str]], Any], int, int, str]

CASES: dict[str, Case] = {
    "unknown-model": (
        ["models", "show", "nope"],
        lambda api, ids: api.get("/v1/models/nope"),
        4,
        404,
        "MODEL_NOT_FOUND",
    ),
    "unknown-deployment": (
        ["deployments", "show", "nope", "-m", "{model}"],
        lambda api, ids: api.get(f"/v1/models/{ids['model']}/deployments/nope"),
        4,
        404,
        "DEPLOYMENT_NOT_FOUND",
    ),
    "delete-production-deployment": (
        ["delete", "{production}"],
        lambda api, ids: api.delete(f"/v1/models/{ids['model']}/deployments/{ids['production']}"),
        5,
        409,
        "CURRENT_DEPLOYMENT",
    ),
    "delete-production-environment": (
        ["environments", "delete", "production", "-m", "{model}"],
        lambda api, ids: api.delete(f"/v1/models/{ids['model']}/environments/production"),
        5,
        409,
        "DELETE_PRODUCTION",
    ),
    "invalid-autoscaling": (
        ["deployments", "autoscaling", "{production}", "--max-replica", "0"],
        lambda api, ids: api.patch(
            f"/v1/models/{ids['model']}/deployments/{ids['production']}/autoscaling_settings",
            json={"max_replica": 0},
        ),
        5,
        400,
        "VALIDATION_ERROR",
    ),
    "second-promotion": (
        ["promote", "{other}"],
        lambda api, ids: api.post(f"/v1/models/{ids['model']}/deployments/{ids['other']}/promote"),
        5,
        409,
        "PROMOTION_IN_PROGRESS",
    ),
    "pause-without-promotion-in-staging": (
        ["rollout", "pause", "-m", "{model}", "-e", "staging"],
        lambda api, ids: api.post(
            f"/v1/models/{ids['model']}/environments/staging/pause_promotion"
        ),
        5,
        409,
        "NO_PROMOTION",
    ),
    "missing-environment": (
        ["environments", "show", "qa", "-m", "{model}"],
        lambda api, ids: api.get(f"/v1/models/{ids['model']}/environments/qa"),
        4,
        404,
        "ENVIRONMENT_NOT_FOUND",
    ),
}


@pytest.fixture
def ids(store: Store, production: Deployment, truss_dir: Path, cli: Cli) -> dict[str, str]:
    other = push(store, truss_dir, publish=True).deployment
    third = push(store, truss_dir, publish=True).deployment
    enable_rolling(store)
    assert cli("promote", third.id).exit_code == 0  # a rolling promotion in progress
    assert cli("environments", "create", "staging", "-m", "hello").exit_code == 0
    return {"model": production.model_id, "production": production.id, "other": other.id}


@pytest.mark.parametrize("case", list(CASES))
def test_the_cli_and_the_api_refuse_alike(
    cli: Cli, api: TestClient, ids: dict[str, str], case: str
) -> None:
    arguments, call, exit_code, status, error_code = CASES[case]
    done = cli(*(a.format(**ids) for a in arguments))
    answer = call(api, ids)
    assert (done.exit_code, answer.status_code) == (exit_code, status), (done, answer.text)
    body = answer.json()
    assert body["error_code"] == error_code
    assert done.stderr.splitlines()[0] == f"Error: {body['error']}"

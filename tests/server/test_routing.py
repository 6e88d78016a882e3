"""Where `resolve` sends each inference URL form, and every way a request finds nothing."""

from __future__ import annotations

import pytest

from brace.server.routing import (
    PREDICT_PATH,
    DeploymentRoute,
    EnvironmentRoute,
    Forward,
    MethodNotAllowed,
    NotFound,
    NotInference,
    Resolution,
    RoutingTable,
    Wake,
    host_model,
    resolve,
)

TABLE = RoutingTable(
    models={"m1": "m1", "my model": "m1", "m2": "m2", "other": "m2"},
    environments={
        ("m1", "production"): EnvironmentRoute(current="prod"),
        ("m1", "staging"): EnvironmentRoute(
            current="stage", candidate="cand", percent_to_candidate=30
        ),
        ("m1", "empty"): EnvironmentRoute(current=None),
        ("m1", "broken"): EnvironmentRoute(
            current="off", candidate="cand", percent_to_candidate=50
        ),
        ("m1", "failing"): EnvironmentRoute(
            current="prod", candidate="off", percent_to_candidate=50
        ),
        ("m2", "production"): EnvironmentRoute(current="p2"),
    },
    development={"m1": "dev"},
    deployments={
        "prod": DeploymentRoute("prod", "m1", True, ("/r/prod-0.sock",)),
        "stage": DeploymentRoute("stage", "m1", True, ("/r/stage-0.sock",)),
        "cand": DeploymentRoute("cand", "m1", True, ()),
        "dev": DeploymentRoute("dev", "m1", True, ()),
        "off": DeploymentRoute("off", "m1", False, ()),
        "p2": DeploymentRoute("p2", "m2", True, ("/r/p2-0.sock",)),
    },
)


def fwd(deployment_id: str, split: bool = False) -> Forward:
    return Forward(deployment_id, PREDICT_PATH, split)


@pytest.mark.parametrize(
    ("path", "host", "expected"),
    [
        pytest.param("/model/m1/production/predict", None, fwd("prod"), id="production"),
        pytest.param("/model/m1/environments/production/predict", None, fwd("prod"), id="env-prod"),
        pytest.param(
            "/model/m1/environments/staging/predict", None, fwd("stage", True), id="env-split"
        ),
        pytest.param("/model/m1/development/predict", None, fwd("dev"), id="development"),
        pytest.param("/model/m1/deployment/prod/predict", None, fwd("prod"), id="deployment"),
        pytest.param("/model/m1/deployment/cand/predict", None, fwd("cand"), id="candidate-direct"),
        pytest.param("/model/my%20model/production/predict", None, fwd("prod"), id="by-name"),
        pytest.param("/model/other/production/predict", None, fwd("p2"), id="second-model"),
        pytest.param("/model/m1/production/predict?x=1", None, fwd("prod"), id="query-ignored"),
        pytest.param("/model/m1/production/wake", None, Wake("prod"), id="wake-production"),
        pytest.param("/model/m1/development/wake", None, Wake("dev"), id="wake-development"),
        pytest.param("/model/m1/deployment/cand/wake", None, Wake("cand"), id="wake-deployment"),
        pytest.param("/model/m1/environments/staging/wake", None, Wake("stage"), id="wake-env"),
        pytest.param("/production/predict", "model-m1.localhost", fwd("prod"), id="host"),
        pytest.param("/production/predict", "model-m1.localhost:8765", fwd("prod"), id="host-port"),
        pytest.param("/production/predict", "Model-M1.LOCALHOST", fwd("prod"), id="host-case"),
        pytest.param(
            "/environments/staging/predict", "model-m1.localhost", fwd("stage", True), id="host-env"
        ),
        pytest.param("/development/predict", "model-m1.localhost", fwd("dev"), id="host-dev"),
        pytest.param(
            "/deployment/prod/predict", "model-m1.localhost:1", fwd("prod"), id="host-deployment"
        ),
        pytest.param("/production/wake", "model-m1.localhost", Wake("prod"), id="host-wake"),
        pytest.param(
            "/model/m2/production/predict", "model-m1.localhost", fwd("p2"), id="host-with-prefix"
        ),
        pytest.param("/v1/models", "model-m1.localhost", NotInference(), id="host-management"),
        pytest.param("/production/predict", "localhost:8765", NotInference(), id="no-model-host"),
        pytest.param("/production/predict", None, NotInference(), id="no-host"),
        pytest.param("/healthz", None, NotInference(), id="healthz"),
        pytest.param("/v1/models/m1/deployments", None, NotInference(), id="management"),
        pytest.param("/model/m1/production/predict/", None, NotInference(), id="trailing-slash"),
        pytest.param("/model/m1/production/other", None, NotInference(), id="unknown-action"),
        pytest.param("/model/m1", None, NotInference(), id="model-only"),
        pytest.param("/", None, NotInference(), id="root"),
    ],
)
def test_url_forms(path: str, host: str | None, expected: Resolution) -> None:
    assert resolve(TABLE, "POST", path, host, 0.99) == expected


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("/model/nope/production/predict", "Model nope not found", id="unknown-model"),
        pytest.param(
            "/model/no%20such/production/predict", "Model no such not found", id="unknown-name"
        ),
        pytest.param(
            "/model/m2/development/predict",
            "Model m2 has no development deployment",
            id="no-development",
        ),
        pytest.param(
            "/model/m1/environments/nope/predict",
            "Environment nope not found for model m1",
            id="unknown-environment",
        ),
        pytest.param(
            "/model/m1/environments/empty/predict",
            "Environment empty of model m1 has no active deployment",
            id="environment-without-deployment",
        ),
        pytest.param(
            "/model/m1/deployment/zzz/predict",
            "Deployment zzz not found for model m1",
            id="unknown-deployment",
        ),
        pytest.param(
            "/model/m1/deployment/p2/predict",
            "Deployment p2 not found for model m1",
            id="deployment-of-another-model",
        ),
        pytest.param(
            "/model/m1/deployment/off/predict", "Deployment off is not active", id="deactivated"
        ),
        pytest.param(
            "/model/m1/deployment/off/wake", "Deployment off is not active", id="wake-deactivated"
        ),
    ],
)
def test_not_found(path: str, message: str) -> None:
    assert resolve(TABLE, "POST", path, None, 0.5) == NotFound(message)


def test_not_found_on_model_host() -> None:
    assert resolve(TABLE, "POST", "/production/predict", "model-zz.localhost", 0.5) == NotFound(
        "Model zz not found"
    )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        pytest.param("GET", "/model/m1/production/predict", id="get-predict"),
        pytest.param("PUT", "/model/m1/deployment/prod/predict", id="put-predict"),
        pytest.param("GET", "/model/m1/production/wake", id="get-wake"),
        pytest.param("GET", "/model/nope/production/predict", id="get-unknown-model"),
    ],
)
def test_method_not_allowed(method: str, path: str) -> None:
    assert resolve(TABLE, method, path, None, 0.5) == MethodNotAllowed()


def test_get_elsewhere_is_not_inference() -> None:
    assert resolve(TABLE, "GET", "/v1/models", None, 0.5) == NotInference()


@pytest.mark.parametrize(
    ("environment", "pick", "expected"),
    [
        pytest.param("staging", 0.0, "cand", id="lowest-pick-candidate"),
        pytest.param("staging", 0.299, "cand", id="just-under-split"),
        pytest.param("staging", 0.3, "stage", id="at-split-current"),
        pytest.param("staging", 0.999, "stage", id="highest-pick-current"),
        pytest.param("broken", 0.9, "cand", id="current-not-serving-falls-to-candidate"),
        pytest.param("failing", 0.1, "prod", id="candidate-not-serving-falls-to-current"),
    ],
)
def test_traffic_split(environment: str, pick: float, expected: str) -> None:
    path = f"/model/m1/environments/{environment}/predict"
    assert resolve(TABLE, "POST", path, None, pick) == fwd(expected, split=True)


@pytest.mark.parametrize(
    ("percent", "expected"),
    [
        pytest.param(0, 0, id="0"),
        pytest.param(1, 1, id="1"),
        pytest.param(30, 30, id="30"),
        pytest.param(99, 99, id="99"),
        pytest.param(100, 100, id="100"),
    ],
)
def test_split_share_is_exact_over_uniform_picks(percent: int, expected: int) -> None:
    table = RoutingTable(
        models={"m": "m"},
        environments={("m", "production"): EnvironmentRoute("a", "b", percent)},
        deployments={"a": DeploymentRoute("a", "m", True), "b": DeploymentRoute("b", "m", True)},
    )
    picks = [i / 100 for i in range(100)]
    to_candidate = [resolve(table, "POST", "/model/m/production/predict", None, p) for p in picks]
    assert to_candidate.count(fwd("b", split=True)) == expected


def test_wake_goes_to_current_during_a_rollout() -> None:
    assert resolve(TABLE, "POST", "/model/m1/environments/staging/wake", None, 0.0) == Wake("stage")


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        pytest.param("model-abc.localhost", "abc", id="plain"),
        pytest.param("model-abc.localhost:8765", "abc", id="port"),
        pytest.param("MODEL-ABC.localhost", "abc", id="case"),
        pytest.param("model-.localhost", None, id="empty-id"),
        pytest.param("localhost:8765", None, id="localhost"),
        pytest.param("model-abc.example.com", None, id="other-domain"),
        pytest.param("127.0.0.1:8765", None, id="ip"),
        pytest.param("[::1]:8765", None, id="ipv6"),
    ],
)
def test_host_model(host: str, expected: str | None) -> None:
    assert host_model(host) == expected

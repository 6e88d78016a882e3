"""Where `resolve` sends each inference URL form, and every way a request finds nothing."""

from __future__ import annotations

import pytest

from brace.server.gateway.routing import (
    PREDICT_PATH,
    DeploymentRoute,
    EnvironmentRoute,
    Forward,
    MethodNotAllowed,
    NotFound,
    NotInference,
    Resolution,
    RoutingTable,
    Split,
    Unavailable,
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
        ("m1", "dead"): EnvironmentRoute(current="gone", candidate="off", percent_to_candidate=10),
        ("m2", "production"): EnvironmentRoute(current="p2"),
    },
    development={"m1": "dev"},
    deployments={
        "prod": DeploymentRoute("prod", "m1", True, ("/r/prod-0.sock",)),
        "stage": DeploymentRoute("stage", "m1", True, ("/r/stage-0.sock",)),
        "cand": DeploymentRoute("cand", "m1", True, ()),
        "dev": DeploymentRoute("dev", "m1", True, ()),
        "off": DeploymentRoute("off", "m1", False, ()),
        "gone": DeploymentRoute("gone", "m1", False, (), "load() failed"),
        "p2": DeploymentRoute("p2", "m2", True, ("/r/p2-0.sock",)),
    },
)


def fwd(deployment_id: str) -> Forward:
    return Forward(deployment_id, PREDICT_PATH)


def split(environment: str, percent: int, candidate: str, current: str) -> Split:
    return Split(("m1", environment), percent, fwd(candidate), fwd(current))


@pytest.mark.parametrize(
    ("path", "host", "expected"),
    [
        pytest.param("/model/m1/production/predict", None, fwd("prod"), id="production"),
        pytest.param("/model/m1/environments/production/predict", None, fwd("prod"), id="env-prod"),
        pytest.param(
            "/model/m1/environments/staging/predict",
            None,
            split("staging", 30, "cand", "stage"),
            id="env-split",
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
            "/environments/staging/predict",
            "model-m1.localhost",
            split("staging", 30, "cand", "stage"),
            id="host-env",
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
    assert resolve(TABLE, "POST", path, host) == expected


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
    assert resolve(TABLE, "POST", path, None) == NotFound(message)


def test_not_found_on_model_host() -> None:
    assert resolve(TABLE, "POST", "/production/predict", "model-zz.localhost") == NotFound(
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
    assert resolve(TABLE, method, path, None) == MethodNotAllowed()


def test_get_elsewhere_is_not_inference() -> None:
    assert resolve(TABLE, "GET", "/v1/models", None) == NotInference()


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        pytest.param("staging", split("staging", 30, "cand", "stage"), id="both-serve"),
        pytest.param(
            "broken",
            split("broken", 50, "cand", "cand"),
            id="current-not-serving-falls-to-candidate",
        ),
        pytest.param(
            "failing",
            split("failing", 50, "prod", "prod"),
            id="candidate-not-serving-falls-to-current",
        ),
        pytest.param(
            "dead",
            Split(
                ("m1", "dead"),
                10,
                NotFound("Deployment off is not active"),
                Unavailable("Deployment gone cannot serve: load() failed"),
            ),
            id="neither-serves",
        ),
    ],
)
def test_traffic_split(environment: str, expected: Split) -> None:
    path = f"/model/m1/environments/{environment}/predict"
    assert resolve(TABLE, "POST", path, None) == expected


def test_wake_goes_to_current_during_a_rollout() -> None:
    assert resolve(TABLE, "POST", "/model/m1/environments/staging/wake", None) == Wake("stage")


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

"""Where a held request goes when a new table comes: `router.reroute_target`, pure."""

from __future__ import annotations

from typing import Any, cast

import pytest

from brace.server.gateway.exchange import ClientSide, Exchange
from brace.server.gateway.router import Target, reroute_target
from brace.server.gateway.routing import (
    PREDICT_PATH,
    DeploymentRoute,
    EnvironmentRoute,
    RoutingTable,
)

PREDICT = PREDICT_PATH.encode()

TABLE = RoutingTable(
    models={"m1": "m1"},
    environments={
        ("m1", "production"): EnvironmentRoute(current="prod"),
        ("m1", "rolling"): EnvironmentRoute(
            current="old", candidate="new", percent_to_candidate=90
        ),
        ("m1", "waking"): EnvironmentRoute(
            current="asleep", candidate="new", percent_to_candidate=10
        ),
        ("m1", "cold"): EnvironmentRoute(current="asleep", candidate="starting"),
        ("m1", "gone"): EnvironmentRoute(current="off", candidate="failed"),
    },
    deployments={
        "prod": DeploymentRoute("prod", "m1", True, ("/r/prod.sock",)),
        "old": DeploymentRoute("old", "m1", True, ("/r/old.sock",)),
        "new": DeploymentRoute("new", "m1", True, ("/r/new.sock",)),
        "asleep": DeploymentRoute("asleep", "m1", True, ()),
        "starting": DeploymentRoute("starting", "m1", True, ()),
        "off": DeploymentRoute("off", "m1", False, ()),
        "failed": DeploymentRoute("failed", "m1", False, (), "load() failed"),
    },
)


def held(path: str, method: bytes = b"POST") -> Exchange:
    ex = Exchange(cast(ClientSide, cast(Any, None)))  # the client is never touched here
    ex.method, ex.url = method, path.encode()
    return ex


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        pytest.param(
            "/model/m1/production/predict",
            ("prod", PREDICT, ("/r/prod.sock",)),
            id="forward",
        ),
        pytest.param(
            "/model/m1/environments/rolling/predict",
            ("old", PREDICT, ("/r/old.sock",)),
            id="split-both-ready-current-first",
        ),
        pytest.param(
            "/model/m1/environments/waking/predict",
            ("new", PREDICT, ("/r/new.sock",)),
            id="split-the-ready-side",
        ),
        pytest.param(
            "/model/m1/environments/cold/predict",
            ("asleep", PREDICT, ()),
            id="split-none-ready-current",
        ),
        pytest.param("/model/m1/environments/gone/predict", None, id="split-neither-serves"),
        pytest.param("/model/m1/staging/predict", None, id="not-found"),
        pytest.param("/model/m1/production/wake", None, id="wake-is-no-deployment"),
        pytest.param("/v1/models", None, id="not-inference"),
    ],
)
def test_where_a_held_request_goes(path: str, expected: Target | None) -> None:
    assert reroute_target(TABLE, held(path)) == expected


def test_a_method_other_than_post_leads_nowhere() -> None:
    assert reroute_target(TABLE, held("/model/m1/production/predict", b"GET")) is None

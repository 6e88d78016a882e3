"""The routing table, built from records, targets and ready replicas."""

from __future__ import annotations

import pytest

from brace.config import Runtime
from brace.server.control.table import Upstreams, answering_split, build_table, replica_limits
from brace.server.gateway.routing import (
    DeploymentRoute,
    EnvironmentRoute,
    ReplicaLimits,
    RoutingTable,
)
from brace.store.records import (
    AutoscalingSettings,
    Deployment,
    Environment,
    Model,
    Promotion,
    PromotionSettings,
)
from brace.store.statuses import DeploymentStatus as D
from brace.store.statuses import PromotionStatus

NOW = "2026-01-01T00:00:00.000000Z"
SETTINGS = AutoscalingSettings()


def _deployment(id: str, model: str = "m1", dev: bool = False, status: D = D.ACTIVE) -> Deployment:
    return Deployment(id, model, id, dev, status, SETTINGS, NOW)


MODELS = [Model("m1", "hello", NOW), Model("m2", "m1", NOW)]
DEPLOYMENTS = [
    _deployment("dev", dev=True),
    _deployment("prod"),
    _deployment("cand"),
    _deployment("off", status=D.INACTIVE),
    _deployment("other", model="m2"),
]
ENVIRONMENTS = [
    Environment("m1", "production", NOW, SETTINGS, PromotionSettings(), "prod"),
    Environment("m2", "production", NOW, SETTINGS, PromotionSettings(), None),
]
ROLLING = Promotion(
    1, "m1", "production", "cand", "prod", True, PromotionStatus.RAMPING_UP, 30,
    PromotionSettings(rolling_deploy=True), NOW, NOW,
)  # fmt: skip
UPSTREAMS = {
    "dev": Upstreams(current=("/s/dev2",), previous=("/s/dev1",)),
    "prod": Upstreams(current=("/s/p1", "/s/p2")),
    "cand": Upstreams(),
    "off": Upstreams(),
    "other": Upstreams(previous=("/s/o1",)),
}


def test_build_table() -> None:
    table = build_table(MODELS, DEPLOYMENTS, ENVIRONMENTS, [ROLLING], UPSTREAMS)
    assert table == RoutingTable(
        # A model's id wins over another model's name.
        models={"m1": "m1", "m2": "m2", "hello": "m1"},
        environments={
            # The candidate has no ready replica yet: its share goes to production.
            ("m1", "production"): EnvironmentRoute("prod", "cand", 0),
            ("m2", "production"): EnvironmentRoute(None),
        },
        development={"m1": "dev"},
        deployments={
            # The new revision's replicas only, once one is ready.
            "dev": DeploymentRoute("dev", "m1", True, ("/s/dev2",)),
            "prod": DeploymentRoute("prod", "m1", True, ("/s/p1", "/s/p2")),
            # Wanted but not ready yet: serving, its requests are held.
            "cand": DeploymentRoute("cand", "m1", True, ()),
            "off": DeploymentRoute("off", "m1", False, ()),
            # The old revision alone still serves.
            "other": DeploymentRoute("other", "m2", True, ("/s/o1",)),
        },
    )


def test_a_non_rolling_promotion_splits_nothing() -> None:
    promotion = Promotion(
        2, "m1", "production", "cand", "prod", False, PromotionStatus.RELEASING, 0,
        PromotionSettings(), NOW, NOW,
    )  # fmt: skip
    table = build_table(MODELS, DEPLOYMENTS, ENVIRONMENTS, [promotion], UPSTREAMS)
    assert table.environments[("m1", "production")] == EnvironmentRoute("prod")


def test_a_failed_deployment_carries_why() -> None:
    failed = [*DEPLOYMENTS, _deployment("broken", status=D.DEPLOY_FAILED)]
    table = build_table(
        MODELS, failed, ENVIRONMENTS, [], UPSTREAMS, {"cand": "the model failed to start 3 times"}
    )
    assert table.deployments["cand"] == DeploymentRoute(
        "cand", "m1", False, (), "the model failed to start 3 times"
    )
    # Failed before this server started: its status says so.
    assert table.deployments["broken"] == DeploymentRoute(
        "broken", "m1", False, (), "its status is DEPLOY_FAILED (its log says why)"
    )


def test_a_sleeping_deployment_serves_its_requests_wait_for_the_wake() -> None:
    asleep = [_deployment("prod", status=D.SCALED_TO_ZERO)]
    table = build_table(MODELS, asleep, ENVIRONMENTS, [], {})
    assert table.deployments["prod"] == DeploymentRoute("prod", "m1", True, ())


@pytest.mark.parametrize(
    ("candidate", "current", "percent"),
    [
        pytest.param(("/s/c1",), ("/s/p1",), 30, id="both-answer-the-split"),
        pytest.param((), ("/s/p1",), 0, id="candidate-restarting-all-to-current"),
        pytest.param(("/s/c1",), (), 100, id="current-scaling-up-all-to-candidate"),
        pytest.param((), (), 30, id="neither-the-split-and-requests-wait"),
    ],
)
def test_requests_go_to_the_side_that_can_answer(
    candidate: tuple[str, ...], current: tuple[str, ...], percent: int
) -> None:
    upstreams = {**UPSTREAMS, "cand": Upstreams(candidate), "prod": Upstreams(current)}
    table = build_table(MODELS, DEPLOYMENTS, ENVIRONMENTS, [ROLLING], upstreams)
    assert table.environments[("m1", "production")] == EnvironmentRoute("prod", "cand", percent)


def test_answering_split() -> None:
    assert [answering_split(40, c, p) for c in (True, False) for p in (True, False)] == [
        40, 100, 0, 40,
    ]  # fmt: skip


def test_each_ready_replica_carries_its_limits_from_its_config() -> None:
    upstreams = {
        "prod": Upstreams(
            current=("/s/p2",),
            previous=("/s/p1",),
            limits={
                "/s/p1": replica_limits(Runtime(predict_concurrency=2)),
                "/s/p2": replica_limits(Runtime(predict_concurrency=8, first_byte_timeout=5.0)),
            },
        )
    }
    table = build_table(MODELS, [_deployment("prod")], ENVIRONMENTS[:1], [], upstreams)
    route = table.deployments["prod"]
    assert route.upstreams == ("/s/p2",)  # the current revision's replicas serve
    assert route.limits == (ReplicaLimits(8, 5.0),)

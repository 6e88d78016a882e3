"""The routing table, built from records, targets and ready replicas."""

from __future__ import annotations

from brace.server.routing import DeploymentRoute, EnvironmentRoute, RoutingTable
from brace.server.table import Upstreams, build_table
from brace.server.targets import ReplicaTarget
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
TARGETS = {
    "dev": ReplicaTarget(1, 1),
    "prod": ReplicaTarget(1, 2),
    "cand": ReplicaTarget(1, 1),
    "off": ReplicaTarget(1, 0),
    "other": ReplicaTarget(1, 1),
}
UPSTREAMS = {
    "dev": Upstreams(current=("/s/dev2",), previous=("/s/dev1",)),
    "prod": Upstreams(current=("/s/p1", "/s/p2")),
    "cand": Upstreams(),
    "off": Upstreams(),
    "other": Upstreams(previous=("/s/o1",)),
}


def test_build_table() -> None:
    table = build_table(MODELS, DEPLOYMENTS, ENVIRONMENTS, [ROLLING], TARGETS, UPSTREAMS)
    assert table == RoutingTable(
        # A model's id wins over another model's name.
        models={"m1": "m1", "m2": "m2", "hello": "m1"},
        environments={
            ("m1", "production"): EnvironmentRoute("prod", "cand", 30),
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
    table = build_table(MODELS, DEPLOYMENTS, ENVIRONMENTS, [promotion], TARGETS, UPSTREAMS)
    assert table.environments[("m1", "production")] == EnvironmentRoute("prod")


def test_a_deployment_without_a_target_serves_only_while_replicas_are_ready() -> None:
    table = build_table(MODELS, DEPLOYMENTS, ENVIRONMENTS, [], {}, UPSTREAMS)
    assert table.deployments["cand"].serving is False
    assert table.deployments["prod"].serving is True

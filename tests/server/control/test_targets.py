"""Every deployment's replica target, from desired state, rollout plans and the autoscaler."""

from __future__ import annotations

import pytest

from brace.server.control.targets import Observed, ReplicaTarget, replica_targets
from brace.store.records import AutoscalingSettings, Deployment
from brace.store.statuses import DeploymentStatus as D


def _deployment(
    status: D = D.ACTIVE, minimum: int = 0, maximum: int = 1, revision: int = 1, id: str = "d"
) -> Deployment:
    return Deployment(
        id=id,
        model_id="m",
        name=f"deployment-{id}",
        is_development=False,
        status=status,
        autoscaling=AutoscalingSettings(min_replica=minimum, max_replica=maximum),
        created_at="2026-01-01T00:00:00.000000Z",
        revision=revision,
    )


@pytest.mark.parametrize(
    ("deployment", "observed", "plans", "recommendations", "expected"),
    [
        pytest.param(
            _deployment(D.DEPLOYING),
            Observed(),
            {},
            {},
            ReplicaTarget(1, 1),
            id="one-even-with-min-0",
        ),
        pytest.param(
            _deployment(minimum=2, maximum=4),
            Observed(),
            {},
            {},
            ReplicaTarget(1, 2),
            id="min-replicas",
        ),
        pytest.param(
            _deployment(maximum=3), Observed(), {}, {}, ReplicaTarget(1, 1), id="one-below-max"
        ),
        pytest.param(
            _deployment(D.INACTIVE, 2, 4), Observed(), {}, {}, ReplicaTarget(1, 0), id="inactive"
        ),
        pytest.param(
            _deployment(D.DEACTIVATING), Observed(), {}, {}, ReplicaTarget(1, 0), id="deactivating"
        ),
        pytest.param(
            _deployment(D.DEPLOY_FAILED),
            Observed(),
            {},
            {},
            ReplicaTarget(1, 0),
            id="deploy-failed",
        ),
        pytest.param(
            _deployment(D.BUILD_FAILED), Observed(), {}, {}, ReplicaTarget(1, 0), id="build-failed"
        ),
        pytest.param(_deployment(D.FAILED), Observed(), {}, {}, ReplicaTarget(1, 0), id="failed"),
        pytest.param(
            _deployment(maximum=5), Observed(), {}, {"d": 3}, ReplicaTarget(1, 3), id="recommended"
        ),
        pytest.param(
            _deployment(maximum=5),
            Observed(),
            {},
            {"d": 9},
            ReplicaTarget(1, 5),
            id="recommendation-capped-at-max",
        ),
        pytest.param(
            _deployment(minimum=2, maximum=5),
            Observed(),
            {},
            {"d": 0},
            ReplicaTarget(1, 0),
            id="asleep-below-min",
        ),
        pytest.param(
            _deployment(maximum=5),
            Observed(),
            {},
            {"d": 0},
            ReplicaTarget(1, 0),
            id="recommended-zero",
        ),
        pytest.param(
            _deployment(maximum=5),
            Observed(),
            {"d": 4},
            {"d": 1},
            ReplicaTarget(1, 4),
            id="plan-wins",
        ),
        pytest.param(
            _deployment(maximum=2),
            Observed(),
            {"d": 6},
            {},
            ReplicaTarget(1, 6),
            id="plan-exact-beyond-max",
        ),
        pytest.param(
            _deployment(D.INACTIVE),
            Observed(),
            {"d": 2},
            {},
            ReplicaTarget(1, 0),
            id="stopped-beats-plan",
        ),
        pytest.param(
            _deployment(revision=2),
            Observed(0, 1),
            {},
            {},
            ReplicaTarget(2, 1, 1),
            id="old-revision-serves-meanwhile",
        ),
        pytest.param(
            _deployment(revision=2),
            Observed(1, 1),
            {},
            {},
            ReplicaTarget(2, 1, 0),
            id="new-revision-ready",
        ),
        pytest.param(
            _deployment(revision=2, maximum=3),
            Observed(1, 3),
            {"d": 3},
            {},
            ReplicaTarget(2, 3, 3),
            id="old-kept-until-all-new-ready",
        ),
        pytest.param(
            _deployment(revision=2),
            Observed(0, 1, gave_up=True),
            {},
            {},
            ReplicaTarget(2, 0, 1),
            id="failed-revision-keeps-old",
        ),
        pytest.param(
            _deployment(revision=2),
            Observed(0, 0, gave_up=True),
            {},
            {},
            ReplicaTarget(2, 0, 0),
            id="failed-revision-alone",
        ),
        pytest.param(
            _deployment(D.INACTIVE, revision=2),
            Observed(0, 1, gave_up=True),
            {},
            {},
            ReplicaTarget(2, 0, 0),
            id="deactivated-stops-old",
        ),
    ],
)
def test_replica_target(
    deployment: Deployment,
    observed: Observed,
    plans: dict[str, int],
    recommendations: dict[str, int],
    expected: ReplicaTarget,
) -> None:
    targets = replica_targets([deployment], {deployment.id: observed}, plans, recommendations)
    assert targets == {deployment.id: expected}


def test_every_deployment_gets_a_target() -> None:
    deployments = [_deployment(id="a"), _deployment(D.INACTIVE, id="b"), _deployment(id="c")]
    targets = replica_targets(deployments, {}, {"c": 2})
    assert {k: v.replicas for k, v in targets.items()} == {"a": 1, "b": 0, "c": 2}

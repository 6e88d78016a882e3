from __future__ import annotations

import pytest

from brace.server.decisions import ReplicaCounts, desired_replicas, observed_status
from brace.store.records import AutoscalingSettings, Deployment
from brace.store.statuses import DeploymentStatus as D


def _deployment(status: D, minimum: int = 0, maximum: int = 1) -> Deployment:
    return Deployment(
        id="d",
        model_id="m",
        name="deployment-1",
        is_development=False,
        status=status,
        autoscaling=AutoscalingSettings(min_replica=minimum, max_replica=maximum),
        created_at="2026-01-01T00:00:00.000000Z",
    )


@pytest.mark.parametrize(
    ("status", "minimum", "maximum", "expected"),
    [
        pytest.param(D.DEPLOYING, 0, 1, 1, id="serves-one-even-with-min-0"),
        pytest.param(D.ACTIVE, 2, 4, 2, id="min-replicas"),
        pytest.param(D.ACTIVE, 0, 3, 1, id="one-below-max"),
        pytest.param(D.INACTIVE, 2, 4, 0, id="inactive"),
        pytest.param(D.DEACTIVATING, 1, 1, 0, id="deactivating"),
        pytest.param(D.DEPLOY_FAILED, 1, 1, 0, id="deploy-failed"),
        pytest.param(D.BUILD_FAILED, 1, 1, 0, id="build-failed"),
        pytest.param(D.FAILED, 1, 1, 0, id="failed"),
    ],
)
def test_desired_replicas(status: D, minimum: int, maximum: int, expected: int) -> None:
    assert desired_replicas(_deployment(status, minimum, maximum)) == expected


@pytest.mark.parametrize(
    ("current", "counts", "building", "expected"),
    [
        pytest.param(D.DEPLOYING, ReplicaCounts(), False, D.DEPLOYING, id="nothing-yet"),
        pytest.param(D.BUILDING, ReplicaCounts(), True, D.BUILDING, id="building"),
        pytest.param(D.DEPLOYING, ReplicaCounts(starting=1), False, D.DEPLOYING, id="starting"),
        pytest.param(D.DEPLOYING, ReplicaCounts(loading=1), False, D.LOADING_MODEL, id="loading"),
        pytest.param(D.LOADING_MODEL, ReplicaCounts(ready=1), False, D.ACTIVE, id="ready"),
        pytest.param(
            D.ACTIVE, ReplicaCounts(ready_old=1, loading=1), False, D.UPDATING, id="new-revision"
        ),
        pytest.param(D.ACTIVE, ReplicaCounts(), False, D.DEPLOYING, id="lost-all-replicas"),
        pytest.param(D.INACTIVE, ReplicaCounts(ready=1), False, D.INACTIVE, id="inactive-stays"),
        pytest.param(D.DEACTIVATING, ReplicaCounts(), False, D.INACTIVE, id="deactivated"),
        pytest.param(D.DEPLOY_FAILED, ReplicaCounts(), False, D.DEPLOY_FAILED, id="failed-stays"),
    ],
)
def test_observed_status(current: D, counts: ReplicaCounts, building: bool, expected: D) -> None:
    assert observed_status(current, counts, building) == expected

"""The status a deployment reports, from its replicas' states."""

from __future__ import annotations

import pytest

from brace.server.statuses import ReplicaCounts, observed_status, stopped
from brace.store.statuses import DeploymentStatus as D


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


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        pytest.param(D.INACTIVE, True, id="inactive"),
        pytest.param(D.DEACTIVATING, True, id="deactivating"),
        pytest.param(D.BUILD_FAILED, True, id="build-failed"),
        pytest.param(D.DEPLOY_FAILED, True, id="deploy-failed"),
        pytest.param(D.FAILED, True, id="failed"),
        pytest.param(D.ACTIVE, False, id="active"),
        pytest.param(D.SCALED_TO_ZERO, False, id="scaled-to-zero"),
        pytest.param(D.UPDATING, False, id="updating"),
    ],
)
def test_stopped(status: D, expected: bool) -> None:
    assert stopped(status) is expected

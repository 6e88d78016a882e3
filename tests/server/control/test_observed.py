"""The status a deployment reports, from its replicas' states."""

from __future__ import annotations

import pytest

from brace.server.control.observed import ReplicaCounts as C
from brace.server.control.observed import observed_status, stopped
from brace.store.statuses import DeploymentStatus as D


@pytest.mark.parametrize(
    ("current", "counts", "building", "wanted", "expected"),
    [
        pytest.param(D.DEPLOYING, C(), False, 1, D.DEPLOYING, id="nothing-yet"),
        pytest.param(D.BUILDING, C(), True, 1, D.BUILDING, id="building"),
        pytest.param(D.DEPLOYING, C(starting=1), False, 1, D.DEPLOYING, id="starting"),
        pytest.param(D.DEPLOYING, C(loading=1), False, 1, D.LOADING_MODEL, id="loading"),
        pytest.param(D.LOADING_MODEL, C(ready=1), False, 1, D.ACTIVE, id="ready"),
        pytest.param(D.ACTIVE, C(ready_old=1, loading=1), False, 1, D.UPDATING, id="new-revision"),
        pytest.param(D.ACTIVE, C(), False, 1, D.DEPLOYING, id="lost-all-replicas"),
        pytest.param(D.INACTIVE, C(ready=1), False, 1, D.INACTIVE, id="inactive-stays"),
        pytest.param(D.DEACTIVATING, C(), False, 0, D.INACTIVE, id="deactivated"),
        pytest.param(D.DEPLOY_FAILED, C(), False, 0, D.DEPLOY_FAILED, id="failed-stays"),
        pytest.param(D.ACTIVE, C(), False, 0, D.SCALED_TO_ZERO, id="scaled-to-zero"),
        pytest.param(D.ACTIVE, C(ready=1), False, 0, D.ACTIVE, id="draining-to-zero"),
        pytest.param(D.SCALED_TO_ZERO, C(), False, 0, D.SCALED_TO_ZERO, id="asleep"),
        pytest.param(D.SCALED_TO_ZERO, C(), False, 1, D.WAKING_UP, id="wake"),
        pytest.param(D.WAKING_UP, C(loading=1), False, 1, D.WAKING_UP, id="waking-loads"),
        pytest.param(D.WAKING_UP, C(ready=1), False, 1, D.ACTIVE, id="awake"),
        pytest.param(D.SCALED_TO_ZERO, C(), True, 1, D.BUILDING, id="wake-builds"),
    ],
)  # fmt: skip
def test_observed_status(current: D, counts: C, building: bool, wanted: int, expected: D) -> None:
    assert observed_status(current, counts, building, wanted) == expected


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

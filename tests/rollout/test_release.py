from __future__ import annotations

import pytest

from brace.rollout.release import ReleaseDecision, ReleaseStep, release_step
from brace.store.statuses import DeploymentStatus as D
from brace.store.statuses import PromotionStatus as P
from brace.store.statuses import RolloutAction as A


@pytest.mark.parametrize(
    ("status", "requested", "candidate", "expected"),
    [
        pytest.param(
            P.RELEASING, None, D.DEPLOYING, ReleaseDecision(ReleaseStep.WAIT), id="starting"
        ),
        pytest.param(
            P.RELEASING, None, D.BUILDING, ReleaseDecision(ReleaseStep.WAIT), id="building"
        ),
        pytest.param(
            P.RELEASING, None, D.LOADING_MODEL, ReleaseDecision(ReleaseStep.WAIT), id="loading"
        ),
        pytest.param(
            P.RELEASING, None, D.ACTIVE, ReleaseDecision(ReleaseStep.SUCCEED), id="active"
        ),
        pytest.param(
            P.RELEASING, None, D.SCALED_TO_ZERO, ReleaseDecision(ReleaseStep.SUCCEED), id="zero"
        ),
        pytest.param(
            P.RELEASING,
            None,
            D.DEPLOY_FAILED,
            ReleaseDecision(ReleaseStep.FAIL, "the candidate deployment is DEPLOY_FAILED"),
            id="deploy-failed",
        ),
        pytest.param(
            P.RELEASING,
            None,
            D.BUILD_FAILED,
            ReleaseDecision(ReleaseStep.FAIL, "the candidate deployment is BUILD_FAILED"),
            id="build-failed",
        ),
        pytest.param(
            P.RELEASING,
            None,
            D.INACTIVE,
            ReleaseDecision(ReleaseStep.FAIL, "the candidate deployment was deactivated"),
            id="deactivated",
        ),
        pytest.param(
            P.RELEASING,
            None,
            None,
            ReleaseDecision(ReleaseStep.FAIL, "the candidate deployment was deleted"),
            id="deleted",
        ),
        pytest.param(
            P.RELEASING, A.CANCEL, D.DEPLOYING, ReleaseDecision(ReleaseStep.CANCEL), id="cancel"
        ),
        pytest.param(
            P.RELEASING, A.FORCE_CANCEL, D.ACTIVE, ReleaseDecision(ReleaseStep.CANCEL), id="force"
        ),
        pytest.param(P.SUCCEEDED, None, D.ACTIVE, ReleaseDecision(ReleaseStep.WAIT), id="finished"),
    ],
)
def test_release_step(
    status: P, requested: A | None, candidate: D | None, expected: ReleaseDecision
) -> None:
    assert release_step(status, requested, candidate) == expected

"""A rollout side as the controller sees it, and the log line of a step change."""

from __future__ import annotations

import pytest

from brace.rollout.driver import RolloutDecision
from brace.server.control.replicas import ReplicaState as R
from brace.server.control.rolling_promotions import Driven, Side, rollout_line, side_of
from brace.server.control.runs import GaveUp, RunState, Unprepared
from brace.store.progress import RolloutProgress
from brace.store.records import Promotion, PromotionSettings
from brace.store.statuses import DeploymentStatus as D
from brace.store.statuses import PromotionStatus as P
from tests.server.control.replicas_for_tests import deployment, replica

REPLICAS = [replica("old", R.READY, 1), replica("new", R.READY, 2), replica("l", R.LOADING, 2)]


@pytest.mark.parametrize(
    ("status", "state", "expected"),
    [
        pytest.param(D.ACTIVE, Unprepared(), Side(2, 3), id="running"),
        pytest.param(D.ACTIVE, None, Side(2, 3), id="no-run-yet"),
        pytest.param(
            D.ACTIVE, GaveUp(D.DEPLOY_FAILED, "it crashed"),
            Side(2, 3, "the candidate deployment is DEPLOY_FAILED: it crashed"), id="gave-up",
        ),
        pytest.param(
            D.BUILD_FAILED, Unprepared(), Side(2, 3, "the candidate deployment is BUILD_FAILED"),
            id="failed",
        ),
        pytest.param(
            D.INACTIVE, Unprepared(), Side(2, 3, "the candidate deployment was deactivated"),
            id="deactivated",
        ),
    ],
)  # fmt: skip
def test_side_of(status: D, state: RunState | None, expected: Side) -> None:
    assert side_of(deployment(status), REPLICAS, state) == expected


def test_a_deleted_side() -> None:
    assert side_of(None, [], None) == Side(0, 0, "the candidate deployment was deleted")


def _driven(status: P, step: int, percent: int, error: str | None = None) -> Driven:
    promotion = Promotion(
        1, "m", "production", "candidate", "previous", True, P.RAMPING_UP, 10,
        PromotionSettings(), "", "", step=1,
    )  # fmt: skip
    return Driven(
        promotion, RolloutDecision(status, percent, 2, 1, RolloutProgress(step=step), error)
    )


@pytest.mark.parametrize(
    ("driven", "expected"),
    [
        pytest.param(_driven(P.RAMPING_UP, 1, 10), None, id="no-change"),
        pytest.param(
            _driven(P.RAMPING_UP, 2, 30),
            "rollout to production: RAMPING_UP, step 2, 30% of traffic, replicas 2 previous"
            " / 1 candidate",
            id="next-step",
        ),
        pytest.param(
            _driven(P.FAILED, 1, 0, "the candidate erred"),
            "rollout to production: FAILED, step 1, 0% of traffic, replicas 2 previous"
            " / 1 candidate (the candidate erred)",
            id="failed",
        ),
    ],
)
def test_rollout_line(driven: Driven, expected: str | None) -> None:
    assert rollout_line(driven) == expected

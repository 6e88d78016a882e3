"""The next step of a non-rolling promotion: a pure decision over its state.

The candidate starts; once it is ACTIVE the environment switches to it at once. A
candidate that cannot start fails the promotion and the environment keeps serving the
previous deployment. A cancel (graceful or forced) ends it as CANCELED.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from brace.store.statuses import DeploymentStatus, PromotionStatus, RolloutAction


class ReleaseStep(Enum):
    WAIT = "wait"
    SUCCEED = "succeed"
    FAIL = "fail"
    CANCEL = "cancel"


@dataclass(frozen=True)
class ReleaseDecision:
    step: ReleaseStep
    reason: str | None = None


def release_step(
    status: PromotionStatus,
    requested: RolloutAction | None,
    candidate: DeploymentStatus | None,
) -> ReleaseDecision:
    """What to do with a non-rolling promotion whose candidate has status `candidate`
    (None when the candidate deployment no longer exists)."""
    if status.finished:
        return ReleaseDecision(ReleaseStep.WAIT)
    if requested in (RolloutAction.CANCEL, RolloutAction.FORCE_CANCEL):
        return ReleaseDecision(ReleaseStep.CANCEL)
    if candidate is None:
        return ReleaseDecision(ReleaseStep.FAIL, "the candidate deployment was deleted")
    if candidate.failed:
        return ReleaseDecision(ReleaseStep.FAIL, f"the candidate deployment is {candidate.value}")
    if candidate.inactive:
        return ReleaseDecision(ReleaseStep.FAIL, "the candidate deployment was deactivated")
    if candidate.serving:
        return ReleaseDecision(ReleaseStep.SUCCEED)
    return ReleaseDecision(ReleaseStep.WAIT)

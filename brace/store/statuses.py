"""Baseten's status and option enums, and the names of the special deployments.

Kept apart from the records so that the CLI can build its options from them without
loading the store.
"""

from __future__ import annotations

from enum import StrEnum

# The two names that select a model's special deployments (and production environment).
DEVELOPMENT = "development"
PRODUCTION = "production"


class DeploymentStatus(StrEnum):
    BUILDING = "BUILDING"
    DEPLOYING = "DEPLOYING"
    LOADING_MODEL = "LOADING_MODEL"
    ACTIVE = "ACTIVE"
    UNHEALTHY = "UNHEALTHY"
    UPDATING = "UPDATING"
    SCALED_TO_ZERO = "SCALED_TO_ZERO"
    WAKING_UP = "WAKING_UP"
    DEACTIVATING = "DEACTIVATING"
    INACTIVE = "INACTIVE"
    BUILD_FAILED = "BUILD_FAILED"
    DEPLOY_FAILED = "DEPLOY_FAILED"
    FAILED = "FAILED"

    @property
    def failed(self) -> bool:
        return self in (self.BUILD_FAILED, self.DEPLOY_FAILED, self.FAILED)

    @property
    def serving(self) -> bool:
        """Up, or scaled to zero and woken by the next request."""
        return self in (self.ACTIVE, self.SCALED_TO_ZERO, self.WAKING_UP, self.UPDATING)

    @property
    def inactive(self) -> bool:
        return self in (self.INACTIVE, self.DEACTIVATING)


class PromotionStatus(StrEnum):
    RELEASING = "RELEASING"
    RAMPING_UP = "RAMPING_UP"
    PAUSED = "PAUSED"
    RAMPING_DOWN = "RAMPING_DOWN"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"

    @property
    def finished(self) -> bool:
        return self in (self.SUCCEEDED, self.FAILED, self.CANCELED)


class RolloutAction(StrEnum):
    """A request recorded for the controller, applied between rollout steps."""

    PAUSE = "PAUSE"
    RESUME = "RESUME"
    CANCEL = "CANCEL"
    FORCE_CANCEL = "FORCE_CANCEL"
    FORCE_ROLL_FORWARD = "FORCE_ROLL_FORWARD"


class CleanupStrategy(StrEnum):
    SCALE_TO_ZERO = "SCALE_TO_ZERO"
    KEEP = "KEEP"
    DEACTIVATE = "DEACTIVATE"

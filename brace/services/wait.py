"""Waiting for the server to bring a deployment up, or a promotion to its end.

The CLI's `--wait` uses these: they poll the store (the server writes statuses there),
report each change, and stop at success, failure or the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from brace.errors import BraceError
from brace.store import Deployment, Promotion, PromotionStatus, Store


class DeploymentFailed(BraceError):
    """The deployment (or its promotion) ended in a failed state."""


def wait_for_deployment(
    store: Store,
    deployment_id: str,
    timeout: float,
    on_status: Callable[[str], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Deployment:
    """Return once the deployment serves; raise DeploymentFailed if it fails or times out."""
    deadline = clock() + timeout
    seen = None
    while True:
        with store.read() as tx:
            deployment = tx.deployment(deployment_id)
        if deployment is None:
            raise DeploymentFailed(f"deployment {deployment_id} was deleted")
        if deployment.status != seen:
            seen = deployment.status
            on_status(seen.value)
        if deployment.status.serving:
            return deployment
        if deployment.status.failed or deployment.status.inactive:
            raise DeploymentFailed(
                f"deployment {deployment.name} ({deployment.id}) is {deployment.status.value}"
            )
        if clock() > deadline:
            raise DeploymentFailed(
                f"deployment {deployment.name} ({deployment.id}) is still "
                f"{deployment.status.value} after {timeout:.0f} s"
            )
        sleep(0.1)


def wait_for_promotion(
    store: Store,
    promotion_id: int,
    timeout: float,
    on_status: Callable[[str], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Promotion:
    """Return once the promotion SUCCEEDED; raise DeploymentFailed otherwise."""
    deadline = clock() + timeout
    seen = None
    while True:
        with store.read() as tx:
            promotion = tx.promotion(promotion_id)
        assert promotion is not None
        if promotion.status != seen:
            seen = promotion.status
            on_status(seen.value)
        if promotion.status is PromotionStatus.SUCCEEDED:
            return promotion
        if promotion.status.finished:
            raise DeploymentFailed(
                f"the promotion to {promotion.environment} ended {promotion.status.value}",
                promotion.error_message,
            )
        if clock() > deadline:
            raise DeploymentFailed(
                f"the promotion to {promotion.environment} is still {promotion.status.value} "
                f"after {timeout:.0f} s"
            )
        sleep(0.1)

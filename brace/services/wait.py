"""Waiting for the server to bring a deployment up, or a promotion to its end.

The CLI's `--wait` uses these: they poll the store (the server writes statuses there),
report each change, and stop at success, failure or the timeout.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from brace.errors import BraceError
from brace.polling import poll
from brace.rollout.view import rollout_view
from brace.store import Deployment, DeploymentStatus, Promotion, PromotionStatus, Store, Tx


class DeploymentFailed(BraceError):
    """The deployment (or its promotion) ended in a failed state."""


T = TypeVar("T")


def _poll(
    store: Store,
    read: Callable[[Tx], T],
    check: Callable[[T], bool],
    describe: Callable[[T], tuple[str, str]],
    timeout: float,
    on_status: Callable[[str], None],
    sleep: Callable[[float], None],
    clock: Callable[[], float],
) -> T:
    """Read until `check` says done (True) or raises; report each new status.

    `describe(record)` gives (status, what) for the report and the timeout message.
    """
    seen: list[tuple[str, str]] = []

    def done() -> T | None:
        with store.read() as tx:
            record = read(tx)
        described = describe(record)
        if not seen or described[0] != seen[-1][0]:
            on_status(described[0])
        seen[:] = [described]
        return record if check(record) else None

    record = poll(done, timeout, 0.1, sleep=sleep, clock=clock)
    if record is None:
        status, what = seen[-1]
        raise DeploymentFailed(f"{what} is still {status} after {timeout:.0f} s")
    return record


def wait_for_deployment(
    store: Store,
    deployment_id: str,
    timeout: float,
    on_status: Callable[[str], None],
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    awake: bool = False,
) -> Deployment:
    """Return once the deployment serves (with `awake`: once a replica is ready, ACTIVE
    or UPDATING, not asleep or waking); raise DeploymentFailed if it fails or times out."""

    def read(tx: Tx) -> Deployment:
        deployment = tx.deployment(deployment_id)
        if deployment is None:
            raise DeploymentFailed(f"deployment {deployment_id} was deleted")
        return deployment

    def check(deployment: Deployment) -> bool:
        if deployment.status.failed or deployment.status.inactive:
            raise DeploymentFailed(
                f"deployment {deployment.name} ({deployment.id}) is {deployment.status.value}"
            )
        if awake:
            return deployment.status in (DeploymentStatus.ACTIVE, DeploymentStatus.UPDATING)
        return deployment.status.serving

    def describe(deployment: Deployment) -> tuple[str, str]:
        return deployment.status.value, f"deployment {deployment.name} ({deployment.id})"

    return _poll(store, read, check, describe, timeout, on_status, sleep, clock)


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

    def read(tx: Tx) -> Promotion:
        promotion = tx.promotion(promotion_id)
        assert promotion is not None
        return promotion

    def check(promotion: Promotion) -> bool:
        if promotion.status.finished and promotion.status is not PromotionStatus.SUCCEEDED:
            raise DeploymentFailed(
                f"the promotion to {promotion.environment} ended {promotion.status.value}",
                promotion.error_message,
            )
        return promotion.status is PromotionStatus.SUCCEEDED

    def describe(promotion: Promotion) -> tuple[str, str]:
        """The status, and for a rolling promotion on its way the traffic and step, so
        `--wait` shows each step as it happens."""
        status = promotion.status.value
        view = rollout_view(promotion, time.time()) if not promotion.status.finished else None
        if view is not None:
            status += (
                f" ({promotion.percent_traffic}% to the candidate, step {view.step} of "
                f"{view.steps})"
            )
        return status, f"the promotion to {promotion.environment}"

    return _poll(store, read, check, describe, timeout, on_status, sleep, clock)

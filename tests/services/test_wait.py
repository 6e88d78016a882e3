from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from brace.services.promote import promote
from brace.services.push import push
from brace.services.wait import DeploymentFailed, wait_for_deployment, wait_for_promotion
from brace.store import DeploymentStatus, Store


def _driver(
    store: Store, deployment_id: str, statuses: list[DeploymentStatus]
) -> Callable[[float], None]:
    """A `sleep` that plays the controller: each call moves to the next status."""
    remaining = list(statuses)

    def sleep(seconds: float) -> None:
        if remaining:
            with store.transaction() as tx:
                found = tx.deployment(deployment_id)
                assert found is not None
                tx.update_deployment(found, status=remaining.pop(0))

    return sleep


def test_waits_until_active(store: Store, truss_dir: Path) -> None:
    deployment = push(store, truss_dir).deployment
    seen: list[str] = []
    sleep = _driver(store, deployment.id, [DeploymentStatus.LOADING_MODEL, DeploymentStatus.ACTIVE])
    done = wait_for_deployment(store, deployment.id, 10, seen.append, sleep=sleep)
    assert done.status is DeploymentStatus.ACTIVE
    assert seen == ["DEPLOYING", "LOADING_MODEL", "ACTIVE"]


def test_failure_raises_with_the_status(store: Store, truss_dir: Path) -> None:
    deployment = push(store, truss_dir).deployment
    sleep = _driver(store, deployment.id, [DeploymentStatus.DEPLOY_FAILED])
    with pytest.raises(DeploymentFailed) as raised:
        wait_for_deployment(store, deployment.id, 10, lambda s: None, sleep=sleep)
    assert raised.value.message == f"deployment development ({deployment.id}) is DEPLOY_FAILED"


def test_timeout(store: Store, truss_dir: Path) -> None:
    deployment = push(store, truss_dir).deployment
    now = [0.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    with pytest.raises(DeploymentFailed) as raised:
        wait_for_deployment(
            store, deployment.id, 5, lambda s: None, sleep=sleep, clock=lambda: now[0]
        )
    assert raised.value.message.endswith("is still DEPLOYING after 5 s")


def test_promotion_failure_carries_its_error_message(store: Store, truss_dir: Path) -> None:
    from brace.services.promotion_steps import end_promotion
    from brace.store import PromotionStatus

    push(store, truss_dir, publish=True)
    result = promote(store, "deployment-1", model_ref="hello")

    def sleep(seconds: float) -> None:
        with store.transaction() as tx:
            found = tx.promotion(result.promotion.id)
            assert found is not None
            end_promotion(tx, found, PromotionStatus.FAILED, "the candidate is DEPLOY_FAILED")

    with pytest.raises(DeploymentFailed) as raised:
        wait_for_promotion(store, result.promotion.id, 10, lambda s: None, sleep=sleep)
    assert raised.value.message == "the promotion to production ended FAILED"
    assert raised.value.hint == "the candidate is DEPLOY_FAILED"

"""The controller's side of promotions, once per tick, in its transaction: a
non-rolling promotion finishes once its candidate serves, fails when it cannot start,
ends when canceled (`advance_promotions`, decided by `brace.rollout.release`); a rolling
one's next state, as the rollout driver decided it, is recorded (`record_rollout`);
a finished one switches the environment and cleans up the previous deployment.

The user's side (starting a promotion, its refusals) is `promote`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from brace.rollout.release import ReleaseStep, release_step
from brace.store import CleanupStrategy, DeploymentStatus, Promotion, PromotionStatus, Tx


def finish_promotion(tx: Tx, promotion: Promotion) -> Promotion:
    """The candidate becomes the environment's current deployment; after a rolling
    promotion the previous one is handled by `promotion_cleanup_strategy`."""
    environment = tx.environment(promotion.model_id, promotion.environment)
    if environment is not None:
        tx.update_environment(environment, current_deployment_id=promotion.candidate_id)
    if promotion.rolling and promotion.previous_id is not None:
        _clean_up(tx, promotion.previous_id, promotion.settings.promotion_cleanup_strategy)
    return tx.update_promotion(
        promotion, status=PromotionStatus.SUCCEEDED, percent_traffic=100, requested_action=None
    )


def _clean_up(tx: Tx, deployment_id: str, strategy: CleanupStrategy) -> None:
    """The previous deployment after a rolling promotion (Baseten's "Deployment
    cleanup"): SCALE_TO_ZERO puts it to sleep (a request wakes it again), DEACTIVATE
    stops it, KEEP leaves it running (it starts again what its settings ask for, the
    rollout's last step having taken it to 0). One still current in another environment is
    only put to sleep, never deactivated."""
    previous = tx.deployment(deployment_id)
    if previous is not None and strategy is CleanupStrategy.KEEP:
        if previous.status is DeploymentStatus.SCALED_TO_ZERO:
            # At 0 by the rollout's last step, not asleep: it starts its replicas again.
            tx.update_deployment(previous, status=DeploymentStatus.DEPLOYING)
        return
    if previous is None:
        return
    if previous.status.failed or previous.status.inactive:
        return
    still_current = any(
        e.current_deployment_id == previous.id for e in tx.environments(previous.model_id)
    )
    if strategy is CleanupStrategy.DEACTIVATE and not still_current:
        tx.update_deployment(previous, status=DeploymentStatus.INACTIVE, active_replica_count=0)
    else:
        tx.update_deployment(previous, status=DeploymentStatus.SCALED_TO_ZERO)


def advance_promotions(tx: Tx, failure_detail: Callable[[str], str] = lambda _: "") -> None:
    """One step over every promotion in progress (the controller's, each tick).

    A non-rolling one finishes once its candidate serves and fails when the candidate
    cannot start (with `failure_detail(candidate_id)`, e.g. its last log lines, in the
    error message). A canceled one ends. Rolling ones are the controller's rollout
    driver's (`brace.rollout.driver`, written back with `record_rollout`).
    """
    for promotion in tx.active_promotions():
        if promotion.rolling:
            continue
        candidate = tx.deployment(promotion.candidate_id)
        status = candidate.status if candidate else None
        decision = release_step(promotion.status, promotion.requested_action, status)
        if decision.step is ReleaseStep.SUCCEED:
            finish_promotion(tx, promotion)
        elif decision.step is ReleaseStep.CANCEL:
            end_promotion(tx, promotion, PromotionStatus.CANCELED)
        elif decision.step is ReleaseStep.FAIL:
            detail = failure_detail(promotion.candidate_id)
            message = f"{decision.reason}. {detail}" if detail else decision.reason
            end_promotion(tx, promotion, PromotionStatus.FAILED, message)


def end_promotion(
    tx: Tx, promotion: Promotion, status: PromotionStatus, error_message: str | None = None
) -> Promotion:
    """End without switching (FAILED or CANCELED): traffic stays on (or returns to) the
    previous deployment; a rolling promotion's candidate is scaled to zero."""
    candidate = tx.deployment(promotion.candidate_id)
    if (
        promotion.rolling
        and candidate is not None
        and not (candidate.status.failed or candidate.status.inactive)
    ):
        tx.update_deployment(candidate, status=DeploymentStatus.SCALED_TO_ZERO)
    return tx.update_promotion(
        promotion,
        status=status,
        percent_traffic=0,
        error_message=error_message,
        requested_action=None,
    )


def record_rollout(
    tx: Tx,
    seen: Promotion,
    status: PromotionStatus,
    percent: int,
    progress: Mapping[str, Any],
    *,
    error_message: str | None = None,
    clear_action: bool = False,
) -> Promotion | None:
    """Write a rolling promotion's next state, as the rollout driver decided it from
    `seen`; None (nothing written) when the promotion changed meanwhile (a user's
    action came in), so the next decision sees it. `progress`: the columns of its place
    in the plan (base_replicas, step, ...)."""
    fresh = tx.promotion(seen.id)
    if fresh is None or (fresh.status, fresh.step, fresh.requested_action) != (
        seen.status,
        seen.step,
        seen.requested_action,
    ):
        return None
    if status is PromotionStatus.SUCCEEDED:
        return finish_promotion(tx, fresh)
    if status in (PromotionStatus.CANCELED, PromotionStatus.FAILED):
        return end_promotion(tx, fresh, status, error_message)
    changes: dict[str, Any] = {"status": status, "percent_traffic": percent, **progress}
    if clear_action:
        changes["requested_action"] = None
    return tx.update_promotion(fresh, **changes)

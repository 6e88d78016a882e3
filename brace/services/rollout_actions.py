"""Rollout actions (pause, resume, cancel, force-cancel, force-roll-forward).

An action is recorded on the environment's in-progress promotion for the controller,
which applies it between steps. Whether it is allowed is decided by
`brace.rollout.actions` against the status the promotion will have once any pending
action is applied.
"""

from __future__ import annotations

from brace.errors import RefusedError
from brace.rollout.actions import check_action
from brace.services.lookup import PRODUCTION, find_environment, find_model, model_name
from brace.store import Promotion, PromotionStatus, RolloutAction, Store


def request(
    store: Store,
    action: RolloutAction,
    model_ref: str | None = None,
    environment: str = PRODUCTION,
) -> tuple[Promotion, PromotionStatus]:
    """Record `action`; returns the promotion and the status the action leads to."""
    with store.transaction() as tx:
        target = find_environment(tx, find_model(tx, model_ref), environment)
        promotion = tx.latest_promotion(target.model_id, target.name)
        if promotion is None or promotion.status.finished:
            raise RefusedError(
                f"no promotion is in progress in {target.name}",
                code="NO_PROMOTION",
                facts={"model": model_name(tx, target.model_id), "environment": target.name},
            )
        try:
            leads_to = check_action(
                action, promotion.status, promotion.requested_action, promotion.rolling
            )
        except RefusedError as error:
            # The rule is pure; the facts a front end needs to word its hint are here.
            error.facts.update(model=model_name(tx, target.model_id), environment=target.name)
            raise
        return tx.update_promotion(promotion, requested_action=action), leads_to

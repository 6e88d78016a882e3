"""`services.rollout_actions.request`: recording pause, resume, cancel, ... on the
promotion in progress."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.cli.hints import hint_for
from brace.errors import NotFoundError, RefusedError
from brace.services import environments, rollout_actions
from brace.services.promote import promote
from brace.services.push import push
from brace.store import (
    Deployment,
    DeploymentStatus,
    Promotion,
    PromotionStatus,
    RolloutAction,
    Store,
)
from tests.services.conftest import (
    become_active,
    enable_rolling,
    environment,
    latest_promotion,
)


@pytest.fixture
def in_progress(store: Store, production: Deployment, truss_dir: Path) -> Promotion:
    """A rolling promotion to production, RELEASING."""
    enable_rolling(store)
    promotion = push(store, truss_dir, promote=True).promotion
    assert promotion is not None
    assert promotion.status is PromotionStatus.RELEASING
    return promotion


@pytest.fixture
def waiting(store: Store, production: Deployment, truss_dir: Path) -> Promotion:
    """A non-rolling promotion to production, RELEASING until its candidate is ACTIVE."""
    candidate = push(store, truss_dir, publish=True).deployment
    assert candidate.status is DeploymentStatus.DEPLOYING
    promotion = promote(store, candidate.id).promotion
    assert (promotion.status, promotion.rolling) == (PromotionStatus.RELEASING, False)
    return promotion


def test_no_promotion_is_refused(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir)

    with pytest.raises(RefusedError) as caught:
        rollout_actions.request(store, RolloutAction.PAUSE)

    assert caught.value.message == "no promotion is in progress in production"
    assert (
        hint_for(caught.value)
        == "See the last one with `brace rollout status -m hello -e production`."
    )


@pytest.mark.parametrize("action", list(RolloutAction))
def test_finished_promotion_is_refused(
    store: Store, production: Deployment, action: RolloutAction
) -> None:
    with pytest.raises(RefusedError) as caught:
        rollout_actions.request(store, action)

    assert caught.value.message == "no promotion is in progress in production"
    promotion = latest_promotion(store)
    assert promotion is not None
    assert promotion.requested_action is None


def test_pause_records_the_request(store: Store, in_progress: Promotion) -> None:
    promotion, leads_to = rollout_actions.request(store, RolloutAction.PAUSE)

    assert leads_to is PromotionStatus.PAUSED
    assert promotion.requested_action is RolloutAction.PAUSE
    assert promotion.status is PromotionStatus.RELEASING
    stored = latest_promotion(store)
    assert stored is not None
    assert stored.requested_action is RolloutAction.PAUSE
    assert stored.id == in_progress.id


def test_pause_then_resume_before_the_controller_acts(store: Store, in_progress: Promotion) -> None:
    rollout_actions.request(store, RolloutAction.PAUSE)

    promotion, leads_to = rollout_actions.request(store, RolloutAction.RESUME)

    assert leads_to is PromotionStatus.RAMPING_UP
    assert promotion.requested_action is RolloutAction.RESUME


def test_pause_twice_is_refused(store: Store, in_progress: Promotion) -> None:
    rollout_actions.request(store, RolloutAction.PAUSE)

    with pytest.raises(RefusedError) as caught:
        rollout_actions.request(store, RolloutAction.PAUSE)

    assert caught.value.message == "cannot pause a promotion that is PAUSED"
    stored = latest_promotion(store)
    assert stored is not None
    assert stored.requested_action is RolloutAction.PAUSE


def test_resume_without_pause_is_refused(store: Store, in_progress: Promotion) -> None:
    with pytest.raises(RefusedError) as caught:
        rollout_actions.request(store, RolloutAction.RESUME)

    assert caught.value.message == "cannot resume a promotion that is RELEASING"
    stored = latest_promotion(store)
    assert stored is not None
    assert stored.requested_action is None


@pytest.mark.parametrize(
    ("action", "leads_to"),
    [
        pytest.param(RolloutAction.CANCEL, PromotionStatus.RAMPING_DOWN, id="cancel"),
        pytest.param(RolloutAction.FORCE_CANCEL, PromotionStatus.CANCELED, id="force-cancel"),
        pytest.param(
            RolloutAction.FORCE_ROLL_FORWARD, PromotionStatus.SUCCEEDED, id="force-roll-forward"
        ),
    ],
)
def test_stop_actions(
    store: Store, in_progress: Promotion, action: RolloutAction, leads_to: PromotionStatus
) -> None:
    promotion, status = rollout_actions.request(store, action)

    assert status is leads_to
    assert promotion.requested_action is action


def test_request_in_another_environment(store: Store, in_progress: Promotion) -> None:
    environments.create(store, "staging")

    with pytest.raises(RefusedError) as caught:
        rollout_actions.request(store, RolloutAction.CANCEL, environment="staging")
    assert caught.value.message == "no promotion is in progress in staging"

    with pytest.raises(NotFoundError):
        rollout_actions.request(store, RolloutAction.CANCEL, environment="canary")


def test_request_names_the_model(store: Store, in_progress: Promotion) -> None:
    promotion, _ = rollout_actions.request(store, RolloutAction.CANCEL, model_ref="hello")

    assert promotion.id == in_progress.id


# a non-rolling promotion waiting for its candidate


@pytest.mark.parametrize(
    ("action", "leads_to"),
    [
        pytest.param(RolloutAction.CANCEL, PromotionStatus.CANCELED, id="cancel"),
        pytest.param(RolloutAction.FORCE_CANCEL, PromotionStatus.CANCELED, id="force-cancel"),
    ],
)
def test_waiting_promotion_can_be_canceled(
    store: Store,
    production: Deployment,
    waiting: Promotion,
    action: RolloutAction,
    leads_to: PromotionStatus,
) -> None:
    promotion, status = rollout_actions.request(store, action)

    assert status is leads_to
    assert (promotion.id, promotion.status, promotion.requested_action) == (
        waiting.id,
        PromotionStatus.RELEASING,
        action,
    )
    assert latest_promotion(store) == promotion
    assert environment(store).current_deployment_id == production.id
    with pytest.raises(RefusedError) as caught:
        rollout_actions.request(store, RolloutAction.CANCEL)
    assert caught.value.message == "cannot cancel a promotion that is CANCELED"


@pytest.mark.parametrize(
    ("action", "word"),
    [
        pytest.param(RolloutAction.PAUSE, "pause", id="pause"),
        pytest.param(RolloutAction.RESUME, "resume", id="resume"),
        pytest.param(RolloutAction.FORCE_ROLL_FORWARD, "force-roll-forward", id="roll-forward"),
    ],
)
def test_waiting_promotion_refuses_rolling_actions(
    store: Store, waiting: Promotion, action: RolloutAction, word: str
) -> None:
    with pytest.raises(RefusedError) as caught:
        rollout_actions.request(store, action)

    assert caught.value.message == f"cannot {word}: this promotion is not a rolling deployment"
    assert latest_promotion(store) == waiting


def test_a_non_rolling_promotion_leaves_the_previous_deployment_as_it_was(
    store: Store, production: Deployment, waiting: Promotion
) -> None:
    become_active(store, waiting.candidate_id)
    with store.read() as tx:
        previous = tx.deployment(production.id)
    assert previous is not None and previous.status is DeploymentStatus.ACTIVE

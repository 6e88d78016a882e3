"""`services.promotion_steps`: the controller's per-tick updates of promotions — a
finished one switches the environment and cleans up, a failed one leaves it as it was."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.services import deployments, environments, rollout_actions, views
from brace.services.promote import promote
from brace.services.promotion_steps import end_promotion, finish_promotion, record_rollout
from brace.services.push import push
from brace.store import (
    AutoscalingSettings,
    Deployment,
    DeploymentStatus,
    PromotionStatus,
    RolloutAction,
    Store,
)
from tests.services.conftest import (
    become_active,
    deployment,
    environment,
    latest_promotion,
    set_status,
)


def test_finish_promotion_switches_and_keeps_the_former_deployment(
    store: Store, production: Deployment, published: Deployment
) -> None:
    scaling = {"min_replica": 2, "max_replica": 4, "scale_down_delay": 60}
    deployments.set_autoscaling(store, "production", scaling)
    former = deployment(store, production.id)
    candidate = set_status(store, published.id, DeploymentStatus.DEPLOYING)
    started = promote(store, published.id).promotion
    assert started.status is PromotionStatus.RELEASING

    with store.transaction() as tx:
        finished = finish_promotion(tx, started)

    assert (finished.id, finished.status, finished.percent_traffic) == (
        started.id,
        PromotionStatus.SUCCEEDED,
        100,
    )
    assert finished.requested_action is None
    assert latest_promotion(store) == finished
    assert environment(store).current_deployment_id == published.id
    # The former deployment is demoted, keeping its id, settings and status.
    assert deployment(store, production.id) == former
    assert former.autoscaling == AutoscalingSettings(**scaling)
    assert former.status is DeploymentStatus.ACTIVE
    assert deployment(store, published.id) == candidate
    shown = views.read(store, views.environment_json, environment(store))
    assert shown["current_deployment"]["id"] == published.id
    assert shown["candidate_deployment"] is None
    assert shown["in_progress_promotion"] == {
        "status": "SUCCEEDED",
        "percent_traffic_to_new_version": 100,
        "error_message": None,
        "rolling_deploy": False,
        "pending_action": None,
    }


def test_candidate_failing_to_start_fails_the_promotion(
    store: Store, production: Deployment, published: Deployment
) -> None:
    set_status(store, published.id, DeploymentStatus.DEPLOYING)
    started = promote(store, published.id).promotion
    message = "deployment deployment-2 failed to start: load() raised RuntimeError"

    set_status(store, published.id, DeploymentStatus.DEPLOY_FAILED)
    with store.transaction() as tx:
        ended = end_promotion(tx, started, PromotionStatus.FAILED, message)

    assert (ended.id, ended.status, ended.percent_traffic, ended.error_message) == (
        started.id,
        PromotionStatus.FAILED,
        0,
        message,
    )
    assert latest_promotion(store) == ended
    assert environment(store).current_deployment_id == production.id
    assert deployment(store, production.id) == production
    shown = views.read(store, views.environment_json, environment(store))
    assert shown["current_deployment"]["id"] == production.id
    assert shown["candidate_deployment"] is None
    assert shown["in_progress_promotion"] == {
        "status": "FAILED",
        "percent_traffic_to_new_version": 0,
        "error_message": message,
        "rolling_deploy": False,
        "pending_action": None,
    }


@pytest.mark.parametrize(
    ("strategy", "previous_status"),
    [
        pytest.param("SCALE_TO_ZERO", DeploymentStatus.SCALED_TO_ZERO, id="scale-to-zero"),
        pytest.param("DEACTIVATE", DeploymentStatus.INACTIVE, id="deactivate"),
        pytest.param("KEEP", DeploymentStatus.ACTIVE, id="keep"),
    ],
)
def test_a_finished_rolling_promotion_cleans_up_the_previous_deployment(
    store: Store,
    production: Deployment,
    truss_dir: Path,
    strategy: str,
    previous_status: DeploymentStatus,
) -> None:
    environments.update(
        store,
        "production",
        promotion_settings={"rolling_deploy": True, "promotion_cleanup_strategy": strategy},
    )
    promotion = push(store, truss_dir, promote=True).promotion
    assert promotion is not None
    become_active(store, promotion.candidate_id)
    forced, _ = rollout_actions.request(store, RolloutAction.FORCE_ROLL_FORWARD)
    with store.transaction() as tx:  # as the controller's rollout driver ends it
        record_rollout(tx, forced, PromotionStatus.SUCCEEDED, 100, {}, clear_action=True)

    finished = latest_promotion(store)
    assert finished is not None and finished.status is PromotionStatus.SUCCEEDED
    with store.read() as tx:
        previous = tx.deployment(production.id)
    assert previous is not None and previous.status is previous_status

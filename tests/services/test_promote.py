"""Promotion: development → a new deployment; published → itself.

Every promotion starts RELEASING and only the server's controller switches the
environment. A non-rolling one switches at the controller's next step once the candidate
is serving (`settle_promotions` takes that step here; `become_active` brings a candidate
up and finishes the promotion waiting for it); a rolling one is driven by the controller.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.cli.hints import hint_for
from brace.errors import NotFoundError, RefusedError
from brace.services import deployments, environments, views
from brace.services.promote import PromoteResult, promote
from brace.services.promotion_steps import end_promotion
from brace.services.push import push
from brace.store import (
    AutoscalingSettings,
    Deployment,
    DeploymentStatus,
    Promotion,
    PromotionStatus,
    Store,
)
from tests.conftest import settle_promotions
from tests.services.conftest import (
    become_active,
    deployment,
    deployment_names,
    enable_rolling,
    environment,
    latest_promotion,
    set_status,
)

PRODUCTION_SCALING = AutoscalingSettings(min_replica=2, max_replica=4, scale_down_delay=60)


@pytest.fixture
def dev(store: Store, truss_dir: Path) -> Deployment:
    return push(store, truss_dir).deployment


def scale_production(store: Store) -> None:
    deployments.set_autoscaling(
        store,
        "production",
        {"min_replica": 2, "max_replica": 4, "scale_down_delay": 60},
    )


# development → a new published deployment


def test_promoting_development_creates_a_new_deployment(store: Store, dev: Deployment) -> None:
    result = promote(store, "development")

    created = result.deployment
    assert created.id != dev.id
    assert created.name == "deployment-1"
    assert not created.is_development
    assert created.snapshot is not None
    assert created.status is DeploymentStatus.DEPLOYING
    assert created.autoscaling == AutoscalingSettings()
    # The new deployment has to start first: production waits for it.
    assert result.promotion.status is PromotionStatus.RELEASING
    assert result.promotion.percent_traffic == 0
    assert result.promotion.candidate_id == created.id
    assert result.environment.current_deployment_id is None
    assert environment(store).current_deployment_id is None
    assert deployment_names(store) == ["development", "deployment-1"]

    become_active(store, created.id)

    assert environment(store).current_deployment_id == created.id
    finished = latest_promotion(store)
    assert finished is not None
    assert (finished.status, finished.percent_traffic) == (PromotionStatus.SUCCEEDED, 100)


def test_development_deployment_is_unchanged_by_promotion(store: Store, dev: Deployment) -> None:
    active = set_status(store, dev.id, DeploymentStatus.ACTIVE)

    promote(store, "development")

    assert deployment(store, dev.id) == active
    assert active.autoscaling == AutoscalingSettings(min_replica=0, max_replica=1)
    assert active.is_development


def test_promoted_development_takes_production_autoscaling(
    store: Store, production: Deployment, dev: Deployment
) -> None:
    scale_production(store)
    before = deployment(store, production.id)

    created = promote(store, dev.id).deployment
    become_active(store, created.id)

    assert created.name == "deployment-2"
    assert created.autoscaling == PRODUCTION_SCALING
    assert environment(store).current_deployment_id == created.id
    assert deployment(store, production.id) == before
    assert deployment(store, dev.id).autoscaling == AutoscalingSettings(
        min_replica=0, max_replica=1
    )


def test_promoted_development_takes_environment_settings_without_current(
    store: Store, dev: Deployment
) -> None:
    environments.create(store, "staging", autoscaling={"min_replica": 1, "max_replica": 2})

    created = promote(store, "development", environment="staging").deployment
    become_active(store, created.id)

    assert created.autoscaling == AutoscalingSettings(min_replica=1, max_replica=2)
    assert environment(store, "staging").current_deployment_id == created.id
    assert environment(store).current_deployment_id is None


def test_promoting_development_twice_creates_two_deployments(store: Store, dev: Deployment) -> None:
    first = promote(store, "development").deployment
    become_active(store, first.id)
    second = promote(store, "development").deployment
    become_active(store, second.id)

    assert (first.name, second.name) == ("deployment-1", "deployment-2")
    assert first.snapshot == second.snapshot
    assert environment(store).current_deployment_id == second.id


# published deployments are promoted as themselves


def test_published_deployment_keeps_its_id_and_autoscaling(
    store: Store, production: Deployment, published: Deployment
) -> None:
    scale_production(store)
    former = deployment(store, production.id)

    result = promote(store, published.name)

    assert result.deployment == published
    assert result.promotion.status is PromotionStatus.RELEASING
    assert result.promotion.previous_id == production.id
    assert environment(store).current_deployment_id == production.id

    settle_promotions(store)

    finished = latest_promotion(store)
    assert finished is not None
    assert (finished.id, finished.status) == (result.promotion.id, PromotionStatus.SUCCEEDED)
    assert environment(store).current_deployment_id == published.id
    assert deployment(store, published.id).autoscaling == AutoscalingSettings(
        min_replica=1, max_replica=3
    )
    assert deployment(store, production.id) == former
    assert former.autoscaling == PRODUCTION_SCALING
    assert deployment_names(store) == ["deployment-1", "deployment-2"]


def test_scaled_to_zero_deployment_stays_scaled_to_zero(
    store: Store, production: Deployment, published: Deployment
) -> None:
    set_status(store, published.id, DeploymentStatus.SCALED_TO_ZERO)

    result = promote(store, published.id)

    assert result.promotion.status is PromotionStatus.RELEASING
    assert environment(store).current_deployment_id == production.id

    settle_promotions(store)

    finished = latest_promotion(store)
    assert finished is not None
    assert (finished.id, finished.status) == (result.promotion.id, PromotionStatus.SUCCEEDED)
    assert deployment(store, published.id).status is DeploymentStatus.SCALED_TO_ZERO
    assert environment(store).current_deployment_id == published.id


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(DeploymentStatus.INACTIVE, id="inactive"),
        pytest.param(DeploymentStatus.DEACTIVATING, id="deactivating"),
    ],
)
def test_inactive_deployment_is_refused(
    store: Store, production: Deployment, published: Deployment, status: DeploymentStatus
) -> None:
    set_status(store, published.id, status)

    with pytest.raises(RefusedError) as caught:
        promote(store, published.id)

    assert caught.value.message == (
        f"deployment deployment-2 ({published.id}) is {status.value} and cannot be promoted"
    )
    assert hint_for(caught.value) is not None
    assert f"brace activate {published.id}" in hint_for(caught.value)
    assert environment(store).current_deployment_id == production.id
    last = latest_promotion(store)
    assert last is not None
    assert last.candidate_id == production.id


def test_deactivated_deployment_can_be_promoted_once_activated(
    store: Store, production: Deployment, published: Deployment
) -> None:
    deployments.deactivate(store, published.id)
    with pytest.raises(RefusedError):
        promote(store, published.id)

    deployments.activate(store, published.id)
    promotion = promote(store, published.id).promotion

    assert promotion.status is PromotionStatus.RELEASING
    assert environment(store).current_deployment_id == production.id
    become_active(store, published.id)
    assert environment(store).current_deployment_id == published.id


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(DeploymentStatus.BUILD_FAILED, id="build-failed"),
        pytest.param(DeploymentStatus.DEPLOY_FAILED, id="deploy-failed"),
        pytest.param(DeploymentStatus.FAILED, id="failed"),
    ],
)
def test_failed_deployment_is_refused(
    store: Store, production: Deployment, published: Deployment, status: DeploymentStatus
) -> None:
    set_status(store, published.id, status)

    with pytest.raises(RefusedError) as caught:
        promote(store, published.id)

    assert f"is {status.value} and cannot be promoted" in caught.value.message
    assert hint_for(caught.value) == "Fix the model and push again."
    assert environment(store).current_deployment_id == production.id


def test_promoting_the_current_deployment_is_refused(store: Store, production: Deployment) -> None:
    with pytest.raises(RefusedError) as caught:
        promote(store, production.id)

    assert caught.value.message == (
        f"deployment deployment-1 ({production.id}) is already production's current deployment"
    )


def test_promoting_to_a_missing_environment_is_not_found(
    store: Store, published: Deployment
) -> None:
    with pytest.raises(NotFoundError) as caught:
        promote(store, published.id, environment="staging")

    assert caught.value.message == "model 'hello' has no environment 'staging'"


def test_promoting_a_missing_deployment_is_not_found(store: Store, production: Deployment) -> None:
    with pytest.raises(NotFoundError) as caught:
        promote(store, "nosuchid")

    assert caught.value.message == "no deployment 'nosuchid'"


def test_promoting_into_staging_leaves_production_alone(
    store: Store, production: Deployment, published: Deployment
) -> None:
    environments.create(store, "staging")
    production_promotion = latest_promotion(store)

    result = promote(store, published.id, environment="staging")

    assert result.environment.name == "staging"
    assert result.promotion.status is PromotionStatus.RELEASING
    assert environment(store, "staging").current_deployment_id is None
    assert environment(store).current_deployment_id == production.id

    settle_promotions(store)

    assert environment(store, "staging").current_deployment_id == published.id
    staging = latest_promotion(store, "staging")
    assert staging is not None
    assert staging.status is PromotionStatus.SUCCEEDED
    assert environment(store).current_deployment_id == production.id
    assert latest_promotion(store) == production_promotion


# a non-rolling promotion switches at the controller's step once the candidate is serving


def _assert_releasing(
    store: Store, result: PromoteResult, production: Deployment, published: Deployment
) -> Promotion:
    """Right after promote: RELEASING at 0%, production unchanged, candidate shown."""
    promotion = result.promotion
    assert promotion.status is PromotionStatus.RELEASING
    assert promotion.percent_traffic == 0
    assert not promotion.rolling
    assert promotion.candidate_id == published.id
    assert promotion.previous_id == production.id
    assert latest_promotion(store) == promotion
    assert result.environment.current_deployment_id == production.id
    assert environment(store).current_deployment_id == production.id
    shown = views.read(store, views.environment_json, environment(store))
    assert shown["current_deployment"]["id"] == production.id
    assert shown["candidate_deployment"]["id"] == published.id
    assert shown["in_progress_promotion"] == {
        "status": "RELEASING",
        "percent_traffic_to_new_version": 0,
        "error_message": None,
        "rolling_deploy": False,
        "pending_action": None,
    }
    return promotion


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(DeploymentStatus.BUILDING, id="building"),
        pytest.param(DeploymentStatus.DEPLOYING, id="deploying"),
        pytest.param(DeploymentStatus.LOADING_MODEL, id="loading-model"),
        pytest.param(DeploymentStatus.UNHEALTHY, id="unhealthy"),
    ],
)
def test_candidate_not_yet_serving_leaves_the_promotion_releasing(
    store: Store, production: Deployment, published: Deployment, status: DeploymentStatus
) -> None:
    set_status(store, published.id, status)

    result = promote(store, published.id)

    _assert_releasing(store, result, production, published)
    assert deployment(store, published.id).status is status


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(DeploymentStatus.ACTIVE, id="active"),
        pytest.param(DeploymentStatus.SCALED_TO_ZERO, id="scaled-to-zero"),
        pytest.param(DeploymentStatus.WAKING_UP, id="waking-up"),
        pytest.param(DeploymentStatus.UPDATING, id="updating"),
    ],
)
def test_serving_candidate_is_switched_at_the_controllers_next_step(
    store: Store, production: Deployment, published: Deployment, status: DeploymentStatus
) -> None:
    set_status(store, published.id, status)

    result = promote(store, published.id)

    # Even a serving candidate waits for the controller, which switches the environment
    # and the gateway's routes in one step.
    promotion = _assert_releasing(store, result, production, published)

    settle_promotions(store)

    finished = latest_promotion(store)
    assert finished is not None
    assert (finished.id, finished.status, finished.percent_traffic) == (
        promotion.id,
        PromotionStatus.SUCCEEDED,
        100,
    )
    assert not finished.rolling
    assert finished.previous_id == production.id
    assert environment(store).current_deployment_id == published.id
    # The candidate's status is its own: a scaled-to-zero one stays scaled to zero.
    assert deployment(store, published.id).status is status
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


def test_environment_can_be_promoted_to_again_after_a_failed_promotion(
    store: Store, truss_dir: Path, production: Deployment, published: Deployment
) -> None:
    set_status(store, published.id, DeploymentStatus.DEPLOYING)
    started = promote(store, published.id).promotion
    with store.transaction() as tx:
        end_promotion(tx, started, PromotionStatus.FAILED, "failed to start")
    other = push(store, truss_dir, publish=True).deployment
    set_status(store, other.id, DeploymentStatus.ACTIVE)

    result = promote(store, other.id)

    assert result.promotion.status is PromotionStatus.RELEASING
    assert result.promotion.previous_id == production.id
    settle_promotions(store)
    finished = latest_promotion(store)
    assert finished is not None
    assert (finished.id, finished.status) == (result.promotion.id, PromotionStatus.SUCCEEDED)
    assert environment(store).current_deployment_id == other.id


# rolling promotions


def test_rolling_promotion_starts_releasing(
    store: Store, production: Deployment, published: Deployment
) -> None:
    enable_rolling(store)

    result = promote(store, published.id)

    promotion = result.promotion
    assert promotion.status is PromotionStatus.RELEASING
    assert promotion.percent_traffic == 0
    assert promotion.rolling
    assert promotion.candidate_id == published.id
    assert promotion.previous_id == production.id
    assert result.environment.current_deployment_id == production.id
    assert environment(store).current_deployment_id == production.id
    shown = views.read(store, views.environment_json, environment(store))
    assert shown["current_deployment"]["id"] == production.id
    assert shown["candidate_deployment"]["id"] == published.id
    assert shown["in_progress_promotion"] == {
        "status": "RELEASING",
        "percent_traffic_to_new_version": 0,
        "error_message": None,
        "rolling_deploy": True,
        "pending_action": None,
    }


def test_rolling_promotion_of_development_creates_the_candidate(
    store: Store, production: Deployment, dev: Deployment
) -> None:
    enable_rolling(store)

    result = promote(store, "development")

    assert result.promotion.status is PromotionStatus.RELEASING
    assert result.deployment.name == "deployment-2"
    assert result.promotion.candidate_id == result.deployment.id
    assert environment(store).current_deployment_id == production.id


def test_rolling_promotion_keeps_the_settings_it_started_with(
    store: Store, production: Deployment, published: Deployment
) -> None:
    enable_rolling(store)
    started = promote(store, published.id).promotion

    environments.update(
        store, "production", promotion_settings={"rolling_deploy_config": {"max_surge_percent": 50}}
    )

    assert latest_promotion(store) == started
    assert started.settings.rolling_deploy_config.max_surge_percent == 10


@pytest.mark.parametrize("second", ["published", "development"])
@pytest.mark.parametrize("rolling", [True, False], ids=["rolling", "waiting"])
def test_second_promotion_while_one_is_in_progress_is_refused(
    store: Store,
    truss_dir: Path,
    production: Deployment,
    published: Deployment,
    dev: Deployment,
    second: str,
    rolling: bool,
) -> None:
    if rolling:
        enable_rolling(store)
    else:
        set_status(store, published.id, DeploymentStatus.DEPLOYING)
    other = set_status(
        store, push(store, truss_dir, publish=True).deployment.id, DeploymentStatus.ACTIVE
    )
    started = promote(store, published.id).promotion
    assert (started.status, started.rolling) == (PromotionStatus.RELEASING, rolling)
    names_before = deployment_names(store)

    with pytest.raises(RefusedError) as caught:
        promote(store, other.id if second == "published" else "development")

    assert caught.value.message == (
        f"a promotion to production is already in progress (RELEASING, deployment {published.id})"
    )
    assert hint_for(caught.value) is not None
    assert "brace rollout cancel -m hello -e production" in hint_for(caught.value)
    assert latest_promotion(store) == started
    assert deployment_names(store) == names_before
    assert environment(store).current_deployment_id == production.id


def test_rolling_without_a_current_deployment_is_a_non_rolling_promotion(
    store: Store, published: Deployment
) -> None:
    enable_rolling(store)

    result = promote(store, published.id)

    # Nothing to roll from: a non-rolling promotion, switched at the controller's next step.
    assert result.promotion.status is PromotionStatus.RELEASING
    assert result.promotion.percent_traffic == 0
    assert not result.promotion.rolling
    assert result.promotion.previous_id is None
    assert result.promotion.settings.rolling_deploy
    assert environment(store).current_deployment_id is None

    settle_promotions(store)

    finished = latest_promotion(store)
    assert finished is not None
    assert (finished.id, finished.status, finished.percent_traffic, finished.rolling) == (
        result.promotion.id,
        PromotionStatus.SUCCEEDED,
        100,
        False,
    )
    assert environment(store).current_deployment_id == published.id

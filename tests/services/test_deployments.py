"""One deployment's lifecycle: deactivate, activate, delete, rename, autoscaling."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from brace.cli.hints import hint_for
from brace.errors import InvalidError, NotFoundError, RefusedError
from brace.services import deployments, environments
from brace.services.promote import promote
from brace.services.push import push
from brace.store import (
    AutoscalingSettings,
    Deployment,
    DeploymentStatus,
    PromotionStatus,
    Store,
)
from tests.conftest import settle_promotions
from tests.services.conftest import (
    deployment,
    deployment_names,
    enable_rolling,
    end_promotion,
    environment,
    latest_promotion,
    set_status,
)


@pytest.fixture
def dev(store: Store, truss_dir: Path) -> Deployment:
    return push(store, truss_dir).deployment


@pytest.fixture
def published(store: Store, truss_dir: Path) -> Deployment:
    return push(store, truss_dir, publish=True).deployment


@pytest.fixture(params=["rolling", "waiting"])
def candidate(
    store: Store, production: Deployment, published: Deployment, request: pytest.FixtureRequest
) -> Deployment:
    """`published` is the candidate of a promotion in progress to production: a rolling
    one, or a non-rolling one waiting for it (DEPLOYING) to become ACTIVE."""
    if request.param == "rolling":
        enable_rolling(store)
    promotion = promote(store, published.id).promotion
    assert promotion.status is PromotionStatus.RELEASING
    assert promotion.rolling == (request.param == "rolling")
    return published


# deactivate / activate


@pytest.mark.parametrize("which", ["production", "published", "development"])
def test_any_active_deployment_can_be_deactivated(
    store: Store, production: Deployment, published: Deployment, dev: Deployment, which: str
) -> None:
    target = {"production": production, "published": published, "development": dev}[which]
    with store.transaction() as tx:
        tx.update_deployment(target, status=DeploymentStatus.ACTIVE, active_replica_count=1)

    result = deployments.deactivate(store, target.id)

    assert result.status is DeploymentStatus.INACTIVE
    assert result.active_replica_count == 0
    assert deployment(store, target.id) == result


def test_deactivate_twice_is_refused(store: Store, published: Deployment) -> None:
    deployments.deactivate(store, published.id)

    with pytest.raises(RefusedError) as caught:
        deployments.deactivate(store, published.id)

    assert caught.value.message == f"deployment deployment-1 ({published.id}) is already INACTIVE"


def test_activate_an_inactive_deployment(store: Store, published: Deployment) -> None:
    deployments.deactivate(store, published.id)

    result = deployments.activate(store, published.id)

    assert result.status is DeploymentStatus.DEPLOYING
    assert deployment(store, published.id).status is DeploymentStatus.DEPLOYING


@pytest.mark.parametrize(
    "status",
    [
        pytest.param(DeploymentStatus.ACTIVE, id="active"),
        pytest.param(DeploymentStatus.DEPLOYING, id="deploying"),
        pytest.param(DeploymentStatus.SCALED_TO_ZERO, id="scaled-to-zero"),
    ],
)
def test_activate_when_not_inactive_is_refused(
    store: Store, published: Deployment, status: DeploymentStatus
) -> None:
    set_status(store, published.id, status)

    with pytest.raises(RefusedError) as caught:
        deployments.activate(store, published.id)

    assert caught.value.message == (
        f"deployment deployment-1 ({published.id}) is {status.value}, not inactive"
    )
    assert hint_for(caught.value) == "Only a deactivated deployment can be activated."
    assert deployment(store, published.id).status is status


# delete


def test_delete_production_deployment_is_refused(store: Store, production: Deployment) -> None:
    with pytest.raises(RefusedError) as caught:
        deployments.delete(store, "production")

    assert caught.value.message == (
        f"deployment deployment-1 ({production.id}) is production's current deployment "
        "and cannot be deleted"
    )
    hint = hint_for(caught.value)
    assert hint is not None
    assert "Promote another deployment to production" in hint
    assert "brace models delete" in hint
    assert deployment_names(store) == ["deployment-1"]


def test_delete_current_deployment_of_staging_names_staging(
    store: Store, published: Deployment
) -> None:
    environments.create(store, "staging")
    set_status(store, published.id, DeploymentStatus.ACTIVE)
    promote(store, published.id, environment="staging")
    settle_promotions(store)
    assert environment(store, "staging").current_deployment_id == published.id

    with pytest.raises(RefusedError) as caught:
        deployments.delete(store, published.id)

    assert "is staging's current deployment" in caught.value.message
    assert hint_for(caught.value) is not None
    assert "--environment staging" in hint_for(caught.value)


def test_former_production_can_be_deleted_after_promoting_another(
    store: Store, production: Deployment, published: Deployment
) -> None:
    set_status(store, published.id, DeploymentStatus.ACTIVE)
    promote(store, published.id)
    settle_promotions(store)
    assert environment(store).current_deployment_id == published.id

    deleted = deployments.delete(store, production.id)

    assert deleted.id == production.id
    assert deployment_names(store) == ["deployment-2"]
    with store.read() as tx:
        assert tx.deployment(production.id) is None


def test_published_deployment_can_be_deleted(store: Store, published: Deployment) -> None:
    deployments.delete(store, "deployment-1")

    assert deployment_names(store) == []


def test_development_deployment_can_be_deleted(
    store: Store, dev: Deployment, truss_dir: Path
) -> None:
    deployments.delete(store, "development")

    assert deployment_names(store) == []
    again = push(store, truss_dir).deployment
    assert again.id != dev.id
    assert again.revision == 1


def test_delete_missing_deployment_is_not_found(store: Store, published: Deployment) -> None:
    with pytest.raises(NotFoundError) as caught:
        deployments.delete(store, "deployment-9")

    assert caught.value.message == "no deployment 'deployment-9'"


# deployments a promotion is moving


def test_candidate_of_a_promotion_cannot_be_deleted(store: Store, candidate: Deployment) -> None:
    with pytest.raises(RefusedError) as caught:
        deployments.delete(store, candidate.id)

    assert caught.value.message == (
        f"deployment deployment-2 ({candidate.id}) is part of the promotion in "
        "progress in production"
    )
    assert (
        hint_for(caught.value) == "Cancel it first: `brace rollout cancel -m hello -e production`."
    )
    assert deployment(store, candidate.id) == candidate


def test_candidate_of_a_promotion_cannot_be_deactivated(
    store: Store, candidate: Deployment
) -> None:
    with pytest.raises(RefusedError) as caught:
        deployments.deactivate(store, candidate.id)

    assert "is part of the promotion in progress in production" in caught.value.message
    assert (
        hint_for(caught.value) == "Cancel it first: `brace rollout cancel -m hello -e production`."
    )
    assert deployment(store, candidate.id).status is DeploymentStatus.DEPLOYING


def test_previous_of_a_promotion_cannot_be_deactivated(
    store: Store, production: Deployment, candidate: Deployment
) -> None:
    with pytest.raises(RefusedError) as caught:
        deployments.deactivate(store, production.id)

    assert "is part of the promotion in progress in production" in caught.value.message


def test_candidate_of_a_finished_promotion_can_be_deleted(
    store: Store, candidate: Deployment
) -> None:
    promotion = latest_promotion(store)
    assert promotion is not None
    end_promotion(store, promotion, PromotionStatus.CANCELED)

    deployments.delete(store, candidate.id)

    assert deployment_names(store) == ["deployment-1"]


# rename


def test_rename_changes_the_name(store: Store, published: Deployment) -> None:
    renamed = deployments.rename(store, published.id, "release-1.0")

    assert renamed.name == "release-1.0"
    assert renamed.id == published.id
    assert deployment(store, published.id).name == "release-1.0"
    assert deployments.rename(store, "release-1.0", "again").id == published.id


def test_production_deployment_can_be_renamed(store: Store, production: Deployment) -> None:
    assert deployments.rename(store, "production", "live").name == "live"


def test_rename_to_the_same_name_changes_nothing(store: Store, published: Deployment) -> None:
    assert deployments.rename(store, published.id, "deployment-1") == published


def test_rename_development_is_refused(store: Store, dev: Deployment) -> None:
    with pytest.raises(RefusedError) as caught:
        deployments.rename(store, "development", "mine")

    assert "cannot be renamed" in caught.value.message
    assert hint_for(caught.value) is not None
    assert "--publish" in hint_for(caught.value)
    assert deployment(store, dev.id).name == "development"


def test_rename_to_a_taken_name_is_refused(
    store: Store, production: Deployment, published: Deployment
) -> None:
    with pytest.raises(RefusedError) as caught:
        deployments.rename(store, published.id, "deployment-1")

    assert caught.value.message == "model 'hello' already has a deployment named 'deployment-1'"
    assert deployment(store, published.id).name == "deployment-2"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("has space", "invalid deployment name 'has space'", id="space"),
        pytest.param("-leading", "invalid deployment name '-leading'", id="leading-dash"),
        pytest.param("", "invalid deployment name ''", id="empty"),
        pytest.param("x" * 65, f"invalid deployment name '{'x' * 65}'", id="too-long"),
        pytest.param("a/b", "invalid deployment name 'a/b'", id="slash"),
        pytest.param("development", "'development' is reserved", id="development"),
        pytest.param("production", "'production' is reserved", id="production"),
    ],
)
def test_rename_to_an_invalid_name_is_refused(
    store: Store, published: Deployment, name: str, message: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        deployments.rename(store, published.id, name)

    assert caught.value.message.startswith(message)
    assert deployment(store, published.id).name == "deployment-1"


# autoscaling


def test_autoscaling_partial_update_keeps_other_fields(store: Store, published: Deployment) -> None:
    updated, changed = deployments.set_autoscaling(
        store, published.id, {"max_replica": 5, "concurrency_target": 4}
    )

    assert changed
    expected = AutoscalingSettings(max_replica=5, concurrency_target=4)
    assert updated.autoscaling == expected
    assert deployment(store, published.id).autoscaling == expected

    again, changed = deployments.set_autoscaling(store, published.id, {"min_replica": 2})
    assert changed
    assert again.autoscaling == AutoscalingSettings(
        min_replica=2, max_replica=5, concurrency_target=4
    )


def test_autoscaling_unchanged_reports_no_change(store: Store, published: Deployment) -> None:
    same, changed = deployments.set_autoscaling(
        store, published.id, {"min_replica": 0, "max_replica": 1}
    )

    assert not changed
    assert same == published


def test_development_autoscaling_other_fields_can_change(store: Store, dev: Deployment) -> None:
    updated, changed = deployments.set_autoscaling(
        store, "development", {"autoscaling_window": 5, "scale_down_delay": 1}
    )

    assert changed
    assert updated.autoscaling == AutoscalingSettings(
        min_replica=0, max_replica=1, autoscaling_window=5, scale_down_delay=1
    )


@pytest.mark.parametrize(
    "changes",
    [
        pytest.param({"min_replica": 1}, id="min-1"),
        pytest.param({"max_replica": 2}, id="max-2"),
    ],
)
def test_development_replica_counts_are_pinned(
    store: Store, dev: Deployment, changes: dict[str, Any]
) -> None:
    with pytest.raises(InvalidError) as caught:
        deployments.set_autoscaling(store, "development", changes)

    assert caught.value.message == (
        "the development deployment always has min_replica 0 and max_replica 1"
    )
    assert hint_for(caught.value) is not None
    assert "brace push DIR --publish" in hint_for(caught.value)
    assert deployment(store, dev.id).autoscaling == AutoscalingSettings(
        min_replica=0, max_replica=1
    )


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"min_replica": 3, "max_replica": 2},
            "min_replica (3) must not exceed max_replica (2)",
            id="min-above-max",
        ),
        pytest.param(
            {"min_replica": 2},
            "min_replica (2) must not exceed max_replica (1)",
            id="min-above-current-max",
        ),
        pytest.param({"min_replica": -1}, "min_replica must be 0 to 1000, got -1", id="negative"),
        pytest.param(
            {"max_replicas": 3}, "unknown autoscaling field: max_replicas", id="unknown-field"
        ),
    ],
)
def test_invalid_autoscaling_is_refused(
    store: Store, published: Deployment, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        deployments.set_autoscaling(store, published.id, changes)

    assert caught.value.message == message
    assert deployment(store, published.id).autoscaling == AutoscalingSettings()

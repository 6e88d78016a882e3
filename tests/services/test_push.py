"""`push`: the development deployment, published deployments, --promote / --environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.cli.hints import hint_for
from brace.errors import ConfigError, InvalidError, NotFoundError, RefusedError, UsageError
from brace.services import deployments, environments
from brace.services.push import push
from brace.store import (
    AutoscalingSettings,
    Deployment,
    DeploymentStatus,
    PromotionStatus,
    Store,
)
from tests.conftest import MakeTruss
from tests.services.conftest import (
    become_active,
    deployment,
    deployment_names,
    enable_rolling,
    environment,
    latest_promotion,
    the_model,
)

# development deployment


def test_first_push_creates_model_production_and_development(store: Store, truss_dir: Path) -> None:
    result = push(store, truss_dir)

    assert result.model_created
    assert result.model.name == "hello"
    assert result.promotion is None
    dev = result.deployment
    assert dev.name == "development"
    assert dev.is_development
    assert dev.status is DeploymentStatus.DEPLOYING
    assert dev.autoscaling == AutoscalingSettings(min_replica=0, max_replica=1)
    assert dev.source_dir == str(truss_dir.resolve())
    assert dev.snapshot is None
    assert dev.revision == 1
    with store.read() as tx:
        assert tx.models() == [result.model]
        assert tx.deployments(result.model.id) == [dev]
        assert [e.name for e in tx.environments(result.model.id)] == ["production"]
        production = tx.environment(result.model.id, "production")
    assert production is not None
    assert production.current_deployment_id is None


def test_second_push_updates_the_same_development_deployment(store: Store, truss_dir: Path) -> None:
    first = push(store, truss_dir).deployment
    second = push(store, truss_dir)

    assert not second.model_created
    assert second.deployment.id == first.id
    assert second.deployment.revision == first.revision + 1
    assert deployment(store, first.id).revision == 2
    assert deployment_names(store) == ["development"]


def test_push_from_another_directory_repoints_development(
    store: Store, make_truss: MakeTruss, truss_dir: Path
) -> None:
    first = push(store, truss_dir).deployment
    moved = make_truss("elsewhere", config="model_name: hello\n")

    second = push(store, moved).deployment

    assert second.id == first.id
    assert deployment(store, first.id).source_dir == str(moved.resolve())


def test_push_with_requirements_is_building(store: Store, make_truss: MakeTruss) -> None:
    directory = make_truss("reqs", config="model_name: reqs\nrequirements:\n  - requests\n")

    assert push(store, directory).deployment.status is DeploymentStatus.BUILDING
    assert push(store, directory, publish=True).deployment.status is DeploymentStatus.BUILDING


def test_push_without_model_name_is_refused(store: Store, make_truss: MakeTruss) -> None:
    directory = make_truss("anonymous", config="description: no name here\n")

    with pytest.raises(ConfigError) as caught:
        push(store, directory)

    assert "no model_name" in caught.value.message
    assert hint_for(caught.value) is not None
    assert "--model-name" in hint_for(caught.value)
    with store.read() as tx:
        assert tx.models() == []


def test_model_name_option_overrides_config(store: Store, truss_dir: Path) -> None:
    result = push(store, truss_dir, model_name="renamed")

    assert result.model.name == "renamed"
    with store.read() as tx:
        assert [m.name for m in tx.models()] == ["renamed"]


def test_model_name_option_supplies_a_missing_name(store: Store, make_truss: MakeTruss) -> None:
    directory = make_truss("anonymous", config="description: no name here\n")

    assert push(store, directory, model_name="given").model.name == "given"


# published deployments


def test_publish_creates_numbered_deployments(store: Store, truss_dir: Path) -> None:
    first = push(store, truss_dir, publish=True).deployment
    second = push(store, truss_dir, publish=True).deployment

    assert (first.name, second.name) == ("deployment-1", "deployment-2")
    assert first.id != second.id
    for published in (first, second):
        assert not published.is_development
        assert published.snapshot is not None
        assert published.source_dir is None
        assert published.status is DeploymentStatus.DEPLOYING
        assert published.autoscaling == AutoscalingSettings()
    assert deployment_names(store) == ["deployment-1", "deployment-2"]


def test_default_name_skips_a_name_taken_by_rename(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir, publish=True)
    second = push(store, truss_dir, publish=True).deployment
    deployments.rename(store, second.id, "deployment-3")

    third = push(store, truss_dir, publish=True).deployment

    assert third.name == "deployment-4"
    assert deployment_names(store) == ["deployment-1", "deployment-3", "deployment-4"]


def test_default_names_are_not_reused_after_delete(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir, publish=True)
    second = push(store, truss_dir, publish=True).deployment
    deployments.delete(store, second.id)

    assert push(store, truss_dir, publish=True).deployment.name == "deployment-3"


def test_deployment_name_is_used(store: Store, truss_dir: Path) -> None:
    named = push(store, truss_dir, publish=True, deployment_name="v1.0_rc-1").deployment

    assert named.name == "v1.0_rc-1"
    assert push(store, truss_dir, publish=True).deployment.name == "deployment-1"


def test_deployment_name_with_promote(store: Store, truss_dir: Path) -> None:
    result = push(store, truss_dir, promote=True, deployment_name="first")
    become_active(store, result.deployment.id)

    assert result.deployment.name == "first"
    assert environment(store).current_deployment_id == result.deployment.id


def test_deployment_name_for_development_is_refused(store: Store, truss_dir: Path) -> None:
    with pytest.raises(UsageError) as caught:
        push(store, truss_dir, deployment_name="v1")

    assert caught.value.code == "NAMED_DEVELOPMENT"
    assert "always named 'development'" in caught.value.message
    with store.read() as tx:
        assert tx.models() == []


def test_duplicate_deployment_name_is_refused(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir, publish=True, deployment_name="v1")

    with pytest.raises(RefusedError) as caught:
        push(store, truss_dir, publish=True, deployment_name="v1")

    assert caught.value.message == "model 'hello' already has a deployment named 'v1'"
    assert deployment_names(store) == ["v1"]


@pytest.mark.parametrize("reserved", ["development", "production"])
def test_reserved_deployment_names_are_refused(
    store: Store, truss_dir: Path, reserved: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        push(store, truss_dir, publish=True, deployment_name=reserved)

    assert f"{reserved!r} is reserved" in caught.value.message
    with store.read() as tx:
        assert tx.models() == []


def test_invalid_deployment_name_is_refused(store: Store, truss_dir: Path) -> None:
    with pytest.raises(InvalidError) as caught:
        push(store, truss_dir, publish=True, deployment_name="has space")

    assert caught.value.message == "invalid deployment name 'has space'"


# --promote and --environment


def test_promote_with_a_new_model_makes_production_once_active(
    store: Store, truss_dir: Path
) -> None:
    result = push(store, truss_dir, promote=True)

    assert result.model_created
    assert result.deployment.name == "deployment-1"
    assert result.deployment.status is DeploymentStatus.DEPLOYING
    assert result.deployment.autoscaling == AutoscalingSettings()
    promotion = result.promotion
    assert promotion is not None
    assert promotion.status is PromotionStatus.RELEASING
    assert promotion.percent_traffic == 0
    assert not promotion.rolling
    assert promotion.candidate_id == result.deployment.id
    assert promotion.previous_id is None
    assert latest_promotion(store) == promotion
    assert environment(store).current_deployment_id is None
    assert deployment_names(store) == ["deployment-1"]

    become_active(store, result.deployment.id)

    assert environment(store).current_deployment_id == result.deployment.id
    finished = latest_promotion(store)
    assert finished is not None
    assert (finished.id, finished.status, finished.percent_traffic) == (
        promotion.id,
        PromotionStatus.SUCCEEDED,
        100,
    )


def test_promote_replaces_production_once_active(
    store: Store, production: Deployment, truss_dir: Path
) -> None:
    result = push(store, truss_dir, promote=True)

    assert result.promotion is not None
    assert result.promotion.previous_id == production.id
    assert result.promotion.status is PromotionStatus.RELEASING
    assert environment(store).current_deployment_id == production.id

    become_active(store, result.deployment.id)

    assert environment(store).current_deployment_id == result.deployment.id
    assert deployment(store, production.id) == production


def test_promote_and_production_environment_agree(store: Store, truss_dir: Path) -> None:
    result = push(store, truss_dir, promote=True, environment="production")

    assert result.promotion is not None
    assert result.promotion.environment == "production"
    assert latest_promotion(store) == result.promotion
    become_active(store, result.deployment.id)
    assert environment(store).current_deployment_id == result.deployment.id


def test_promote_with_another_environment_is_a_usage_error(store: Store, truss_dir: Path) -> None:
    with pytest.raises(UsageError) as caught:
        push(store, truss_dir, promote=True, environment="staging")

    assert caught.value.code == "PROMOTE_AND_ENVIRONMENT"
    assert caught.value.message == (
        "promote is to production; environment 'staging' names another one"
    )


def test_push_to_missing_environment_is_not_found(store: Store, truss_dir: Path) -> None:
    with pytest.raises(NotFoundError) as caught:
        push(store, truss_dir, environment="staging")

    assert caught.value.message == "model 'hello' has no environment 'staging'"
    assert hint_for(caught.value) is not None
    assert "brace environments create staging" in hint_for(caught.value)
    with store.read() as tx:
        assert tx.models() == []


def test_push_to_an_environment_promotes_there(
    store: Store, production: Deployment, truss_dir: Path
) -> None:
    environments.create(store, "staging")

    result = push(store, truss_dir, environment="staging")

    assert result.promotion is not None
    assert latest_promotion(store, "staging") == result.promotion
    assert environment(store, "staging").current_deployment_id is None
    become_active(store, result.deployment.id)
    assert environment(store, "staging").current_deployment_id == result.deployment.id
    assert environment(store).current_deployment_id == production.id


def test_promote_during_a_rolling_promotion_is_refused(
    store: Store, production: Deployment, truss_dir: Path
) -> None:
    enable_rolling(store)
    rolling = push(store, truss_dir, promote=True)
    assert rolling.promotion is not None
    assert rolling.promotion.status is PromotionStatus.RELEASING

    with pytest.raises(RefusedError) as caught:
        push(store, truss_dir, promote=True)

    assert "a promotion to production is already in progress" in caught.value.message
    assert hint_for(caught.value) is not None
    assert "brace rollout cancel -m hello -e production" in hint_for(caught.value)
    assert deployment_names(store) == ["deployment-1", "deployment-2"]


def test_promoted_push_inherits_production_autoscaling(
    store: Store, production: Deployment, truss_dir: Path
) -> None:
    deployments.set_autoscaling(store, "production", {"min_replica": 2, "max_replica": 4})

    pushed = push(store, truss_dir, promote=True).deployment

    assert pushed.autoscaling == AutoscalingSettings(min_replica=2, max_replica=4)


def test_push_to_environment_without_deployment_takes_its_autoscaling(
    store: Store, truss_dir: Path
) -> None:
    push(store, truss_dir)
    environments.create(store, "staging", autoscaling={"min_replica": 1, "max_replica": 3})

    pushed = push(store, truss_dir, environment="staging").deployment

    assert pushed.autoscaling == AutoscalingSettings(min_replica=1, max_replica=3)


def test_push_keeps_models_apart(store: Store, make_truss: MakeTruss) -> None:
    push(store, make_truss("one"), publish=True)
    push(store, make_truss("two"), publish=True)

    assert deployment_names(store, "one") == ["deployment-1"]
    assert deployment_names(store, "two") == ["deployment-1"]
    assert the_model(store, "one").id != the_model(store, "two").id

"""Environments: create, update settings (partial, validated), delete."""

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
    CleanupStrategy,
    Deployment,
    PromotionSettings,
    RollingDeployConfig,
    Store,
)
from tests.conftest import settle_promotions
from tests.services.conftest import deployment, enable_rolling, environment


@pytest.fixture
def model(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir)


# create


def test_create_staging_with_defaults(store: Store, model: None) -> None:
    created = environments.create(store, "staging")

    assert created.name == "staging"
    assert created.autoscaling == AutoscalingSettings()
    assert created.promotion_settings == PromotionSettings()
    assert created.current_deployment_id is None
    assert environment(store, "staging") == created
    with store.read() as tx:
        assert [e.name for e in tx.environments(created.model_id)] == ["production", "staging"]


def test_create_with_settings(store: Store, model: None) -> None:
    created = environments.create(
        store,
        "canary",
        autoscaling={"max_replica": 3},
        promotion_settings={
            "rolling_deploy": True,
            "promotion_cleanup_strategy": "KEEP",
            "rolling_deploy_config": {"max_surge_percent": 0, "max_unavailable_percent": 20},
        },
    )

    assert created.autoscaling == AutoscalingSettings(max_replica=3)
    assert created.promotion_settings == PromotionSettings(
        rolling_deploy=True,
        rolling_deploy_config=RollingDeployConfig(max_surge_percent=0, max_unavailable_percent=20),
        promotion_cleanup_strategy=CleanupStrategy.KEEP,
    )


def test_create_duplicate_is_refused(store: Store, model: None) -> None:
    environments.create(store, "staging")

    with pytest.raises(RefusedError) as caught:
        environments.create(store, "staging")

    assert caught.value.message == "model 'hello' already has an environment 'staging'"


def test_create_production_again_is_refused(store: Store, model: None) -> None:
    with pytest.raises(RefusedError) as caught:
        environments.create(store, "production")

    assert caught.value.message == "model 'hello' already has an environment 'production'"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        pytest.param("Bad Name", "invalid environment name 'Bad Name'", id="space-and-caps"),
        pytest.param("Staging", "invalid environment name 'Staging'", id="caps"),
        pytest.param("", "invalid environment name ''", id="empty"),
        pytest.param("-x", "invalid environment name '-x'", id="leading-dash"),
        pytest.param(
            "development",
            "'development' is reserved: it names the development deployment",
            id="development",
        ),
    ],
)
def test_create_invalid_name_is_refused(store: Store, model: None, name: str, message: str) -> None:
    with pytest.raises(InvalidError) as caught:
        environments.create(store, name)

    assert caught.value.message == message
    with store.read() as tx:
        assert [e.name for e in tx.environments(tx.models()[0].id)] == ["production"]


def test_create_with_invalid_settings_is_refused(store: Store, model: None) -> None:
    with pytest.raises(InvalidError):
        environments.create(store, "staging", autoscaling={"min_replica": -1})
    with pytest.raises(InvalidError):
        environments.create(
            store, "staging", promotion_settings={"promotion_cleanup_strategy": "NEVER"}
        )

    with store.read() as tx:
        assert tx.environment(tx.models()[0].id, "staging") is None


def test_create_without_a_model_is_not_found(store: Store) -> None:
    with pytest.raises(NotFoundError) as caught:
        environments.create(store, "staging")

    assert caught.value.message == "there are no models yet"


# update


def test_update_promotion_settings_partially(store: Store, model: None) -> None:
    updated, changed = environments.update(
        store, "production", promotion_settings={"rolling_deploy_config": {"max_surge_percent": 25}}
    )

    assert changed
    assert updated.promotion_settings == PromotionSettings(
        rolling_deploy_config=RollingDeployConfig(max_surge_percent=25)
    )
    assert environment(store).promotion_settings == updated.promotion_settings

    again, changed = environments.update(
        store, "production", promotion_settings={"rolling_deploy": True}
    )
    assert changed
    assert again.promotion_settings.rolling_deploy_config.max_surge_percent == 25


def test_update_with_the_same_values_reports_no_change(store: Store, model: None) -> None:
    _, changed = environments.update(
        store,
        "production",
        autoscaling={"min_replica": 0},
        promotion_settings={"rolling_deploy": False},
    )

    assert not changed


def test_switch_to_unavailable_mode_in_one_update(store: Store, model: None) -> None:
    updated, _ = environments.update(
        store,
        "production",
        promotion_settings={
            "rolling_deploy_config": {"max_surge_percent": 0, "max_unavailable_percent": 30}
        },
    )

    config = updated.promotion_settings.rolling_deploy_config
    assert (config.max_surge_percent, config.max_unavailable_percent) == (0, 30)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        pytest.param(
            {"rolling_deploy_config": {"max_surge_percent": 10, "max_unavailable_percent": 10}},
            "max_surge_percent is 10 and max_unavailable_percent is 10: "
            "exactly one of them must be non-zero",
            id="both-non-zero",
        ),
        pytest.param(
            {"rolling_deploy_config": {"max_surge_percent": 0}},
            "max_surge_percent is 0 and max_unavailable_percent is 0: "
            "exactly one of them must be non-zero",
            id="both-zero",
        ),
        pytest.param(
            {"rolling_deploy_config": {"max_surge_percent": 51}},
            "max_surge_percent must be 0 to 50, got 51",
            id="surge-51",
        ),
        pytest.param(
            {"rolling_deploy_config": {"max_surge_percent": -1}},
            "max_surge_percent must be 0 to 50, got -1",
            id="surge-negative",
        ),
        pytest.param(
            {"rolling_deploy_config": {"max_surge_percent": 0, "max_unavailable_percent": 51}},
            "max_unavailable_percent must be 0 to 50, got 51",
            id="unavailable-51",
        ),
        pytest.param(
            {"rolling_deploy_config": {"stabilization_time_seconds": 3601}},
            "stabilization_time_seconds must be 0 to 3600, got 3601",
            id="stabilization-3601",
        ),
        pytest.param(
            {"rolling_deploy_config": {"replica_overhead_percent": 501}},
            "replica_overhead_percent must be 0 to 500, got 501",
            id="overhead-501",
        ),
        pytest.param(
            {"promotion_cleanup_strategy": "DELETE"},
            "promotion_cleanup_strategy must be one of SCALE_TO_ZERO, KEEP, DEACTIVATE, "
            "got 'DELETE'",
            id="cleanup-strategy",
        ),
    ],
)
def test_update_invalid_promotion_settings_is_refused(
    store: Store, model: None, settings: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        environments.update(store, "production", promotion_settings=settings)

    assert caught.value.message == message
    assert environment(store).promotion_settings == PromotionSettings()


def test_update_autoscaling_changes_the_current_deployment(
    store: Store, production: Deployment
) -> None:
    updated, changed = environments.update(
        store, "production", autoscaling={"min_replica": 2, "max_replica": 4}
    )

    expected = AutoscalingSettings(min_replica=2, max_replica=4)
    assert changed
    assert updated.autoscaling == expected
    assert deployment(store, production.id).autoscaling == expected


def test_update_autoscaling_starts_from_the_current_deployment(
    store: Store, production: Deployment
) -> None:
    deployments.set_autoscaling(store, production.id, {"max_replica": 6})

    updated, _ = environments.update(store, "production", autoscaling={"min_replica": 3})

    expected = AutoscalingSettings(min_replica=3, max_replica=6)
    assert updated.autoscaling == expected
    assert deployment(store, production.id).autoscaling == expected


def test_update_autoscaling_without_a_deployment_applies_to_the_next(
    store: Store, model: None
) -> None:
    environments.update(store, "production", autoscaling={"min_replica": 1, "max_replica": 2})

    promoted = promote(store, "development").deployment

    assert promoted.autoscaling == AutoscalingSettings(min_replica=1, max_replica=2)


def test_update_invalid_autoscaling_is_refused(store: Store, production: Deployment) -> None:
    with pytest.raises(InvalidError) as caught:
        environments.update(store, "production", autoscaling={"min_replica": 5})

    assert caught.value.message == "min_replica (5) must not exceed max_replica (1)"
    assert deployment(store, production.id).autoscaling == AutoscalingSettings()


def test_update_missing_environment_is_not_found(store: Store, model: None) -> None:
    with pytest.raises(NotFoundError) as caught:
        environments.update(store, "staging", promotion_settings={"rolling_deploy": True})

    assert caught.value.message == "model 'hello' has no environment 'staging'"
    assert hint_for(caught.value) is not None
    assert "Environments: production." in hint_for(caught.value)


# delete


def test_delete_production_is_refused(store: Store, model: None) -> None:
    with pytest.raises(RefusedError) as caught:
        environments.delete(store, "production")

    assert caught.value.message == "the production environment cannot be deleted"
    assert hint_for(caught.value) is not None
    assert "brace models delete" in hint_for(caught.value)
    assert environment(store).name == "production"


def test_delete_staging(store: Store, production: Deployment) -> None:
    environments.create(store, "staging")
    promote(store, production.id, environment="staging")
    settle_promotions(store)
    assert environment(store, "staging").current_deployment_id == production.id

    deleted = environments.delete(store, "staging")

    assert deleted.name == "staging"
    with store.read() as tx:
        assert [e.name for e in tx.environments(production.model_id)] == ["production"]
        assert tx.latest_promotion(production.model_id, "staging") is None
    assert deployment(store, production.id) == production


def test_delete_during_a_promotion_is_refused(
    store: Store, production: Deployment, truss_dir: Path
) -> None:
    environments.create(store, "staging")
    promote(store, production.id, environment="staging")
    settle_promotions(store)
    enable_rolling(store, "staging")
    push(store, truss_dir, environment="staging")

    with pytest.raises(RefusedError) as caught:
        environments.delete(store, "staging")

    assert "a promotion to staging is already in progress" in caught.value.message
    assert environment(store, "staging").name == "staging"

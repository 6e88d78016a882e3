"""The management API's JSON shapes: exactly Baseten's keys, with brace's values."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from brace.server.metrics.scrape import StoreView
from brace.services import views
from brace.services.promote import promote
from brace.services.push import push
from brace.store import Deployment, Model, Store, Tx
from brace.store.db import new_id
from tests.api_shapes import (
    AUTOSCALING_KEYS,
    DEPLOYMENT_KEYS,
    ENVIRONMENT_KEYS,
    MODEL_KEYS,
    PROMOTION_KEYS,
)
from tests.services.conftest import become_active, enable_rolling, environment


@pytest.fixture
def hello(store: Store, truss_dir: Path) -> tuple[Model, Deployment, Deployment]:
    """The model, its development deployment and its production deployment."""
    dev = push(store, truss_dir)
    production = become_active(store, push(store, truss_dir, promote=True).deployment.id)
    return dev.model, dev.deployment, production


def test_deployment_json(store: Store, hello: tuple[Model, Deployment, Deployment]) -> None:
    model, dev, production = hello

    shown = views.read(store, views.deployment_json, production)
    shown_dev = views.read(store, views.deployment_json, dev)

    assert set(shown) == DEPLOYMENT_KEYS
    assert set(shown_dev) == DEPLOYMENT_KEYS
    assert set(shown["autoscaling_settings"]) == AUTOSCALING_KEYS
    assert shown["id"] == production.id
    assert shown["model_id"] == model.id
    assert shown["name"] == "deployment-1"
    assert (shown["is_production"], shown["is_development"]) == (True, False)
    assert shown["environment"] == "production"
    assert shown["status"] == "ACTIVE"
    assert (shown_dev["is_production"], shown_dev["is_development"]) == (False, True)
    assert shown_dev["environment"] is None
    assert shown_dev["autoscaling_settings"]["max_replica"] == 1


def test_deployments_json(store: Store, hello: tuple[Model, Deployment, Deployment]) -> None:
    _, dev, production = hello

    shown = views.read(store, views.deployments_json, [dev, production])

    assert list(shown) == ["deployments"]
    assert [d["id"] for d in shown["deployments"]] == [dev.id, production.id]


def test_model_json(store: Store, hello: tuple[Model, Deployment, Deployment]) -> None:
    model, dev, production = hello

    shown = views.read(store, views.model_json, model)

    assert set(shown) == MODEL_KEYS
    assert shown["id"] == model.id
    assert shown["name"] == "hello"
    assert shown["deployments_count"] == 2
    assert shown["production_deployment_id"] == production.id
    assert shown["development_deployment_id"] == dev.id


def test_model_json_without_deployments(store: Store, truss_dir: Path) -> None:
    model = push(store, truss_dir, publish=True).model

    shown = views.read(store, views.model_json, model)

    assert shown["production_deployment_id"] is None
    assert shown["development_deployment_id"] is None
    assert shown["deployments_count"] == 1


def test_environment_json(store: Store, hello: tuple[Model, Deployment, Deployment]) -> None:
    model, _, production = hello

    shown = views.read(store, views.environment_json, environment(store))

    assert set(shown) == ENVIRONMENT_KEYS
    assert shown["name"] == "production"
    assert shown["model_id"] == model.id
    assert shown["current_deployment"]["id"] == production.id
    assert set(shown["current_deployment"]) == DEPLOYMENT_KEYS
    assert shown["candidate_deployment"] is None
    assert set(shown["in_progress_promotion"]) == PROMOTION_KEYS
    assert shown["in_progress_promotion"]["status"] == "SUCCEEDED"
    assert set(shown["autoscaling_settings"]) == AUTOSCALING_KEYS
    assert shown["promotion_settings"] == {
        "rolling_deploy": False,
        "rolling_deploy_config": {
            "rolling_deploy_strategy": "REPLICA",
            "max_surge_percent": 10,
            "max_unavailable_percent": 0,
            "stabilization_time_seconds": 0,
            "replica_overhead_percent": 0,
        },
        "promotion_cleanup_strategy": "SCALE_TO_ZERO",
        "automatic_rollback": {
            "enabled": False,
            "max_error_rate_percent": 5,
            "min_requests": 50,
            "max_p99_latency_ratio": None,
        },
    }


def test_environment_json_before_any_promotion(store: Store, truss_dir: Path) -> None:
    push(store, truss_dir)

    shown = views.read(store, views.environment_json, environment(store))

    assert set(shown) == ENVIRONMENT_KEYS
    assert shown["current_deployment"] is None
    assert shown["candidate_deployment"] is None
    assert shown["in_progress_promotion"] is None


@pytest.mark.parametrize("rolling", [True, False], ids=["rolling", "waiting"])
def test_environment_json_during_a_promotion(
    store: Store, hello: tuple[Model, Deployment, Deployment], rolling: bool
) -> None:
    """A rolling promotion, or a non-rolling one waiting for its new candidate to start."""
    _, _, production = hello
    if rolling:
        enable_rolling(store)
    candidate = promote(store, "development").deployment

    shown = views.read(store, views.environment_json, environment(store))

    assert shown["current_deployment"]["id"] == production.id
    assert shown["candidate_deployment"]["id"] == candidate.id
    assert set(shown["candidate_deployment"]) == DEPLOYMENT_KEYS
    assert shown["candidate_deployment"]["is_production"] is False
    assert shown["candidate_deployment"]["environment"] is None
    assert shown["current_deployment"]["is_production"] is True
    assert shown["in_progress_promotion"] == {
        "status": "RELEASING",
        "percent_traffic_to_new_version": 0,
        "error_message": None,
        "rolling_deploy": rolling,
        "pending_action": None,
    }


def copies(store: Store, template: Deployment, count: int) -> None:
    """`count` more models, each with a deployment like `template` (one transaction)."""
    with store.transaction() as tx:
        for number in range(count):
            model = tx.insert_model(f"copy-{number}")
            tx.insert_deployment(replace(template, id=new_id(), model_id=model.id))


def statements(store: Store, read: Callable[[Tx], object]) -> int:
    """How many SQL statements `read` runs."""
    ran: list[str] = []
    with store.read() as tx:
        tx.conn.set_trace_callback(ran.append)
        try:
            read(tx)
        finally:
            tx.conn.set_trace_callback(None)
    return len(ran)


@pytest.mark.parametrize(
    "read",
    [
        pytest.param(lambda tx: views.models_json(tx, tx.models()), id="models"),
        pytest.param(lambda tx: views.deployments_json(tx, tx.deployments()), id="deployments"),
        pytest.param(StoreView.read, id="metrics"),
    ],
)
def test_listing_reads_as_many_rows_in_as_many_queries_at_any_size(
    store: Store, hello: tuple[Model, Deployment, Deployment], read: Callable[[Tx], object]
) -> None:
    _, _, production = hello
    small = statements(store, read)
    copies(store, production, 20)
    assert statements(store, read) == small

"""Helpers for the service tests: a pushed model in a few shapes, and direct state edits.

State the services cannot reach by themselves (a failed build, a deployment that came
up, a promotion that ended) is set with a store transaction, the way the server's
controller would set it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from brace.services import deployments, environments
from brace.services import promotion_steps as promotions
from brace.services.push import push
from brace.store import (
    Deployment,
    DeploymentStatus,
    Environment,
    Model,
    Promotion,
    PromotionStatus,
    Store,
    Tx,
)
from tests.conftest import MakeTruss, come_up


@pytest.fixture
def truss_dir(make_truss: MakeTruss) -> Path:
    """A Truss directory for the model `hello`."""
    return make_truss("hello")


@pytest.fixture
def production(store: Store, truss_dir: Path) -> Deployment:
    """`hello` pushed with --promote and up: deployment-1 is production's current deployment."""
    return become_active(store, push(store, truss_dir, promote=True).deployment.id)


def _model(tx: Tx, name: str) -> Model:
    model = tx.model_by_name(name)
    assert model is not None, f"no model {name!r}"
    return model


def the_model(store: Store, name: str = "hello") -> Model:
    with store.read() as tx:
        return _model(tx, name)


def deployment(store: Store, deployment_id: str) -> Deployment:
    with store.read() as tx:
        found = tx.deployment(deployment_id)
    assert found is not None
    return found


def deployment_names(store: Store, model_name: str = "hello") -> list[str]:
    with store.read() as tx:
        return [d.name for d in tx.deployments(_model(tx, model_name).id)]


def environment(store: Store, name: str = "production", model_name: str = "hello") -> Environment:
    with store.read() as tx:
        found = tx.environment(_model(tx, model_name).id, name)
    assert found is not None
    return found


def latest_promotion(
    store: Store, name: str = "production", model_name: str = "hello"
) -> Promotion | None:
    with store.read() as tx:
        return tx.latest_promotion(_model(tx, model_name).id, name)


def set_status(store: Store, deployment_id: str, status: DeploymentStatus) -> Deployment:
    with store.transaction() as tx:
        found = tx.deployment(deployment_id)
        assert found is not None
        return tx.update_deployment(found, status=status)


def become_active(store: Store, deployment_id: str) -> Deployment:
    """The deployment comes up (see `tests.conftest.come_up`): ACTIVE, and production's
    (or another environment's) if a non-rolling promotion was waiting for it."""
    with store.transaction() as tx:
        found = tx.deployment(deployment_id)
        assert found is not None
        return come_up(tx, found)


def end_promotion(
    store: Store, promotion: Promotion, status: PromotionStatus, message: str | None = None
) -> Promotion:
    """The controller ends `promotion` without switching (FAILED or CANCELED)."""
    with store.transaction() as tx:
        return promotions.end_promotion(tx, promotion, status, message)


def enable_rolling(store: Store, name: str = "production", model_ref: str | None = None) -> None:
    environments.update(store, name, model_ref, promotion_settings={"rolling_deploy": True})


@pytest.fixture
def published(store: Store, truss_dir: Path) -> Deployment:
    """A published deployment with its own autoscaling, not promoted anywhere."""
    created = push(store, truss_dir, publish=True).deployment
    deployments.set_autoscaling(store, created.id, {"min_replica": 1, "max_replica": 3})
    return set_status(store, created.id, DeploymentStatus.ACTIVE)

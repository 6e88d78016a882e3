"""Environments: production (always there) and the ones users add, such as staging.

An environment's autoscaling settings are those of its current deployment; updating
them updates that deployment, and an environment without one keeps them for the first
deployment promoted from development. Promotion settings belong to the environment;
a promotion in progress keeps the settings it started with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from brace.errors import RefusedError
from brace.services.deployments import repaired
from brace.services.lookup import PRODUCTION, find_environment, find_model, model_name
from brace.services.names import check_environment_name
from brace.services.promote import check_no_promotion
from brace.store import AutoscalingSettings, Environment, PromotionSettings, Store, Tx
from brace.store.settings import update_autoscaling, update_promotion_settings


def create(
    store: Store,
    name: str,
    model_ref: str | None = None,
    *,
    autoscaling: Mapping[str, Any] | None = None,
    promotion_settings: Mapping[str, Any] | None = None,
) -> Environment:
    check_environment_name(name)
    autoscaling_settings = update_autoscaling(AutoscalingSettings(), autoscaling or {})
    settings = update_promotion_settings(PromotionSettings(), promotion_settings or {})
    with store.transaction() as tx:
        model = find_model(tx, model_ref)
        if tx.environment(model.id, name) is not None:
            raise RefusedError(
                f"model {model.name!r} already has an environment {name!r}",
                code="ENVIRONMENT_EXISTS",
                facts={"model": model.name, "environment": name},
            )
        return tx.insert_environment(
            Environment(
                model_id=model.id,
                name=name,
                created_at=tx.now(),
                autoscaling=autoscaling_settings,
                promotion_settings=settings,
            )
        )


def update(
    store: Store,
    name: str,
    model_ref: str | None = None,
    *,
    autoscaling: Mapping[str, Any] | None = None,
    promotion_settings: Mapping[str, Any] | None = None,
) -> tuple[Environment, bool]:
    """Apply partial settings; also says whether anything changed."""
    with store.transaction() as tx:
        environment = find_environment(tx, find_model(tx, model_ref), name)
        current_id = environment.current_deployment_id
        current = tx.deployment(current_id) if current_id else None
        base = current.autoscaling if current else environment.autoscaling
        new_autoscaling = update_autoscaling(base, autoscaling or {})
        new_settings = update_promotion_settings(
            environment.promotion_settings, promotion_settings or {}
        )
        changed = (
            new_autoscaling != base
            or new_settings != environment.promotion_settings
            or environment.settings_error is not None
        )
        if current is not None and (
            new_autoscaling != current.autoscaling or current.settings_error is not None
        ):
            tx.update_deployment(current, **repaired(current, new_autoscaling))
        environment = tx.update_environment(
            environment, autoscaling=new_autoscaling, promotion_settings=new_settings
        )
        return environment, changed


def _deletable(tx: Tx, name: str, model_ref: str | None) -> Environment:
    environment = find_environment(tx, find_model(tx, model_ref), name)
    if environment.name == PRODUCTION:
        raise RefusedError(
            "the production environment cannot be deleted",
            code="DELETE_PRODUCTION",
            facts={"model": model_name(tx, environment.model_id)},
        )
    check_no_promotion(tx, environment)
    return environment


def find_deletable(store: Store, name: str, model_ref: str | None = None) -> Environment:
    """The environment `delete` would delete, or the error it would raise (reads only)."""
    with store.read() as tx:
        return _deletable(tx, name, model_ref)


def delete(store: Store, name: str, model_ref: str | None = None) -> Environment:
    with store.transaction() as tx:
        environment = _deletable(tx, name, model_ref)
        tx.delete_environment(environment)
        return environment

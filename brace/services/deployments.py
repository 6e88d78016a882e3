"""Lifecycle of one deployment: activate, deactivate, delete, rename, autoscaling.

Baseten's rules, enforced here for the CLI and the API alike: any active deployment may
be deactivated (production included); only an inactive one may be activated; an
environment's current deployment, or one a promotion is moving, cannot be deleted; the
development deployment cannot be renamed and keeps min 0 / max 1 replicas.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from brace.errors import RefusedError
from brace.services.lookup import find_deployment, model_name
from brace.services.names import check_deployment_name
from brace.services.promote import check_unique_name
from brace.services.snapshots import discard, retire_unused
from brace.store import AutoscalingSettings, Deployment, DeploymentStatus, Store, Tx
from brace.store.settings import update_autoscaling


def _describe(deployment: Deployment) -> str:
    return f"deployment {deployment.name} ({deployment.id})"


def _refuse_if_in_promotion(tx: Tx, deployment: Deployment) -> None:
    """RefusedError (IN_PROMOTION) when an in-progress promotion involves `deployment`."""
    for promotion in tx.active_promotions(deployment.model_id):
        if deployment.id in (promotion.candidate_id, promotion.previous_id):
            raise RefusedError(
                f"{_describe(deployment)} is part of the promotion in progress in "
                f"{promotion.environment}",
                code="IN_PROMOTION",
                facts={
                    "model": model_name(tx, deployment.model_id),
                    "environment": promotion.environment,
                },
            )


def activate(store: Store, ref: str, model_ref: str | None = None) -> Deployment:
    with store.transaction() as tx:
        deployment = find_deployment(tx, ref, model_ref)
        if not deployment.status.inactive:
            raise RefusedError(
                f"{_describe(deployment)} is {deployment.status.value}, not inactive",
                "Only a deactivated deployment can be activated.",
            )
        return tx.update_deployment(deployment, status=DeploymentStatus.DEPLOYING)


def deactivate(store: Store, ref: str, model_ref: str | None = None) -> Deployment:
    with store.transaction() as tx:
        deployment = find_deployment(tx, ref, model_ref)
        if deployment.status.inactive:
            raise RefusedError(f"{_describe(deployment)} is already {deployment.status.value}")
        _refuse_if_in_promotion(tx, deployment)
        return tx.update_deployment(
            deployment, status=DeploymentStatus.INACTIVE, active_replica_count=0
        )


def check_deletable(tx: Tx, deployment: Deployment) -> None:
    """Raise RefusedError if Baseten's rules forbid deleting `deployment` now."""
    for environment in tx.environments(deployment.model_id):
        if environment.current_deployment_id == deployment.id:
            raise RefusedError(
                f"{_describe(deployment)} is {environment.name}'s current deployment "
                "and cannot be deleted",
                code="CURRENT_DEPLOYMENT",
                facts={
                    "model": model_name(tx, deployment.model_id),
                    "environment": environment.name,
                },
            )
    _refuse_if_in_promotion(tx, deployment)


def find_deletable(store: Store, ref: str, model_ref: str | None = None) -> Deployment:
    """The deployment `delete` would delete, or the error it would raise (reads only)."""
    with store.read() as tx:
        deployment = find_deployment(tx, ref, model_ref)
        check_deletable(tx, deployment)
        return deployment


def delete(store: Store, ref: str, model_ref: str | None = None) -> Deployment:
    with store.transaction() as tx:
        deployment = find_deployment(tx, ref, model_ref)
        check_deletable(tx, deployment)
        tx.delete_deployment(deployment.id)
        retired = retire_unused(store.home, tx.snapshots_in_use())
    discard(retired)
    return deployment


def rename(store: Store, ref: str, new_name: str, model_ref: str | None = None) -> Deployment:
    with store.transaction() as tx:
        deployment = find_deployment(tx, ref, model_ref)
        if deployment.is_development:
            raise RefusedError(
                "the development deployment is always named 'development' and cannot be renamed",
                code="RENAME_DEVELOPMENT",
            )
        check_deployment_name(new_name)
        if new_name == deployment.name:
            return deployment
        model = tx.model(deployment.model_id)
        assert model is not None
        check_unique_name(tx, model, new_name)
        return tx.update_deployment(deployment, name=new_name)


def set_autoscaling(
    store: Store, ref: str, changes: Mapping[str, Any], model_ref: str | None = None
) -> tuple[Deployment, bool]:
    """Apply a partial autoscaling update; also says whether anything changed."""
    with store.transaction() as tx:
        deployment = find_deployment(tx, ref, model_ref)
        settings = update_autoscaling(
            deployment.autoscaling, changes, development=deployment.is_development
        )
        if settings == deployment.autoscaling and deployment.settings_error is None:
            return deployment, False
        return tx.update_deployment(deployment, **repaired(deployment, settings)), True


def repaired(deployment: Deployment, settings: AutoscalingSettings) -> dict[str, Any]:
    """The columns that set `settings`; a deployment that failed because its stored
    settings could not be used (brace.store.stored) runs again with them."""
    if deployment.settings_error is not None and deployment.status.failed:
        return {"autoscaling": settings, "status": DeploymentStatus.DEPLOYING}
    return {"autoscaling": settings}

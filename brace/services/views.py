"""The management API's JSON shapes (Baseten's ModelV1, DeploymentV1, EnvironmentV1...).

The CLI's `-o json` prints exactly these, so a script can move between `brace` and
Baseten's API without translating.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from brace.services.lookup import PRODUCTION
from brace.store import Deployment, Environment, Model, Promotion, Store, Tx

INSTANCE_TYPE = "local"
T = TypeVar("T")


def _environment_of(tx: Tx, deployment: Deployment) -> str | None:
    names = [
        e.name
        for e in tx.environments(deployment.model_id)
        if e.current_deployment_id == deployment.id
    ]
    return names[0] if names else None


def deployment_json(
    tx: Tx, deployment: Deployment, environments: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`environments`: deployment id -> the environment it serves, read beforehand for
    many deployments (`serving_environments`); else read here."""
    if environments is None:
        environment = _environment_of(tx, deployment)
    else:
        environment = environments.get(deployment.id)
    return {
        "id": deployment.id,
        "created_at": deployment.created_at,
        "name": deployment.name,
        "model_id": deployment.model_id,
        "is_production": environment == PRODUCTION,
        "is_development": deployment.is_development,
        "status": deployment.status.value,
        "active_replica_count": deployment.active_replica_count,
        "autoscaling_settings": deployment.autoscaling.to_json(),
        "instance_type_name": INSTANCE_TYPE,
        "environment": environment,
        "labels": None,
    }


def deployments_json(tx: Tx, deployments: list[Deployment]) -> dict[str, Any]:
    """Baseten's deployment list; the environments read in one query, whatever the
    number of deployments."""
    environments = serving_environments(tx)
    return {"deployments": [deployment_json(tx, d, environments) for d in deployments]}


def serving_environments(tx: Tx) -> dict[str, str]:
    """Deployment id -> the environment it serves (its model's production first)."""
    serving: dict[str, str] = {}
    for environment in tx.all_environments():
        if environment.current_deployment_id is not None:
            serving.setdefault(environment.current_deployment_id, environment.name)
    return serving


def model_json(tx: Tx, model: Model) -> dict[str, Any]:
    [found] = models_json(tx, [model])
    return found


def models_json(tx: Tx, models: list[Model]) -> list[dict[str, Any]]:
    """Baseten's ModelV1 of each of `models`, in three queries whatever their number."""
    counts = tx.deployment_counts()
    production = {
        e.model_id: e.current_deployment_id for e in tx.all_environments() if e.name == PRODUCTION
    }
    return [
        {
            "id": model.id,
            "created_at": model.created_at,
            "name": model.name,
            "deployments_count": counts.get(model.id, (0, None))[0],
            "production_deployment_id": production.get(model.id),
            "development_deployment_id": counts.get(model.id, (0, None))[1],
            "instance_type_name": INSTANCE_TYPE,
            "team_name": "local",
        }
        for model in models
    ]


def promotion_json(promotion: Promotion) -> dict[str, Any]:
    """Baseten's `in_progress_promotion`, and (brace's addition) `pending_action`: an
    action recorded and not applied yet (PAUSE, RESUME, CANCEL wait for the end of
    the current step; FORCE_* are applied at the controller's next pass), else null.
    A promotion still RAMPING_UP after a cancel was accepted says CANCEL here."""
    pending = promotion.requested_action if not promotion.status.finished else None
    return {
        "status": promotion.status.value,
        "percent_traffic_to_new_version": promotion.percent_traffic,
        "error_message": promotion.error_message,
        "rolling_deploy": promotion.rolling,
        "pending_action": pending.value if pending is not None else None,
    }


def instance_type_json() -> dict[str, Any]:
    """This machine, described as Baseten describes an instance type."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // (1024 * 1024)
    return {
        "id": INSTANCE_TYPE,
        "name": INSTANCE_TYPE,
        "memory_limit_mib": memory,
        "millicpu_limit": (os.cpu_count() or 1) * 1000,
        "gpu_count": 0,
        "gpu_type": None,
        "gpu_memory_limit_mib": None,
    }


def environment_json(tx: Tx, environment: Environment) -> dict[str, Any]:
    current = environment.current_deployment_id
    current_deployment = tx.deployment(current) if current else None
    promotion = tx.latest_promotion(environment.model_id, environment.name)
    candidate = None
    if promotion is not None and not promotion.status.finished:
        candidate = tx.deployment(promotion.candidate_id)
    autoscaling = current_deployment.autoscaling if current_deployment else environment.autoscaling
    return {
        "name": environment.name,
        "created_at": environment.created_at,
        "model_id": environment.model_id,
        "current_deployment": deployment_json(tx, current_deployment)
        if current_deployment
        else None,
        "candidate_deployment": deployment_json(tx, candidate) if candidate else None,
        "in_progress_promotion": promotion_json(promotion) if promotion else None,
        "autoscaling_settings": autoscaling.to_json(),
        "promotion_settings": environment.promotion_settings.to_json(),
        "instance_type": instance_type_json(),
    }


def read(store: Store, view: Callable[..., T], *args: Any) -> T:
    """Run a view in its own read transaction."""
    with store.read() as tx:
        return view(tx, *args)


def running_deployments(tx: Tx) -> list[dict[str, Any]]:
    """`brace status`'s row of each deployment that is neither failed nor inactive."""
    names = {m.id: m.name for m in tx.models()}
    return [
        {
            "model": names.get(d.model_id, d.model_id),
            "deployment": d.name,
            "id": d.id,
            "status": d.status.value,
            "active_replica_count": d.active_replica_count,
            "recommended_replicas": d.recommended_replicas,
        }
        for d in tx.deployments()
        if not (d.status.failed or d.status.inactive)
    ]

"""The store's desired state as one tick reads it, and the environment each deployment
is in: plain data for the controller's decisions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from brace.store import Deployment, Environment, Model, Promotion, Tx
from brace.store.db import stamp


@dataclass(frozen=True)
class Desired:
    """The store's desired state, read in one snapshot at the start of a tick."""

    models: list[Model]
    deployments: list[Deployment]
    environments: list[Environment]
    promotions: list[Promotion]

    @classmethod
    def read(cls, tx: Tx) -> Desired:
        models = tx.models()
        return cls(
            models,
            tx.deployments(),
            tx.all_environments(),
            tx.active_promotions(),
        )


def environments_of(desired: Desired) -> dict[str, str | None]:
    """The environment each deployment is in (deployment id -> name): the one it serves
    (production first), else the one it is being promoted to (its model is built for
    it, as on Baseten); None for the rest."""
    environments: dict[str, str | None] = dict.fromkeys(d.id for d in desired.deployments)
    for promotion in desired.promotions:
        environments[promotion.candidate_id] = promotion.environment
    for environment in reversed(desired.environments):  # production is listed first
        if environment.current_deployment_id is not None:
            environments[environment.current_deployment_id] = environment.name
    return environments


def kept_awake(now: datetime) -> Callable[[Deployment], bool]:
    """Whether a deployment is kept awake at `now` (UTC) by a lease such as `brace
    watch`'s (`awake_until`)."""
    at = stamp(now)
    return lambda deployment: (deployment.awake_until or "") > at

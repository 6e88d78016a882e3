"""Which deployment an inference call reaches, decided before the call is made.

`brace predict` (and anything else that calls a model) names a model and at most one
of: an environment, a deployment, the development deployment. With none, the call goes
to production when the model has a production deployment, else to its development
deployment (`InferenceTarget.implicit`, so the caller can say which). The target carries the
gateway path (Baseten's, with the model's id) and the deployment expected to answer,
so a caller can refuse a failed or inactive one up front and point at its log.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from urllib.parse import quote

from brace.errors import NotFoundError
from brace.services.lookup import (
    DEVELOPMENT,
    PRODUCTION,
    development_deployment,
    find_deployment,
    find_environment,
    find_model,
)
from brace.store import Deployment, Model, Tx


class InferenceKind(Enum):
    ENVIRONMENT = "environment"
    DEPLOYMENT = "deployment"
    DEVELOPMENT = "development"


@dataclass(frozen=True)
class InferenceTarget:
    model: Model
    kind: InferenceKind
    path: str  # the gateway path to POST to
    deployment: Deployment  # the deployment expected to answer
    environment: str | None = None
    implicit: bool = False  # chosen by the rule above, not named by the caller

    def describe(self) -> str:
        """`production (deployment-1) of model hello`, `deployment v2 of model hello`."""
        name = self.deployment.name
        if self.kind is InferenceKind.ENVIRONMENT:
            return f"{self.environment} ({name}) of model {self.model.name}"
        if self.kind is InferenceKind.DEVELOPMENT:
            return f"the development deployment of model {self.model.name}"
        return f"deployment {name} of model {self.model.name}"


def _environment_target(tx: Tx, model: Model, name: str, implicit: bool = False) -> InferenceTarget:
    environment = find_environment(tx, model, name)
    current = environment.current_deployment_id
    deployment = tx.deployment(current) if current else None
    if deployment is None:
        promotion = tx.latest_promotion(model.id, name)
        if promotion is not None and not promotion.status.finished:
            candidate = tx.deployment(promotion.candidate_id)
            being = candidate.name if candidate else promotion.candidate_id
            raise NotFoundError(
                f"environment {name} of model {model.name} has no deployment yet: {being} is "
                f"being promoted ({promotion.status.value})",
                code="ENVIRONMENT_PENDING",
                facts={"model": model.name, "environment": name},
            )
        raise NotFoundError(
            f"environment {name} of model {model.name} has no deployment",
            code="NO_ENVIRONMENT_DEPLOYMENT",
            facts={"model": model.name, "environment": name},
        )
    path = f"/model/{model.id}/environments/{quote(name, safe='')}/predict"
    if name == PRODUCTION:
        path = f"/model/{model.id}/production/predict"
    return InferenceTarget(model, InferenceKind.ENVIRONMENT, path, deployment, name, implicit)


def _development_target(tx: Tx, model: Model, implicit: bool = False) -> InferenceTarget:
    deployment = development_deployment(tx, model)
    if deployment is None:
        raise NotFoundError(
            f"model {model.name} has no development deployment",
            code="NO_DEVELOPMENT",
            facts={"model": model.name},
        )
    path = f"/model/{model.id}/development/predict"
    return InferenceTarget(model, InferenceKind.DEVELOPMENT, path, deployment, implicit=implicit)


def find_target(
    tx: Tx,
    model_ref: str | None,
    *,
    environment: str | None = None,
    deployment: str | None = None,
    development: bool = False,
) -> InferenceTarget:
    """The target of a call; at most one of `environment`, `deployment`, `development`."""
    model = find_model(tx, model_ref)
    if deployment is not None:
        if deployment == DEVELOPMENT:
            return _development_target(tx, model)
        if deployment == PRODUCTION:
            return _environment_target(tx, model, PRODUCTION)
        found = find_deployment(tx, deployment, model.id)
        path = f"/model/{model.id}/deployment/{found.id}/predict"
        return InferenceTarget(model, InferenceKind.DEPLOYMENT, path, found)
    if development:
        return _development_target(tx, model)
    if environment is not None:
        return _environment_target(tx, model, environment)
    production = tx.environment(model.id, PRODUCTION)
    has_production = production is not None and production.current_deployment_id is not None
    if not has_production and development_deployment(tx, model) is not None:
        return _development_target(tx, model, implicit=True)
    return _environment_target(tx, model, PRODUCTION, implicit=True)

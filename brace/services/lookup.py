"""Finding models, deployments and environments by what users type.

Models are named by name or id. Deployments by id or name; `development` and
`production` name those deployments of a model. When no model is given and the
reference is ambiguous, the error lists the choices.

A `FolderModel` is a model reference the user did not type: the `model_name` of the
config.yaml in the folder a command runs in (`brace push` reads it, and `truss predict`
uses it). It is used wherever a model is needed, as -m would be, except that a
deployment id finds its deployment whichever model it belongs to.
"""

from __future__ import annotations

from brace.errors import NotFoundError, UsageError
from brace.store import Deployment, Environment, Model, Tx
from brace.store.records import DEVELOPMENT, PRODUCTION

__all__ = [
    "DEVELOPMENT",
    "PRODUCTION",
    "FolderModel",
    "find_deployment",
    "find_environment",
    "find_model",
]


class FolderModel(str):
    """A model name taken from the current folder's config.yaml, not given by the user."""

    __slots__ = ()


def find_model(tx: Tx, ref: str | None) -> Model:
    """The model named or identified by `ref`; the only model when `ref` is None."""
    if ref is not None:
        model = tx.model_by_name(ref) or tx.model(ref)
        if model is None:
            where = " (the model of ./config.yaml)" if isinstance(ref, FolderModel) else ""
            raise NotFoundError(
                f"no model named {ref!r}{where}",
                code="MODEL_NOT_FOUND",
                facts={"models": _names(tx.models())},
            )
        return model
    models = tx.models()
    if not models:
        raise NotFoundError("there are no models yet", code="NO_MODELS")
    if len(models) > 1:
        raise UsageError(
            "there are several models; say which one",
            code="MODEL_AMBIGUOUS",
            facts={"models": _names(models)},
        )
    return models[0]


def model_name(tx: Tx, model_id: str) -> str:
    """The model's name (its id if it is gone), for a refusal's facts."""
    model = tx.model(model_id)
    return model.name if model is not None else model_id


def _names(models: list[Model]) -> str:
    return ", ".join(m.name for m in models)


def find_environment(tx: Tx, model: Model, name: str) -> Environment:
    environment = tx.environment(model.id, name)
    if environment is None:
        names = ", ".join(e.name for e in tx.environments(model.id))
        raise NotFoundError(
            f"model {model.name!r} has no environment {name!r}",
            code="ENVIRONMENT_NOT_FOUND",
            facts={"model": model.name, "environment": name, "environments": names},
        )
    return environment


def development_deployment(tx: Tx, model: Model) -> Deployment | None:
    return next((d for d in tx.deployments(model.id) if d.is_development), None)


def find_deployment(tx: Tx, ref: str, model_ref: str | None = None) -> Deployment:
    """A deployment by id, by name within the model, or `development` / `production`."""
    if ref in (DEVELOPMENT, PRODUCTION):
        return _special_deployment(tx, find_model(tx, model_ref), ref)
    if isinstance(model_ref, FolderModel):
        # An id names its deployment wherever the command runs; a name is the folder
        # model's, as with -m (a destructive command never reaches another model's).
        by_id = tx.deployment(ref)
        if by_id is not None:
            return by_id
    model = find_model(tx, model_ref) if model_ref is not None else None
    deployment = tx.deployment(ref)
    if deployment is not None and (model is None or deployment.model_id == model.id):
        return deployment
    named = [d for d in tx.deployments_named(ref) if model is None or d.model_id == model.id]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        owners = [owner for d in named if (owner := tx.model(d.model_id)) is not None]
        raise UsageError(
            f"several models have a deployment named {ref!r}",
            code="DEPLOYMENT_AMBIGUOUS",
            facts={"models": _names(owners)},
        )
    where = f" in model {model.name!r}" if model else ""
    raise NotFoundError(f"no deployment {ref!r}{where}", code="DEPLOYMENT_NOT_FOUND")


def _special_deployment(tx: Tx, model: Model, ref: str) -> Deployment:
    if ref == DEVELOPMENT:
        deployment = development_deployment(tx, model)
        if deployment is None:
            raise NotFoundError(
                f"model {model.name!r} has no development deployment",
                code="NO_DEVELOPMENT",
                facts={"model": model.name},
            )
        return deployment
    environment = find_environment(tx, model, PRODUCTION)
    current = environment.current_deployment_id
    deployment = tx.deployment(current) if current else None
    promotion = tx.latest_promotion(model.id, PRODUCTION)
    if deployment is None and promotion is not None and not promotion.status.finished:
        raise NotFoundError(
            f"model {model.name!r} has no production deployment yet: deployment "
            f"{promotion.candidate_id} is being promoted ({promotion.status.value})",
            code="PRODUCTION_PENDING",
            facts={"model": model.name, "environment": PRODUCTION},
        )
    if deployment is None:
        raise NotFoundError(
            f"model {model.name!r} has no production deployment",
            code="NO_PRODUCTION",
            facts={"model": model.name},
        )
    return deployment

"""Finding models, deployments and environments by what users type.

Models are named by name or id. Deployments by id or name; `development` and
`production` name those deployments of a model. When no model is given and the
reference is ambiguous, the error lists the choices.
"""

from __future__ import annotations

from brace.errors import NotFoundError, UsageError
from brace.store import Deployment, Environment, Model, Tx
from brace.store.records import DEVELOPMENT, PRODUCTION

__all__ = ["DEVELOPMENT", "PRODUCTION", "find_deployment", "find_environment", "find_model"]


def find_model(tx: Tx, ref: str | None) -> Model:
    """The model named or identified by `ref`; the only model when `ref` is None."""
    if ref is not None:
        model = tx.model_by_name(ref) or tx.model(ref)
        if model is None:
            raise NotFoundError(f"no model named {ref!r}", _model_hint(tx))
        return model
    models = tx.models()
    if not models:
        raise NotFoundError("there are no models yet", "Push one with `brace push DIR`.")
    if len(models) > 1:
        raise UsageError(
            "there are several models; say which one",
            f"Pass -m MODEL, one of: {', '.join(m.name for m in models)}.",
        )
    return models[0]


def _model_hint(tx: Tx) -> str:
    names = [m.name for m in tx.models()]
    if not names:
        return "There are no models yet; push one with `brace push DIR`."
    return f"Models: {', '.join(names)}."


def find_environment(tx: Tx, model: Model, name: str) -> Environment:
    environment = tx.environment(model.id, name)
    if environment is None:
        names = ", ".join(e.name for e in tx.environments(model.id))
        raise NotFoundError(
            f"model {model.name!r} has no environment {name!r}",
            f"Environments: {names}. Create one with `brace environments create {name}`.",
        )
    return environment


def development_deployment(tx: Tx, model: Model) -> Deployment | None:
    return next((d for d in tx.deployments(model.id) if d.is_development), None)


def find_deployment(tx: Tx, ref: str, model_ref: str | None = None) -> Deployment:
    """A deployment by id, by name within the model, or `development` / `production`."""
    if ref in (DEVELOPMENT, PRODUCTION):
        return _special_deployment(tx, find_model(tx, model_ref), ref)
    model = find_model(tx, model_ref) if model_ref is not None else None
    deployment = tx.deployment(ref)
    if deployment is not None and (model is None or deployment.model_id == model.id):
        return deployment
    named = [d for d in tx.deployments_named(ref) if model is None or d.model_id == model.id]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        owners = [tx.model(d.model_id) for d in named]
        raise UsageError(
            f"several models have a deployment named {ref!r}",
            f"Pass -m MODEL, one of: {', '.join(m.name for m in owners if m)}.",
        )
    where = f" in model {model.name!r}" if model else ""
    raise NotFoundError(
        f"no deployment {ref!r}{where}",
        "List them with `brace deployments list`.",
    )


def _special_deployment(tx: Tx, model: Model, ref: str) -> Deployment:
    if ref == DEVELOPMENT:
        deployment = development_deployment(tx, model)
        if deployment is None:
            raise NotFoundError(
                f"model {model.name!r} has no development deployment",
                "Create it with `brace push DIR`.",
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
            "It becomes production once it is ACTIVE; follow it with `brace rollout status`.",
        )
    if deployment is None:
        raise NotFoundError(
            f"model {model.name!r} has no production deployment",
            "Promote one with `brace promote DEPLOYMENT` or `brace push --promote`.",
        )
    return deployment

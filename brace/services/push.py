"""`brace push`: create or update the development deployment, or publish a new one.

Without flags, push points the model's development deployment at the user's live
directory (creating the model, with its production environment, on first push). With
`--publish` it snapshots the directory into a new published deployment; `--promote`
or `--environment E` also promotes that deployment to production or E.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from brace.config import Notice, Truss, load_truss
from brace.errors import ConfigError, UsageError
from brace.services.lookup import (
    DEVELOPMENT,
    PRODUCTION,
    development_deployment,
    find_environment,
)
from brace.services.names import check_model_name
from brace.services.promote import (
    check_no_promotion,
    create_published,
    inherited_autoscaling,
    initial_status,
    start_promotion,
)
from brace.services.snapshots import new_snapshot
from brace.store import (
    DEVELOPMENT_AUTOSCALING,
    AutoscalingSettings,
    Deployment,
    Environment,
    Model,
    Promotion,
    PromotionSettings,
    Store,
    Tx,
)
from brace.store.db import new_id


@dataclass(frozen=True)
class PushResult:
    model: Model
    deployment: Deployment
    promotion: Promotion | None = None
    model_created: bool = False
    notices: tuple[Notice, ...] = field(default=())


def push(
    store: Store,
    directory: Path | str,
    *,
    model_name: str | None = None,
    publish: bool = False,
    promote: bool = False,
    environment: str | None = None,
    deployment_name: str | None = None,
) -> PushResult:
    if promote and environment not in (None, PRODUCTION):
        raise UsageError(
            f"promote is to production; environment {environment!r} names another one",
            code="PROMOTE_AND_ENVIRONMENT",
        )
    target = environment or (PRODUCTION if promote else None)
    published = publish or target is not None
    if deployment_name is not None and not published:
        raise UsageError(
            "a deployment name names a published deployment; the development deployment "
            "is always named 'development'",
            code="NAMED_DEVELOPMENT",
        )
    truss = load_truss(directory)
    chosen = model_name or truss.config.model_name
    if not chosen:
        raise ConfigError(f"{truss.config_file}: no model_name", code="NO_MODEL_NAME")
    name = check_model_name(chosen)
    with new_snapshot(store, truss if published else None) as snapshot, store.transaction() as tx:
        model = tx.model_by_name(name)
        created = model is None
        if model is None:
            model = create_model(tx, name)
        if snapshot is None:
            return PushResult(
                model, push_development(tx, model, truss), None, created, truss.notices
            )
        environment_record = find_environment(tx, model, target) if target else None
        if environment_record is not None:
            check_no_promotion(tx, environment_record)
            autoscaling = inherited_autoscaling(tx, environment_record)
        else:
            autoscaling = AutoscalingSettings()
        deployment = create_published(
            tx, store.home, model, truss, snapshot, autoscaling, deployment_name
        )
        promotion = None
        if environment_record is not None:
            promotion = start_promotion(tx, environment_record, deployment)
        return PushResult(model, deployment, promotion, created, truss.notices)


def create_model(tx: Tx, name: str) -> Model:
    """A new model with its production environment (which always exists)."""
    model = tx.insert_model(name)
    tx.insert_environment(
        Environment(
            model_id=model.id,
            name=PRODUCTION,
            created_at=model.created_at,
            autoscaling=AutoscalingSettings(),
            promotion_settings=PromotionSettings(),
        )
    )
    return model


def push_development(tx: Tx, model: Model, truss: Truss) -> Deployment:
    """Create the development deployment, or point it at new code (a new revision)."""
    existing = development_deployment(tx, model)
    if existing is None:
        return tx.insert_deployment(
            Deployment(
                id=new_id(),
                model_id=model.id,
                name=DEVELOPMENT,
                is_development=True,
                status=initial_status(truss),
                autoscaling=DEVELOPMENT_AUTOSCALING,
                created_at=tx.now(),
                source_dir=str(truss.path),
            )
        )
    changes: dict[str, object] = {
        "source_dir": str(truss.path),
        "revision": existing.revision + 1,
    }
    if existing.status.failed or existing.status.inactive:
        changes["status"] = initial_status(truss)
    return tx.update_deployment(existing, **changes)

"""Promotion: making a deployment an environment's current deployment.

Promoting the development deployment publishes its live code as a new deployment (new
id and name, the autoscaling settings of the environment's current deployment) and
promotes that; the development deployment is left as it was. A published deployment
is promoted as itself, keeping its id and settings; an inactive or failed one is
refused. One promotion per environment at a time.

A promotion is recorded as RELEASING with the environment's settings frozen at the
start. The server's controller switches the environment to a non-rolling one's
candidate once it is ACTIVE (or scaled to zero, and it stays so); a candidate that
fails to start fails the promotion and the environment keeps its deployment. A
rolling one is driven step by step by the controller. Those per-tick updates are
`promotion_steps`; this module is the user's promote.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from brace.config import Truss, load_truss
from brace.errors import RefusedError
from brace.services.lookup import PRODUCTION, find_deployment, find_environment, model_name
from brace.services.names import check_deployment_name
from brace.services.snapshots import new_snapshot, snapshot_path, take_snapshot
from brace.store import (
    AutoscalingSettings,
    Deployment,
    DeploymentStatus,
    Environment,
    Model,
    Promotion,
    PromotionStatus,
    Store,
    Tx,
)
from brace.store.db import new_id


@dataclass(frozen=True)
class AutoscalingChange:
    """What a promotion will do to capacity: a published candidate keeps its own
    autoscaling settings (Baseten's rule), and these differ from those of the
    deployment it replaces. Said before it happens, so nobody finds a production
    pinned at 2/2 replaced by one at 0-1 from its throughput."""

    previous: Deployment  # the environment's current deployment
    candidate: Deployment

    @property
    def fields(self) -> dict[str, tuple[int, int]]:
        """Each differing setting: (previous's value, candidate's value)."""
        before, after = asdict(self.previous.autoscaling), asdict(self.candidate.autoscaling)
        return {name: (before[name], after[name]) for name in before if before[name] != after[name]}

    def to_json(self) -> dict[str, Any]:
        """The `autoscaling_settings_change` field of the promote answer (brace's)."""
        return {
            "previous_deployment_id": self.previous.id,
            "previous_autoscaling_settings": self.previous.autoscaling.to_json(),
            "autoscaling_settings": self.candidate.autoscaling.to_json(),
            "differing_settings": list(self.fields),
        }


def autoscaling_change(
    previous: Deployment | None, candidate: Deployment
) -> AutoscalingChange | None:
    """The change of autoscaling settings promoting `candidate` over `previous` brings,
    or None when there is none (no previous deployment, the same one, same settings)."""
    if previous is None or previous.id == candidate.id:
        return None
    if previous.autoscaling == candidate.autoscaling:
        return None
    return AutoscalingChange(previous=previous, candidate=candidate)


@dataclass(frozen=True)
class PromoteResult:
    deployment: Deployment
    promotion: Promotion
    environment: Environment
    # Set when the candidate keeps settings that differ from the current deployment's.
    autoscaling_change: AutoscalingChange | None = None


def promote(
    store: Store, ref: str, *, model_ref: str | None = None, environment: str = PRODUCTION
) -> PromoteResult:
    with store.read() as tx:
        source = find_deployment(tx, ref, model_ref)
    truss = None
    if source.is_development:
        assert source.source_dir is not None
        truss = load_truss(source.source_dir)
    # The live code is copied before the write lock is taken: it may be large.
    with new_snapshot(store, truss) as snapshot, store.transaction() as tx:
        source = find_deployment(tx, source.id)
        model = tx.model(source.model_id)
        assert model is not None
        target = find_environment(tx, model, environment)
        check_no_promotion(tx, target)
        check_settings_usable(target)
        check_can_run(source)
        if source.is_development:
            assert truss is not None and snapshot is not None
            candidate = create_published(
                tx, store.home, model, truss, snapshot, inherited_autoscaling(tx, target)
            )
        else:
            check_promotable(target, source)
            candidate = source
        current = target.current_deployment_id
        change = autoscaling_change(tx.deployment(current) if current else None, candidate)
        promotion = start_promotion(tx, target, candidate)
        target = find_environment(tx, model, environment)
        return PromoteResult(
            deployment=candidate, promotion=promotion, environment=target, autoscaling_change=change
        )


def check_settings_usable(environment: Environment) -> None:
    """Refuse to promote into an environment whose stored settings cannot be used
    (brace.store.stored): the promotion would run on settings no one chose."""
    if environment.settings_error is not None:
        raise RefusedError(
            f"environment {environment.name!r}: {environment.settings_error}",
            "Set the environment's settings again: that replaces them.",
            code="SETTINGS_UNUSABLE",
            facts={"environment": environment.name},
        )


def check_no_promotion(tx: Tx, environment: Environment) -> None:
    promotion = tx.latest_promotion(environment.model_id, environment.name)
    if promotion is not None and not promotion.status.finished:
        raise RefusedError(
            f"a promotion to {environment.name} is already in progress "
            f"({promotion.status.value}, deployment {promotion.candidate_id})",
            code="PROMOTION_IN_PROGRESS",
            facts={"model": model_name(tx, environment.model_id), "environment": environment.name},
        )


def check_promotable(environment: Environment, deployment: Deployment) -> None:
    if environment.current_deployment_id == deployment.id:
        raise RefusedError(
            f"deployment {deployment.name} ({deployment.id}) is already "
            f"{environment.name}'s current deployment"
        )


def check_can_run(deployment: Deployment) -> None:
    """Only an active deployment can be promoted (Baseten: "any active deployment")."""
    if deployment.status.inactive:
        raise RefusedError(
            f"deployment {deployment.name} ({deployment.id}) is {deployment.status.value} "
            "and cannot be promoted",
            code="DEPLOYMENT_INACTIVE",
            facts={"deployment": deployment.id},
        )
    if deployment.status.failed:
        raise RefusedError(
            f"deployment {deployment.name} ({deployment.id}) is {deployment.status.value} "
            "and cannot be promoted",
            "Fix the model and push again.",
            code="DEPLOYMENT_FAILED",
            facts={"deployment": deployment.id},
        )


def inherited_autoscaling(tx: Tx, environment: Environment) -> AutoscalingSettings:
    """Settings for a deployment created to be promoted: those of the one it replaces."""
    current = environment.current_deployment_id
    deployment = tx.deployment(current) if current else None
    return deployment.autoscaling if deployment else environment.autoscaling


def create_published(
    tx: Tx,
    home: Path,
    model: Model,
    truss: Truss,
    snapshot: str,
    autoscaling: AutoscalingSettings,
    name: str | None = None,
) -> Deployment:
    """A new published deployment of `snapshot` (taken again if it was collected)."""
    if name is None:
        taken = {d.name for d in tx.deployments(model.id)}
        name = f"deployment-{tx.next_deployment_number(model.id)}"
        while name in taken:
            name = f"deployment-{tx.next_deployment_number(model.id)}"
    else:
        check_unique_name(tx, model, check_deployment_name(name))
    if not snapshot_path(home, snapshot).is_dir():
        snapshot = take_snapshot(home, truss)
    return tx.insert_deployment(
        Deployment(
            id=new_id(),
            model_id=model.id,
            name=name,
            is_development=False,
            status=initial_status(truss),
            autoscaling=autoscaling,
            created_at=tx.now(),
            snapshot=snapshot,
        )
    )


def check_unique_name(tx: Tx, model: Model, name: str) -> None:
    if any(d.name == name for d in tx.deployments(model.id)):
        raise RefusedError(
            f"model {model.name!r} already has a deployment named {name!r}",
            "Choose another name.",
        )


def initial_status(truss: Truss) -> DeploymentStatus:
    """BUILDING when an environment has to be built for requirements, else DEPLOYING."""
    return DeploymentStatus.BUILDING if truss.requirements() else DeploymentStatus.DEPLOYING


def start_promotion(tx: Tx, environment: Environment, candidate: Deployment) -> Promotion:
    previous = environment.current_deployment_id
    settings = environment.promotion_settings
    rolling = settings.rolling_deploy and previous is not None
    values = {
        "model_id": environment.model_id,
        "environment": environment.name,
        "candidate_id": candidate.id,
        "previous_id": previous,
        "rolling": rolling,
        "settings": settings,
    }
    # Even a candidate that is already up is switched to by the server's controller, in
    # the same step that hands the gateway its new routes: once a client sees SUCCEEDED,
    # the gateway already routes to the candidate.
    return tx.insert_promotion(**values, status=PromotionStatus.RELEASING, percent_traffic=0)

"""How many replicas of which revision each deployment should run: one pure decision.

Three sources decide it, in this order:
- the store's desired state: a stopped deployment (deactivated, failed) runs none;
- the rollout plans of promotions in progress: a rolling deployment's planner sets the
  exact count of both sides of an environment while it moves traffic;
- the autoscaler's recommendations (already within `min_replica` and `max_replica`,
  but for a sleeping deployment, which it leaves at 0), capped at `max_replica`.
A deployment none of the last two has an opinion on runs `max(1, min_replica)`
replicas (at most `max_replica`).

While a new revision replaces an old one (a push to the development deployment, an
environment change), the old revision's ready replicas keep serving until the new one
has all its replicas ready; a revision the controller gave up on leaves the previous
one serving, as Kubernetes keeps a Deployment's old ReplicaSet when a rollout stalls.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from brace.server.control.observed import stopped
from brace.store.records import Deployment

NO_OPINION: Mapping[str, int] = {}
"""No rollout plan, or no recommendation, for any deployment."""


@dataclass(frozen=True)
class Observed:
    """What runs now for one deployment (the controller's replicas, counted)."""

    ready_current: int = 0
    """Ready replicas of the deployment's current revision."""
    ready_previous: int = 0
    """Ready replicas of older revisions."""
    gave_up: bool = False
    """The restart policy gave up on the current revision (or it could not be built)."""


@dataclass(frozen=True)
class ReplicaTarget:
    revision: int
    replicas: int
    """Replicas of `revision` to run."""
    previous: int = 0
    """Ready replicas of older revisions to keep serving meanwhile (the rest stop)."""


def replica_targets(
    deployments: Iterable[Deployment],
    observed: Mapping[str, Observed],
    plans: Mapping[str, int] = NO_OPINION,
    recommendations: Mapping[str, int] = NO_OPINION,
) -> dict[str, ReplicaTarget]:
    """Every deployment's target, by deployment id.

    `plans` and `recommendations` map deployment ids to replica counts; a deployment
    missing from both gets the default above.
    """
    targets = {}
    for deployment in deployments:
        seen = observed.get(deployment.id, Observed())
        wanted = _wanted(deployment, plans, recommendations)
        if seen.gave_up:
            keep = seen.ready_previous if wanted else 0
            targets[deployment.id] = ReplicaTarget(deployment.revision, 0, keep)
        else:
            keep = seen.ready_previous if seen.ready_current < wanted else 0
            targets[deployment.id] = ReplicaTarget(deployment.revision, wanted, keep)
    return targets


def _wanted(
    deployment: Deployment, plans: Mapping[str, int], recommendations: Mapping[str, int]
) -> int:
    if stopped(deployment.status):
        return 0
    if deployment.id in plans:
        return max(0, plans[deployment.id])
    settings = deployment.autoscaling
    recommended = recommendations.get(deployment.id)
    if recommended is None:
        recommended = max(1, settings.min_replica)
    return max(0, min(recommended, settings.max_replica))

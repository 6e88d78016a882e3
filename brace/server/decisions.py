"""Pure decisions of the controller: how many replicas, and what status to report.

Scale to zero and demand-based sizing come with the autoscaler; until then a
deployment that may serve runs `max(1, min_replica)` replicas (at most `max_replica`).
"""

from __future__ import annotations

from dataclasses import dataclass

from brace.store.records import Deployment
from brace.store.statuses import DeploymentStatus as S

# Statuses the controller leaves alone: set by users (deactivate) or by giving up.
_STOPPED = frozenset({S.INACTIVE, S.DEACTIVATING, S.BUILD_FAILED, S.DEPLOY_FAILED, S.FAILED})


def stopped(status: S) -> bool:
    """Deactivated or given up on: the controller runs no replica for it."""
    return status in _STOPPED


def desired_replicas(deployment: Deployment) -> int:
    if stopped(deployment.status):
        return 0
    settings = deployment.autoscaling
    return min(max(1, settings.min_replica), settings.max_replica)


@dataclass(frozen=True)
class ReplicaCounts:
    ready: int = 0  # answering predict, current revision
    ready_old: int = 0  # answering predict, an older revision (being replaced)
    loading: int = 0  # process up, load() running
    starting: int = 0  # process spawned, not listening yet


def observed_status(current: S, counts: ReplicaCounts, building: bool) -> S:
    """The status to report for a deployment that should be running."""
    if current in _STOPPED:
        return S.INACTIVE if current is S.DEACTIVATING else current
    if building:
        return S.BUILDING
    if counts.ready:
        return S.ACTIVE
    if counts.ready_old:
        return S.UPDATING
    if counts.loading:
        return S.LOADING_MODEL
    return S.DEPLOYING

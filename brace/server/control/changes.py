"""Which replicas to start and which to drain, to meet a deployment's replica target:
a pure decision over the replicas as they are (`replicas.Replica`), which the
controller carries out."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass

from brace.server.control.observed import stopped
from brace.server.control.replicas import Replica, ReplicaState, removal_order
from brace.server.control.targets import ReplicaTarget
from brace.store.records import Deployment

_OUT_OF_SERVICE = (ReplicaState.DRAINING, ReplicaState.STOPPING)


@dataclass(frozen=True)
class ReplicaChanges:
    drain: tuple[Replica, ...] = ()
    """Replicas to drain, in this order."""
    missing: int = 0
    """Replicas of the current revision to start (0: none)."""


def replica_changes(
    deployment: Deployment, target: ReplicaTarget, replicas: Sequence[Replica], gave_up: bool
) -> ReplicaChanges:
    """What to do with `deployment`'s replicas (given in the order they started) to meet
    `target`. Ready replicas of older revisions are kept up to `target.previous`; the
    others of older revisions drain. Surplus replicas of the current revision drain in
    `removal_order`, or all of them once the deployment is stopped or given up on
    (`gave_up`) and wants none."""
    mine = [r for r in replicas if r.state not in _OUT_OF_SERVICE]
    current = [r for r in mine if r.revision == deployment.revision]
    drain: list[Replica] = []
    kept = 0
    for replica in mine:
        if replica.revision == deployment.revision:
            continue
        if replica.state is ReplicaState.READY and kept < target.previous:
            kept += 1
        else:
            drain.append(replica)
    missing = target.replicas - len(current)
    if missing < 0:
        if target.replicas == 0 and (stopped(deployment.status) or gave_up):
            drain += current  # deactivated or failed: all of them, loading or not
        else:
            drain += removal_order(current)[:-missing]
    return ReplicaChanges(tuple(drain), max(missing, 0))


def strays(replicas: Iterable[Replica], deployment_ids: Collection[str]) -> list[Replica]:
    """Replicas of deployments that are no longer stored (deleted): they drain."""
    return [r for r in replicas if r.deployment_id not in deployment_ids]

"""What a tick writes about each deployment: its status, replica count, serving and
failed revisions and recommended replicas, from its replicas and its run (pure), and
the compare-and-set that writes it; and what a stopping server leaves in the store.

The status itself comes from `observed.observed_status`; this module adds what a run
given up on reports, and which revision serves.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from brace.server.control.observed import ReplicaCounts, observed_status
from brace.server.control.replicas import Replica, ReplicaState
from brace.server.control.runs import GaveUp, Preparing, RunState
from brace.store import Deployment, DeploymentStatus, Tx

# Statuses of deployments that served, left as SCALED_TO_ZERO when the server stops:
# nothing runs, and the next server starts what their settings ask for.
_ASLEEP_WHEN_STOPPED = frozenset(
    {
        DeploymentStatus.ACTIVE,
        DeploymentStatus.UPDATING,
        DeploymentStatus.WAKING_UP,
        DeploymentStatus.SCALED_TO_ZERO,
    }
)


@dataclass(frozen=True)
class Report:
    """What a tick writes about one deployment (compare-and-set on status and revision)."""

    deployment: Deployment
    status: DeploymentStatus
    count: int
    serving_revision: int
    failed_revision: int
    recommended: int

    def changes(self) -> bool:
        d = self.deployment
        return self.columns() != (
            d.status,
            d.active_replica_count,
            d.serving_revision,
            d.failed_revision,
            d.recommended_replicas,
        )

    def columns(self) -> tuple[DeploymentStatus, int, int, int, int]:
        return (
            self.status,
            self.count,
            self.serving_revision,
            self.failed_revision,
            self.recommended,
        )


def replica_counts(deployment: Deployment, replicas: Iterable[Replica]) -> ReplicaCounts:
    """`deployment`'s replicas (all of them, any revision) counted by state and revision."""
    current = ready_old = loading = starting = 0
    for replica in replicas:
        if replica.revision != deployment.revision:
            ready_old += replica.state is ReplicaState.READY
            continue
        current += replica.state is ReplicaState.READY
        loading += replica.state is ReplicaState.LOADING
        starting += replica.state is ReplicaState.STARTING
    return ReplicaCounts(current, ready_old, loading, starting)


def serving_revision(deployment: Deployment, replicas: Iterable[Replica]) -> int:
    """The newest revision with a ready replica (0: none is ready)."""
    ready = [r.revision for r in replicas if r.state is ReplicaState.READY]
    return max(ready, default=0)


def report_of(
    deployment: Deployment, state: RunState, replicas: Sequence[Replica], wanted: int
) -> Report:
    """The report of `deployment`, whose run is in `state`, whose replicas are
    `replicas` and whose target asks for `wanted` replicas. A side of a rolling
    promotion that its plan takes to 0 replicas (the outgoing deployment at the last
    step, the candidate at the end of a cancel) is SCALED_TO_ZERO like any deployment
    at 0, not DEPLOYING."""
    counts = replica_counts(deployment, replicas)
    if isinstance(state, GaveUp):
        # A failed new revision leaves the previous one serving, if there is one.
        status = DeploymentStatus.ACTIVE if counts.ready_old else state.status
    else:
        building = isinstance(state, Preparing) and state.building
        status = observed_status(deployment.status, counts, building, wanted)
    return Report(
        deployment,
        status,
        counts.ready + counts.ready_old,
        deployment.revision if counts.ready else serving_revision(deployment, replicas),
        deployment.revision if isinstance(state, GaveUp) else deployment.failed_revision,
        wanted,
    )


def compare_and_set(tx: Tx, report: Report) -> bool:
    """Write the report unless a user's deactivate or push came in between."""
    fresh = tx.deployment(report.deployment.id)
    if fresh is None or (fresh.status, fresh.revision) != (
        report.deployment.status,
        report.deployment.revision,
    ):
        return False
    status, count, serving, failed, recommended = report.columns()
    tx.update_deployment(
        fresh,
        status=status,
        active_replica_count=count,
        serving_revision=serving,
        failed_revision=failed,
        recommended_replicas=recommended,
    )
    return True


def leave_asleep(tx: Tx) -> None:
    """What a stopping server writes of every deployment: nothing runs, and the ones
    that served are SCALED_TO_ZERO (the next server starts what their settings ask)."""
    for deployment in tx.deployments():
        asleep = deployment.status in _ASLEEP_WHEN_STOPPED
        tx.update_deployment(
            deployment,
            status=DeploymentStatus.SCALED_TO_ZERO if asleep else deployment.status,
            active_replica_count=0,
            serving_revision=0,
        )

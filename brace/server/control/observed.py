"""The status a deployment reports, from what its replicas are doing: a pure decision.

Baseten's statuses (DESIGN.md, Concepts). The controller counts its replicas by state
and revision (`ReplicaCounts`) and writes what `observed_status` says, unless the
deployment is stopped (deactivated or given up on), which only users or the restart
policy change.
"""

from __future__ import annotations

from dataclasses import dataclass

from brace.store.statuses import DeploymentStatus as S


def stopped(status: S) -> bool:
    """Deactivated or given up on: the controller runs no replica for it, and leaves
    the status to users (activate) and the restart policy."""
    return status.failed or status.inactive


@dataclass(frozen=True)
class ReplicaCounts:
    ready: int = 0  # answering predict, current revision
    ready_old: int = 0  # answering predict, an older revision (being replaced)
    loading: int = 0  # process up, load() running
    starting: int = 0  # process spawned, not listening yet


def observed_status(current: S, counts: ReplicaCounts, building: bool, wanted: int) -> S:
    """The status to report for a deployment that the controller runs.

    `wanted`: the replicas its target asks for; 0 means it sleeps (scaled to zero).
    A deployment that was asleep and is starting again is WAKING_UP, as on Baseten.
    """
    if stopped(current):
        return S.INACTIVE if current is S.DEACTIVATING else current
    if building:
        return S.BUILDING
    if counts.ready:
        return S.ACTIVE
    if counts.ready_old:
        return S.UPDATING
    if wanted == 0:
        return S.SCALED_TO_ZERO
    if current in (S.SCALED_TO_ZERO, S.WAKING_UP):
        return S.WAKING_UP
    if counts.loading:
        return S.LOADING_MODEL
    return S.DEPLOYING

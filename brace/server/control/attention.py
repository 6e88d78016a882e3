"""Which deployments a tick decides for, and in which order their replicas start: pure.

A tick decides for the deployments something happened to (a store write named them, a
replica of theirs became ready or ended, demand came for them) and for the ones that
are not settled. A settled deployment wants no replica, has none, is not being read or
built, takes no part in a promotion and reports what the store already says: nothing
can change for it until something happens to it, so it costs no tick. The
controller's periodic full read decides again for every deployment whose rows it finds
changed (the safety net for a change whose signal was lost).

Replicas start at a bounded pace (`ControllerSettings.start_concurrency`); the
deployments that can serve soonest are first in line: those with requests held at the
gateway, then the ones serving an environment (production first), then those that
keep replicas (`min_replica` above 0), then the rest, oldest first.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass

from brace.store import Deployment
from brace.store.statuses import PRODUCTION


@dataclass(frozen=True)
class Seen:
    """One deployment after a tick's decisions."""

    replicas: int
    """Its replicas, in any state."""
    wanted: int
    """Replicas its target asks for."""
    preparing: bool
    """Its model directory is being read, or its environment built."""
    unreported: bool
    """Its report differs from the store (not written, or the write failed)."""
    promoted: bool
    """It takes part in a promotion in progress."""


def settled(seen: Seen) -> bool:
    """Whether nothing can change for the deployment until something happens to it."""
    return not (seen.replicas or seen.wanted or seen.preparing or seen.unreported or seen.promoted)


def start_order(
    deployments: Iterable[Deployment],
    environments: Mapping[str, str | None],
    held: Collection[str],
) -> list[Deployment]:
    """`deployments` (given oldest first) in the order their replicas start:
    `environments` maps deployment ids to the environment each is in, `held` names the
    deployments requests are held for."""

    def rank(deployment: Deployment) -> tuple[int, int, int]:
        environment = environments.get(deployment.id)
        return (
            deployment.id not in held,
            0 if environment == PRODUCTION else 1 if environment else 2,
            deployment.autoscaling.min_replica <= 0,
        )

    return sorted(deployments, key=rank)

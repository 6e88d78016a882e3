"""Ray's own record of what a replica asks for: a placement group per remote replica.

brace picks a replica's node (`placement`); the node's resources are then reserved in
Ray by a placement group of one bundle (the replica's `CPU`, `memory`, `GPU`, ...)
with STRICT_PACK and that node as its target, so other Ray work on the cluster sees
them taken, and a replica whose resources Ray cannot find is not started. Ray's
target is a hint: if Ray put the bundle on another node (the target filled up since),
the replica goes where its resources are. The group is removed when the replica ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from brace.server.backends.placement import Refusal


@dataclass(frozen=True)
class Reservation:
    """A placement group holding one replica's resources, and the node it is on."""

    group: Any
    node_id: str


def reserve(
    ray: Any, request: Mapping[str, float], node_id: str, timeout: float
) -> Reservation | Refusal:
    """Reserve `request` on node `node_id` (Ray may choose another); waits up to
    `timeout` seconds for Ray to hold it, else says why not."""
    from ray.util.placement_group import placement_group, placement_group_table

    bundle = {name: amount for name, amount in request.items() if amount > 0}
    if not bundle:
        return Reservation(None, node_id)
    group = placement_group([bundle], strategy="STRICT_PACK", _soft_target_node_id=node_id)
    try:
        ray.get(group.ready(), timeout=max(timeout, 0.1))
    except Exception:  # GetTimeoutError, or the group could never be placed
        release(Reservation(group, node_id))
        wanted = ", ".join(f"{k} {v:g}" for k, v in bundle.items())
        return Refusal(
            f"Ray could not reserve {wanted} on any node within {timeout:g} s "
            "(other Ray work may hold them)"
        )
    landed = placement_group_table(group).get("bundles_to_node_id", {}).get(0, node_id)
    return Reservation(group, str(landed))


def release(reservation: Reservation | None) -> None:
    """Give the reserved resources back to Ray (a group already gone is no error)."""
    if reservation is None or reservation.group is None:
        return
    from ray.util.placement_group import remove_placement_group

    with contextlib.suppress(Exception):
        remove_placement_group(reservation.group)

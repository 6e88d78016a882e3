"""Autoscaling during a rolling deployment: the replicas added on top of the plan's.

Baseten's page (shared/reference/baseten-rolling-deployments.md, "Autoscaling during
rolling deployments"): both deployments scale up on their combined demand, new
capacity is shared in proportion to the current traffic split (60/40 with 10 more
replicas of demand: 6 and 4), autoscaling only adds replicas until the rollout ends,
it keeps going while the rollout is PAUSED, and the combined count is capped at the
environment's `max_replica`. The planner (`brace.rollout.planner`) sets each step's
replica targets; `rollout_extras` says how many the autoscaler adds to each side.
"""

from __future__ import annotations

from brace.rollout.planner import round_half_up
from brace.store.progress import Extras


def rollout_extras(
    previous: int,
    candidate: int,
    percent: int,
    recommended: int,
    max_replica: int,
    held: Extras = Extras(),
) -> Extras:
    """The extra replicas of each deployment at this moment of a rollout.

    `previous`, `candidate`: the current step's replica targets. `percent`: the traffic
    to the candidate now (0-100). `recommended`: the replicas the combined demand of
    both deployments asks for (the autoscaler's sizing of their summed load).
    `max_replica`: the environment's cap on the combined count. `held`: the extras
    given so far in this rollout (none at its start).

    The extras make the combined count what demand asks for, never past `max_replica`
    (the plan's own replicas are never cut: when they alone reach the cap there is no
    room for extras). Falling demand removes nothing: the total never drops below what
    is held, unless the plan's own replicas took the room under the cap. Capacity added
    is split by the current traffic, the candidate's part rounded half up; each side
    keeps what it holds. When the room shrinks, extras are taken back towards the
    traffic split, never beyond what each side holds."""
    base = previous + candidate
    room = max(0, max_replica - base)
    wanted = max(0, recommended - base)
    total = min(room, max(wanted, held.total))
    if total >= held.total:
        added = total - held.total
        to_candidate = round_half_up(added * percent, 100)
        return Extras(held.previous + added - to_candidate, held.candidate + to_candidate)
    share = round_half_up(total * percent, 100)
    kept = min(held.candidate, max(share, total - held.previous))
    return Extras(total - kept, kept)

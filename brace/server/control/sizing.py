"""The autoscaler's sizing: how many replicas a deployment's demand asks for.

A pure function over numbers, after Baseten's autoscaling settings (DESIGN.md,
Autoscaling; Baseten's "Autoscaling" documentation):

    wanted = ceil(average in-flight requests over the window
                  / (concurrency_target x target_utilization_percentage / 100))

clamped to [min_replica, max_replica]. Scaling up happens at once. Scaling down happens
only once demand has stayed below the current count for `scale_down_delay` seconds,
and then removes at most `max_scale_down_rate` of the replicas (at least one) per step;
each step starts the delay anew, so 4 idle replicas go 4 -> 2 -> 1 -> 0, one delay
apart (Kubernetes' HPA limits a scale-down the same way, by a rate per period).

A deployment that sleeps (scaled to zero) stays at zero until demand arrives, whatever
its `min_replica`: that is how `promotion_cleanup_strategy` SCALE_TO_ZERO and a
promoted deployment that was scaled to zero stay so. Any demand wakes it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from brace.store.records import AutoscalingSettings

MAX_SCALE_DOWN_RATE = 0.5
"""Baseten's default: at most half of the replicas go in one scale-down step."""

_EPSILON = 1e-9


@dataclass(frozen=True)
class Sizing:
    replicas: int
    """The recommended replica count."""
    lower_since: float | None
    """Clock reading (seconds) since which demand has wanted fewer than `replicas`
    (None: it has not); carried into the next call."""


def wanted_by_demand(settings: AutoscalingSettings, average_in_flight: float) -> int:
    """Replicas the demand alone asks for, before clamping."""
    per_replica = settings.concurrency_target * settings.target_utilization_percentage / 100
    return max(0, math.ceil(average_in_flight / per_replica - _EPSILON))


def size(
    settings: AutoscalingSettings,
    samples: Sequence[float],
    current: int,
    lower_since: float | None,
    now: float,
    *,
    max_scale_down_rate: float = MAX_SCALE_DOWN_RATE,
) -> Sizing:
    """The next recommendation.

    `samples`: in-flight request counts sampled over the last `autoscaling_window`
    seconds (none: no demand). `current`: the count recommended last time (0 while
    asleep). `lower_since` and `now`: clock readings in seconds.
    """
    average = sum(samples) / len(samples) if samples else 0.0
    if current == 0 and average == 0:
        return Sizing(0, None)  # asleep, and nobody asks
    if current > settings.max_replica:
        return Sizing(settings.max_replica, None)  # the user lowered the maximum
    wanted = _clamp(settings, wanted_by_demand(settings, average))
    if wanted >= current:
        return Sizing(wanted, None)
    since = now if lower_since is None else lower_since
    if now - since < settings.scale_down_delay:
        return Sizing(current, since)
    step = max(1, math.floor(current * max_scale_down_rate))
    return Sizing(max(wanted, current - step), now if current - step > wanted else None)


def _clamp(settings: AutoscalingSettings, replicas: int) -> int:
    return min(max(replicas, settings.min_replica), settings.max_replica)

"""Request counters per deployment: what the gateway counts on its hot path.

The gateway calls `RequestCounters.record` once per finished request that was routed
to a deployment, with the response's status and how long the request took. Recording
only bumps plain ints in two dicts and a list (the duration's Prometheus bucket is found
with bisect, its latency-sketch bucket with one logarithm: `sketch.py`), so it costs
about half a microsecond on a small machine (the sketch adds about 0.2 us of it);
everything else happens when someone reads: `snapshot()` copies the counters,
`/metrics` (`metrics.py`) turns a snapshot into Prometheus families, and `stats.py`
compares two snapshots. `CounterHistory` keeps a snapshot every few seconds so that
"the last minute" can be answered.

Counters only grow, from zero at server start, as Prometheus counters do.
"""

from __future__ import annotations

import math
import time
from bisect import bisect_left
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from brace.server.metrics.sketch import MIN_SECONDS, MULTIPLIER

BOUNDS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)
"""Upper bounds (seconds, inclusive) of the request duration buckets; one more bucket,
+Inf, takes the rest. From a millisecond (a small model on this machine answers in well
under one) to the two minutes a request may wait for a deployment to wake."""

_ceil, _log = math.ceil, math.log

CLIENT_CLOSED = 499
"""The status recorded for a request whose client went away before any response (nginx's
convention)."""


class _Counts:
    """One deployment's live counters (mutated on the hot path only)."""

    __slots__ = ("buckets", "latency", "seconds", "statuses")

    def __init__(self) -> None:
        self.statuses: dict[int, int] = {}
        self.buckets = [0] * (len(BOUNDS) + 1)
        """Requests per duration bucket (not cumulative); the last one is +Inf."""
        self.seconds = 0.0
        self.latency: dict[int, int] = {}
        """Requests per latency-sketch bucket (`sketch.bucket`)."""


@dataclass(frozen=True)
class Counts:
    """A copy of one deployment's counters at one moment."""

    statuses: Mapping[int, int]
    """Finished requests by response status."""
    buckets: tuple[int, ...]
    """Finished requests by duration bucket (`BOUNDS`, then +Inf), not cumulative."""
    seconds: float
    """Sum of the durations."""
    latency: Mapping[int, int] = field(default_factory=dict)
    """Finished requests by latency-sketch bucket (`sketch.py`): quantiles within 1 %."""

    @property
    def requests(self) -> int:
        return sum(self.buckets)

    @property
    def errors(self) -> int:
        """Requests answered with a 5xx status."""
        return sum(n for status, n in self.statuses.items() if 500 <= status < 600)

    def to_json(self) -> dict[str, object]:
        return {
            "statuses": {str(s): n for s, n in sorted(self.statuses.items())},
            "buckets": list(self.buckets),
            "seconds": self.seconds,
            "latency": {str(i): n for i, n in sorted(self.latency.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, object]) -> Counts:
        statuses = data["statuses"]
        buckets = data["buckets"]
        seconds = data["seconds"]
        latency = data.get("latency", {})
        assert isinstance(statuses, dict) and isinstance(buckets, list)
        assert isinstance(seconds, int | float) and isinstance(latency, dict)
        return cls(
            {int(s): int(n) for s, n in statuses.items()},
            tuple(buckets),
            float(seconds),
            {int(i): int(n) for i, n in latency.items()},
        )


NO_COUNTS = Counts({}, (0,) * (len(BOUNDS) + 1), 0.0)


@dataclass(frozen=True)
class Snapshot:
    time: float
    """Clock reading (monotonic seconds) when it was taken."""
    deployments: Mapping[str, Counts]

    def of(self, deployment_id: str) -> Counts:
        return self.deployments.get(deployment_id, NO_COUNTS)


class RequestCounters:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self._counts: dict[str, _Counts] = {}

    def record(self, deployment_id: str, status: int, seconds: float) -> None:
        """One finished request (the hot path: keep it to a few dict and list bumps)."""
        counts = self._counts.get(deployment_id)
        if counts is None:
            counts = self._counts[deployment_id] = _Counts()
        statuses = counts.statuses
        statuses[status] = statuses.get(status, 0) + 1
        counts.buckets[bisect_left(BOUNDS, seconds)] += 1
        counts.seconds += seconds
        latency = counts.latency
        index = _ceil(_log(seconds if seconds > MIN_SECONDS else MIN_SECONDS) * MULTIPLIER)
        latency[index] = latency.get(index, 0) + 1

    def snapshot(self) -> Snapshot:
        """A copy of every deployment's counters. Call it on the gateway's event loop,
        where `record` runs, so that each copy is consistent."""
        return Snapshot(
            self.clock(),
            {
                deployment_id: Counts(
                    dict(c.statuses), tuple(c.buckets), c.seconds, dict(c.latency)
                )
                for deployment_id, c in self._counts.items()
            },
        )


HISTORY_INTERVAL = 5.0
"""Seconds between the snapshots `CounterHistory` keeps."""

HISTORY_SPAN = 600.0
"""Seconds of snapshots kept (the longest window a reader can ask about)."""


class CounterHistory:
    """Snapshots of the counters every `HISTORY_INTERVAL` seconds over `HISTORY_SPAN`,
    starting with an empty one at construction (the server's start: every counter 0)."""

    def __init__(self, counters: RequestCounters) -> None:
        self.counters = counters
        self._kept: deque[Snapshot] = deque([Snapshot(counters.clock(), {})])

    def record(self) -> Snapshot:
        """Keep a snapshot of now (and forget the ones older than the span)."""
        now = self.counters.snapshot()
        kept = self._kept
        kept.append(now)
        while len(kept) > 1 and kept[1].time <= now.time - HISTORY_SPAN:
            kept.popleft()
        return now

    def kept(self) -> tuple[Snapshot, ...]:
        """The snapshots kept, oldest first (a copy: call it on the event loop)."""
        return tuple(self._kept)

    def since(self, seconds: float, now: Snapshot) -> Snapshot:
        """The kept snapshot to compare `now` with for a window of `seconds`: the newest
        one at least that old, else the oldest (a server younger than the window)."""
        start = now.time - seconds
        chosen = self._kept[0]
        for snapshot in self._kept:
            if snapshot.time > start:
                break
            chosen = snapshot
        return chosen

"""Request statistics over a window, from two snapshots of a deployment's counters.

Pure functions over `counters.Counts`: request rate, error rate (the 5xx share) and
latency quantiles between a snapshot taken at the window's start and one at its end.
The quantiles come from the latency sketch (`sketch.py`), within 1 % of the true
ones, so that two deployments a few milliseconds apart read apart: `brace deployments
show`, `brace rollout status` (through `GET /brace/stats`) and the rollout's automatic
rollback (`max_p99_latency_ratio`) use them. `histogram_quantile` reads the
Prometheus histogram the way Prometheus does, for a counter set that has no sketch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from brace.server.gateway.counters import BOUNDS, Counts
from brace.server.metrics import sketch


@dataclass(frozen=True)
class WindowStats:
    seconds: float
    """The window's length: the time between the two snapshots."""
    requests: int
    errors: int
    """Requests answered with a 5xx status."""
    request_rate: float
    """Requests per second (0 for an empty window)."""
    error_rate: float | None
    """errors / requests; None when there was no request."""
    p50: float | None
    """Median duration in seconds; None when there was no request."""
    p99: float | None

    def to_json(self) -> dict[str, float | int | None]:
        return {
            "window_seconds": self.seconds,
            "requests": self.requests,
            "errors": self.errors,
            "request_rate": self.request_rate,
            "error_rate": self.error_rate,
            "p50_seconds": self.p50,
            "p99_seconds": self.p99,
        }


def window_stats(before: Counts, after: Counts, seconds: float) -> WindowStats:
    """What happened between `before` and `after`, taken `seconds` apart."""
    buckets = [a - b for a, b in zip(after.buckets, before.buckets, strict=True)]
    latency = sketch.difference(after.latency, before.latency)
    requests = sum(buckets)
    errors = after.errors - before.errors
    return WindowStats(
        seconds=seconds,
        requests=requests,
        errors=errors,
        request_rate=requests / seconds if seconds > 0 else 0.0,
        error_rate=errors / requests if requests else None,
        p50=_quantile(0.5, latency, buckets),
        p99=_quantile(0.99, latency, buckets),
    )


def _quantile(q: float, latency: sketch.Buckets, buckets: Sequence[int]) -> float | None:
    """From the sketch when it counted the window's requests (counters recorded by
    this server always have it), else from the histogram."""
    if sum(latency.values()) == sum(buckets):
        return sketch.quantile(q, latency)
    return histogram_quantile(q, BOUNDS, buckets)


def histogram_quantile(q: float, bounds: Sequence[float], counts: Sequence[int]) -> float | None:
    """The `q` quantile (0 to 1) of observations counted per bucket.

    `counts[i]` observations fell at or below `bounds[i]` and above `bounds[i - 1]`;
    `counts` has one more item than `bounds`, the +Inf bucket. As Prometheus does: the
    rank `q * total` is found in the cumulative counts and interpolated linearly within
    its bucket (from 0 for the first one); a rank in the +Inf bucket gives the highest
    finite bound. None when there is no observation."""
    if len(counts) != len(bounds) + 1:
        raise ValueError("counts needs one item per bound plus the +Inf bucket")
    total = sum(counts)
    if total == 0:
        return None
    if q <= 0:
        return 0.0 if bounds[0] > 0 else bounds[0]
    rank = min(q, 1.0) * total
    below = 0
    for i, bound in enumerate(bounds):
        count = counts[i]
        if below + count >= rank and count > 0:
            start = bounds[i - 1] if i > 0 else min(0.0, bound)
            return start + (bound - start) * (rank - below) / count
        below += count
    return bounds[-1]

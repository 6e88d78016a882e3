"""Latency quantiles with a bounded relative error: a log-bucket sketch.

The Prometheus histogram (`counters.BOUNDS`) has buckets from 1 ms to 2 min, a few per
decade: good for `/metrics` and Grafana, too coarse to compare two deployments (a
candidate at 12 ms and a previous deployment at 24 ms both read p99 25 ms). So the
gateway also counts each request in a bucket of a logarithmic mapping, DDSketch's
(Masson, Rim and Lee, "DDSketch: a fast and fully-mergeable quantile sketch with
relative-error guarantees", VLDB 2019): bucket `i` holds the durations `x` with
`GAMMA**(i - 1) < x <= GAMMA**i`, and is read back as `2 * GAMMA**i / (GAMMA + 1)`,
which is within `RELATIVE_ACCURACY` of every value in it. Any quantile read from the
buckets is therefore within 1 % of the true quantile of the recorded durations.

Counts only grow, like the other counters, so the counts of a window are the
difference of two snapshots (`difference`). Durations below `MIN_SECONDS` share the
lowest bucket (no network answer is that fast); there is no upper bound (a two-minute
wait takes bucket 240), and the sketch of a deployment holds one small int per bucket
in use (a few dozen in practice: 1 ms to 2 min is 929 buckets at most).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

RELATIVE_ACCURACY = 0.01
"""Largest relative error of a quantile read from the sketch (1 %)."""

GAMMA = (1 + RELATIVE_ACCURACY) / (1 - RELATIVE_ACCURACY)
MULTIPLIER = 1 / math.log(GAMMA)
"""`bucket(x) = ceil(log(x) * MULTIPLIER)`: written out on the gateway's hot path."""

MIN_SECONDS = 1e-6
"""Durations at or below a microsecond count in the same bucket as one microsecond."""

Buckets = Mapping[int, int]
"""Bucket index -> requests, not cumulative; missing buckets are 0."""


def bucket(seconds: float) -> int:
    """The bucket a duration (seconds) is counted in."""
    return math.ceil(math.log(max(seconds, MIN_SECONDS)) * MULTIPLIER)


def value(index: int) -> float:
    """The duration (seconds) bucket `index` stands for: within `RELATIVE_ACCURACY` of
    every duration counted in it."""
    return 2 * GAMMA**index / (GAMMA + 1)


def difference(after: Buckets, before: Buckets) -> dict[int, int]:
    """The counts recorded between two snapshots of the same sketch."""
    return {i: n - before.get(i, 0) for i, n in after.items() if n != before.get(i, 0)}


def quantile(q: float, buckets: Buckets) -> float | None:
    """The `q` quantile (0 to 1) of the durations counted, in seconds, with a relative
    error of at most `RELATIVE_ACCURACY`; None when nothing was counted.

    The nearest-rank quantile: the smallest of the `n` durations that at least `q * n`
    of them do not exceed (the largest for p99 of fewer than 100 requests)."""
    total = sum(buckets.values())
    if total <= 0:
        return None
    rank = max(1, math.ceil(min(max(q, 0.0), 1.0) * total))
    seen = 0
    for index in sorted(buckets):
        seen += buckets[index]
        if seen >= rank:
            return value(index)
    return value(max(buckets))

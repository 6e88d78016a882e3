"""The latency sketch: every quantile within its relative accuracy of the true one."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brace.server.gateway.counters import RequestCounters
from brace.server.metrics import sketch
from brace.server.metrics.sketch import RELATIVE_ACCURACY
from brace.server.metrics.stats import window_stats

durations = st.lists(
    st.floats(min_value=sketch.MIN_SECONDS, max_value=3600.0, allow_nan=False),
    min_size=1,
    max_size=300,
)
quantiles = st.floats(min_value=0.0, max_value=1.0)


def counted(values: list[float]) -> dict[int, int]:
    buckets: dict[int, int] = {}
    for value in values:
        index = sketch.bucket(value)
        buckets[index] = buckets.get(index, 0) + 1
    return buckets


def nearest_rank(q: float, values: list[float]) -> float:
    """The exact quantile the sketch estimates."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@given(durations, quantiles)
def test_every_quantile_is_within_the_relative_accuracy(values: list[float], q: float) -> None:
    estimate = sketch.quantile(q, counted(values))
    exact = nearest_rank(q, values)
    assert estimate is not None
    assert abs(estimate - exact) <= RELATIVE_ACCURACY * exact * (1 + 1e-9)


@given(st.floats(min_value=sketch.MIN_SECONDS, max_value=3600.0))
def test_a_bucket_stands_for_every_value_in_it(seconds: float) -> None:
    index = sketch.bucket(seconds)
    assert sketch.GAMMA ** (index - 1) < seconds * (1 + 1e-12)
    assert seconds <= sketch.GAMMA**index * (1 + 1e-12)
    assert abs(sketch.value(index) - seconds) <= RELATIVE_ACCURACY * seconds * (1 + 1e-9)


@given(durations, durations)
def test_a_window_is_the_difference_of_two_snapshots(first: list[float], then: list[float]) -> None:
    before, after = counted(first), counted(first + then)
    assert sketch.difference(after, before) == counted(then)


def test_nothing_counted_has_no_quantile() -> None:
    assert sketch.quantile(0.5, {}) is None


@pytest.mark.parametrize("slower", [1.1, 2.0])
def test_a_slower_candidate_reads_slower(slower: float) -> None:
    """12 ms and 24 ms fell in one Prometheus bucket (10-25 ms) and read the same p99,
    so automatic rollback's max_p99_latency_ratio could not see a twice slower
    candidate; the sketch tells them apart, by 10 % as well as by 100 %."""
    counters = RequestCounters(clock=lambda: 0.0)
    for _ in range(200):
        counters.record("previous", 200, 0.012)
        counters.record("candidate", 200, 0.012 * slower)
    empty = RequestCounters().snapshot()
    now = counters.snapshot()
    previous = window_stats(empty.of("previous"), now.of("previous"), 1.0)
    candidate = window_stats(empty.of("candidate"), now.of("candidate"), 1.0)
    assert previous.p99 is not None and candidate.p99 is not None
    assert candidate.p99 / previous.p99 == pytest.approx(slower, rel=2 * RELATIVE_ACCURACY)
    assert previous.p50 == pytest.approx(0.012, rel=RELATIVE_ACCURACY)


def test_automatic_rollback_sees_a_twice_slower_candidate() -> None:
    """The rollout's health over a step (rollouts.StepHealth) reads both sides' p99
    from the sketch: 24 ms against 12 ms is a ratio of 2, where the histogram read
    the same p99 for both."""
    from brace.rollout.rollback import Health
    from brace.server.control.rolling_promotions import StepHealth
    from brace.store.records import Promotion, PromotionSettings
    from brace.store.statuses import PromotionStatus

    now = [0.0]
    counters = RequestCounters(clock=lambda: now[0])
    promotion = Promotion(
        id=1,
        model_id="m",
        environment="production",
        candidate_id="candidate",
        previous_id="previous",
        rolling=True,
        status=PromotionStatus.RAMPING_UP,
        percent_traffic=50,
        settings=PromotionSettings(),
        created_at="",
        updated_at="",
        step_settled_at=100.0,
    )
    health = StepHealth(counters)
    assert health(promotion) is None  # the step's start is kept
    for _ in range(60):
        counters.record("previous", 200, 0.012)
        counters.record("candidate", 200, 0.024)
    now[0] = 5.0
    seen = health(promotion)
    assert isinstance(seen, Health) and seen.requests == 60
    assert seen.p99_seconds is not None and seen.previous_p99_seconds is not None
    assert seen.p99_seconds / seen.previous_p99_seconds == pytest.approx(2.0, rel=0.02)

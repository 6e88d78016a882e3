"""Request counters and the statistics computed between two of their snapshots."""

from __future__ import annotations

import math

import pytest

from brace.server.gateway.counters import (
    BOUNDS,
    HISTORY_SPAN,
    NO_COUNTS,
    CounterHistory,
    Counts,
    RequestCounters,
)
from brace.server.metrics.sketch import RELATIVE_ACCURACY
from brace.server.metrics.stats import histogram_quantile, window_stats

# -- histogram_quantile: the same answers as Prometheus' histogram_quantile ---------------

SMALL = (0.1, 0.5, 1.0)


@pytest.mark.parametrize(
    ("q", "counts", "expected"),
    [
        pytest.param(0.5, (0, 0, 0, 0), None, id="no-observation"),
        pytest.param(0.5, (10, 0, 0, 0), 0.05, id="first-bucket-from-zero"),
        pytest.param(0.99, (10, 0, 0, 0), 0.099, id="first-bucket-p99"),
        pytest.param(0.5, (0, 10, 0, 0), 0.3, id="second-bucket-middle"),
        pytest.param(0.5, (5, 5, 0, 0), 0.1, id="rank-on-a-bound"),
        pytest.param(0.75, (5, 5, 0, 0), 0.3, id="between-buckets"),
        pytest.param(0.5, (1, 0, 0, 1), 0.1, id="empty-buckets-skipped"),
        pytest.param(0.99, (1, 0, 0, 1), 1.0, id="rank-in-inf-gives-the-highest-bound"),
        pytest.param(0.9, (0, 0, 0, 3), 1.0, id="only-inf"),
        pytest.param(1.0, (2, 2, 0, 0), 0.5, id="max-is-the-bucket-top"),
        pytest.param(0.0, (2, 2, 0, 0), 0.0, id="zero"),
    ],
)
def test_histogram_quantile(q: float, counts: tuple[int, ...], expected: float | None) -> None:
    found = histogram_quantile(q, SMALL, counts)
    if expected is None:
        assert found is None
    else:
        assert found == pytest.approx(expected)


def test_histogram_quantile_needs_the_inf_bucket() -> None:
    with pytest.raises(ValueError, match="plus the \\+Inf bucket"):
        histogram_quantile(0.5, SMALL, (1, 2, 3))


# -- window_stats ------------------------------------------------------------------------


def counts(statuses: dict[int, int], durations: list[float]) -> Counts:
    recorder = RequestCounters(clock=lambda: 0.0)
    for seconds, status in zip(durations, _expand(statuses), strict=True):
        recorder.record("d", status, seconds)
    return recorder.snapshot().of("d")


def _expand(statuses: dict[int, int]) -> list[int]:
    return [status for status, n in sorted(statuses.items()) for _ in range(n)]


@pytest.mark.parametrize(
    ("before", "after", "seconds", "expected"),
    [
        pytest.param(
            NO_COUNTS,
            NO_COUNTS,
            60.0,
            (0, 0, 0.0, None, None, None),
            id="nothing",
        ),
        pytest.param(
            NO_COUNTS,
            counts({200: 7, 500: 3}, [0.004] * 10),
            10.0,
            (10, 3, 1.0, 0.3, 0.004, 0.004),
            id="all-in-one-bucket",
        ),
        pytest.param(
            counts({200: 4}, [0.004] * 4),
            counts({200: 4, 503: 2, 404: 2}, [0.004] * 4 + [2.0] * 4),
            4.0,
            (4, 2, 1.0, 0.5, 2.0, 2.0),
            id="only-what-happened-between",
        ),
        pytest.param(
            NO_COUNTS,
            counts({200: 3, 499: 1}, [0.0005, 0.0005, 0.0005, 500.0]),
            2.0,
            (4, 0, 2.0, 0.0, 0.0005, 500.0),
            id="499-is-no-error-and-slow-ones-are-not-capped",
        ),
    ],
)
def test_window_stats(
    before: Counts,
    after: Counts,
    seconds: float,
    expected: tuple[int, int, float, float | None, float | None, float | None],
) -> None:
    stats = window_stats(before, after, seconds)
    requests, errors, rate, error_rate, p50, p99 = expected
    assert (stats.requests, stats.errors, stats.seconds) == (requests, errors, seconds)
    assert stats.request_rate == pytest.approx(rate)
    for found, wanted in ((stats.error_rate, error_rate), (stats.p50, p50), (stats.p99, p99)):
        assert (found is None) == (wanted is None)
        if wanted is not None:
            # Quantiles come from the latency sketch: within its relative accuracy.
            assert found == pytest.approx(wanted, rel=RELATIVE_ACCURACY)


def test_an_empty_window_has_no_rate() -> None:
    assert window_stats(NO_COUNTS, NO_COUNTS, 0.0).request_rate == 0.0


# -- counters ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "bucket"),
    [
        pytest.param(0.0, 0, id="zero"),
        pytest.param(BOUNDS[0], 0, id="on-the-first-bound"),
        pytest.param(math.nextafter(BOUNDS[0], 1), 1, id="just-above-it"),
        pytest.param(0.3, BOUNDS.index(0.5), id="middle"),
        pytest.param(BOUNDS[-1], len(BOUNDS) - 1, id="on-the-last-bound"),
        pytest.param(BOUNDS[-1] + 1, len(BOUNDS), id="inf"),
    ],
)
def test_a_duration_lands_in_the_bucket_whose_bound_it_does_not_exceed(
    seconds: float, bucket: int
) -> None:
    recorder = RequestCounters()
    recorder.record("d", 200, seconds)
    buckets = recorder.snapshot().of("d").buckets
    assert buckets[bucket] == 1 and sum(buckets) == 1


def test_a_snapshot_is_a_copy() -> None:
    recorder = RequestCounters(clock=lambda: 5.0)
    recorder.record("d", 200, 0.01)
    before = recorder.snapshot()
    recorder.record("d", 500, 0.01)
    recorder.record("e", 200, 0.01)
    assert dict(before.of("d").statuses) == {200: 1}
    assert before.of("e") == NO_COUNTS
    assert recorder.snapshot().of("d").errors == 1


def test_counts_round_trip_through_json() -> None:
    recorded = counts({200: 2, 500: 1}, [0.001, 0.02, 3.0])
    assert Counts.from_json(recorded.to_json()) == recorded


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("age", "window", "start_age"),
    [
        pytest.param(100.0, 60.0, 60.0, id="a-snapshot-exactly-a-window-old"),
        pytest.param(100.0, 62.0, 65.0, id="else-the-newest-older-one"),
        pytest.param(30.0, 60.0, 30.0, id="a-server-younger-than-the-window"),
        pytest.param(100.0, 2.0, 5.0, id="shorter-than-the-interval"),
    ],
)
def test_history_picks_the_snapshot_a_window_back(
    age: float, window: float, start_age: float
) -> None:
    clock = Clock()
    history = CounterHistory(RequestCounters(clock))
    for _ in range(int(age / 5)):
        clock.now += 5
        history.record()
    now = history.counters.snapshot()
    assert now.time - history.since(window, now).time == start_age


def test_history_forgets_what_is_older_than_its_span() -> None:
    clock = Clock()
    history = CounterHistory(RequestCounters(clock))
    for _ in range(int(HISTORY_SPAN / 5) * 2):
        clock.now += 5
        history.record()
    now = history.counters.snapshot()
    assert now.time - history.since(HISTORY_SPAN * 2, now).time == HISTORY_SPAN

"""The autoscaler's sizing: table tests, and properties that hold for any input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brace.server.control.sizing import Sizing, size, wanted_by_demand
from brace.store.records import AutoscalingSettings

SETTINGS = AutoscalingSettings(
    min_replica=0,
    max_replica=4,
    autoscaling_window=10,
    scale_down_delay=30,
    concurrency_target=1,
    target_utilization_percentage=70,
)


@pytest.mark.parametrize(
    ("average", "concurrency", "utilization", "expected"),
    [
        pytest.param(0.0, 1, 70, 0, id="idle"),
        pytest.param(0.7, 1, 70, 1, id="exactly-one-replica-at-70-percent"),
        pytest.param(0.71, 1, 70, 2, id="just-above"),
        pytest.param(1.0, 1, 70, 2, id="one-request-wants-headroom"),
        pytest.param(1.0, 1, 100, 1, id="full-utilization"),
        pytest.param(7.0, 2, 50, 7, id="concurrency-two-at-half"),
        pytest.param(0.01, 4, 100, 1, id="any-demand-wants-one"),
    ],
)
def test_wanted_by_demand(
    average: float, concurrency: int, utilization: int, expected: int
) -> None:
    settings = AutoscalingSettings(
        concurrency_target=concurrency, target_utilization_percentage=utilization
    )
    assert wanted_by_demand(settings, average) == expected


@pytest.mark.parametrize(
    ("samples", "current", "lower_since", "now", "expected"),
    [
        pytest.param([], 0, None, 100.0, Sizing(0, None), id="asleep-stays-asleep"),
        pytest.param([1.0], 0, None, 100.0, Sizing(2, None), id="demand-wakes"),
        pytest.param([3.0, 2.0], 1, None, 100.0, Sizing(4, None), id="scales-up-at-once"),
        pytest.param([9.0], 1, None, 100.0, Sizing(4, None), id="capped-at-max"),
        pytest.param([0.7], 1, None, 100.0, Sizing(1, None), id="steady"),
        pytest.param([0.0], 1, None, 100.0, Sizing(1, 100.0), id="low-demand-starts-the-delay"),
        pytest.param([0.0], 1, 80.0, 100.0, Sizing(1, 80.0), id="delay-not-over"),
        pytest.param([0.0], 1, 70.0, 100.0, Sizing(0, None), id="delay-over-scales-to-zero"),
        pytest.param([0.0], 4, 70.0, 100.0, Sizing(2, 100.0), id="at-most-half-per-step"),
        pytest.param([0.0], 2, 70.0, 100.0, Sizing(1, 100.0), id="next-step-waits-again"),
        pytest.param([0.7], 3, 70.0, 100.0, Sizing(2, 100.0), id="down-towards-demand"),
        pytest.param([0.7], 2, 70.0, 100.0, Sizing(1, None), id="reaches-demand"),
        pytest.param([1.0], 2, 70.0, 100.0, Sizing(2, None), id="demand-back-resets-the-delay"),
        pytest.param([0.0], 6, None, 100.0, Sizing(4, None), id="max-lowered-applies-at-once"),
    ],
)
def test_size(
    samples: list[float], current: int, lower_since: float | None, now: float, expected: Sizing
) -> None:
    assert size(SETTINGS, samples, current, lower_since, now) == expected


def test_min_replica_holds_an_awake_deployment() -> None:
    settings = AutoscalingSettings(min_replica=2, max_replica=4, scale_down_delay=0)
    assert size(settings, [0.0], 3, 0.0, 100.0) == Sizing(2, None)
    assert size(settings, [0.0], 2, 0.0, 100.0) == Sizing(2, None)


settings_strategy = st.builds(
    lambda low, span, delay, target, utilization: AutoscalingSettings(
        min_replica=low,
        max_replica=low + span,
        scale_down_delay=delay,
        concurrency_target=target,
        target_utilization_percentage=utilization,
    ),
    st.integers(0, 5),
    st.integers(0, 10),
    st.integers(0, 100),
    st.integers(1, 8),
    st.integers(1, 100),
)
samples_strategy = st.lists(st.floats(0, 50, allow_nan=False), max_size=20)


@given(
    settings_strategy,
    samples_strategy,
    st.integers(0, 15),
    st.one_of(st.none(), st.floats(0, 1000)),
    st.floats(0, 1000),
)
def test_properties_of_one_step(
    settings: AutoscalingSettings,
    samples: list[float],
    current: int,
    lower_since: float | None,
    now: float,
) -> None:
    result = size(settings, samples, current, lower_since, now)
    awake = current > 0 or any(samples)
    if awake and current <= settings.max_replica:
        # Never outside [min, max] once awake.
        assert settings.min_replica <= result.replicas <= settings.max_replica
    if not awake:
        assert result.replicas == 0  # asleep stays asleep without demand
    if current <= settings.max_replica and result.replicas < current:
        # Never scales down before the delay, never by more than half (at least one).
        since = now if lower_since is None else lower_since
        assert now - since >= settings.scale_down_delay
        assert current - result.replicas <= max(1, current // 2)
    if result.replicas >= current:
        assert result.lower_since is None or result.replicas == current


@given(settings_strategy, st.lists(st.floats(0, 50, allow_nan=False), min_size=1, max_size=60))
def test_properties_over_time(settings: AutoscalingSettings, loads: list[float]) -> None:
    """Fed one sample a second: between two scale-downs at least the delay passes, and
    demand above the count scales up at once."""
    current, lower_since, last_down = max(1, settings.min_replica), None, None
    for second, load in enumerate(loads):
        now = float(second)
        result = size(settings, [load], current, lower_since, now)
        if result.replicas < current:
            if last_down is not None:
                assert now - last_down >= settings.scale_down_delay
            last_down = now
        wanted = min(
            max(wanted_by_demand(settings, load), settings.min_replica), settings.max_replica
        )
        if wanted > current:
            assert result.replicas == wanted
        current, lower_since = result.replicas, result.lower_since

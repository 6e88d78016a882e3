"""Autoscaling during a rollout: extra replicas on top of the step's, split by traffic."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brace.rollout.capacity import rollout_extras
from brace.store.progress import Extras


@pytest.mark.parametrize(
    ("previous", "candidate", "percent", "recommended", "max_replica", "held", "expected"),
    [
        pytest.param(3, 2, 40, 15, 20, Extras(), Extras(6, 4), id="baseten-60-40-ten-more"),
        pytest.param(3, 2, 40, 5, 20, Extras(), Extras(), id="demand-met-by-the-plan"),
        pytest.param(3, 2, 40, 3, 20, Extras(), Extras(), id="demand-below-the-plan"),
        pytest.param(3, 2, 40, 15, 9, Extras(), Extras(2, 2), id="capped-at-max-replica"),
        pytest.param(4, 1, 25, 15, 4, Extras(), Extras(), id="plan-alone-past-the-cap"),
        pytest.param(4, 0, 0, 8, 20, Extras(), Extras(4, 0), id="no-traffic-no-candidate-extras"),
        pytest.param(0, 4, 100, 8, 20, Extras(), Extras(0, 4), id="all-traffic-all-candidate"),
        pytest.param(2, 2, 50, 5, 20, Extras(), Extras(0, 1), id="half-rounds-up-to-candidate"),
        pytest.param(3, 2, 40, 6, 20, Extras(6, 4), Extras(6, 4), id="falling-demand-keeps"),
        pytest.param(3, 2, 80, 20, 20, Extras(6, 4), Extras(7, 8), id="more-demand-by-new-split"),
        pytest.param(
            3, 3, 50, 15, 14, Extras(6, 4), Extras(4, 4), id="plan-takes-room-trim-over-share"
        ),
        pytest.param(
            1, 5, 90, 15, 10, Extras(6, 0), Extras(4, 0), id="trim-only-what-a-side-holds"
        ),
    ],
)
def test_rollout_extras(
    previous: int,
    candidate: int,
    percent: int,
    recommended: int,
    max_replica: int,
    held: Extras,
    expected: Extras,
) -> None:
    assert rollout_extras(previous, candidate, percent, recommended, max_replica, held) == expected


counts = st.integers(0, 60)


@given(
    counts, counts, st.integers(0, 100), st.integers(0, 200), st.integers(1, 200), counts, counts
)
def test_rollout_extras_invariants(
    previous: int,
    candidate: int,
    percent: int,
    recommended: int,
    max_replica: int,
    held_previous: int,
    held_candidate: int,
) -> None:
    held = Extras(held_previous, held_candidate)
    extras = rollout_extras(previous, candidate, percent, recommended, max_replica, held)
    base = previous + candidate
    room = max(0, max_replica - base)
    assert extras.previous >= 0
    assert extras.candidate >= 0
    # the cap: the plan's replicas plus the extras stay within max_replica (or within
    # the plan's own count, which the cap never cuts)
    assert base + extras.total <= max(max_replica, base)
    # demand: what is asked for, as far as the cap allows, and never less than is held
    assert extras.total == min(room, max(recommended - base, held.total, 0))
    if extras.total >= held.total:
        # only adds; what is added follows the traffic split, rounded half up
        added_previous = extras.previous - held.previous
        added_candidate = extras.candidate - held.candidate
        assert added_previous >= 0
        assert added_candidate >= 0
        added = added_previous + added_candidate
        assert abs(200 * added_candidate - 2 * added * percent) <= 100
    else:
        # the cap took room back: nothing is added, no side loses more than it holds
        assert extras.previous <= held.previous
        assert extras.candidate <= held.candidate

"""The rolling deployment's step arithmetic: worked examples, then the invariants.

Steps are written as (kind, previous, candidate, percent, stabilization seconds) with
the kinds shortened: C+ C- P+ P- T.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from brace.rollout.planner import (
    Plan,
    RolloutMode,
    RolloutStep,
    StepKind,
    Wait,
    plan,
    ramp_down,
    round_half_up,
    traffic_after,
    traffic_step,
)
from brace.store.records import RollingDeployConfig

K = StepKind
SHORT = {
    K.CANDIDATE_UP: "C+",
    K.CANDIDATE_DOWN: "C-",
    K.PREVIOUS_UP: "P+",
    K.PREVIOUS_DOWN: "P-",
    K.TRAFFIC: "T",
}
Row = tuple[str, int, int, int, int]
T = TypeVar("T")


def surge(pct: int, overhead: int = 0, stabilization: int = 0) -> RollingDeployConfig:
    return RollingDeployConfig(pct, 0, stabilization, overhead)


def unavailable(pct: int, overhead: int = 0, stabilization: int = 0) -> RollingDeployConfig:
    return RollingDeployConfig(0, pct, stabilization, overhead)


def flat(*cycles: list[T]) -> list[T]:
    return [row for cycle in cycles for row in cycle]


def rows(steps: Sequence[RolloutStep]) -> list[Row]:
    return [
        (SHORT[s.kind], s.previous, s.candidate, s.percent, s.stabilization_seconds) for s in steps
    ]


def boundaries(p: Plan) -> list[tuple[int, int, int]]:
    """(previous, candidate, percent) at the end of each ramp-up cycle."""
    ends = {s.cycle: (s.previous, s.candidate, s.percent) for s in p.steps if s.cycle > 0}
    return [ends[cycle] for cycle in range(1, p.cycles + 1)]


# -- arithmetic ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("numerator", "denominator", "expected"),
    [
        pytest.param(5, 2, 3, id="2.5-up"),
        pytest.param(3, 2, 2, id="1.5-up"),
        pytest.param(1, 2, 1, id="0.5-up"),
        pytest.param(149, 100, 1, id="1.49-down"),
        pytest.param(0, 7, 0, id="zero"),
        pytest.param(200, 100, 2, id="exact"),
    ],
)
def test_round_half_up(numerator: int, denominator: int, expected: int) -> None:
    assert round_half_up(numerator, denominator) == expected


@pytest.mark.parametrize(
    ("replicas", "config", "expected"),
    [
        pytest.param(4, surge(25), (4, 4, 1, 4), id="n4-surge25"),
        pytest.param(4, unavailable(25), (4, 4, 1, 4), id="n4-unavailable25"),
        pytest.param(4, surge(25, overhead=50), (4, 6, 2, 3), id="n4-overhead50-step-1.5-up"),
        pytest.param(0, surge(10), (1, 1, 1, 1), id="n0-counts-as-1"),
        pytest.param(0, surge(10, overhead=50), (1, 2, 1, 2), id="n0-overhead-0.5-up"),
        pytest.param(1, surge(50), (1, 1, 1, 1), id="n1-one-cycle"),
        pytest.param(1, unavailable(50, overhead=500), (1, 6, 3, 2), id="n1-overhead500"),
        pytest.param(5, surge(10, overhead=50), (5, 8, 1, 8), id="overhead-2.5-up"),
        pytest.param(10, surge(25), (10, 10, 3, 4), id="step-2.5-up"),
        pytest.param(10, surge(1), (10, 10, 1, 10), id="step-at-least-1"),
        pytest.param(100, surge(10, overhead=500), (100, 600, 60, 10), id="large"),
        pytest.param(1000, unavailable(1), (1000, 1000, 10, 100), id="large-pct1"),
        pytest.param(7, surge(50), (7, 7, 4, 2), id="last-cycle-shorter"),
    ],
)
def test_full_strength_step_size_and_cycles(
    replicas: int, config: RollingDeployConfig, expected: tuple[int, int, int, int]
) -> None:
    p = plan(replicas, config)
    assert (p.start, p.full, p.step_size, p.cycles) == expected


@pytest.mark.parametrize(
    ("replicas", "config", "expected"),
    [
        pytest.param(
            4, surge(25), [(3, 1, 25), (2, 2, 50), (1, 3, 75), (0, 4, 100)], id="n4-surge25"
        ),
        pytest.param(
            4,
            unavailable(25),
            [(3, 1, 25), (2, 2, 50), (1, 3, 75), (0, 4, 100)],
            id="n4-unavailable25",
        ),
        pytest.param(
            4, surge(25, overhead=50), [(4, 2, 34), (2, 4, 68), (0, 6, 100)], id="n4-overhead50"
        ),
        pytest.param(
            3, surge(33), [(2, 1, 34), (1, 2, 68), (0, 3, 100)], id="f3-s1-baseten-widget"
        ),
        pytest.param(
            8,
            surge(10),
            flat(
                [(7, 1, 13), (6, 2, 26), (5, 3, 39), (4, 4, 52)],  # T = ceil(12.5) = 13
                [(3, 5, 65), (2, 6, 78), (1, 7, 91), (0, 8, 100)],
            ),
            id="traffic-step-12.5-up",
        ),
        pytest.param(7, surge(50), [(3, 4, 58), (0, 7, 100)], id="last-cycle-shorter"),
        pytest.param(0, unavailable(50), [(0, 1, 100)], id="n0"),
    ],
)
def test_cycle_boundaries(
    replicas: int, config: RollingDeployConfig, expected: list[tuple[int, int, int]]
) -> None:
    assert boundaries(plan(replicas, config)) == expected


# -- the steps of a ramp-up ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("replicas", "config", "expected"),
    [
        pytest.param(
            4,
            surge(25, stabilization=30),
            flat(
                [("P+", 4, 0, 0, 0)],
                [("C+", 4, 1, 0, 0), ("T", 4, 1, 25, 0), ("P-", 3, 1, 25, 30)],
                [("C+", 3, 2, 25, 0), ("T", 3, 2, 50, 0), ("P-", 2, 2, 50, 30)],
                [("C+", 2, 3, 50, 0), ("T", 2, 3, 75, 0), ("P-", 1, 3, 75, 30)],
                [("C+", 1, 4, 75, 0), ("T", 1, 4, 100, 0), ("P-", 0, 4, 100, 30)],
            ),
            id="n4-surge25",
        ),
        pytest.param(
            4,
            unavailable(25, stabilization=30),
            flat(
                [("P+", 4, 0, 0, 0)],
                [("P-", 3, 0, 0, 0), ("C+", 3, 1, 0, 0), ("T", 3, 1, 25, 30)],
                [("P-", 2, 1, 25, 0), ("C+", 2, 2, 25, 0), ("T", 2, 2, 50, 30)],
                [("P-", 1, 2, 50, 0), ("C+", 1, 3, 50, 0), ("T", 1, 3, 75, 30)],
                # the previous goes to 0: its traffic leaves it first
                [("T", 1, 3, 100, 0), ("P-", 0, 3, 100, 0), ("C+", 0, 4, 100, 30)],
            ),
            id="n4-unavailable25",
        ),
        pytest.param(
            4,
            surge(25, overhead=50),
            flat(
                [("P+", 6, 0, 0, 0)],
                [("C+", 6, 2, 0, 0), ("T", 6, 2, 34, 0), ("P-", 4, 2, 34, 0)],
                [("C+", 4, 4, 34, 0), ("T", 4, 4, 68, 0), ("P-", 2, 4, 68, 0)],
                [("C+", 2, 6, 68, 0), ("T", 2, 6, 100, 0), ("P-", 0, 6, 100, 0)],
            ),
            id="n4-surge25-overhead50",
        ),
        pytest.param(
            1,
            surge(10, stabilization=5),
            [("P+", 1, 0, 0, 0), ("C+", 1, 1, 0, 0), ("T", 1, 1, 100, 0), ("P-", 0, 1, 100, 5)],
            id="n1-surge-one-cycle",
        ),
        pytest.param(
            1,
            unavailable(10, stabilization=5),
            # at most F = 1 replica: the candidate takes the traffic before it is up, and
            # its requests wait at the gateway until it is ready
            [("P+", 1, 0, 0, 0), ("T", 1, 0, 100, 0), ("P-", 0, 0, 100, 0), ("C+", 0, 1, 100, 5)],
            id="n1-unavailable-one-cycle",
        ),
        pytest.param(
            0,
            surge(10, overhead=100),
            flat(
                [("P+", 2, 0, 0, 0)],
                [("C+", 2, 1, 0, 0), ("T", 2, 1, 50, 0), ("P-", 1, 1, 50, 0)],
                [("C+", 1, 2, 50, 0), ("T", 1, 2, 100, 0), ("P-", 0, 2, 100, 0)],
            ),
            id="n0-wakes-the-previous",
        ),
    ],
)
def test_ramp_up_steps(replicas: int, config: RollingDeployConfig, expected: list[Row]) -> None:
    p = plan(replicas, config)
    assert rows(p.steps) == expected
    assert [s.cycle for s in p.steps] == [0] + [c for c in range(1, p.cycles + 1) for _ in "123"]


@pytest.mark.parametrize(
    ("full", "size", "expected"),
    [
        pytest.param(3, 1, 34, id="f3-s1"),
        pytest.param(6, 2, 34, id="f6-s2"),
        pytest.param(8, 1, 13, id="f8-s1"),
        pytest.param(10, 3, 30, id="exact"),
        pytest.param(149, 1, 1, id="under-one-percent-is-one"),
        pytest.param(1, 1, 100, id="one-cycle"),
    ],
)
def test_traffic_step_is_baseten_widgets_ceiling(full: int, size: int, expected: int) -> None:
    assert traffic_step(full, size) == expected


def test_traffic_after_is_capped_at_100() -> None:
    assert [traffic_after(k, 3, 1) for k in range(4)] == [0, 34, 68, 100]


def test_a_cycle_that_moves_no_traffic_has_no_traffic_step_and_no_stabilization() -> None:
    # F = 149, S = 1: T = ceil(100 / 149) = 1 %, so cycle 100 reaches 100 % and the
    # 49 cycles after it move replicas only.
    p = plan(149, surge(1, stabilization=60))
    assert rows(s for s in p.steps if s.cycle == 100)[-1] == ("P-", 49, 100, 100, 60)
    after = [s for s in p.steps if s.cycle == 101]
    assert rows(after) == [("C+", 49, 101, 100, 0), ("P-", 48, 101, 100, 0)]


@pytest.mark.parametrize(
    ("kind", "wait"),
    [
        pytest.param(K.CANDIDATE_UP, Wait.CANDIDATE_READY, id="candidate-up"),
        pytest.param(K.CANDIDATE_DOWN, Wait.CANDIDATE_DRAINED, id="candidate-down"),
        pytest.param(K.PREVIOUS_UP, Wait.PREVIOUS_READY, id="previous-up"),
        pytest.param(K.PREVIOUS_DOWN, Wait.PREVIOUS_DRAINED, id="previous-down"),
        pytest.param(K.TRAFFIC, Wait.NOTHING, id="traffic"),
    ],
)
def test_what_each_step_waits_for(kind: StepKind, wait: Wait) -> None:
    assert RolloutStep(kind, 1, 1, 1, 50).wait is wait


@pytest.mark.parametrize(
    "config",
    [
        pytest.param(RollingDeployConfig(0, 0), id="both-zero"),
        pytest.param(RollingDeployConfig(10, 10), id="both-set"),
    ],
)
def test_a_config_without_exactly_one_mode_is_a_bug(config: RollingDeployConfig) -> None:
    with pytest.raises(ValueError, match="exactly one of"):
        plan(4, config)


# -- ramp-down -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "at", "expected"),
    [
        pytest.param(surge(25), 0, [], id="surge-nothing-moved"),
        pytest.param(
            surge(25, stabilization=30),
            1,  # C+ 4/1 0 %
            [("C-", 4, 0, 0, 0)],
            id="surge-candidate-up-undone",
        ),
        pytest.param(
            surge(25, stabilization=30),
            2,  # T 4/1 25 %
            [("T", 4, 1, 0, 0), ("C-", 4, 0, 0, 30)],
            id="surge-after-first-shift",
        ),
        pytest.param(
            surge(25, stabilization=30),
            5,  # T 3/2 50 %
            flat(
                [("T", 3, 2, 25, 0), ("C-", 3, 1, 25, 30)],
                [("P+", 4, 1, 25, 0), ("T", 4, 1, 0, 0), ("C-", 4, 0, 0, 30)],
            ),
            id="surge-mid-cycle",
        ),
        pytest.param(
            surge(25, stabilization=30),
            12,  # P- 0/4 100 %: the last step
            flat(
                [("P+", 1, 4, 100, 0), ("T", 1, 4, 75, 0), ("C-", 1, 3, 75, 30)],
                [("P+", 2, 3, 75, 0), ("T", 2, 3, 50, 0), ("C-", 2, 2, 50, 30)],
                [("P+", 3, 2, 50, 0), ("T", 3, 2, 25, 0), ("C-", 3, 1, 25, 30)],
                [("P+", 4, 1, 25, 0), ("T", 4, 1, 0, 0), ("C-", 4, 0, 0, 30)],
            ),
            id="surge-from-the-end",
        ),
        pytest.param(
            unavailable(25, stabilization=30),
            1,  # P- 3/0 0 %
            [("P+", 4, 0, 0, 0)],
            id="unavailable-previous-down-undone",
        ),
        pytest.param(
            unavailable(25, stabilization=30),
            5,  # C+ 2/2 25 %
            flat(
                [("C-", 2, 1, 25, 0), ("P+", 3, 1, 25, 0)],
                [("T", 3, 1, 0, 0), ("C-", 3, 0, 0, 0), ("P+", 4, 0, 0, 30)],
            ),
            id="unavailable-mid-cycle",
        ),
        pytest.param(
            unavailable(25, stabilization=30),
            12,  # C+ 0/4 100 %: the last step
            flat(
                [("C-", 0, 3, 100, 0), ("P+", 1, 3, 100, 0), ("T", 1, 3, 75, 30)],
                [("C-", 1, 2, 75, 0), ("P+", 2, 2, 75, 0), ("T", 2, 2, 50, 30)],
                [("C-", 2, 1, 50, 0), ("P+", 3, 1, 50, 0), ("T", 3, 1, 25, 30)],
                [("T", 3, 1, 0, 0), ("C-", 3, 0, 0, 0), ("P+", 4, 0, 0, 30)],
            ),
            id="unavailable-from-the-end",
        ),
    ],
)
def test_ramp_down_steps(config: RollingDeployConfig, at: int, expected: list[Row]) -> None:
    p = plan(4, config)
    steps = ramp_down(p, at)
    assert rows(steps) == expected
    assert ramp_down(p, at) == steps


def test_ramp_down_from_a_step_that_is_not_in_the_plan() -> None:
    with pytest.raises(IndexError):
        ramp_down(plan(4, surge(25)), 13)


# -- invariants ----------------------------------------------------------------------------

State = tuple[int, int, int]


def state(step: RolloutStep) -> State:
    return (step.previous, step.candidate, step.percent)


def check_capacity(p: Plan, start: State, steps: Sequence[RolloutStep]) -> None:
    """The replicas serving while each step's change is under way (the worse of before
    and after: a replica added is not ready yet, a replica removed may already be gone)
    and running (the more of the two: a replica removed may still be draining).

    Surge mode: at least F ready across both sides, at most F + S running; the previous
    side has the ready replicas for its share of the traffic (share * F / 100, up to half
    a percent of rounding): 200 * ready >= F * (2 * share - 1); the candidate's share is
    at most what the cycles its ready replicas complete give it (k * T, T rounded up as
    Baseten's page does, so up to one point per cycle above its replicas' share).
    Unavailable mode: the same but for S replicas (a side's ready replicas plus S cover
    its share), at most F running, at least F - S ready; a side that has traffic has a
    replica unless F = 1.
    """
    full, size = p.full, p.step_size
    before = start
    for step in steps:
        after = state(step)
        previous = min(before[0], after[0])
        candidate = min(before[1], after[1])
        running = max(before[0], after[0]) + max(before[1], after[1])
        to_candidate = max(before[2], after[2])
        to_previous = 100 - min(before[2], after[2])
        slack = 0 if p.mode is RolloutMode.SURGE else size
        completed = -(-(candidate + slack) // size)
        assert to_candidate <= traffic_after(completed, full, size), (before, step)
        assert 200 * (previous + slack) >= full * (2 * to_previous - 1), (before, step)
        if p.mode is RolloutMode.SURGE:
            assert previous + candidate >= full, (before, step)
            assert running <= full + size, (before, step)
        else:
            assert previous + candidate >= full - size, (before, step)
            assert running <= full, (before, step)
            if full > 1:
                assert to_candidate == 0 or candidate > 0, (before, step)
                assert to_previous == 0 or previous > 0, (before, step)
        before = after


def check_steps(p: Plan, start: State, steps: Sequence[RolloutStep]) -> None:
    """Each step changes one thing, the one its kind names, in the direction it names;
    counts stay in range; stabilization sits on the last step of a cycle that moved
    traffic, and only there."""
    fields = {
        K.PREVIOUS_UP: (0, 1),
        K.PREVIOUS_DOWN: (0, -1),
        K.CANDIDATE_UP: (1, 1),
        K.CANDIDATE_DOWN: (1, -1),
    }
    before = start
    for step in steps:
        after = state(step)
        changed = [i for i in range(3) if after[i] != before[i]]
        if step.kind is K.TRAFFIC:
            assert changed == [2]
        else:
            index, sign = fields[step.kind]
            assert changed == [index]
            assert (after[index] - before[index]) * sign > 0
        assert 0 <= step.previous <= p.full
        assert 0 <= step.candidate <= p.full
        assert 0 <= step.percent <= 100
        before = after
    cycles = sorted({s.cycle for s in steps})
    for cycle in cycles:
        group = [s for s in steps if s.cycle == cycle]
        moved = any(s.kind is K.TRAFFIC for s in group)
        assert [s.stabilization_seconds for s in group[:-1]] == [0] * (len(group) - 1)
        assert group[-1].stabilization_seconds == (p.stabilization_seconds if moved else 0)
    assert [s.cycle for s in steps] == sorted(s.cycle for s in steps)


configs = st.builds(
    lambda mode, pct, overhead, stabilization: (
        surge(pct, overhead, stabilization)
        if mode == "surge"
        else unavailable(pct, overhead, stabilization)
    ),
    st.sampled_from(["surge", "unavailable"]),
    st.integers(1, 50),
    st.integers(0, 500),
    st.integers(0, 3600),
)
replica_counts = st.integers(0, 60) | st.integers(61, 400)


@given(replica_counts, configs)
def test_ramp_up_invariants(replicas: int, config: RollingDeployConfig) -> None:
    p = plan(replicas, config)
    assert p.start == max(replicas, 1)
    assert p.mode is (RolloutMode.SURGE if config.max_surge_percent else RolloutMode.UNAVAILABLE)
    assert p.steps[0] == RolloutStep(K.PREVIOUS_UP, 0, p.full, 0, 0)
    assert state(p.steps[-1]) == (0, p.full, 100)
    assert len(p.steps) <= 1 + 3 * p.cycles
    assert p.cycles == -(-p.full // p.step_size)
    check_steps(p, state(p.steps[0]), p.steps[1:])
    check_capacity(p, state(p.steps[0]), p.steps[1:])
    percents = [s.percent for s in p.steps]
    assert percents == sorted(percents)
    assert [s.candidate for s in p.steps] == sorted(s.candidate for s in p.steps)
    assert [s.previous for s in p.steps[1:]] == sorted(
        (s.previous for s in p.steps[1:]), reverse=True
    )
    assert plan(replicas, config) == p
    # Baseten's widget: the traffic after cycle k is min(100, k * ceil(100 * S / F))
    step = -(-100 * p.step_size // p.full)
    assert [b[2] for b in boundaries(p)] == [min(100, k * step) for k in range(1, p.cycles + 1)]


@given(replica_counts, configs, st.data())
def test_ramp_down_invariants(
    replicas: int, config: RollingDeployConfig, data: st.DataObject
) -> None:
    p = plan(replicas, config)
    at = data.draw(st.integers(0, len(p.steps) - 1), label="at")
    start = state(p.steps[at])
    steps = ramp_down(p, at)
    assert (state(steps[-1]) if steps else start) == (p.full, 0, 0)
    check_steps(p, start, steps)
    check_capacity(p, start, steps)
    percents = [start[2]] + [s.percent for s in steps]
    assert percents == sorted(percents, reverse=True)
    candidates = [start[1]] + [s.candidate for s in steps]
    assert candidates == sorted(candidates, reverse=True)
    previous = [start[0]] + [s.previous for s in steps]
    assert previous == sorted(previous)
    assert [s.cycle for s in steps][:1] in ([], [1])
    assert len({s.cycle for s in steps}) <= p.cycles

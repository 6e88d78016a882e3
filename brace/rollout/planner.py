"""The step arithmetic of a rolling deployment: a plan, as data, that the driver follows.

The rules are DESIGN.md's (Rolling deployments), taken from Baseten's page
(shared/reference/baseten-rolling-deployments.md). With N the previous deployment's
replicas when the promotion starts and pct the non-zero one of max_surge_percent /
max_unavailable_percent, `round` rounding half up:

    F = N + round(N * replica_overhead_percent / 100)   replicas at full strength
    S = max(1, round(pct * F / 100))                    replicas moved per cycle
    T = ceil(100 * S / F)                               traffic moved per cycle (%)
    traffic to the candidate after cycle k = min(100, k * T)

as the configuration widget on Baseten's page computes them (F = 3, S = 1: 34, 68, 100).

`plan()` turns that into a tuple of `RolloutStep`s. Each step sets both deployments' replica
targets and the candidate's traffic share, and (the provisioning step 0 aside)
changes exactly one of the three relative to the step before, so the order of
operations is in the data and not in the driver. The driver keeps N and the index of
the step it is on in the store (the plan is a function of N and the frozen settings),
applies the step's targets, waits for `RolloutStep.wait`, then `stabilization_seconds`, then
moves on. Applying a step twice changes nothing, so after a restart it re-applies its
step.

A graceful cancel follows `ramp_down()`: the ramp-up's cycle boundaries walked
backwards. Both directions share one order per mode: in surge mode the side that gains
traffic scales up (and is ready) before any traffic moves to it, and the side that
loses traffic scales down only after the traffic left it; in unavailable mode the side
that loses traffic scales down first, then the gaining side scales up, then traffic
moves, except that a side about to go to zero replicas gives up its traffic first
(its requests would otherwise wait for a replica that is not coming). Pure functions
only: nothing here starts, stops or waits.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import Enum

from brace.store.records import RollingDeployConfig


class RolloutMode(Enum):
    """How a cycle makes room: which of the two percentages is the non-zero one."""

    SURGE = "surge"
    """max_surge_percent: candidate replicas are added before previous ones go, so up
    to F + S replicas run and at least F are ready at every moment."""
    UNAVAILABLE = "unavailable"
    """max_unavailable_percent: previous replicas go before candidate ones are added, so
    at most F replicas run and at least F - S are ready at every moment."""


class StepKind(Enum):
    """The one thing a step changes."""

    CANDIDATE_UP = "candidate_up"
    CANDIDATE_DOWN = "candidate_down"
    PREVIOUS_UP = "previous_up"
    PREVIOUS_DOWN = "previous_down"
    TRAFFIC = "traffic"


class Wait(Enum):
    """What the driver waits for after applying a step, before its stabilization time.

    READY: the deployment has at least its target replicas ready (answering predict).
    DRAINED: it runs at most its target replicas; the ones stopped have finished their
    in-flight requests and exited. A traffic step takes effect when the gateway has the
    routing table with the new percentage, which the driver hands over itself."""

    NOTHING = "nothing"
    CANDIDATE_READY = "candidate_ready"
    CANDIDATE_DRAINED = "candidate_drained"
    PREVIOUS_READY = "previous_ready"
    PREVIOUS_DRAINED = "previous_drained"


_WAITS = {
    StepKind.CANDIDATE_UP: Wait.CANDIDATE_READY,
    StepKind.CANDIDATE_DOWN: Wait.CANDIDATE_DRAINED,
    StepKind.PREVIOUS_UP: Wait.PREVIOUS_READY,
    StepKind.PREVIOUS_DOWN: Wait.PREVIOUS_DRAINED,
    StepKind.TRAFFIC: Wait.NOTHING,
}


@dataclass(frozen=True)
class RolloutStep:
    """Where one step leaves the rollout. Replica counts are the plan's own; replicas
    the autoscaler adds during a rollout (`brace.rollout.capacity`) come on top."""

    kind: StepKind
    cycle: int
    """1..Plan.cycles while ramping up (0: the provisioning step), 1.. while ramping down."""
    previous: int
    """Replica target of the previous (current) deployment."""
    candidate: int
    """Replica target of the candidate deployment."""
    percent: int
    """0-100: the share of the environment's requests the candidate gets."""
    stabilization_seconds: int = 0
    """Seconds to wait once `wait` is met, before the next step. Set on the last step of
    each cycle that moved traffic, 0 elsewhere."""

    @property
    def wait(self) -> Wait:
        return _WAITS[self.kind]


@dataclass(frozen=True)
class Plan:
    mode: RolloutMode
    start: int
    """N as planned: the previous deployment's replicas at the start, at least 1."""
    full: int
    """F: replicas at full strength, overhead included."""
    step_size: int
    """S: replicas added to one side and removed from the other per cycle."""
    cycles: int
    """Ramp-up cycles: ceil(F / S)."""
    stabilization_seconds: int
    steps: tuple[RolloutStep, ...]
    """steps[0] provisions the previous deployment to F; the last one leaves the
    candidate at F with 100 % of the traffic and the previous at 0."""


def round_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator to the nearest integer, halves up (5 / 2 -> 3), for
    numerator >= 0 and denominator > 0. Python's `round` rounds halves to even
    (`round(2.5) == 2`), which DESIGN.md rules out."""
    return (2 * numerator + denominator) // (2 * denominator)


def full_strength(start: int, overhead_percent: int) -> int:
    """F = N + round(N * overhead / 100), in replicas."""
    return start + round_half_up(start * overhead_percent, 100)


def step_size(full: int, percent: int) -> int:
    """S = max(1, round(pct * F / 100)), in replicas."""
    return max(1, round_half_up(percent * full, 100))


def traffic_step(full: int, size: int) -> int:
    """T = ceil(100 * S / F): the traffic (percent) one cycle moves, as Baseten's page
    computes it (its configuration widget); at least 1."""
    return -(-100 * size // full)


def traffic_after(cycle: int, full: int, size: int) -> int:
    """The candidate's share once `cycle` cycles are done: min(100, cycle * T), 0-100."""
    return min(100, cycle * traffic_step(full, size))


def mode_of(config: RollingDeployConfig) -> tuple[RolloutMode, int]:
    """The mode and its percentage. Exactly one of the two is non-zero; the services
    refuse anything else, so another config here is a bug."""
    surge, unavailable = config.max_surge_percent, config.max_unavailable_percent
    if surge > 0 and unavailable == 0:
        return RolloutMode.SURGE, surge
    if unavailable > 0 and surge == 0:
        return RolloutMode.UNAVAILABLE, unavailable
    raise ValueError(
        f"exactly one of max_surge_percent ({surge}) and max_unavailable_percent "
        f"({unavailable}) must be non-zero"
    )


def plan(replicas: int, config: RollingDeployConfig) -> Plan:
    """The ramp-up of a rolling deployment from a previous deployment that has
    `replicas` replicas (its target when the promotion starts).

    A previous deployment scaled to zero counts as one replica (N = max(N, 1)): requests
    to it would wake it, so the environment is serving, and the rollout keeps it serving
    with a ready replica until the candidate has taken all the traffic.

    Step 0 scales the previous deployment to F and waits until F are ready, whether or
    not the overhead adds any. Cycle k (1..K) moves the candidate to
    c_k = min(k * S, F), the traffic to traffic_after(k, F, S) and the previous to
    F - c_k; surge mode in the order candidate up, traffic, previous down; unavailable
    mode previous down, candidate up, traffic, but its last cycle (previous to 0)
    traffic, previous down, candidate up. A traffic step that would not change the
    percentage (once k * T reached 100 before the last cycle, possible only when
    100 * S < F) is left out, and so is that cycle's stabilization time."""
    mode, percent = mode_of(config)
    start = max(replicas, 1)
    full = full_strength(start, config.replica_overhead_percent)
    size = step_size(full, percent)
    cycles = -(-full // size)
    stabilization = config.stabilization_time_seconds
    provision = RolloutStep(StepKind.PREVIOUS_UP, 0, full, 0, 0)
    steps = [provision]
    state = _State(full, 0, 0)
    for cycle in range(1, cycles + 1):
        candidate = min(cycle * size, full)
        target = _State(full - candidate, candidate, traffic_after(cycle, full, size))
        steps += _cycle(mode, cycle, state, target, stabilization)
        state = target
    return Plan(mode, start, full, size, cycles, stabilization, tuple(steps))


def ramp_down(plan: Plan, at: int) -> tuple[RolloutStep, ...]:
    """The graceful ramp-down of a cancel that takes effect once `plan.steps[at]` is
    done (its replica changes finished): steps back to no traffic and no replicas on the
    candidate and F on the previous deployment. Empty when nothing moved yet.

    It walks the ramp-up's cycle boundaries backwards, K - 1 down to 0: boundary j has
    the candidate at c_j = min(j * S, F) with traffic_after(j, F, S), the previous at
    F - c_j. Towards each one, the candidate and the traffic only go down and the
    previous only goes up, so from a step in the middle of a cycle the first ramp-down
    cycle finishes what is needed and nothing is undone twice. Each cycle runs in the
    mode's order with the roles swapped: surge mode previous up, traffic, candidate
    down; unavailable mode candidate down, previous up, traffic (the last cycle,
    candidate to 0: traffic first). Steps and cycles that would change nothing are
    left out."""
    if not 0 <= at < len(plan.steps):
        raise IndexError(f"step {at} is not in a plan of {len(plan.steps)} steps")
    reached = plan.steps[at]
    state = _State(reached.previous, reached.candidate, reached.percent)
    steps: list[RolloutStep] = []
    cycle = 0
    for boundary in range(plan.cycles - 1, -1, -1):
        candidate = min(boundary * plan.step_size, plan.full)
        target = _State(
            max(state.previous, plan.full - candidate),
            min(state.candidate, candidate),
            min(state.percent, traffic_after(boundary, plan.full, plan.step_size)),
        )
        if target == state:
            continue
        cycle += 1
        steps += _cycle(plan.mode, cycle, state, target, plan.stabilization_seconds)
        state = target
    return tuple(steps)


@dataclass(frozen=True)
class _State:
    previous: int
    candidate: int
    percent: int


_FIELD = {
    StepKind.CANDIDATE_UP: "candidate",
    StepKind.CANDIDATE_DOWN: "candidate",
    StepKind.PREVIOUS_UP: "previous",
    StepKind.PREVIOUS_DOWN: "previous",
    StepKind.TRAFFIC: "percent",
}


def _cycle(
    mode: RolloutMode, cycle: int, start: _State, end: _State, stabilization: int
) -> list[RolloutStep]:
    """The steps from `start` to `end`, one change each, in the mode's order; the last
    one carries the stabilization time when the cycle moved traffic."""
    ups: list[StepKind] = []
    downs: list[StepKind] = []
    if end.candidate != start.candidate:
        gains = end.candidate > start.candidate
        (ups if gains else downs).append(
            StepKind.CANDIDATE_UP if gains else StepKind.CANDIDATE_DOWN
        )
    if end.previous != start.previous:
        gains = end.previous > start.previous
        (ups if gains else downs).append(StepKind.PREVIOUS_UP if gains else StepKind.PREVIOUS_DOWN)
    shift = [StepKind.TRAFFIC] if end.percent != start.percent else []
    if mode is RolloutMode.SURGE:
        order = ups + shift + downs
    elif end.candidate == 0 or end.previous == 0:
        # A side about to have no replicas gives up its traffic first: its requests
        # would otherwise wait for a replica that is not coming.
        order = shift + downs + ups
    else:
        order = downs + ups + shift
    steps: list[RolloutStep] = []
    state = start
    for kind in order:
        name = _FIELD[kind]
        state = replace(state, **{name: getattr(end, name)})
        steps.append(RolloutStep(kind, cycle, state.previous, state.candidate, state.percent))
    if shift:
        steps[-1] = replace(steps[-1], stabilization_seconds=stabilization)
    return steps

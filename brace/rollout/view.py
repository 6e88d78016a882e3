"""Where a rolling promotion is, for people: step n of N, each side's target, and
what it waits for. Read from the promotion as stored (`brace.store.progress`), so the
CLI shows the same thing whether the server runs or not."""

from __future__ import annotations

from dataclasses import dataclass

from brace.rollout.driver import rollout_plan
from brace.rollout.planner import Wait, ramp_down
from brace.store.progress import progress_of
from brace.store.records import Promotion

_WAITING = {
    Wait.CANDIDATE_READY: "the candidate's replicas to be ready",
    Wait.PREVIOUS_READY: "the previous deployment's replicas to be ready",
    Wait.CANDIDATE_DRAINED: "the candidate's replicas to finish their requests",
    Wait.PREVIOUS_DRAINED: "the previous deployment's replicas to finish their requests",
}


@dataclass(frozen=True)
class RolloutView:
    step: int
    """1-based."""
    steps: int
    ramping_down: bool
    previous_target: int
    candidate_target: int
    waiting_for: str | None
    """What the step waits for before its stabilization time (None: nothing more)."""
    next_step_in: float | None
    """Seconds until the next step, once only the stabilization time is left."""


def rollout_view(promotion: Promotion, now: float) -> RolloutView | None:
    """`now`: wall-clock seconds since the epoch. None before the rollout began."""
    progress = progress_of(promotion)
    if not promotion.rolling or progress.base is None:
        return None
    full = rollout_plan(promotion, progress)
    ramping_down = progress.ramp_down_at is not None
    steps = ramp_down(full, progress.ramp_down_at or 0) if ramping_down else full.steps
    if not steps:
        return None
    index = min(progress.step, len(steps) - 1)
    step = steps[index]
    waiting = _WAITING.get(step.wait) if progress.settled_at is None else None
    left = None
    if progress.settled_at is not None:
        left = max(0.0, progress.settled_at + step.stabilization_seconds - now)
    return RolloutView(
        index + 1,
        len(steps),
        ramping_down,
        step.previous + progress.extras.previous,
        step.candidate + progress.extras.candidate,
        waiting,
        left,
    )

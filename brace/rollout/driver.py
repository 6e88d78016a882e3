"""Moving a rolling promotion through its plan: one pure decision per controller tick.

The plan (`planner.plan`) is a tuple of rollout steps; the store keeps where the
promotion is (`brace.store.progress.RolloutProgress`: the step index, when the step was
applied, when its wait was met, where a graceful cancel began, and the replicas
autoscaling added). Each tick the controller calls `advance` with what it sees
(`Seen`: ready and running replicas of both sides, why the candidate cannot run if it
cannot, the combined demand) and gets a `RolloutDecision`: the promotion's status, its
traffic percentage, the replica targets of both deployments, and the progress to
store.

A step is applied (its targets and traffic at once), then waits for what it changed
(candidate ready, previous drained, ...), then for its stabilization time; then the
promotion moves to the next step. Actions act between steps, as Baseten's page says
("replica changes already in progress finish before the action takes effect"):

    pause          at the end of the current step: PAUSED, traffic pinned
    resume         RAMPING_UP (or RAMPING_DOWN) again, from the next step
    cancel         at the end of the current step: RAMPING_DOWN along `ramp_down`
    force cancel   at once: CANCELED, all traffic back on the previous deployment
    force forward  at once: SUCCEEDED, all traffic on the candidate (also while ramping
                   down)

A candidate that cannot run (build or load failure, crash loop, deleted, deactivated),
that does not become ready within `progress_deadline` seconds of a step that waits for
it, or that answers badly while the environment asks for automatic rollback
(`rollback`) fails the promotion: FAILED, traffic back on the previous deployment.
Autoscaling keeps working during the rollout (`capacity.rollout_extras`), paused
included: extras come on top of the plan's targets and are only ever added.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from brace.rollout.capacity import rollout_extras
from brace.rollout.planner import Plan, RolloutMode, RolloutStep, Wait, plan, ramp_down
from brace.rollout.rollback import Health, rollback_reason
from brace.store.progress import Extras, RolloutProgress
from brace.store.records import Promotion
from brace.store.statuses import PromotionStatus as S
from brace.store.statuses import RolloutAction as A

PROGRESS_DEADLINE = 600.0
"""Seconds a step may wait for the candidate's replicas to become ready (Kubernetes'
progressDeadlineSeconds defaults to 600)."""


@dataclass(frozen=True)
class Seen:
    """The two deployments as the controller sees them now."""

    previous_ready: int
    previous_running: int
    """Replicas of the previous deployment not stopped yet (ready, starting, draining)."""
    candidate_ready: int
    candidate_running: int
    previous_replicas: int
    """The previous deployment's replica target before the rollout (its N)."""
    candidate_failure: str | None = None
    """Why the candidate cannot run, if it cannot."""
    recommended: int = 0
    """Replicas the two deployments' combined demand asks for."""
    max_replica: int = 1
    """The environment's cap on the combined count."""
    health: Health | None = None
    """The candidate's answers since the step settled (None: not counted)."""


@dataclass(frozen=True)
class RolloutDecision:
    status: S
    percent: int
    previous: int
    """Replica target of the previous deployment (extras included)."""
    candidate: int
    progress: RolloutProgress
    error: str | None = None
    clear_action: bool = False
    """The requested action was taken (or can never be): clear it."""

    @property
    def finished(self) -> bool:
        return self.status.finished


def rollout_plan(promotion: Promotion, progress: RolloutProgress) -> Plan:
    assert progress.base is not None
    return plan(progress.base, promotion.settings.rolling_deploy_config)


def advance(
    promotion: Promotion,
    progress: RolloutProgress,
    seen: Seen,
    now: float,
    *,
    progress_deadline: float = PROGRESS_DEADLINE,
) -> RolloutDecision:
    """The next state of a rolling promotion that is not finished. `now`: wall-clock
    seconds since the epoch."""
    outcome = _advance(promotion, progress, seen, now, progress_deadline)
    return _kept(rollout_plan(promotion, outcome.progress), seen, outcome)


def _advance(
    promotion: Promotion, progress: RolloutProgress, seen: Seen, now: float, deadline: float
) -> RolloutDecision:
    """`advance` before `_kept`; `deadline`: the progress deadline (seconds)."""
    if progress.base is None:
        progress = RolloutProgress(base=max(seen.previous_replicas, 1), applied_at=now)
    full = rollout_plan(promotion, progress)
    steps = _steps(full, progress)
    step = steps[min(progress.step, len(steps) - 1)]
    action = promotion.requested_action
    status = promotion.status
    if action is A.FORCE_ROLL_FORWARD:
        return _end(S.SUCCEEDED, 100, full.full, 0, progress, seen)
    if action is A.FORCE_CANCEL:
        return _end(S.CANCELED, 0, 0, full.full, progress, seen)
    waited = now - progress.applied_at
    if seen.candidate_failure is not None:
        if seen.previous_ready < full.full and waited <= deadline:
            # The previous deployment gets its full strength back before it takes
            # the traffic back; meanwhile the gateway sends the candidate's share to
            # whichever side has a ready replica.
            return RolloutDecision(status, step.percent, full.full, step.candidate, progress)
        return _end(S.FAILED, 0, 0, full.full, progress, seen, seen.candidate_failure)
    progress = replace(progress, extras=_extras(step, seen, progress))
    ramping_up = progress.ramp_down_at is None
    if progress.settled_at is None:
        if not _met(step, seen, progress.extras, ramping_up):
            waits_for_candidate = ramping_up and seen.candidate_ready < _candidate_wanted(
                step, progress.extras
            )
            if waits_for_candidate and waited > deadline:
                error = (
                    f"the candidate deployment did not get {step.candidate} ready "
                    f"replicas within {deadline:.0f} s "
                    f"({seen.candidate_ready} ready)"
                )
                return _end(S.FAILED, 0, 0, full.full, progress, seen, error)
            if waits_for_candidate and action in (A.PAUSE, A.CANCEL):
                # Only replicas that were never ready are awaited: a pause or a cancel
                # does not wait for them (a load() may take many minutes).
                return _act(status, action, full, step, progress, now, seen)
            return _stay(status, step, progress)
        progress = replace(progress, settled_at=now)
    assert progress.settled_at is not None
    tripped = rollback_reason(
        promotion.settings.automatic_rollback, seen.health, step.percent, progress.step + 1
    )
    if tripped is not None:
        return _end(S.FAILED, 0, 0, full.full, progress, seen, tripped)
    if now - progress.settled_at < step.stabilization_seconds:
        return _stay(status, step, progress)
    # The step is done: actions that wait for a step boundary act now.
    if status is S.PAUSED and action is A.RESUME:
        resumed = S.RAMPING_DOWN if progress.ramp_down_at is not None else S.RAMPING_UP
        return _next(resumed, steps, progress, now, seen, clear_action=True)
    if status is S.PAUSED and action is not A.CANCEL:
        return _stay(status, step, progress)
    if action is A.PAUSE or (action is A.CANCEL and progress.ramp_down_at is None):
        return _act(status, action, full, step, progress, now, seen)
    return _next(status, steps, progress, now, seen)


def _act(
    status: S,
    action: A,
    full: Plan,
    step: RolloutStep,
    progress: RolloutProgress,
    now: float,
    seen: Seen,
) -> RolloutDecision:
    """A pause (PAUSED, traffic pinned) or a graceful cancel (RAMPING_DOWN from the
    current step), taking effect now."""
    if action is A.PAUSE:
        return replace(_stay(S.PAUSED, step, progress), clear_action=True)
    at = min(progress.step, len(full.steps) - 1)
    down = RolloutProgress(progress.base, 0, now, None, at, progress.extras)
    if not ramp_down(full, at):
        return _end(S.CANCELED, 0, 0, full.full, down, seen)
    first = _apply(S.RAMPING_DOWN, ramp_down(full, at)[0], down)
    return replace(first, clear_action=True)


def floor(full: Plan) -> int:
    """The ready replicas the mode promises across both sides while a rollout runs:
    F in surge mode, F - S in unavailable mode (DESIGN.md, Rolling deployments)."""
    if full.mode is RolloutMode.SURGE:
        return full.full
    return max(0, full.full - full.step_size)


def _kept(full: Plan, seen: Seen, outcome: RolloutDecision) -> RolloutDecision:
    """The outcome with the previous deployment's target raised so that, with the
    candidate's replicas that are ready now, the environment keeps what the mode
    promises: a candidate replica that is not ready (still loading, or restarting
    after a crash) is not counted, so the previous side is never scaled below it."""
    if outcome.finished:
        return outcome
    needed = min(full.full, floor(full) - seen.candidate_ready)
    if outcome.previous >= needed:
        return outcome
    return replace(outcome, previous=needed)


def _steps(full: Plan, progress: RolloutProgress) -> tuple[RolloutStep, ...]:
    if progress.ramp_down_at is None:
        return full.steps
    return ramp_down(full, progress.ramp_down_at)


def _next(
    status: S,
    steps: tuple[RolloutStep, ...],
    progress: RolloutProgress,
    now: float,
    seen: Seen,
    *,
    clear_action: bool = False,
) -> RolloutDecision:
    index = progress.step + 1
    ramping_down = progress.ramp_down_at is not None
    if index >= len(steps):
        last = steps[-1]
        if ramping_down:
            return replace(
                _end(S.CANCELED, 0, 0, last.previous, progress, seen),
                clear_action=clear_action,
            )
        return replace(
            _end(S.SUCCEEDED, 100, last.candidate, 0, progress, seen), clear_action=clear_action
        )
    step = steps[index]
    moved = replace(
        progress,
        step=index,
        applied_at=now,
        settled_at=None,
        extras=_extras(step, seen, progress),
    )
    if status is S.RELEASING and step.percent > 0:
        status = S.RAMPING_UP
    return replace(_apply(status, step, moved), clear_action=clear_action)


def _apply(status: S, step: RolloutStep, progress: RolloutProgress) -> RolloutDecision:
    return RolloutDecision(
        status,
        step.percent,
        step.previous + progress.extras.previous,
        step.candidate + progress.extras.candidate,
        progress,
    )


_stay = _apply


def _end(
    status: S,
    percent: int,
    candidate: int,
    previous: int,
    progress: RolloutProgress,
    seen: Seen,
    error: str | None = None,
) -> RolloutDecision:
    """A finished promotion: the targets are what each side is left with (the
    controller's usual targets take over from the next tick)."""
    return RolloutDecision(status, percent, previous, candidate, progress, error, clear_action=True)


def _candidate_wanted(step: RolloutStep, extras: Extras) -> int:
    return step.candidate + extras.candidate


def _met(step: RolloutStep, seen: Seen, extras: Extras, ramping_up: bool = True) -> bool:
    """Whether the step's wait is met, for its targets with the autoscaler's extras.
    While ramping up, no step settles while the candidate has fewer ready replicas than
    its target (one that crashed counts as not ready until it is ready again)."""
    if ramping_up and seen.candidate_ready < _candidate_wanted(step, extras):
        return False
    wait = step.wait
    if wait is Wait.CANDIDATE_READY:
        return seen.candidate_ready >= step.candidate + extras.candidate
    if wait is Wait.PREVIOUS_READY:
        return seen.previous_ready >= step.previous + extras.previous
    if wait is Wait.CANDIDATE_DRAINED:
        return seen.candidate_running <= step.candidate + extras.candidate
    if wait is Wait.PREVIOUS_DRAINED:
        return seen.previous_running <= step.previous + extras.previous
    return True


def _extras(step: RolloutStep, seen: Seen, progress: RolloutProgress) -> Extras:
    return rollout_extras(
        step.previous,
        step.candidate,
        step.percent,
        seen.recommended,
        seen.max_replica,
        progress.extras,
    )

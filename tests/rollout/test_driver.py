"""The rollout driver, tick by tick, against a simulated pair of deployments."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import pytest

from brace.rollout.driver import RolloutDecision, Seen, advance
from brace.rollout.rollback import Health
from brace.store.progress import progress_columns, progress_of
from brace.store.records import (
    AutomaticRollback,
    Promotion,
    PromotionSettings,
    RollingDeployConfig,
)
from brace.store.statuses import PromotionStatus as S
from brace.store.statuses import RolloutAction as A

NOW = 1_000_000.0


def _promotion(surge: int = 25, unavailable: int = 0, stabilization: int = 0) -> Promotion:
    config = RollingDeployConfig(
        max_surge_percent=surge,
        max_unavailable_percent=unavailable,
        stabilization_time_seconds=stabilization,
    )
    return Promotion(
        id=1,
        model_id="m",
        environment="production",
        candidate_id="cand",
        previous_id="prev",
        rolling=True,
        status=S.RELEASING,
        percent_traffic=0,
        settings=PromotionSettings(rolling_deploy=True, rolling_deploy_config=config),
        created_at="2026",
        updated_at="2026",
    )


def _store(promotion: Promotion, outcome: RolloutDecision) -> Promotion:
    """What the controller writes back."""
    return replace(
        promotion,
        status=outcome.status,
        percent_traffic=outcome.percent,
        error_message=outcome.error,
        requested_action=None if outcome.clear_action else promotion.requested_action,
        **progress_columns(outcome.progress),
    )


World = Callable[[RolloutDecision | None], Seen]


def _perfect(previous_at_start: int = 4) -> World:
    """Replicas are ready (and gone) as soon as they are asked for."""

    def seen(last: RolloutDecision | None) -> Seen:
        previous = last.previous if last else previous_at_start
        candidate = last.candidate if last else 0
        return Seen(previous, previous, candidate, candidate, previous_at_start)

    return seen


def _run(
    promotion: Promotion,
    world: World,
    *,
    ticks: int = 200,
    step_seconds: float = 1.0,
    actions: dict[int, A] | None = None,
    start: float = 0.0,
) -> tuple[Promotion, list[RolloutDecision]]:
    """Tick `ticks` times (or until it ends), `step_seconds` apart from NOW + `start`."""
    outcomes: list[RolloutDecision] = []
    last: RolloutDecision | None = None
    for tick in range(ticks):
        if actions and tick in actions:
            promotion = replace(promotion, requested_action=actions[tick])
        now = NOW + start + tick * step_seconds
        last = advance(promotion, progress_of(promotion), world(last), now)
        outcomes.append(last)
        promotion = _store(promotion, last)
        if last.finished:
            break
    return promotion, outcomes


def test_a_surge_rollout_of_four_replicas() -> None:
    done, outcomes = _run(_promotion(surge=25), _perfect(4))
    assert done.status is S.SUCCEEDED
    shifts = [o.percent for o in outcomes]
    assert sorted(set(shifts)) == [0, 25, 50, 75, 100]
    assert shifts == sorted(shifts)  # traffic only grows
    # Never fewer than F = 4 ready replicas across both sides, never more than F + S.
    for outcome in outcomes[:-1]:
        assert 4 <= outcome.previous + outcome.candidate <= 5
    statuses = [o.status for o in outcomes]
    assert statuses[0] is S.RELEASING and S.RAMPING_UP in statuses


def test_an_unavailable_rollout_never_runs_more_than_full_strength() -> None:
    done, outcomes = _run(_promotion(surge=0, unavailable=25), _perfect(4))
    assert done.status is S.SUCCEEDED
    assert all(o.previous + o.candidate <= 4 for o in outcomes)


def test_stabilization_time_is_waited_after_each_traffic_shift() -> None:
    done, outcomes = _run(_promotion(stabilization=5), _perfect(4), step_seconds=1.0)
    assert done.status is S.SUCCEEDED
    # Each traffic level is held for at least 5 ticks of one second.
    for level in (25, 50, 75):
        assert sum(o.percent == level for o in outcomes) >= 5


def test_waits_for_the_candidate_to_be_ready() -> None:
    def slow(last: RolloutDecision | None) -> Seen:
        candidate = last.candidate if last else 0
        return Seen(4, 4, 0, candidate, 4)  # never ready

    done, outcomes = _run(_promotion(), slow, ticks=30)
    assert done.status is S.RELEASING
    assert outcomes[-1].percent == 0 and outcomes[-1].candidate == 1


def test_a_candidate_that_never_gets_ready_fails_at_the_deadline() -> None:
    def never(last: RolloutDecision | None) -> Seen:
        return Seen(4, 4, 0, 1, 4)

    promotion = _promotion()
    last = None
    for tick in (0, 1, 700):
        last = advance(promotion, progress_of(promotion), never(last), NOW + tick)
        promotion = _store(promotion, last)
    assert last is not None and last.status is S.FAILED
    assert last.error == (
        "the candidate deployment did not get 1 ready replicas within 600 s (0 ready)"
    )
    assert (last.percent, last.candidate) == (0, 0)


def test_a_candidate_that_cannot_run_fails_the_promotion() -> None:
    def broken(last: RolloutDecision | None) -> Seen:
        return Seen(4, 4, 0, 0, 4, candidate_failure="the candidate deployment is DEPLOY_FAILED")

    done, _ = _run(_promotion(), broken)
    assert (done.status, done.percent_traffic) == (S.FAILED, 0)
    assert done.error_message == "the candidate deployment is DEPLOY_FAILED"


def test_pause_holds_the_split_until_resume() -> None:
    done, _ = _run(_promotion(), _perfect(4), ticks=12, actions={5: A.PAUSE})
    assert done.status is S.PAUSED
    paused_at = done.percent_traffic
    assert done.requested_action is None
    still, more = _run(done, _perfect(4), ticks=20, start=100)
    assert {o.percent for o in more} == {paused_at}  # pinned
    resumed, rest = _run(replace(still, requested_action=A.RESUME), _perfect(4), start=200)
    assert resumed.status is S.SUCCEEDED
    assert rest[0].status is S.RAMPING_UP


def test_graceful_cancel_ramps_traffic_back_then_cancels() -> None:
    done, outcomes = _run(_promotion(), _perfect(4), actions={9: A.CANCEL})
    assert done.status is S.CANCELED
    down = [o for o in outcomes if o.status is S.RAMPING_DOWN]
    assert down, "it ramps down before it is canceled"
    levels = [o.percent for o in down]
    assert levels == sorted(levels, reverse=True)  # traffic only goes back
    assert (outcomes[-1].percent, outcomes[-1].candidate, outcomes[-1].previous) == (0, 0, 4)


@pytest.mark.parametrize(
    ("action", "status", "percent"),
    [
        pytest.param(A.FORCE_CANCEL, S.CANCELED, 0, id="force-cancel"),
        pytest.param(A.FORCE_ROLL_FORWARD, S.SUCCEEDED, 100, id="force-roll-forward"),
    ],
)
def test_forced_actions_end_it_at_once(action: A, status: S, percent: int) -> None:
    done, outcomes = _run(_promotion(stabilization=30), _perfect(4), actions={3: action})
    assert (done.status, done.percent_traffic) == (status, percent)
    assert len(outcomes) == 4


def test_force_roll_forward_while_ramping_down() -> None:
    done, outcomes = _run(
        _promotion(stabilization=2), _perfect(4), actions={12: A.CANCEL, 16: A.FORCE_ROLL_FORWARD}
    )
    assert S.RAMPING_DOWN in {o.status for o in outcomes}
    assert done.status is S.SUCCEEDED


def test_a_restart_goes_on_from_the_stored_step() -> None:
    """Only the stored promotion carries over (a server killed and started again)."""
    first, _ = _run(_promotion(stabilization=3), _perfect(4), ticks=10)
    reached = first.step
    assert reached > 0
    again, rest = _run(first, _perfect(4), start=100)
    assert again.status is S.SUCCEEDED
    assert rest[0].progress.step in (reached, reached + 1)  # never back, never a jump


def test_autoscaling_during_a_rollout_adds_by_the_split() -> None:
    def busy(last: RolloutDecision | None) -> Seen:
        previous = last.previous if last else 4
        candidate = last.candidate if last else 0
        return Seen(previous, previous, candidate, candidate, 4, recommended=10, max_replica=8)

    done, outcomes = _run(_promotion(stabilization=2), busy)
    assert done.status is S.SUCCEEDED
    assert max(o.previous + o.candidate for o in outcomes) <= 8  # capped at max_replica
    # Demand asks for 10, the cap is 8: the rollout runs at the cap throughout, the
    # extras shared by the split (the plan's own replicas first).
    assert {o.previous + o.candidate for o in outcomes[:-1]} == {8}
    assert any(o.progress.extras.candidate > 0 for o in outcomes)


def _with_rollback(**rule: object) -> Promotion:
    promotion = _promotion(stabilization=30)
    settings = replace(
        promotion.settings, automatic_rollback=AutomaticRollback(enabled=True, **rule)
    )
    return replace(promotion, settings=settings)


def _failing(errors: int, requests: int) -> World:
    def seen(last: RolloutDecision | None) -> Seen:
        previous = last.previous if last else 4
        candidate = last.candidate if last else 0
        health = Health(requests, errors) if last and last.percent > 0 else None
        return Seen(previous, previous, candidate, candidate, 4, health=health)

    return seen


def test_automatic_rollback_fails_a_candidate_that_errs() -> None:
    done, outcomes = _run(
        _with_rollback(max_error_rate_percent=5, min_requests=50), _failing(12, 60)
    )
    assert (done.status, done.percent_traffic) == (S.FAILED, 0)
    assert done.error_message == (
        "automatic rollback: 12 of 60 requests to the candidate failed (20.0% > 5%) at 25% "
        "of the traffic, step 3"
    )
    assert outcomes[-1].previous == 4 and outcomes[-1].candidate == 0


@pytest.mark.parametrize(
    ("errors", "requests", "rule"),
    [
        pytest.param(2, 60, {"max_error_rate_percent": 5}, id="under-the-rate"),
        pytest.param(12, 40, {"min_requests": 50}, id="too-few-requests"),
    ],
)
def test_automatic_rollback_lets_a_healthy_candidate_through(
    errors: int, requests: int, rule: dict[str, int]
) -> None:
    done, _ = _run(_with_rollback(**rule), _failing(errors, requests), ticks=400)
    assert done.status is S.SUCCEEDED


def test_automatic_rollback_is_off_by_default() -> None:
    done, _ = _run(_promotion(stabilization=30), _failing(60, 60), ticks=400)
    assert done.status is S.SUCCEEDED


def _crashing(previous_at_start: int = 2, ready_for: int = 1) -> World:
    """Candidate replicas are ready for `ready_for` ticks, then all crash (not ready) for
    as long, and so on; previous replicas are ready as soon as asked for."""
    ticks = [0]

    def seen(last: RolloutDecision | None) -> Seen:
        ticks[0] += 1
        previous = last.previous if last else previous_at_start
        candidate = last.candidate if last else 0
        up = (ticks[0] // ready_for) % 2 == 0
        return Seen(previous, previous, candidate if up else 0, candidate, previous_at_start)

    return seen


@pytest.mark.parametrize(
    ("surge", "unavailable", "promised"),
    [pytest.param(50, 0, 2, id="surge-F"), pytest.param(0, 50, 1, id="unavailable-F-minus-S")],
)
def test_a_crash_looping_candidate_never_costs_the_previous_side_its_capacity(
    surge: int, unavailable: int, promised: int
) -> None:
    """Production 2/2, the candidate's replicas crash every other tick: the previous
    target plus the candidate's ready replicas never drop below what the mode promises,
    and no step after the candidate's first settles while its replicas are down."""
    world = _crashing(2)
    promotion = _promotion(surge=surge, unavailable=unavailable)
    last: RolloutDecision | None = None
    for tick in range(60):
        observed = world(last)
        last = advance(promotion, progress_of(promotion), observed, NOW + tick)
        assert last.previous + observed.candidate_ready >= promised
        if last.progress.settled_at == NOW + tick:  # settled in this tick
            assert observed.candidate_ready >= last.candidate - last.progress.extras.candidate
        promotion = _store(promotion, last)
    assert last is not None and not last.finished  # never a success while it crashes


def test_a_step_does_not_settle_while_a_candidate_replica_restarts() -> None:
    promotion = _promotion(surge=50)  # F = 2, S = 1: steps up, traffic, down per cycle
    up = Seen(2, 2, 1, 1, 2)
    crashed = Seen(2, 2, 0, 1, 2)
    first = advance(promotion, progress_of(promotion), up, NOW)  # provisioned
    promotion = _store(promotion, first)
    for tick in range(1, 4):  # candidate up (ready), then its traffic step
        promotion = _store(promotion, advance(promotion, progress_of(promotion), up, NOW + tick))
    assert promotion.percent_traffic == 50
    stuck = advance(promotion, progress_of(promotion), crashed, NOW + 10)
    assert stuck.progress.settled_at is None and stuck.percent == 50
    assert stuck.previous == 2  # the previous deployment keeps F while none is ready


def test_a_failed_candidate_gives_traffic_back_once_the_previous_is_at_full_strength() -> None:
    promotion = replace(_promotion(surge=50), status=S.RAMPING_UP, percent_traffic=50, step=3)
    promotion = replace(promotion, base_replicas=2, step_applied_at=NOW)
    failure = "the candidate deployment is FAILED: replicas crashed 5 times in 60 s"
    short = Seen(1, 2, 0, 0, 2, candidate_failure=failure)
    waiting = advance(promotion, progress_of(promotion), short, NOW + 1)
    assert not waiting.finished
    assert (waiting.previous, waiting.percent) == (2, 50)  # scaling back up first
    full = Seen(2, 2, 0, 0, 2, candidate_failure=failure)
    done = advance(promotion, progress_of(promotion), full, NOW + 2)
    assert (done.status, done.percent, done.previous, done.error) == (S.FAILED, 0, 2, failure)
    late = advance(promotion, progress_of(promotion), short, NOW + 700)
    assert late.status is S.FAILED  # the step deadline bounds the wait


@pytest.mark.parametrize(
    ("action", "status"),
    [pytest.param(A.PAUSE, S.PAUSED, id="pause"), pytest.param(A.CANCEL, S.CANCELED, id="cancel")],
)
def test_pause_and_cancel_do_not_wait_for_a_candidate_still_loading(action: A, status: S) -> None:
    """load() takes minutes: the candidate's replica was never ready; the action acts in
    the next tick, not at the step deadline."""

    def loading(last: RolloutDecision | None) -> Seen:
        candidate = last.candidate if last else 0
        return Seen(2, 2, 0, candidate, 2)  # running, never ready

    promotion, outcomes = _run(_promotion(surge=50), loading, ticks=5)
    assert promotion.status is S.RELEASING and outcomes[-1].candidate == 1
    done, after = _run(replace(promotion, requested_action=action), loading, ticks=5, start=20)
    assert after[0].status in (status, S.RAMPING_DOWN)
    assert after[0].clear_action
    if action is A.CANCEL:
        assert done.status is S.CANCELED and after[-1].candidate == 0
    else:
        assert done.status is S.PAUSED and done.percent_traffic == 0

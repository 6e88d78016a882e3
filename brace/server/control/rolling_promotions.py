"""Rolling promotions in the controller: what the driver sees, and what it decided.

For every rolling promotion in progress, `drive` puts together what the rollout driver
(`brace.rollout.driver`) needs from the controller's view (ready and running replicas
of both deployments, why the candidate cannot run, the combined demand, the
environment's cap) and returns its decisions: the replica targets of both deployments
(the controller's rollout plans, which win over the autoscaler) and the promotion's
next state, which the controller writes with its tick's transaction
(`write_rollouts`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from brace.rollout.driver import RolloutDecision, Seen, advance
from brace.rollout.rollback import Health
from brace.server.control.replicas import Replica
from brace.server.control.report import replica_counts
from brace.server.control.runs import GaveUp, RunState
from brace.server.control.sizing import wanted_by_demand
from brace.server.gateway.counters import RequestCounters, Snapshot
from brace.server.metrics.stats import window_stats
from brace.services.promotion_steps import record_rollout
from brace.store import Tx
from brace.store.progress import progress_columns, progress_of
from brace.store.records import AutoscalingSettings, Deployment, Environment, Promotion


@dataclass(frozen=True)
class Side:
    """One deployment of a rollout as the controller sees it."""

    ready: int
    running: int
    failure: str | None = None


@dataclass(frozen=True)
class Driven:
    """A rolling promotion and the driver's decision for it at this tick."""

    promotion: Promotion
    outcome: RolloutDecision

    def plans(self) -> dict[str, int]:
        """Replica targets by deployment id, while the rollout goes on and in the tick
        it ends (so nothing wakes in between; from the next tick the cleanup's status
        and the autoscaler decide)."""
        if self.promotion.previous_id is None:
            return {}
        return {
            self.promotion.previous_id: self.outcome.previous,
            self.promotion.candidate_id: self.outcome.candidate,
        }

    def changes(self) -> bool:
        """Whether the promotion's stored state differs from the decision."""
        p = self.promotion
        return (
            self.outcome.status is not p.status
            or self.outcome.percent != p.percent_traffic
            or self.outcome.clear_action
            or progress_columns(self.outcome.progress) != progress_columns(progress_of(p))
        )


class StepHealth:
    """The candidate's answers since its promotion's current step settled, from the
    gateway's request counters (`counters.RequestCounters`): a snapshot is kept when a
    step settles, and each tick compares the counters with it."""

    def __init__(self, counters: RequestCounters | None) -> None:
        self.counters = counters
        self._since: dict[int, tuple[tuple[int, float], Snapshot]] = {}

    def __call__(self, promotion: Promotion) -> Health | None:
        if self.counters is None or promotion.step_settled_at is None:
            self._since.pop(promotion.id, None)
            return None
        key = (promotion.step, promotion.step_settled_at)
        now = self.counters.snapshot()
        kept = self._since.get(promotion.id)
        if kept is None or kept[0] != key:
            self._since[promotion.id] = (key, now)
            return None
        before = kept[1]
        seconds = now.time - before.time
        candidate = window_stats(
            before.of(promotion.candidate_id), now.of(promotion.candidate_id), seconds
        )
        previous_id = promotion.previous_id or ""
        previous = window_stats(before.of(previous_id), now.of(previous_id), seconds)
        return Health(candidate.requests, candidate.errors, candidate.p99, previous.p99)

    def forget(self, active: Iterable[int]) -> None:
        """Drop what is kept for promotions no longer in progress."""
        keep = set(active)
        for promotion_id in [i for i in self._since if i not in keep]:
            del self._since[promotion_id]


def drive(
    promotions: Iterable[Promotion],
    deployments: Mapping[str, Deployment],
    environments: Mapping[tuple[str, str], Environment],
    side: Callable[[Deployment | None], Side],
    recommendations: Mapping[str, int],
    now: float,
    progress_deadline: float,
    health: Callable[[Promotion], Health | None] = lambda promotion: None,
    demand: Callable[[str], float] = lambda deployment_id: 0.0,
) -> list[Driven]:
    """The driver's decision for every rolling promotion in progress. `now`: wall-clock
    seconds since the epoch; `side(deployment)` is the controller's view of one side
    (None: the deployment is gone); `demand(deployment_id)`: its requests in flight,
    averaged over its autoscaling window. The rollout's extra capacity follows the two
    sides' combined demand, sized with the environment's settings (not their
    `min_replica`, which the plan already covers)."""
    driven = []
    for promotion in promotions:
        if not promotion.rolling or promotion.previous_id is None or promotion.status.finished:
            continue
        previous = side(deployments.get(promotion.previous_id))
        candidate = side(deployments.get(promotion.candidate_id))
        environment = environments.get((promotion.model_id, promotion.environment))
        seen = Seen(
            previous_ready=previous.ready,
            previous_running=previous.running,
            candidate_ready=candidate.ready,
            candidate_running=candidate.running,
            previous_replicas=recommendations.get(promotion.previous_id, 1),
            candidate_failure=candidate.failure,
            recommended=wanted_by_demand(
                environment.autoscaling if environment else AutoscalingSettings(),
                demand(promotion.previous_id) + demand(promotion.candidate_id),
            ),
            max_replica=environment.autoscaling.max_replica if environment else 1,
            health=health(promotion),
        )
        outcome = advance(
            promotion, progress_of(promotion), seen, now, progress_deadline=progress_deadline
        )
        driven.append(Driven(promotion, outcome))
    return driven


def side_of(
    deployment: Deployment | None, replicas: Sequence[Replica], state: RunState | None
) -> Side:
    """One deployment of a rollout (None: deleted): its ready and running replicas
    (`replicas`: all of its own), and why it cannot run if it cannot (`state`: its
    run's, None if it has none yet)."""
    if deployment is None:
        return Side(0, 0, "the candidate deployment was deleted")
    counts = replica_counts(deployment, replicas)
    failure = None
    if isinstance(state, GaveUp):
        failure = f"the candidate deployment is {state.status.value}: {state.reason}"
    elif deployment.status.failed:
        failure = f"the candidate deployment is {deployment.status.value}"
    elif deployment.status.inactive:
        failure = "the candidate deployment was deactivated"
    return Side(counts.ready + counts.ready_old, len(replicas), failure)


def rollout_line(rollout: Driven) -> str | None:
    """The line for the candidate's log when the step or status changes, else None."""
    before, outcome = rollout.promotion, rollout.outcome
    if (outcome.status, outcome.progress.step, outcome.percent) == (
        before.status,
        before.step,
        before.percent_traffic,
    ):
        return None
    return (
        f"rollout to {before.environment}: {outcome.status.value}, step "
        f"{outcome.progress.step}, {outcome.percent}% of traffic, replicas "
        f"{outcome.previous} previous / {outcome.candidate} candidate"
        + (f" ({outcome.error})" if outcome.error else "")
    )


def write_rollouts(tx: Tx, driven: Iterable[Driven], detail: Callable[[str], str]) -> None:
    """Record every changed decision on its promotion; a failed rollout's error gets
    `detail(candidate id)` (its last log lines) appended."""
    for rollout in driven:
        if not rollout.changes():
            continue
        outcome = rollout.outcome
        record_rollout(
            tx,
            rollout.promotion,
            outcome.status,
            outcome.percent,
            progress_columns(outcome.progress),
            error_message=_with_detail(outcome.error, detail, rollout),
            clear_action=outcome.clear_action,
        )


def _with_detail(error: str | None, detail: Callable[[str], str], rollout: Driven) -> str | None:
    """A failed rollout's error, with the candidate's last log lines."""
    if error is None:
        return None
    lines = detail(rollout.promotion.candidate_id)
    return f"{error}. {lines}" if lines else error

"""Rolling promotions in the controller: what the driver sees, and what it decided.

For every rolling promotion in progress, `drive` puts together what the rollout driver
(`brace.rollout.driver`) needs from the controller's view (ready and running replicas
of both deployments, why the candidate cannot run, the combined demand, the
environment's cap) and returns its decisions: the replica targets of both deployments
(the controller's rollout plans, which win over the autoscaler) and the promotion's
next state, which the controller writes with its tick's transaction
(`services.promote.record_rollout`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from brace.rollout.driver import Outcome, Seen, advance, progress_columns, progress_of
from brace.store.records import Deployment, Environment, Promotion


@dataclass(frozen=True)
class Side:
    """One deployment of a rollout as the controller sees it."""

    ready: int
    running: int
    failure: str | None = None


@dataclass(frozen=True)
class Driven:
    promotion: Promotion
    outcome: Outcome

    def plans(self) -> dict[str, int]:
        """Replica targets by deployment id, while the rollout goes on."""
        if self.outcome.finished or self.promotion.previous_id is None:
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


def drive(
    promotions: Iterable[Promotion],
    deployments: Mapping[str, Deployment],
    environments: Mapping[tuple[str, str], Environment],
    side: Callable[[Deployment | None], Side],
    recommendations: Mapping[str, int],
    now: float,
    progress_deadline: float,
) -> list[Driven]:
    """The driver's decision for every rolling promotion in progress. `now`: wall-clock
    seconds since the epoch; `side(deployment)` is the controller's view of one side
    (None: the deployment is gone)."""
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
            recommended=recommendations.get(promotion.previous_id, 0)
            + recommendations.get(promotion.candidate_id, 0),
            max_replica=environment.autoscaling.max_replica if environment else 1,
        )
        outcome = advance(
            promotion, progress_of(promotion), seen, now, progress_deadline=progress_deadline
        )
        driven.append(Driven(promotion, outcome))
    return driven

"""Where a rolling promotion is, as the store keeps it: the rollout driver's progress
(`brace.rollout.driver`) and the promotion columns that hold it, both ways."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from brace.store.records import Promotion


@dataclass(frozen=True)
class Extras:
    """Replicas added to a step's targets, per deployment."""

    previous: int = 0
    candidate: int = 0

    @property
    def total(self) -> int:
        return self.previous + self.candidate


@dataclass(frozen=True)
class RolloutProgress:
    """Where a rolling promotion is; stored with it, so a restarted server goes on."""

    base: int | None = None
    """N: the previous deployment's replicas when the rollout began (None: not begun)."""
    step: int = 0
    """Index into the ramp-up steps, or into the ramp-down ones once `ramp_down_at` is set."""
    applied_at: float = 0.0
    """Wall-clock time (seconds since the epoch) the step was applied."""
    settled_at: float | None = None
    """When the step's wait was met (its stabilization time runs from here)."""
    ramp_down_at: int | None = None
    """The ramp-up step a graceful cancel began from (None: not ramping down)."""
    extras: Extras = field(default_factory=Extras)


def progress_of(promotion: Promotion) -> RolloutProgress:
    """The progress stored with `promotion`."""
    return RolloutProgress(
        base=promotion.base_replicas,
        step=promotion.step,
        applied_at=promotion.step_applied_at,
        settled_at=promotion.step_settled_at,
        ramp_down_at=promotion.ramp_down_at,
        extras=Extras(promotion.extra_previous, promotion.extra_candidate),
    )


def progress_columns(progress: RolloutProgress) -> dict[str, Any]:
    """The promotion columns that store `progress` (for `Tx.update_promotion`)."""
    return {
        "base_replicas": progress.base,
        "step": progress.step,
        "step_applied_at": progress.applied_at,
        "step_settled_at": progress.settled_at,
        "ramp_down_at": progress.ramp_down_at,
        "extra_previous": progress.extras.previous,
        "extra_candidate": progress.extras.candidate,
    }

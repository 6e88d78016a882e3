"""Typed records of brace's state.

Rows become frozen dataclasses here, and nowhere else; everything above the store
works with these values, never with sqlite rows. Settings objects carry Baseten's
defaults and convert to and from the JSON shapes of the management API. Every class has
a docstring: without one, `dataclass` computes a signature for it at import, and every
`brace` command that reads the store imports this module.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from brace.store.statuses import (
    DEVELOPMENT,
    PRODUCTION,
    CleanupStrategy,
    DeploymentStatus,
    PromotionStatus,
    RolloutAction,
)

__all__ = [
    "DEVELOPMENT",
    "PRODUCTION",
    "CleanupStrategy",
    "DeploymentStatus",
    "PromotionStatus",
    "RolloutAction",
]


NOT_STORED = {"stored": False}
"""Field metadata: the field is derived when a row is read, and has no column."""


@dataclass(frozen=True)
class AutoscalingSettings:
    """A deployment's `autoscaling_settings`, with Baseten's defaults."""

    min_replica: int = 0
    max_replica: int = 1
    autoscaling_window: int = 60
    scale_down_delay: int = 900
    concurrency_target: int = 1
    target_utilization_percentage: int = 70

    def to_json(self) -> dict[str, Any]:
        # Its fields are numbers: no deep copy (asdict's) needed, at each deployment listed.
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AutoscalingSettings:
        return cls(**data)


# The development deployment: at most one replica, always scales to zero.
DEVELOPMENT_AUTOSCALING = AutoscalingSettings(min_replica=0, max_replica=1)


@dataclass(frozen=True)
class RollingDeployConfig:
    """How a rolling promotion moves replicas (`rolling_deploy_config`)."""

    max_surge_percent: int = 10
    max_unavailable_percent: int = 0
    stabilization_time_seconds: int = 0
    replica_overhead_percent: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"rolling_deploy_strategy": "REPLICA", **asdict(self)}


@dataclass(frozen=True)
class AutomaticRollback:
    """brace's extension of `promotion_settings` (Baseten has no automatic rollback):
    during each stabilization wait of a rolling promotion, fail it when the candidate's
    share of 5xx answers (percent), over at least `min_requests` requests, is above
    `max_error_rate_percent`, or its p99 latency is above `max_p99_latency_ratio` times
    the previous deployment's."""

    enabled: bool = False
    max_error_rate_percent: int = 5
    min_requests: int = 50
    max_p99_latency_ratio: float | None = None

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PromotionSettings:
    """An environment's `promotion_settings`, with Baseten's defaults."""

    rolling_deploy: bool = False
    rolling_deploy_config: RollingDeployConfig = field(default_factory=RollingDeployConfig)
    promotion_cleanup_strategy: CleanupStrategy = CleanupStrategy.SCALE_TO_ZERO
    automatic_rollback: AutomaticRollback = field(default_factory=AutomaticRollback)

    def to_json(self) -> dict[str, Any]:
        return {
            "rolling_deploy": self.rolling_deploy,
            "rolling_deploy_config": self.rolling_deploy_config.to_json(),
            "promotion_cleanup_strategy": self.promotion_cleanup_strategy.value,
            "automatic_rollback": self.automatic_rollback.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> PromotionSettings:
        config = dict(data["rolling_deploy_config"])
        config.pop("rolling_deploy_strategy", None)
        return cls(
            rolling_deploy=bool(data["rolling_deploy"]),
            rolling_deploy_config=RollingDeployConfig(**config),
            promotion_cleanup_strategy=CleanupStrategy(data["promotion_cleanup_strategy"]),
            automatic_rollback=AutomaticRollback(**data.get("automatic_rollback", {})),
        )


@dataclass(frozen=True)
class Model:
    """A model: its deployments and environments refer to it by id."""

    id: str
    name: str
    created_at: str


@dataclass(frozen=True)
class Deployment:
    """One deployment of a model: the development one, or a published one."""

    id: str
    model_id: str
    name: str
    is_development: bool
    status: DeploymentStatus
    autoscaling: AutoscalingSettings
    created_at: str
    source_dir: str | None = None  # the user's live directory (development)
    snapshot: str | None = None  # content hash of the copied directory (published)
    revision: int = 1  # bumped whenever the code or config to run changes
    active_replica_count: int = 0
    serving_revision: int = 0  # the revision the ready replicas run (0: none is ready)
    failed_revision: int = 0  # the latest revision the server could not start (0: none)
    recommended_replicas: int = 0  # the autoscaler's latest recommendation
    awake_until: str | None = None  # kept awake until this UTC time (`brace watch`)
    settings_error: str | None = field(default=None, metadata=NOT_STORED)
    """Why the stored settings cannot be used (then `autoscaling` holds the defaults and
    the server does not run the deployment); None when they are valid."""


@dataclass(frozen=True)
class Environment:
    """A named environment of a model and the deployment it serves."""

    model_id: str
    name: str
    created_at: str
    autoscaling: AutoscalingSettings
    promotion_settings: PromotionSettings
    current_deployment_id: str | None = None
    settings_error: str | None = field(default=None, metadata=NOT_STORED)
    """Why the stored settings cannot be used (then the defaults stand in for them, and
    nothing is promoted into the environment until they are set again)."""


@dataclass(frozen=True)
class ReplicaProcess:
    """A replica process the server started (kept so none outlives a crashed server)."""

    id: str
    deployment_id: str
    revision: int
    pid: int
    process_started: float  # the process's start time, so a reused pid is not mistaken
    socket: str
    started_at: str
    ready: bool = False  # answering predict (readiness answered 200)


@dataclass(frozen=True)
class Promotion:
    """A promotion of a candidate deployment into an environment."""

    id: int
    model_id: str
    environment: str
    candidate_id: str
    previous_id: str | None
    rolling: bool
    status: PromotionStatus
    percent_traffic: int
    settings: PromotionSettings
    created_at: str
    updated_at: str
    error_message: str | None = None
    requested_action: RolloutAction | None = None
    # A rolling promotion's place in its plan (brace/rollout/driver.py's Progress).
    base_replicas: int | None = None
    step: int = 0
    step_applied_at: float = 0.0
    step_settled_at: float | None = None
    ramp_down_at: int | None = None
    extra_previous: int = 0
    extra_candidate: int = 0

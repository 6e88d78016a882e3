"""Deployments and replicas as plain data, for the control decisions' table tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from brace.server.control.replicas import Replica, ReplicaState
from brace.store.records import AutoscalingSettings, Deployment
from brace.store.statuses import DeploymentStatus


@dataclass(frozen=True)
class StillProcess:
    """A replica process that runs and is never polled to an end here."""

    pid: int = 4000
    started: float = 0.0
    notices: int | None = None
    address: str = ""
    node: str | None = None

    def poll(self) -> int | None:
        return None

    def stop(self, grace: float = 5.0) -> None:
        pass


def deployment(
    status: DeploymentStatus = DeploymentStatus.ACTIVE, revision: int = 2, id: str = "d"
) -> Deployment:
    return Deployment(
        id=id,
        model_id="m",
        name=f"deployment-{id}",
        is_development=False,
        status=status,
        autoscaling=AutoscalingSettings(),
        created_at="2026-01-01T00:00:00.000000Z",
        revision=revision,
    )


def replica(name: str, state: ReplicaState, revision: int = 2, deployment_id: str = "d") -> Replica:
    """Replica `name` of `deployment_id` (its socket is /tmp/`name`.sock)."""
    return Replica(
        name,
        deployment_id,
        revision,
        Path(f"/tmp/{name}.sock"),
        StillProcess(address=f"/tmp/{name}.sock"),
        state=state,
    )

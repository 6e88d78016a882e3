"""The development deployment as the watch loop sees it: its replicas, a push, a wait.

`DevelopmentTarget` is the real one, on the store: `state()` reads the deployment's
status, revision and replica sockets (the replicas table); `push()` is `brace push`'s
service for the development deployment (a new revision: the server's controller starts
a new replica from the live directory beside the old one, and stops the old one once
the new one is ready); `wait()` polls until that new revision serves.

Knowing when the new revision serves is a pure decision, `progress`: the status alone
is not enough, because a deployment that is ACTIVE on its old replica stays ACTIVE in
the store until the controller's next tick notices the push, and goes back to ACTIVE on
the old replica if the new one cannot start.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from brace.errors import BraceError
from brace.store.statuses import DeploymentStatus

if TYPE_CHECKING:
    from brace.store import Store


class ReplacementFailed(BraceError):
    """The new revision did not come up; the previous replica, if any, keeps serving."""


@dataclass(frozen=True)
class ReplicaRef:
    revision: int
    socket: Path


@dataclass(frozen=True)
class DeploymentState:
    status: DeploymentStatus
    revision: int
    replicas: tuple[ReplicaRef, ...] = ()

    @property
    def sockets(self) -> tuple[Path, ...]:
        """The replicas running the current revision (the ones to reload)."""
        return tuple(r.socket for r in self.replicas if r.revision == self.revision)

    def idle_reason(self) -> str:
        """Why there is no replica to reload, and what happens to the change."""
        if self.status is DeploymentStatus.SCALED_TO_ZERO:
            return "the development deployment is scaled to zero: its next start loads it"
        if self.status.failed or self.status.inactive:
            return f"the development deployment is {self.status.value}: nothing runs to reload"
        return f"no replica is running yet ({self.status.value}): its start loads it"


class Progress(Enum):
    WAITING = "waiting"
    READY = "ready"
    FAILED = "failed"


# Statuses in which a deployment needs nothing more to serve a new revision.
_SETTLED = (DeploymentStatus.ACTIVE, DeploymentStatus.SCALED_TO_ZERO)


def progress(state: DeploymentState, revision: int, left_settled: bool) -> Progress:
    """How far the start of `revision` is.

    `left_settled`: the status was seen to be something other than ACTIVE or
    SCALED_TO_ZERO since the push, i.e. the controller has taken the new revision on.
    The controller records a new revision's replica only after it wrote that non-ACTIVE
    status, so ACTIVE together with a replica of `revision` means that replica is ready.
    """
    if state.status.failed or state.status.inactive:
        return Progress.FAILED
    if state.status is DeploymentStatus.SCALED_TO_ZERO:
        return Progress.READY  # nothing runs; the next start reads the live directory
    running = any(r.revision >= revision for r in state.replicas)
    if state.status is DeploymentStatus.ACTIVE and running:
        return Progress.READY
    if state.status is DeploymentStatus.ACTIVE and left_settled:
        return Progress.FAILED  # back on the previous revision's replica: the new one failed
    return Progress.WAITING


class DevelopmentTarget:
    """The development deployment of one model, in the store."""

    def __init__(
        self,
        store: Store,
        directory: Path,
        model_name: str,
        deployment_id: str,
        *,
        timeout: float = 1800.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.directory = directory
        self.model_name = model_name
        self.deployment_id = deployment_id
        self.timeout = timeout
        self.sleep = sleep
        self.clock = clock

    @property
    def log_file(self) -> Path:
        from brace.server.paths import ServerPaths

        return ServerPaths(self.store.home).deployment_log(self.deployment_id)

    def state(self) -> DeploymentState:
        with self.store.read() as tx:
            deployment = tx.deployment(self.deployment_id)
            replicas = tx.replicas()
        if deployment is None:
            return DeploymentState(DeploymentStatus.INACTIVE, 0)
        return DeploymentState(
            deployment.status,
            deployment.revision,
            tuple(
                ReplicaRef(r.revision, Path(r.socket))
                for r in replicas
                if r.deployment_id == deployment.id
            ),
        )

    def push(self) -> int:
        """Point the development deployment at the directory again: a new revision."""
        from brace.services.push import push

        # Always the watch's model: a model_name edited in config.yaml is not followed.
        result = push(self.store, self.directory, model_name=self.model_name)
        self.deployment_id = result.deployment.id  # re-created if it was deleted meanwhile
        return result.deployment.revision

    def wait(self, revision: int, on_status: Callable[[str], None]) -> DeploymentState:
        """Return once `revision` serves; raise ReplacementFailed if it cannot start."""
        deadline = self.clock() + self.timeout
        seen: DeploymentStatus | None = None
        left_settled = False
        while True:
            state = self.state()
            if state.revision > revision:  # pushed again meanwhile: wait for the newest
                revision, left_settled = state.revision, False
            if state.status != seen:
                seen = state.status
                on_status(seen.value)
            left_settled = left_settled or state.status not in _SETTLED
            verdict = progress(state, revision, left_settled)
            if verdict is Progress.READY:
                return state
            if verdict is Progress.FAILED:
                raise ReplacementFailed(self._failure(state, revision))
            if self.clock() > deadline:
                raise ReplacementFailed(
                    f"revision {revision} is still {state.status.value} after {self.timeout:.0f} s"
                )
            self.sleep(0.05)

    @staticmethod
    def _failure(state: DeploymentState, revision: int) -> str:
        if state.status is DeploymentStatus.ACTIVE:
            return (
                f"the new replica (revision {revision}) did not start; the previous one "
                "keeps serving (its log lines above say why)"
            )
        return f"the development deployment is {state.status.value} (its log lines above say why)"

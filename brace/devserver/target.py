"""The development deployment as the watch loop sees it: its replicas, a push, a wait.

`DevelopmentTarget` is the real one, on the store: `push()` is `brace push`'s service
for the development deployment (a new revision: the server's controller starts a new
replica from the live directory beside the old one, and stops the old one once the new
one is ready); `state()` and `wait()` read what the controller reports for it, and
nothing else:

- `serving_revision`: the revision its ready replicas run (0 while none is ready);
- `failed_revision`: the latest revision the controller could not start;
- its replicas that answer readiness (`ready`), with their revision and socket: the
  ones an in-process reload goes to.

Whether a pushed revision serves is then a pure decision, `progress`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from brace.errors import BraceError
from brace.polling import poll
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
    """Its ready replicas."""
    serving_revision: int = 0
    failed_revision: int = 0

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


def progress(state: DeploymentState, revision: int) -> Progress:
    """How far the start of `revision` is."""
    if state.status.failed or state.status.inactive:
        return Progress.FAILED
    if state.status is DeploymentStatus.SCALED_TO_ZERO:
        return Progress.READY  # nothing runs; the next start reads the live directory
    if state.serving_revision >= revision:
        return Progress.READY
    if state.failed_revision >= revision:
        return Progress.FAILED  # the previous revision's replica keeps serving
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
                if r.deployment_id == deployment.id and r.ready
            ),
            deployment.serving_revision,
            deployment.failed_revision,
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
        seen: list[DeploymentStatus] = []
        newest = revision

        def check() -> DeploymentState | None:
            nonlocal newest
            state = self.state()
            newest = max(newest, state.revision)  # pushed again meanwhile: wait for that
            if not seen or state.status != seen[-1]:
                seen.append(state.status)
                on_status(state.status.value)
            verdict = progress(state, newest)
            if verdict is Progress.FAILED:
                raise ReplacementFailed(self._failure(state, newest))
            return state if verdict is Progress.READY else None

        state = poll(check, self.timeout, sleep=self.sleep, clock=self.clock)
        if state is None:
            raise ReplacementFailed(
                f"revision {newest} is still {seen[-1].value} after {self.timeout:.0f} s"
            )
        return state

    @staticmethod
    def _failure(state: DeploymentState, revision: int) -> str:
        if state.status is DeploymentStatus.ACTIVE:
            return (
                f"the new replica (revision {revision}) did not start; the previous one "
                "keeps serving (its log lines above say why)"
            )
        return f"the development deployment is {state.status.value} (its log lines above say why)"

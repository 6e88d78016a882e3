"""What the controller remembers about one deployment between ticks, as explicit states.

A `Run` covers one revision of a deployment: a push (new revision) or an activation
after a stop starts a new one. Its state says how far the controller got in making the
revision runnable:

    Unprepared  nothing read yet (the deployment wanted no replica so far)
    Preparing   its model directory is being read, or its environment built, off the loop
    Runnable    the Python to run it with and its model directory are known
    GaveUp      it cannot run: BUILD_FAILED, DEPLOY_FAILED or FAILED, and why

Replicas of a revision start only from Runnable, and only after the restart policy's
backoff (`history`). `preparation` takes a run from Preparing to Runnable or GaveUp.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from brace.config import Truss
from brace.server.control.observed import stopped
from brace.server.control.restarts import ExitHistory
from brace.store.records import Deployment
from brace.store.statuses import DeploymentStatus


@dataclass(frozen=True)
class Unprepared:
    pass


@dataclass(frozen=True)
class Preparing:
    building: bool = False
    """Its own virtualenv is being built (the deployment reports BUILDING)."""


@dataclass(frozen=True)
class Runnable:
    python: str
    truss: Truss


@dataclass(frozen=True)
class GaveUp:
    status: DeploymentStatus
    reason: str


RunState = Unprepared | Preparing | Runnable | GaveUp


@dataclass
class Run:
    revision: int
    status_seen: DeploymentStatus
    """The deployment's status at the last tick (to notice an activation)."""
    state: RunState = field(default_factory=Unprepared)
    history: ExitHistory = field(default_factory=ExitHistory)

    def outdated_by(self, deployment: Deployment) -> bool:
        """New code, activated again after a stop or a failure, or settings that could
        not be used set again: start afresh."""
        return (
            deployment.revision != self.revision
            or (stopped(self.status_seen) and not stopped(deployment.status))
            or (self.unusable_settings() and deployment.settings_error is None)
        )

    def unusable_settings(self) -> bool:
        return isinstance(self.state, GaveUp) and self.state.reason.startswith(UNUSABLE)


UNUSABLE = "cannot run: "
"""How a run given up for its stored settings begins its reason."""


def settings_verdict(run: Run, deployment: Deployment) -> GaveUp | None:
    """The state a run must take because the deployment's stored settings cannot be
    used (brace.store.stored), or None: they can, or the run already says so."""
    error = deployment.settings_error
    if error is None:
        return None
    verdict = GaveUp(DeploymentStatus.DEPLOY_FAILED, UNUSABLE + error)
    return None if run.state == verdict else verdict

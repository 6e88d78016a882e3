"""Model preparation: read a revision's model directory and find (or build) the Python
that runs it, off the event loop; the result is the run's next state (`runs`).

A large config.yaml or a requirements build must not stall the event loop the gateway
serves on, so both run in a thread. A model that cannot be read is DEPLOY_FAILED; an
environment that cannot be built is BUILD_FAILED (with the reason in the log).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from brace.config import Truss, load_truss
from brace.errors import BraceError
from brace.logs import DeploymentLog
from brace.server.control.runs import GaveUp, Runnable, RunState
from brace.services.snapshots import snapshot_path
from brace.store import Deployment, DeploymentStatus

Builder = Callable[[Path, tuple[str, ...], Callable[[str], None]], Path]
"""(brace home, requirements, log line writer) -> the built environment's Python."""
ModelReader = Callable[[Path], "tuple[Truss, tuple[str, ...]]"]


def read_model(truss_dir: Path) -> tuple[Truss, tuple[str, ...]]:
    """The model directory and its requirements (raises BraceError or OSError)."""
    truss = load_truss(truss_dir, check_model=False)
    return truss, tuple(truss.requirements())


def build_environment(
    home: Path, requirements: tuple[str, ...], log: Callable[[str], None]
) -> Path:
    """The virtualenv with `requirements` under `home` (built once, then reused)."""
    from brace.runtime.virtualenvs import ensure_environment

    return ensure_environment(home, requirements, log)


@dataclass(frozen=True)
class Preparation:
    """How revisions are prepared: `home` is brace's home (snapshots, environments);
    `python` runs models without requirements of their own."""

    home: Path
    read: ModelReader = read_model
    build: Builder = build_environment
    python: str = sys.executable

    def truss_dir(self, deployment: Deployment) -> Path:
        """Where the deployment's model files are: its snapshot, or (a development
        deployment) the directory it was pushed from."""
        if deployment.snapshot is not None:
            return snapshot_path(self.home, deployment.snapshot)
        assert deployment.source_dir is not None
        return Path(deployment.source_dir)

    async def prepare(
        self, deployment: Deployment, log: DeploymentLog, building: Callable[[], None]
    ) -> RunState:
        """Runnable, or GaveUp with why; `building()` is called before a build starts."""
        try:
            truss, requirements = await asyncio.to_thread(self.read, self.truss_dir(deployment))
        except (BraceError, OSError) as error:
            log.write(f"cannot read the model: {error}")
            return GaveUp(DeploymentStatus.DEPLOY_FAILED, str(error))
        python = self.python
        if requirements:
            building()
            try:
                built = await asyncio.to_thread(self.build, self.home, requirements, log.write)
            except BraceError as error:
                log.write(f"building the environment failed: {error.message}")
                return GaveUp(DeploymentStatus.BUILD_FAILED, error.message)
            python = str(built)
        return Runnable(python, truss)

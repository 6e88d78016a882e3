"""The controller: makes the running replica processes match the store, and reports back.

Every tick it reads the deployments, starts and stops replicas (`supervisor`), probes
the ones that are starting, writes each deployment's status and ready-replica count,
moves non-rolling promotions forward (`rollout.release`), and hands the gateway a new
routing table when anything it routes on changed. Decisions are pure functions in
`decisions`; this module only carries them out.

A replica that exits before it was ever ready counts as a failed start; after
`max_start_failures` the deployment is DEPLOY_FAILED (its log says why). One that
crashes after serving is restarted with backoff; `max_crashes` within `crash_window`
seconds mark it FAILED. A new revision (a push to the development deployment) starts
beside the old one, which keeps serving until the new one is ready.
"""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from brace.config import Truss, load_truss
from brace.errors import BraceError
from brace.server import supervisor
from brace.server.decisions import ReplicaCounts, desired_replicas, observed_status, stopped
from brace.server.paths import ServerPaths
from brace.server.routing import DeploymentRoute, EnvironmentRoute, RoutingTable
from brace.services.promote import advance_promotions
from brace.services.snapshots import snapshot_path
from brace.store import (
    Deployment,
    DeploymentStatus,
    Environment,
    Model,
    Promotion,
    ReplicaProcess,
    Store,
)
from brace.store.db import new_id

Spawn = Callable[[str, Path, Path, Path, dict[str, str]], "subprocess.Popen[bytes]"]
Builder = Callable[[Path, tuple[str, ...], Callable[[str], None]], Path]


class ReplicaState(Enum):
    STARTING = "starting"  # spawned, not listening yet
    LOADING = "loading"  # listening, load() running
    READY = "ready"
    STOPPING = "stopping"


@dataclass
class Replica:
    id: str
    deployment_id: str
    revision: int
    socket: Path
    process: subprocess.Popen[bytes]
    process_started: float
    state: ReplicaState = ReplicaState.STARTING
    ever_ready: bool = False


@dataclass
class Run:
    """What the controller remembers about one deployment between ticks."""

    revision: int = 0
    last_status: DeploymentStatus | None = None
    start_failures: int = 0
    crashes: list[float] = field(default_factory=list)
    next_start: float = 0.0
    python: str | None = None
    truss: Truss | None = None  # this revision's model directory, read once
    building: asyncio.Task[None] | None = None
    failure: tuple[DeploymentStatus, str] | None = None


def _default_builder(home: Path, requirements: tuple[str, ...], log: Callable[[str], None]) -> Path:
    from brace.runtime.envs import ensure_environment

    return ensure_environment(home, requirements, log)


class Controller:
    def __init__(
        self,
        store: Store,
        on_table: Callable[[RoutingTable], None],
        *,
        spawn: Spawn = supervisor.spawn_replica,
        build: Builder = _default_builder,
        clock: Callable[[], float] = time.monotonic,
        poll_interval: float = 0.1,
        backoff: tuple[float, ...] = (0.5, 1.0, 2.0, 4.0, 8.0),
        max_start_failures: int = 3,
        max_crashes: int = 5,
        crash_window: float = 60.0,
    ) -> None:
        self.store = store
        self.paths = ServerPaths(store.home)
        self.on_table = on_table
        self.spawn = spawn
        self.build = build
        self.clock = clock
        self.poll_interval = poll_interval
        self.backoff = backoff
        self.max_start_failures = max_start_failures
        self.max_crashes = max_crashes
        self.crash_window = crash_window
        self.replicas: list[Replica] = []
        self.runs: dict[str, Run] = {}
        self._table: RoutingTable | None = None
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # the loop

    def nudge(self, deployment_id: str | None = None) -> None:
        """Reconcile now instead of at the next tick (the gateway calls this on a wake)."""
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.reconcile()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.poll_interval)
            self._wake.clear()

    async def shutdown(self) -> None:
        """Stop every replica (TERM, then KILL) and forget them."""
        for task in list(self._tasks):
            task.cancel()
        replicas, self.replicas = self.replicas, []
        await asyncio.gather(*(asyncio.to_thread(self._stop_now, r) for r in replicas))
        with self.store.transaction() as tx:
            for replica in replicas:
                tx.delete_replica(replica.id)

    def sweep_orphans(self) -> None:
        """Stop replica processes a previous server left behind (after kill -9)."""
        supervisor.stop_recorded_replicas(self.store)

    async def reconcile(self) -> None:
        with self.store.read() as tx:
            deployments = tx.deployments()
        known = {d.id for d in deployments}
        for replica in [r for r in self.replicas if r.deployment_id not in known]:
            self._stop(replica)
        for deployment in deployments:
            self._reconcile_deployment(deployment)
        self._reap()
        self._write_statuses(deployments)
        self._advance_promotions()
        with self.store.read() as tx:
            deployments = tx.deployments()
            models = tx.models()
            environments = [e for m in models for e in tx.environments(m.id)]
            promotions = tx.active_promotions()
        table = self._routing_table(deployments, models, environments, promotions)
        if table != self._table:
            self._table = table
            self.on_table(table)

    # one deployment

    def _reconcile_deployment(self, deployment: Deployment) -> None:
        run = self.runs.setdefault(deployment.id, Run(revision=deployment.revision))
        if deployment.revision != run.revision or (
            run.last_status is not None
            and stopped(run.last_status)
            and not stopped(deployment.status)
        ):
            # New code, or activated again after a stop or a failure: start afresh.
            self.runs[deployment.id] = run = Run(revision=deployment.revision)
        run.last_status = deployment.status
        mine = [r for r in self.replicas if r.deployment_id == deployment.id]
        desired = desired_replicas(deployment) if run.failure is None else 0
        if desired == 0:
            if run.failure is None or not self._old_serving(deployment, mine):
                for replica in mine:
                    self._stop(replica)
            return
        if run.python is None:
            self._prepare(deployment, run)
            return
        current = [
            r
            for r in mine
            if r.revision == deployment.revision and r.state is not ReplicaState.STOPPING
        ]
        if len(current) < desired and self.clock() >= run.next_start:
            self._start(deployment, run)
        for replica in sorted(current, key=lambda r: r.state is ReplicaState.READY)[desired:]:
            self._stop(replica)
        ready = sum(r.state is ReplicaState.READY for r in current)
        if ready >= desired:
            for replica in mine:
                if replica.revision != deployment.revision:
                    self._stop(replica)

    def _old_serving(self, deployment: Deployment, mine: list[Replica]) -> bool:
        """A failed new revision leaves the previous one serving, if there is one."""
        return any(
            r.revision != deployment.revision and r.state is ReplicaState.READY for r in mine
        )

    def truss_dir(self, deployment: Deployment) -> Path:
        if deployment.snapshot is not None:
            return snapshot_path(self.store.home, deployment.snapshot)
        assert deployment.source_dir is not None
        return Path(deployment.source_dir)

    def _prepare(self, deployment: Deployment, run: Run) -> None:
        """Find (or build, in a thread) the Python environment for the deployment."""
        if run.building is not None:
            return
        try:
            run.truss = load_truss(self.truss_dir(deployment), check_model=False)
            requirements = run.truss.requirements()
        except (BraceError, OSError) as error:
            run.failure = (DeploymentStatus.DEPLOY_FAILED, str(error))
            self.log(deployment.id, f"cannot read the model: {error}")
            return
        if not requirements:
            run.python = sys.executable
            return
        log = self.log_writer(deployment.id)

        async def build() -> None:
            try:
                python = await asyncio.to_thread(self.build, self.store.home, requirements, log)
            except BraceError as error:
                run.failure = (DeploymentStatus.BUILD_FAILED, error.message)
                log(f"building the environment failed: {error.message}")
            else:
                run.python = str(python)
            finally:
                run.building = None
                self._wake.set()

        run.building = self._spawn_task(build())

    def _start(self, deployment: Deployment, run: Run) -> None:
        assert run.python is not None and run.truss is not None
        truss = run.truss
        replica_id = new_id()
        socket = self.paths.replica_socket(replica_id)
        log_file = self.paths.deployment_log(deployment.id)
        env = supervisor.replica_environment(self.store.home, truss.config.environment_variables)
        self.log(deployment.id, f"starting replica {replica_id} (revision {deployment.revision})")
        process = self.spawn(run.python, truss.path, socket, log_file, env)
        started = supervisor.process_started(process.pid)
        replica = Replica(replica_id, deployment.id, deployment.revision, socket, process, started)
        self.replicas.append(replica)
        with self.store.transaction() as tx:
            tx.insert_replica(
                ReplicaProcess(
                    id=replica_id,
                    deployment_id=deployment.id,
                    revision=deployment.revision,
                    pid=process.pid,
                    process_started=started,
                    socket=str(socket),
                    started_at=tx.now(),
                )
            )
        self._spawn_task(self._watch_readiness(replica))

    async def _watch_readiness(self, replica: Replica) -> None:
        while replica.state in (ReplicaState.STARTING, ReplicaState.LOADING):
            if replica.process.poll() is not None:
                return
            status = await supervisor.probe(replica.socket)
            if status == 200:
                replica.state = ReplicaState.READY
                replica.ever_ready = True
                self._wake.set()
                return
            if status is not None and replica.state is ReplicaState.STARTING:
                replica.state = ReplicaState.LOADING
                self._wake.set()
            await asyncio.sleep(0.05)

    def _stop(self, replica: Replica) -> None:
        if replica.state is ReplicaState.STOPPING:
            return
        replica.state = ReplicaState.STOPPING
        self._spawn_task(asyncio.to_thread(self._stop_now, replica))

    @staticmethod
    def _stop_now(replica: Replica) -> None:
        supervisor.stop_process_group(replica.process.pid, replica.process_started)
        with contextlib.suppress(subprocess.TimeoutExpired):
            replica.process.wait(timeout=1)
        replica.socket.unlink(missing_ok=True)

    def _reap(self) -> None:
        """Forget replicas whose process ended; count the ones that should not have."""
        now = self.clock()
        for replica in [r for r in self.replicas if r.process.poll() is not None]:
            self.replicas.remove(replica)
            with self.store.transaction() as tx:
                tx.delete_replica(replica.id)
            replica.socket.unlink(missing_ok=True)
            run = self.runs.get(replica.deployment_id)
            if replica.state is ReplicaState.STOPPING or run is None:
                continue
            if replica.revision != run.revision:
                continue
            code = replica.process.returncode
            if not replica.ever_ready:
                run.start_failures += 1
                failures = run.start_failures
                self.log(
                    replica.deployment_id,
                    f"replica {replica.id} exited with code {code} before it was ready",
                )
                if failures >= self.max_start_failures:
                    run.failure = (
                        DeploymentStatus.DEPLOY_FAILED,
                        f"the model failed to start {failures} times",
                    )
            else:
                run.crashes = [t for t in run.crashes if now - t < self.crash_window] + [now]
                failures = len(run.crashes)
                self.log(replica.deployment_id, f"replica {replica.id} exited with code {code}")
                if failures >= self.max_crashes:
                    run.failure = (
                        DeploymentStatus.FAILED,
                        f"replicas crashed {failures} times in {self.crash_window:.0f} s",
                    )
            run.next_start = now + self.backoff[min(failures, len(self.backoff)) - 1]

    # reporting

    def counts(self, deployment: Deployment) -> ReplicaCounts:
        mine = [r for r in self.replicas if r.deployment_id == deployment.id]
        current = [r for r in mine if r.revision == deployment.revision]
        old = [r for r in mine if r.revision != deployment.revision]
        return ReplicaCounts(
            ready=sum(r.state is ReplicaState.READY for r in current),
            ready_old=sum(r.state is ReplicaState.READY for r in old),
            loading=sum(r.state is ReplicaState.LOADING for r in current),
            starting=sum(r.state is ReplicaState.STARTING for r in current),
        )

    def _write_statuses(self, deployments: list[Deployment]) -> None:
        changes: list[tuple[Deployment, DeploymentStatus, int]] = []
        for deployment in deployments:
            run = self.runs[deployment.id]
            counts = self.counts(deployment)
            if run.failure is not None and not counts.ready_old:
                status = run.failure[0]
            elif run.failure is not None:
                status = DeploymentStatus.ACTIVE  # the previous revision keeps serving
            else:
                status = observed_status(deployment.status, counts, run.building is not None)
            count = counts.ready + counts.ready_old
            if (status, count) != (deployment.status, deployment.active_replica_count):
                changes.append((deployment, status, count))
        if not changes:
            return
        with self.store.transaction() as tx:
            for deployment, status, count in changes:
                fresh = tx.deployment(deployment.id)
                # Compare and set: a user's deactivate or push in between wins.
                if fresh is None or (fresh.status, fresh.revision) != (
                    deployment.status,
                    deployment.revision,
                ):
                    continue
                tx.update_deployment(fresh, status=status, active_replica_count=count)
                if status is not deployment.status:
                    self.log(deployment.id, f"status {status.value}")
                    self.runs[deployment.id].last_status = status

    def _advance_promotions(self) -> None:
        with self.store.transaction() as tx:
            advance_promotions(tx, self.last_log_lines)

    def _routing_table(
        self,
        deployments: list[Deployment],
        models: list[Model],
        environments: list[Environment],
        promotions: list[Promotion],
    ) -> RoutingTable:
        routes = {}
        for deployment in deployments:
            mine = [r for r in self.replicas if r.deployment_id == deployment.id]
            ready = [r for r in mine if r.state is ReplicaState.READY]
            current = [r for r in ready if r.revision == deployment.revision] or ready
            routes[deployment.id] = DeploymentRoute(
                deployment_id=deployment.id,
                model_id=deployment.model_id,
                serving=desired_replicas(deployment) > 0 or bool(current),
                upstreams=tuple(str(r.socket) for r in current),
            )
        rolling = {(p.model_id, p.environment): p for p in promotions if p.rolling}
        envs = {}
        for environment in environments:
            key = (environment.model_id, environment.name)
            promotion = rolling.get(key)
            envs[key] = EnvironmentRoute(
                current=environment.current_deployment_id,
                candidate=promotion.candidate_id if promotion else None,
                percent_to_candidate=promotion.percent_traffic if promotion else 0,
            )
        names: dict[str, str] = {}
        for model in models:
            names[model.id] = model.id
            names.setdefault(model.name, model.id)
        return RoutingTable(
            models=names,
            environments=envs,
            development={d.model_id: d.id for d in deployments if d.is_development},
            deployments=routes,
        )

    # logs

    def log(self, deployment_id: str, message: str) -> None:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        with open(self.paths.deployment_log(deployment_id), "a", opener=_private) as file:
            file.write(f"{stamp} [brace] {message}\n")

    def log_writer(self, deployment_id: str) -> Callable[[str], None]:
        return lambda message: self.log(deployment_id, message)

    def last_log_lines(self, deployment_id: str, count: int = 8) -> str:
        path = self.paths.deployment_log(deployment_id)
        if not path.exists():
            return ""
        lines = path.read_text(errors="replace").splitlines()[-count:]
        return "Last log lines:\n" + "\n".join(lines) if lines else ""

    def _spawn_task(self, coroutine: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task


def _private(path: str, flags: int) -> int:
    import os

    return os.open(path, flags, 0o600)

"""The controller: a loop that makes the running replicas match the store, and reports.

Each tick it reads the store's desired state, learns what its replicas did (`replicas`:
readiness, drains, exits), asks the restart policy about each exit (`restarts`), asks
for every deployment's replica target (`targets`), starts and drains replicas to meet
it, writes statuses and moves promotions forward in one transaction, and hands the
gateway a new routing table (`table`) when anything it routes on changed. Every
decision is one of those pure functions; this module only carries them out.

The store is reached through `StoreWorker`, off the event loop: a CLI holding SQLite's
write lock delays the next tick, never a predict. A write that fails (a full disk)
stops nothing: what runs keeps serving, the tick's replica rows are kept for the next
write, and the decisions, made again from the same stored state, are written once
there is room (`problems` says so meanwhile). Ready replicas that stop answering their
liveness probes are stopped and count as crashes (`liveness`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

from brace.errors import BraceError, StateError, without_paths
from brace.logs import DeploymentLog, last_error
from brace.rollout.driver import PROGRESS_DEADLINE, progress_columns
from brace.server.backends import supervisor
from brace.server.backends.base import Launch, identified
from brace.server.control.autoscaler import SAMPLE_INTERVAL, Autoscaler
from brace.server.control.liveness import Liveness
from brace.server.control.observed import ReplicaCounts, observed_status, stopped
from brace.server.control.replicas import Exited, Replicas, ReplicaState, removal_order
from brace.server.control.restarts import GiveUp, RestartPolicy, after_exit
from brace.server.control.rolling import Driven, Side, StepHealth, drive
from brace.server.control.runs import (
    GaveUp,
    Preparing,
    Run,
    Runnable,
    Unprepared,
    read_model,
    settings_verdict,
)
from brace.server.control.table import Upstreams, build_table, replica_limits
from brace.server.control.targets import Observed, ReplicaTarget, replica_targets
from brace.server.gateway.counters import RequestCounters
from brace.server.gateway.routing import RoutingTable
from brace.server.paths import ServerPaths
from brace.server.storeworker import StoreWorker
from brace.services.promote import advance_promotions, record_rollout
from brace.services.snapshots import snapshot_path
from brace.store import Deployment, DeploymentStatus, Environment, Model, Promotion, Tx
from brace.store.db import new_id, stamp, utc_now
from brace.store.records import ReplicaProcess

_log = logging.getLogger("brace.server")

Builder = Callable[[Path, tuple[str, ...], Callable[[str], None]], Path]
ModelReader = Callable[[Path], "tuple[Any, tuple[str, ...]]"]

_OUT_OF_SERVICE = (ReplicaState.DRAINING, ReplicaState.STOPPING)

LOG_LINES_FOR_ERROR = 50
"""How far back in a deployment's log to look for the error that made it give up."""

# Statuses of deployments that served, left as SCALED_TO_ZERO when the server stops:
# nothing runs, and the next server starts what their settings ask for.
_ASLEEP_WHEN_STOPPED = frozenset(
    {
        DeploymentStatus.ACTIVE,
        DeploymentStatus.UPDATING,
        DeploymentStatus.WAKING_UP,
        DeploymentStatus.SCALED_TO_ZERO,
    }
)


@dataclass(frozen=True)
class Desired:
    """The store's desired state, read in one snapshot at the start of a tick."""

    models: list[Model]
    deployments: list[Deployment]
    environments: list[Environment]
    promotions: list[Promotion]

    @classmethod
    def read(cls, tx: Tx) -> Desired:
        models = tx.models()
        return cls(
            models,
            tx.deployments(),
            [e for m in models for e in tx.environments(m.id)],
            tx.active_promotions(),
        )


@dataclass(frozen=True)
class Report:
    """What a tick writes about one deployment (compare-and-set on status and revision)."""

    deployment: Deployment
    status: DeploymentStatus
    count: int
    serving_revision: int
    failed_revision: int
    recommended: int

    def changes(self) -> bool:
        d = self.deployment
        return self.columns() != (
            d.status,
            d.active_replica_count,
            d.serving_revision,
            d.failed_revision,
            d.recommended_replicas,
        )

    def columns(self) -> tuple[DeploymentStatus, int, int, int, int]:
        return (
            self.status,
            self.count,
            self.serving_revision,
            self.failed_revision,
            self.recommended,
        )


def _default_builder(home: Path, requirements: tuple[str, ...], log: Callable[[str], None]) -> Path:
    from brace.runtime.virtualenvs import ensure_environment

    return ensure_environment(home, requirements, log)


class Controller:
    def __init__(
        self,
        db: StoreWorker,
        on_table: Callable[[RoutingTable], None],
        *,
        replicas: Replicas | None = None,
        build: Builder = _default_builder,
        read: ModelReader = read_model,
        python: str = sys.executable,
        clock: Callable[[], float] = time.monotonic,
        policy: RestartPolicy = RestartPolicy(),
        progress_deadline: float = PROGRESS_DEADLINE,
        counters: RequestCounters | None = None,
        autoscaler: Autoscaler | None = None,
        wall: Callable[[], datetime] = utc_now,
        poll_interval: float = 0.1,
        probe_interval: float = 0.05,
        drain_timeout: float = 30.0,
        liveness: Liveness = Liveness(),
    ) -> None:
        """`poll_interval`, `probe_interval` (while a replica starts) and `drain_timeout`
        are in seconds; so is `progress_deadline`, the longest a rolling promotion waits
        for its candidate's replicas. `autoscaler` sizes the deployments no rollout
        sizes (no load: nothing scales up); `wall` is the UTC time, for leases such as
        `brace watch`'s keep-awake and the rollouts' stabilization times. `counters`:
        the gateway's request counters, for rolling promotions' automatic rollback.
        `liveness`: how long a ready replica may stop answering before it is replaced."""
        self.db = db
        self.paths = ServerPaths(db.home)
        self.on_table = on_table
        self.replicas = replicas if replicas is not None else Replicas()
        self.build = build
        self.read_model = read
        self.python = python
        self.clock = clock
        self.policy = policy
        self.progress_deadline = progress_deadline
        self.health = StepHealth(counters)
        self.autoscaler = autoscaler if autoscaler is not None else Autoscaler(dict, clock)
        self.wall = wall
        self.poll_interval = poll_interval
        self.probe_interval = probe_interval
        self.drain_timeout = drain_timeout
        self.liveness = liveness
        self.runs: dict[str, Run] = {}
        self._writes: list[Callable[[Tx], object]] = []
        """Replica rows to record in the next tick's transaction."""
        self._table: RoutingTable | None = None
        self._routed: Desired | None = None
        """The desired state the last table was built from."""
        self.write_failure: str | None = None
        """Why the last write failed (a full disk), until one succeeds."""
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    # the loop

    def nudge(self, deployment_id: str | None = None) -> None:
        """Reconcile now instead of at the next tick; with a deployment, wake it (the
        gateway calls this for `.../wake` and for a request held for it)."""
        if deployment_id is not None:
            self.autoscaler.wake(deployment_id)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        self._spawn_task(self._sample(stop))
        while not stop.is_set():
            try:
                await self.reconcile()
            except (StateError, OSError) as error:
                # The state file or a log cannot be written (a full disk): what runs
                # keeps running and serving; the next tick tries again.
                self._cannot_write(error)
            starting = any(
                r.state in (ReplicaState.STARTING, ReplicaState.LOADING) for r in self.replicas
            )
            interval = self.probe_interval if starting else self.poll_interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), interval)
            self._wake.clear()

    async def _sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.autoscaler.sample()
            await asyncio.sleep(SAMPLE_INTERVAL)

    async def reconcile(self) -> None:
        """One tick."""
        exits = self.replicas.reap()
        if self._routed is not None:
            # A ready replica that died leaves the gateway's table now, not after this
            # tick's read and write (a request sent to it meanwhile would fail).
            self._hand_table(self._routed)
        desired = await self.db.read(Desired.read)
        self._sync_runs(desired.deployments)
        for replica in await self.replicas.probe_starting():
            if replica.state is ReplicaState.READY:
                self._writes.append(partial(Tx.mark_replica_ready, replica_id=replica.id))
        for replica in self.replicas.check_liveness(self.liveness, self.clock()):
            self.log(replica.deployment_id).write(
                f"replica {replica.id} did not answer its liveness probes for "
                f"{self.liveness.timeout:g} s: stopping it"
            )
            replica.unresponsive = True
            self.replicas.stop(replica, grace=0.0)
        self.replicas.finish_drains(self.clock())
        exits += self.replicas.reap()
        for exited in exits:
            self._on_exit(exited)
        recommendations = self.autoscaler.recommendations(desired.deployments, self._kept_awake())
        driven = self._drive_rollouts(desired, recommendations)
        plans = {k: v for d in driven for k, v in d.plans().items()}
        self.autoscaler.hold(plans)
        targets = replica_targets(
            desired.deployments,
            {d.id: self._observe(d) for d in desired.deployments},
            plans,
            recommendations,
        )
        environments = _environments_of(desired)
        for deployment in desired.deployments:
            self._apply(deployment, targets[deployment.id], environments.get(deployment.id))
        self.replicas.update_environments(environments)
        try:
            routed = await self._report(desired, targets, driven)
        except (StateError, OSError) as error:
            self._cannot_write(error)
            routed = desired  # routes as stored; the same decisions are made again
        else:
            self._written()
        self._routed = routed
        self._hand_table(routed)

    def _hand_table(self, routed: Desired) -> None:
        """Give the gateway the routing table of `routed` and the replicas as they are
        now, if it changed."""
        table = build_table(
            routed.models,
            routed.deployments,
            routed.environments,
            routed.promotions,
            {d.id: self._upstreams(d) for d in routed.deployments},
            {i: run.state.reason for i, run in self.runs.items() if isinstance(run.state, GaveUp)},
        )
        if table != self._table:
            self._table = table
            self.on_table(table)

    async def settle(self) -> None:
        """Wait for the work under way (model directories being read, environments
        being built, replicas being stopped) to finish."""
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self.replicas.wait_stops()

    async def shutdown(self) -> None:
        """Stop every replica (TERM, then KILL) and forget them."""
        for task in list(self._tasks):
            task.cancel()
        stopped = await self.replicas.stop_all()
        pending, self._writes = self._writes, []

        def forget(tx: Tx) -> None:
            for change in pending:
                change(tx)
            for replica in stopped:
                tx.delete_replica(replica.id)
            for deployment in tx.deployments():
                asleep = deployment.status in _ASLEEP_WHEN_STOPPED
                tx.update_deployment(
                    deployment,
                    status=DeploymentStatus.SCALED_TO_ZERO if asleep else deployment.status,
                    active_replica_count=0,
                    serving_revision=0,
                )

        try:
            await self.db.write(forget)
        except (StateError, OSError) as error:  # the next server sweeps what is left
            self._cannot_write(error)

    def sweep_orphans(self) -> None:
        """Stop replica processes a previous server left behind (after kill -9); on a
        full disk their rows stay, for the next start to forget."""
        try:
            self.db.call_now(supervisor.stop_recorded_replicas)
        except StateError as error:
            self._cannot_write(error)

    # one deployment

    def _sync_runs(self, deployments: list[Deployment]) -> None:
        """Start a new run for a new revision or an activation; forget deleted
        deployments and drain their replicas."""
        known = {d.id: d for d in deployments}
        for deployment_id in [i for i in self.runs if i not in known]:
            del self.runs[deployment_id]
        for replica in self.replicas:
            if replica.deployment_id not in known:
                self.replicas.drain(replica, self.clock() + self.drain_timeout)
        for deployment in deployments:
            run = self.runs.get(deployment.id)
            if run is None or run.outdated_by(deployment):
                run = self.runs[deployment.id] = Run(deployment.revision, deployment.status)
            run.status_seen = deployment.status
            verdict = settings_verdict(run, deployment)
            if verdict is not None:  # the server serves the others and says why not this one
                run.state = verdict
                self.log(deployment.id).write(verdict.reason)
                print(
                    f"deployment {deployment.id} ({deployment.name} of model "
                    f"{deployment.model_id}) {verdict.reason}",
                    file=sys.stderr,
                    flush=True,
                )

    def _observe(self, deployment: Deployment) -> Observed:
        counts = self._counts(deployment)
        return Observed(
            ready_current=counts.ready,
            ready_previous=counts.ready_old,
            gave_up=isinstance(self.runs[deployment.id].state, GaveUp),
        )

    def _apply(
        self, deployment: Deployment, target: ReplicaTarget, environment: str | None
    ) -> None:
        run = self.runs[deployment.id]
        deadline = self.clock() + self.drain_timeout
        mine = [r for r in self.replicas.of(deployment.id) if r.state not in _OUT_OF_SERVICE]
        current = [r for r in mine if r.revision == deployment.revision]
        kept = 0
        for replica in mine:
            if replica.revision == deployment.revision:
                continue
            if replica.state is ReplicaState.READY and kept < target.previous:
                kept += 1
            else:
                self.replicas.drain(replica, deadline)
        missing = target.replicas - len(current)
        if missing > 0:
            if isinstance(run.state, Unprepared):
                run.state = Preparing()
                self._spawn_task(self._prepare(deployment, run))
            elif isinstance(run.state, Runnable) and self.clock() >= run.history.next_start:
                for _ in range(missing):
                    self._start(deployment, run.state, environment)
        if missing >= 0:
            return
        if target.replicas == 0 and (stopped(deployment.status) or isinstance(run.state, GaveUp)):
            victims = current  # deactivated or failed: all of them, loading or not
        else:
            victims = removal_order(current)[:-missing]
        for replica in victims:
            self.replicas.drain(replica, deadline)

    def truss_dir(self, deployment: Deployment) -> Path:
        if deployment.snapshot is not None:
            return snapshot_path(self.db.home, deployment.snapshot)
        assert deployment.source_dir is not None
        return Path(deployment.source_dir)

    async def _prepare(self, deployment: Deployment, run: Run) -> None:
        """Read the model directory and find (or build) its Python, off the loop."""
        log = self.log(deployment.id)
        try:
            truss, requirements = await asyncio.to_thread(
                self.read_model, self.truss_dir(deployment)
            )
        except (BraceError, OSError) as error:
            log.write(f"cannot read the model: {error}")
            run.state = GaveUp(DeploymentStatus.DEPLOY_FAILED, str(error))
            self._wake.set()
            return
        python = self.python
        if requirements:
            run.state = Preparing(building=True)
            self._wake.set()
            try:
                built = await asyncio.to_thread(self.build, self.db.home, requirements, log.write)
            except BraceError as error:
                log.write(f"building the environment failed: {error.message}")
                run.state = GaveUp(DeploymentStatus.BUILD_FAILED, error.message)
                self._wake.set()
                return
            python = str(built)
        run.state = Runnable(python, truss)
        self._wake.set()

    def _start(self, deployment: Deployment, runnable: Runnable, environment: str | None) -> None:
        replica_id = new_id()
        log = self.log(deployment.id)
        log.write(f"starting replica {replica_id} (revision {deployment.revision})")
        launch = Launch(
            python=runnable.python,
            truss_dir=runnable.truss.path,
            socket=self.paths.replica_socket(replica_id),
            log_file=log.path,
            env={
                **supervisor.replica_environment(
                    self.db.home,
                    runnable.truss.config.environment_variables,
                    runnable.truss.config.secrets,
                ),
                supervisor.ENVIRONMENT_VARIABLE: json.dumps(
                    supervisor.environment_json(environment)
                ),
            },
        )
        replica = self.replicas.start(
            replica_id, deployment.id, deployment.revision, launch, environment
        )
        replica.runtime = runnable.truss.config.runtime
        record = ReplicaProcess(
            id=replica_id,
            deployment_id=deployment.id,
            revision=deployment.revision,
            pid=replica.process.pid,
            process_started=replica.process.started,
            socket=str(launch.socket),
            started_at="",
        )
        process = replica.process

        def insert(tx: Tx) -> None:  # in the store's thread: a fork's pid comes with its reply
            pid, started = identified(process)
            tx.insert_replica(
                replace(record, pid=pid, process_started=started, started_at=tx.now())
            )

        self._writes.append(insert)

    def _on_exit(self, exited: Exited) -> None:
        replica = exited.replica
        self._writes.append(partial(Tx.delete_replica, replica_id=replica.id))
        run = self.runs.get(replica.deployment_id)
        if exited.asked or run is None or replica.revision != run.revision:
            return
        verdict = after_exit(
            self.policy,
            run.history,
            replica_id=replica.id,
            code=exited.code,
            ever_ready=replica.ever_ready,
            now=self.clock(),
        )
        run.history = verdict.history
        log = self.log(replica.deployment_id)
        log.write(verdict.note)
        if isinstance(verdict, GiveUp):
            error = last_error(log.tail(LOG_LINES_FOR_ERROR))
            reason = f"{verdict.reason}; last error: {error}" if error else verdict.reason
            log.write(f"giving up: {reason}")
            run.state = GaveUp(verdict.status, reason)

    def _kept_awake(self) -> Callable[[Deployment], bool]:
        now = stamp(self.wall())
        return lambda deployment: (deployment.awake_until or "") > now

    # reporting

    def _counts(self, deployment: Deployment) -> ReplicaCounts:
        current = ready_old = loading = starting = 0
        for replica in self.replicas.of(deployment.id):
            if replica.revision != deployment.revision:
                ready_old += replica.state is ReplicaState.READY
                continue
            current += replica.state is ReplicaState.READY
            loading += replica.state is ReplicaState.LOADING
            starting += replica.state is ReplicaState.STARTING
        return ReplicaCounts(current, ready_old, loading, starting)

    def _upstreams(self, deployment: Deployment) -> Upstreams:
        ready = [
            r
            for r in self.replicas.of(deployment.id)
            if r.state is ReplicaState.READY and not r.ended
        ]
        return Upstreams(
            current=tuple(r.upstream for r in ready if r.revision == deployment.revision),
            previous=tuple(r.upstream for r in ready if r.revision != deployment.revision),
            limits={r.upstream: replica_limits(r.runtime) for r in ready},
        )

    def _serving_revision(self, deployment: Deployment, counts: ReplicaCounts) -> int:
        if counts.ready:
            return deployment.revision
        ready = [
            r.revision for r in self.replicas.of(deployment.id) if r.state is ReplicaState.READY
        ]
        return max(ready, default=0)

    def _report_of(self, deployment: Deployment, target: ReplicaTarget) -> Report:
        """A side of a rolling promotion that its plan takes to 0 replicas (the
        outgoing deployment at the last step, the candidate at the end of a cancel) is
        SCALED_TO_ZERO like any deployment at 0, not DEPLOYING."""
        state = self.runs[deployment.id].state
        counts = self._counts(deployment)
        if isinstance(state, GaveUp):
            # A failed new revision leaves the previous one serving, if there is one.
            status = DeploymentStatus.ACTIVE if counts.ready_old else state.status
        else:
            building = isinstance(state, Preparing) and state.building
            status = observed_status(deployment.status, counts, building, target.replicas)
        return Report(
            deployment,
            status,
            counts.ready + counts.ready_old,
            self._serving_revision(deployment, counts),
            deployment.revision if isinstance(state, GaveUp) else deployment.failed_revision,
            target.replicas,
        )

    async def _report(
        self,
        desired: Desired,
        targets: Mapping[str, ReplicaTarget],
        driven: list[Driven],
    ) -> Desired:
        """Write replica rows, statuses and promotion steps in one transaction, if any;
        the desired state as it is after a promotion step (the gateway routes on it)."""
        reports = [
            r for d in desired.deployments if (r := self._report_of(d, targets[d.id])).changes()
        ]
        if not (reports or self._writes or desired.promotions):
            return desired
        pending, self._writes = self._writes, []
        kept = pending  # written again at the next tick if this write fails

        def write(tx: Tx) -> tuple[list[Report], Desired]:
            for change in pending:
                change(tx)
            written = [r for r in reports if _compare_and_set(tx, r)]
            if not desired.promotions:
                return written, desired
            for rollout in driven:
                if rollout.changes():
                    outcome = rollout.outcome
                    record_rollout(
                        tx,
                        rollout.promotion,
                        outcome.status,
                        outcome.percent,
                        progress_columns(outcome.progress),
                        error_message=_with_detail(outcome.error, self._last_log_lines, rollout),
                        clear_action=outcome.clear_action,
                    )
            advance_promotions(tx, self._last_log_lines)
            return written, Desired.read(tx)

        try:
            written, after = await self.db.write(write)
        except BaseException:
            self._writes = kept + self._writes
            raise
        for report in written:
            if report.status is not report.deployment.status:
                self.log(report.deployment.id).write(f"status {report.status.value}")
        for rollout in driven:
            self._log_rollout(rollout)
        return after

    def _drive_rollouts(self, desired: Desired, recommendations: Mapping[str, int]) -> list[Driven]:
        self.health.forget(p.id for p in desired.promotions)
        return drive(
            desired.promotions,
            {d.id: d for d in desired.deployments},
            {(e.model_id, e.name): e for e in desired.environments},
            self._side,
            recommendations,
            self.wall().timestamp(),
            self.progress_deadline,
            self.health,
            self.autoscaler.average_in_flight,
        )

    def _side(self, deployment: Deployment | None) -> Side:
        """One deployment of a rollout: its ready and running replicas, and why it
        cannot run if it cannot."""
        if deployment is None:
            return Side(0, 0, "the candidate deployment was deleted")
        counts = self._counts(deployment)
        running = len(self.replicas.of(deployment.id))
        state = self.runs[deployment.id].state if deployment.id in self.runs else None
        failure = None
        if isinstance(state, GaveUp):
            failure = f"the candidate deployment is {state.status.value}: {state.reason}"
        elif deployment.status.failed:
            failure = f"the candidate deployment is {deployment.status.value}"
        elif deployment.status.inactive:
            failure = "the candidate deployment was deactivated"
        return Side(counts.ready + counts.ready_old, running, failure)

    def _log_rollout(self, rollout: Driven) -> None:
        """One line in the candidate's log for each change of step or status."""
        before, outcome = rollout.promotion, rollout.outcome
        if (outcome.status, outcome.progress.step, outcome.percent) == (
            before.status,
            before.step,
            before.percent_traffic,
        ):
            return
        self.log(before.candidate_id).write(
            f"rollout to {before.environment}: {outcome.status.value}, step "
            f"{outcome.progress.step}, {outcome.percent}% of traffic, replicas "
            f"{outcome.previous} previous / {outcome.candidate} candidate"
            + (f" ({outcome.error})" if outcome.error else "")
        )

    # logs

    def log(self, deployment_id: str) -> DeploymentLog:
        return _SparingLog(self.paths.deployment_log(deployment_id), self._cannot_write)

    def _cannot_write(self, error: BaseException) -> None:
        """Note that something could not be written: one line in the server's log when
        it starts, and `problems` says so until a tick's write succeeds again."""
        if self.write_failure is None:
            _log.error(
                "cannot write the server's state (%s): serving what runs, and trying "
                "again at every tick",
                _without_paths(error),
            )
        self.write_failure = _without_paths(error)

    def _written(self) -> None:
        if self.write_failure is not None:
            _log.warning("the server's state is written again")
            self.write_failure = None

    def problems(self) -> list[str]:
        """What keeps the server from doing its job in full, for `brace status` (no
        paths in it: /healthz answers anyone on this machine)."""
        if self.write_failure is None:
            return []
        return [
            f"cannot write its state ({self.write_failure}): replicas keep serving, "
            "changes wait until it can write again"
        ]

    def _last_log_lines(self, deployment_id: str) -> str:
        lines = self.log(deployment_id).tail(8)
        return "Last log lines:\n" + "\n".join(lines) if lines else ""

    def _spawn_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


class _SparingLog(DeploymentLog):
    """A deployment's log for the server's own lines: a line that cannot be written (a
    full disk) is dropped and reported once, instead of stopping the controller."""

    def __init__(self, path: Path, failed: Callable[[BaseException], None]) -> None:
        super().__init__(path)
        self._failed = failed

    def write(self, message: str) -> None:
        try:
            super().write(message)
        except OSError as error:
            self._failed(error)


def _without_paths(error: BaseException) -> str:
    """An error's text with the file paths in it cut to their last part."""
    text = error.message if isinstance(error, BraceError) else str(error)
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    return without_paths(text)


def _environments_of(desired: Desired) -> dict[str, str | None]:
    """The environment each deployment is in: the one it serves (production first),
    else the one it is being promoted to (its model is built for it, as on Baseten);
    None for the rest."""
    environments: dict[str, str | None] = dict.fromkeys(d.id for d in desired.deployments)
    for promotion in desired.promotions:
        environments[promotion.candidate_id] = promotion.environment
    for environment in reversed(desired.environments):  # production is listed first
        if environment.current_deployment_id is not None:
            environments[environment.current_deployment_id] = environment.name
    return environments


def _with_detail(error: str | None, detail: Callable[[str], str], rollout: Driven) -> str | None:
    """A failed rollout's error, with the candidate's last log lines."""
    if error is None:
        return None
    lines = detail(rollout.promotion.candidate_id)
    return f"{error}. {lines}" if lines else error


def _compare_and_set(tx: Tx, report: Report) -> bool:
    """Write the report unless a user's deactivate or push came in between."""
    fresh = tx.deployment(report.deployment.id)
    if fresh is None or (fresh.status, fresh.revision) != (
        report.deployment.status,
        report.deployment.revision,
    ):
        return False
    status, count, serving, failed, recommended = report.columns()
    tx.update_deployment(
        fresh,
        status=status,
        active_replica_count=count,
        serving_revision=serving,
        failed_revision=failed,
        recommended_replicas=recommended,
    )
    return True

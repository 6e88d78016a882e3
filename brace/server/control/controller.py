"""The controller: a loop that makes the running replicas match the store, and reports.

Each tick: read the store's desired state (`desired`); observe what the replicas did
and apply the restart policy to each exit (`fleet`); decide every deployment's replica
target (`targets`, with the rolling promotions' plans from `rolling_promotions` and
the `autoscaler`'s recommendations); act on it (`fleet`, deciding with `changes`);
write replica rows, reports and promotion steps in one transaction (`writes`); and
publish a new routing table (`table`) when anything the gateway routes on changed.
The decisions are those modules' pure functions; this module only runs the loop.

The store is reached through `StoreWorker`, off the event loop: a CLI holding SQLite's
write lock delays the next tick, never a predict. A write that fails (a full disk)
stops nothing: what runs keeps serving, the replica rows wait for the next write, and
the same decisions are made again from the same stored state (`problems`).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from brace.errors import StateError
from brace.logs import DeploymentLog
from brace.server.backends import supervisor
from brace.server.control.autoscaler import SAMPLE_INTERVAL, Autoscaler
from brace.server.control.desired import Desired, environments_of, kept_awake
from brace.server.control.fleet import Fleet
from brace.server.control.preparation import Preparation
from brace.server.control.problems import WriteProblems
from brace.server.control.replicas import Replicas, ReplicaState
from brace.server.control.rolling_promotions import (
    Driven,
    StepHealth,
    drive,
    rollout_line,
)
from brace.server.control.runs import Run
from brace.server.control.settings import ControllerSettings
from brace.server.control.table import build_table
from brace.server.control.targets import ReplicaTarget, replica_targets
from brace.server.control.wakeup import Wakeup
from brace.server.control.writes import shutdown_write, tick_write
from brace.server.gateway.routing import RoutingTable
from brace.server.paths import ServerPaths
from brace.server.storeworker import StoreWorker
from brace.store.db import utc_now


class Controller:
    def __init__(
        self,
        db: StoreWorker,
        publish: Callable[[RoutingTable], None],
        replicas: Replicas,
        *,
        autoscaler: Autoscaler,
        health: StepHealth,
        wakeup: Wakeup,
        preparation: Preparation | None = None,
        settings: ControllerSettings = ControllerSettings(),
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = utc_now,
    ) -> None:
        """`publish` hands the gateway a new routing table; `autoscaler` sizes the
        deployments no rollout sizes; `health`: the candidates' answers, for rolling
        promotions' automatic rollback; `wakeup`: what others call to have a tick now;
        `wall` is the UTC time, for leases such as `brace watch`'s keep-awake and the
        rollouts' stabilization times."""
        self.db = db
        self.paths = ServerPaths(db.home)
        self.publish = publish
        self.replicas = replicas
        self.autoscaler = autoscaler
        self.health = health
        self.wakeup = wakeup
        self.settings = settings
        self.clock = clock
        self.wall = wall
        self.write_problems = WriteProblems()
        self.fleet = Fleet(
            replicas,
            preparation if preparation is not None else Preparation(db.home),
            settings.policy,
            settings.drain_timeout,
            clock,
            self.log,
            wakeup,
        )
        self._table: RoutingTable | None = None
        self._routed: Desired | None = None
        """The desired state the last table was built from."""
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def runs(self) -> dict[str, Run]:
        return self.fleet.runs

    def nudge(self, deployment_id: str | None = None) -> None:
        """Reconcile now instead of at the next tick; with a deployment, wake it."""
        if deployment_id is not None:
            self.autoscaler.wake(deployment_id)
        self.wakeup()

    def problems(self) -> list[str]:
        """What keeps the server from doing its job in full, for `brace status`."""
        return self.write_problems.problems()

    # the loop

    async def run(self, stop: asyncio.Event) -> None:
        sampler = asyncio.ensure_future(self._sample(stop))
        self._tasks.add(sampler)
        sampler.add_done_callback(self._tasks.discard)
        while not stop.is_set():
            try:
                await self.reconcile()
            except (StateError, OSError) as error:
                # The state file or a log cannot be written (a full disk): what runs
                # keeps running and serving; the next tick tries again.
                self.write_problems.cannot_write(error)
            starting = any(
                r.state in (ReplicaState.STARTING, ReplicaState.LOADING) for r in self.replicas
            )
            s = self.settings
            await self.wakeup.wait(s.probe_interval if starting else s.poll_interval)

    async def _sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._take_wakes()
            self.autoscaler.sample()
            await asyncio.sleep(SAMPLE_INTERVAL)

    def _take_wakes(self) -> None:
        for deployment_id in self.wakeup.woken():
            self.autoscaler.wake(deployment_id)

    async def reconcile(self) -> None:
        """One tick: read, observe, decide, act, write, publish."""
        exits = self.replicas.reap()
        if self._routed is not None:
            # A ready replica that died leaves the gateway's table now, not after this
            # tick's read and write (a request sent to it meanwhile would fail).
            self._publish(self._routed)
        desired = await self.db.read(Desired.read)
        self.fleet.sync_runs(desired.deployments)
        exits += await self.fleet.observe(self.settings.liveness)
        for exited in exits:
            self.fleet.on_exit(exited)
        self._take_wakes()
        recommendations = self.autoscaler.recommendations(
            desired.deployments, kept_awake(self.wall())
        )
        driven = self._drive_rollouts(desired, recommendations)
        plans = {k: v for d in driven for k, v in d.plans().items()}
        self.autoscaler.hold(plans)
        targets = replica_targets(
            desired.deployments,
            {d.id: self.fleet.observed(d) for d in desired.deployments},
            plans,
            recommendations,
        )
        environments = environments_of(desired)
        for deployment in desired.deployments:
            self.fleet.apply(deployment, targets[deployment.id], environments.get(deployment.id))
        self.replicas.update_environments(environments)
        try:
            routed = await self._write(desired, targets, driven)
        except (StateError, OSError) as error:
            self.write_problems.cannot_write(error)
            routed = desired  # routes as stored; the same decisions are made again
        else:
            self.write_problems.written()
        self._routed = routed
        self._publish(routed)

    def _publish(self, routed: Desired) -> None:
        """Give the gateway the routing table of `routed` and the replicas as they are
        now, if it changed."""
        table = build_table(
            routed.models,
            routed.deployments,
            routed.environments,
            routed.promotions,
            self.fleet.upstreams(routed.deployments),
            self.fleet.failures(),
        )
        if table != self._table:
            self._table = table
            self.publish(table)

    async def settle(self) -> None:
        """Wait for the work under way (model directories being read, environments
        being built, replicas being stopped) to finish."""
        while self.fleet.tasks:
            await asyncio.gather(*self.fleet.tasks, return_exceptions=True)
        await self.replicas.wait_stops()

    async def shutdown(self) -> None:
        """Stop every replica (TERM, then KILL) and forget them."""
        for task in [*self._tasks, *self.fleet.tasks]:
            task.cancel()
        stopped = await self.replicas.stop_all()
        pending, self.fleet.writes = self.fleet.writes, []
        forget = shutdown_write(pending, [r.id for r in stopped])
        try:
            await self.db.write(forget)
        except (StateError, OSError) as error:  # the next server sweeps what is left
            self.write_problems.cannot_write(error)

    def sweep_orphans(self) -> None:
        """Stop replica processes a previous server left behind (after kill -9); on a
        full disk their rows stay, for the next start to forget."""
        try:
            self.db.call_now(supervisor.stop_recorded_replicas)
        except StateError as error:
            self.write_problems.cannot_write(error)

    # writing

    async def _write(
        self, desired: Desired, targets: Mapping[str, ReplicaTarget], driven: list[Driven]
    ) -> Desired:
        """Write replica rows, statuses and promotion steps in one transaction, if any;
        the desired state as it is after a promotion step (the gateway routes on it)."""
        reports = [
            r
            for d in desired.deployments
            if (r := self.fleet.report(d, targets[d.id].replicas)).changes()
        ]
        if not (reports or self.fleet.writes or desired.promotions):
            return desired
        pending, self.fleet.writes = self.fleet.writes, []
        write = tick_write(pending, reports, desired, driven, self._last_log_lines)
        try:
            written, after = await self.db.write(write)
        except BaseException:
            self.fleet.writes = pending + self.fleet.writes  # written again at the next tick
            raise
        for report in written:
            if report.status is not report.deployment.status:
                self.log(report.deployment.id).write(f"status {report.status.value}")
        for rollout in driven:
            if (line := rollout_line(rollout)) is not None:
                self.log(rollout.promotion.candidate_id).write(line)
        return after

    def _drive_rollouts(self, desired: Desired, recommendations: Mapping[str, int]) -> list[Driven]:
        self.health.forget(p.id for p in desired.promotions)
        return drive(
            desired.promotions,
            {d.id: d for d in desired.deployments},
            {(e.model_id, e.name): e for e in desired.environments},
            self.fleet.side,
            recommendations,
            self.wall().timestamp(),
            self.settings.progress_deadline,
            self.health,
            self.autoscaler.average_in_flight,
        )

    # logs

    def log(self, deployment_id: str) -> DeploymentLog:
        return self.write_problems.log(self.paths.deployment_log(deployment_id))

    def _last_log_lines(self, deployment_id: str) -> str:
        lines = self.log(deployment_id).tail(8)
        return "Last log lines:\n" + "\n".join(lines) if lines else ""

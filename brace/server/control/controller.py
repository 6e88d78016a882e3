"""The controller: a loop that makes the running replicas match the store, and reports.

Each tick: read what changed in the store (`mirror`: the rows its change log names,
or everything at a periodic full read); observe what the replicas did and apply the
restart policy to each exit (`fleet`); pick the deployments to decide for (`attention`:
those something happened to, and those not settled); decide their replica targets
(`targets`, with the rolling promotions' plans from `rolling_promotions` and the
`autoscaler`'s recommendations); act on them (`fleet`, deciding with `changes`, and
starting replicas at a bounded pace); write replica rows, reports and promotion steps
in one transaction (`writes`); and publish a new routing table (`table`) when anything
the gateway routes on changed. With nothing changed a tick reads one empty query and
decides nothing. The decisions are those modules' pure functions; this module only
runs the loop.

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
from brace.server.control.attention import Seen, settled, start_order
from brace.server.control.autoscaler import SAMPLE_INTERVAL, Autoscaler
from brace.server.control.desired import environments_of, kept_awake
from brace.server.control.fleet import Fleet
from brace.server.control.preparation import Preparation
from brace.server.control.problems import WriteProblems
from brace.server.control.publisher import Publisher
from brace.server.control.reading import StoreReader
from brace.server.control.replicas import Replicas, ReplicaState
from brace.server.control.report import Report
from brace.server.control.rolling_promotions import (
    Driven,
    StepHealth,
    drive,
)
from brace.server.control.runs import Run
from brace.server.control.settings import ControllerSettings
from brace.server.control.targets import replica_targets
from brace.server.control.wakeup import Wakeup
from brace.server.control.writes import shutdown_write, write_tick
from brace.server.gateway.routing import RoutingTable
from brace.server.paths import ServerPaths
from brace.server.storewatch import StoreWatch
from brace.server.storeworker import StoreWorker
from brace.store import Deployment, Promotion
from brace.store.db import DB_FILE, utc_now


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
            settings.start_concurrency,
        )
        self.reader = StoreReader(db, clock, settings.resync_interval)
        self.mirror = self.reader.mirror
        self.publisher = Publisher(publish)
        self._attention: set[str] = set()
        """Deployments the next tick decides for: not settled, or changed by the last write."""
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
        """Tick until `stop` is set: at once when woken (the store changed, a replica's
        notice, demand), every `probe_interval` while a replica starts, every
        `poll_interval` while a deployment is not settled, else at the next full read."""
        for job in (self._sample(stop), self._wake_at(stop)):
            task = asyncio.ensure_future(job)
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        watch = StoreWatch(self.db.home / DB_FILE, self.settings.poll_interval, self._changed)
        watch.start()
        self.reader.watched = True
        try:
            while not stop.is_set():
                try:
                    await self.reconcile()
                except (StateError, OSError) as error:
                    # The state file or a log cannot be written (a full disk): what runs
                    # keeps running and serving; the next tick tries again.
                    self.write_problems.cannot_write(error)
                await self.wakeup.wait(self._next_tick())
        finally:
            self.reader.watched = False
            watch.stop()

    def _next_tick(self) -> float:
        """Seconds until the next tick unless woken."""
        s = self.settings
        if any(r.state in (ReplicaState.STARTING, ReplicaState.LOADING) for r in self.replicas):
            return s.probe_interval
        busy = self._attention or self.mirror.promotions or self.fleet.writes
        if busy or next(iter(self.replicas), None) is not None:
            return s.poll_interval
        return max(s.poll_interval, self.reader.seconds_to_resync())

    def _changed(self) -> None:
        """The store changed (`StoreWatch`): read what at the next tick, now."""
        self.reader.changed()
        self.wakeup()

    async def _wake_at(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self.wakeup()

    async def _sample(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._take_wakes()
            self.autoscaler.sample()
            if self.autoscaler.demand_pending():
                self.wakeup()
            await asyncio.sleep(SAMPLE_INTERVAL)

    def _take_wakes(self) -> None:
        for deployment_id in self.wakeup.woken():
            self.autoscaler.wake(deployment_id)

    async def reconcile(self) -> None:
        """One tick: read, observe, decide, act, write, publish."""
        exits = self.replicas.reap()
        # A ready replica that died leaves the gateway's table now, not after this
        # tick's read and write (a request sent to it meanwhile would fail).
        self._publish(False)
        touched, forget = await self.reader.read()
        if forget is not None:  # the change log holds only what was not read yet
            self.fleet.writes.append(forget)
        self.fleet.drain_strays(self.mirror.deployments)
        exits += await self.fleet.observe(self.settings.liveness)
        self._take_wakes()
        wanted = touched | self._attention | self.autoscaler.demanded()
        wanted |= {e.replica.deployment_id for e in exits} | self.mirror.in_promotions()
        known = self.mirror.deployments
        deployments = sorted((known[i] for i in wanted if i in known), key=_store_order)
        self.fleet.sync_runs(deployments, wanted - known.keys())
        self.autoscaler.forget(wanted - known.keys())
        for exited in exits:
            self.fleet.on_exit(exited)
        recommendations = self.autoscaler.recommendations(deployments, kept_awake(self.wall()))
        view = self.mirror.view(deployments, {d.model_id for d in deployments})
        driven = self._drive_rollouts(view.promotions, recommendations)
        plans = {k: v for d in driven for k, v in d.plans().items()}
        self.autoscaler.hold(plans)
        targets = replica_targets(
            deployments, {d.id: self.fleet.observed(d) for d in deployments}, plans, recommendations
        )
        environments = environments_of(view)
        self.fleet.open_starts()
        for deployment in start_order(deployments, environments, self.autoscaler.held()):
            self.fleet.apply(deployment, targets[deployment.id], environments.get(deployment.id))
        self.replicas.update_environments(environments)
        reports = [self.fleet.report(d, targets[d.id].replicas) for d in deployments]
        try:
            changed = await write_tick(
                self.db, self.fleet, self.mirror, [r for r in reports if r.changes()], driven
            )
        except (StateError, OSError) as error:
            self.write_problems.cannot_write(error)
            changed = set()  # the same decisions are made again
        else:
            self.write_problems.written()
        self._attention = changed | {
            d.id for d, r in zip(deployments, reports, strict=True) if not self._settled(d, r)
        }
        for deployment_id in wanted:  # a deleted one's run is forgotten: no failure
            self.publisher.failure(deployment_id, self.fleet.failure(deployment_id))
        self._publish(bool(touched or changed))

    def _settled(self, deployment: Deployment, report: Report) -> bool:
        return settled(
            Seen(
                replicas=len(self.replicas.of(deployment.id)),
                wanted=report.recommended,
                preparing=self.fleet.preparing(deployment.id),
                unreported=report.changes(),
                promoted=deployment.model_id in self.mirror.promotions,
            )
        )

    def _publish(self, changed: bool) -> None:
        """A new routing table for the gateway if the store (`changed`) or the ready
        replicas changed."""
        with_replicas = {r.deployment_id for r in self.replicas}
        known = [d for i in with_replicas if (d := self.mirror.deployments.get(i))]
        self.publisher.upstreams(self.fleet.upstreams(known), with_replicas)
        self.publisher.update(self.mirror, changed)

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

    def _drive_rollouts(
        self, promotions: list[Promotion], recommendations: Mapping[str, int]
    ) -> list[Driven]:
        self.health.forget(p.id for ps in self.mirror.promotions.values() for p in ps)
        if not promotions:
            return []
        return drive(
            promotions,
            self.mirror.deployments,
            self.mirror.environments_by_name(p.model_id for p in promotions),
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


def _store_order(deployment: Deployment) -> tuple[str, str]:
    return (deployment.created_at, deployment.id)

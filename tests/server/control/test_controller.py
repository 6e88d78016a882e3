"""The controller loop, driven tick by tick with fake replica processes and a fake clock.

The store is a real SQLite file and the model directories are real; only the replica
processes and their readiness answers are played by `World`.
"""

from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import pytest

from brace.errors import StateError
from brace.server.backends.base import Launch
from brace.server.control.autoscaler import Autoscaler
from brace.server.control.controller import Controller
from brace.server.control.preparation import Preparation
from brace.server.control.replicas import Replicas
from brace.server.control.restarts import RestartPolicy
from brace.server.control.rolling_promotions import StepHealth
from brace.server.control.settings import ControllerSettings
from brace.server.control.wakeup import Wakeup
from brace.server.gateway.routing import RoutingTable
from brace.server.storeworker import StoreWorker
from brace.services import deployments, environments
from brace.services.promote import promote
from brace.services.push import push
from brace.store import Deployment, DeploymentStatus, Store, Tx
from tests.conftest import MakeTruss

S = DeploymentStatus
T = TypeVar("T")
POLICY = RestartPolicy(backoff=(1.0, 2.0), max_start_failures=3, max_crashes=3, crash_window=60)


@dataclass
class FakeProcess:
    pid: int
    launch: Launch
    started: float = 0.0
    code: int | None = None
    stops: int = 0
    notices: int | None = None
    node: str | None = None

    @property
    def address(self) -> str:
        return self.launch.address

    def poll(self) -> int | None:
        return self.code

    def stop(self, grace: float = 5.0) -> None:
        self.stops += 1
        if self.code is None:
            self.code = -15


@dataclass
class World:
    """Replica processes as the controller sees them: spawned, answering readiness, dying;
    and the gateway's load."""

    processes: list[FakeProcess] = field(default_factory=list)
    readiness: dict[str, int | None] = field(default_factory=dict)
    in_flight: dict[str, int] = field(default_factory=dict)
    load: dict[str, tuple[int, int]] = field(default_factory=dict)
    told: list[tuple[str, str | None]] = field(default_factory=list)
    silent: set[str] = field(default_factory=set)

    def spawn(self, launch: Launch) -> FakeProcess:
        process = FakeProcess(1000 + len(self.processes), launch)
        self.processes.append(process)
        return process

    async def probe(self, address: str) -> int | None:
        if address in self.silent:  # stopped with kill -STOP: no answer, ever
            await asyncio.Event().wait()
        return self.readiness.get(address)

    async def tell(self, address: str, environment: str | None) -> bool:
        self.told.append((address, environment))
        return True

    def running(self) -> list[FakeProcess]:
        return [p for p in self.processes if p.code is None]

    def answer(self, process: FakeProcess, status: int | None) -> None:
        self.readiness[process.launch.address] = status


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    store: Store
    world: World
    clock: Clock
    controller: Controller
    tables: list[RoutingTable]

    async def tick(self) -> None:
        """One reconcile, then wait for what it set off (model reads, stops)."""
        await self.controller.reconcile()
        await self.controller.settle()

    def deployment(self, deployment_id: str) -> Deployment:
        with self.store.read() as tx:
            found = tx.deployment(deployment_id)
        assert found is not None
        return found

    async def idle(self, seconds: int) -> None:
        """`seconds` pass with no load: one sample and one tick per second."""
        for _ in range(seconds):
            self.clock.now += 1
            self.controller.autoscaler.sample()
            await self.tick()

    def log(self, deployment_id: str) -> str:
        path = self.store.home / "logs" / f"{deployment_id}.log"
        return path.read_text() if path.exists() else ""

    async def bring_up(self, deployment_id: str) -> FakeProcess:
        """Ticks until the deployment's newest replica is spawned, then makes it ready."""
        for _ in range(3):
            await self.tick()
        process = self.world.processes[-1]
        self.world.answer(process, 200)
        await self.tick()
        assert self.deployment(deployment_id).status is S.ACTIVE
        return process


class FullDisk(StoreWorker):
    """The server's store on a disk that fills up: writes fail while `full`."""

    full = False

    async def write(self, change: Callable[[Tx], T]) -> T:
        if self.full:
            raise StateError(f"{self.home}/state.db: the disk is full (database or disk is full)")
        return await super().write(change)


@pytest.fixture
def rig(store: Store, home: Path) -> Iterator[Rig]:
    world = World()
    clock = Clock()
    tables: list[RoutingTable] = []
    db = FullDisk(home)
    wakeup = Wakeup()
    controller = Controller(
        db,
        tables.append,
        Replicas(
            spawn=world.spawn,
            probe=world.probe,
            in_flight=lambda u: world.in_flight.get(u, 0),
            tell=world.tell,
        ),
        autoscaler=Autoscaler(lambda: world.load, clock),
        health=StepHealth(None),
        wakeup=wakeup,
        preparation=Preparation(home, python="python-of-the-test"),
        settings=ControllerSettings(policy=POLICY, drain_timeout=30.0),
        clock=clock,
    )
    yield Rig(store, world, clock, controller, tables)
    db.close()


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_no_table_before_the_store_is_read(rig: Rig, make_truss: MakeTruss) -> None:
    """The gateway holds requests until its first table: that table already has every
    model (one from the empty desired state before the first read would answer 404)."""
    deployment = push(rig.store, make_truss("hello")).deployment

    async def scenario() -> None:
        await rig.tick()
        assert rig.tables
        assert all(deployment.id in table.deployments for table in rig.tables)

    run(scenario)


def test_start_load_ready(rig: Rig, make_truss: MakeTruss) -> None:
    deployment = push(rig.store, make_truss("hello")).deployment

    async def scenario() -> None:
        await rig.tick()  # reads the model directory
        assert rig.world.processes == []
        await rig.tick()  # starts a replica
        [process] = rig.world.processes
        assert process.launch.python == "python-of-the-test"
        assert process.launch.truss_dir == Path(deployment.source_dir or "")
        assert rig.deployment(deployment.id).status is S.DEPLOYING
        rig.world.answer(process, 503)  # listening, load() running
        await rig.tick()
        assert rig.deployment(deployment.id).status is S.LOADING_MODEL
        route = rig.tables[-1].deployments[deployment.id]
        assert (route.serving, route.upstreams) == (True, ())  # requests are held
        rig.world.answer(process, 200)
        await rig.tick()
        found = rig.deployment(deployment.id)
        assert (found.status, found.active_replica_count, found.serving_revision) == (
            S.ACTIVE,
            1,
            1,
        )
        assert rig.tables[-1].deployments[deployment.id].upstreams == (str(process.launch.socket),)
        with rig.store.read() as tx:
            [row] = tx.replicas()
        assert (row.pid, row.ready, row.revision) == (process.pid, True, 1)
        await rig.tick()
        assert len(rig.world.processes) == 1  # nothing more to do

    run(scenario)
    assert "starting replica" in rig.log(deployment.id)
    assert "status ACTIVE" in rig.log(deployment.id)


def test_crash_restarts_after_backoff(rig: Rig, make_truss: MakeTruss) -> None:
    deployment = push(rig.store, make_truss("hello")).deployment

    async def scenario() -> None:
        first = await rig.bring_up(deployment.id)
        first.code = 1  # crashes after serving
        await rig.tick()
        assert rig.world.running() == []
        found = rig.deployment(deployment.id)
        assert (found.status, found.active_replica_count) == (S.DEPLOYING, 0)
        with rig.store.read() as tx:
            assert tx.replicas() == []
        rig.clock.now += 0.9  # backoff (1 s) not over
        await rig.tick()
        assert rig.world.running() == []
        rig.clock.now += 0.1
        await rig.tick()
        [second] = rig.world.running()
        rig.world.answer(second, 200)
        await rig.tick()
        assert rig.deployment(deployment.id).status is S.ACTIVE

    run(scenario)
    assert "exited with code 1\n" in rig.log(deployment.id)


def test_crash_loop_ends_failed(rig: Rig, make_truss: MakeTruss) -> None:
    deployment = push(rig.store, make_truss("hello")).deployment

    async def scenario() -> None:
        process = await rig.bring_up(deployment.id)
        for crash in range(3):
            process.code = 1
            await rig.tick()
            rig.clock.now += 5
            await rig.tick()
            if crash < 2:
                process = rig.world.processes[-1]
                rig.world.answer(process, 200)
                await rig.tick()
                assert rig.deployment(deployment.id).status is S.ACTIVE
        found = rig.deployment(deployment.id)
        assert (found.status, found.active_replica_count) == (S.FAILED, 0)
        assert rig.world.running() == []
        assert rig.tables[-1].deployments[deployment.id].serving is False
        rig.clock.now += 100
        await rig.tick()
        assert len(rig.world.processes) == 3  # given up: no more starts

    run(scenario)
    assert "giving up: replicas crashed 3 times in 60 s" in rig.log(deployment.id)


def test_failed_starts_end_deploy_failed(rig: Rig, make_truss: MakeTruss) -> None:
    deployment = push(rig.store, make_truss("hello")).deployment

    async def scenario() -> None:
        await rig.tick()
        for _ in range(3):
            await rig.tick()
            rig.world.processes[-1].code = 1  # exits while loading
            await rig.tick()
            rig.clock.now += 5
        found = rig.deployment(deployment.id)
        assert (found.status, found.failed_revision) == (S.DEPLOY_FAILED, 1)
        assert len(rig.world.processes) == 3

    run(scenario)
    assert "giving up: the model failed to start 3 times" in rig.log(deployment.id)


def test_an_unreadable_model_directory_is_deploy_failed(rig: Rig, make_truss: MakeTruss) -> None:
    directory = make_truss("hello")
    deployment = push(rig.store, directory).deployment
    (directory / "config.yaml").write_text("model_name: [unclosed\n")

    async def scenario() -> None:
        await rig.tick()
        await rig.tick()

    run(scenario)
    assert rig.deployment(deployment.id).status is S.DEPLOY_FAILED
    assert rig.world.processes == []
    assert "cannot read the model" in rig.log(deployment.id)


def test_a_new_revision_starts_beside_the_old_one(rig: Rig, make_truss: MakeTruss) -> None:
    directory = make_truss("hello")
    deployment = push(rig.store, directory).deployment

    async def scenario() -> None:
        old = await rig.bring_up(deployment.id)
        assert push(rig.store, directory).deployment.revision == 2
        await rig.tick()  # reads the model directory again
        await rig.tick()
        new = rig.world.processes[-1]
        assert new is not old and old.code is None
        found = rig.deployment(deployment.id)
        assert (found.status, found.serving_revision) == (S.UPDATING, 1)
        # The old replica serves while the new one loads.
        assert rig.tables[-1].deployments[deployment.id].upstreams == (str(old.launch.socket),)
        rig.world.in_flight[str(old.launch.socket)] = 1
        rig.world.answer(new, 200)
        await rig.tick()
        # The new one serves; the old one drains its request in flight first.
        assert rig.tables[-1].deployments[deployment.id].upstreams == (str(new.launch.socket),)
        assert old.code is None
        found = rig.deployment(deployment.id)
        assert (found.status, found.serving_revision) == (S.ACTIVE, 2)
        rig.world.in_flight[str(old.launch.socket)] = 0
        await rig.tick()
        assert old.stops == 1 and old.code == -15
        await rig.tick()
        with rig.store.read() as tx:
            assert [(r.pid, r.revision) for r in tx.replicas()] == [(new.pid, 2)]

    run(scenario)


def test_a_new_revision_that_cannot_start_leaves_the_old_one_serving(
    rig: Rig, make_truss: MakeTruss
) -> None:
    directory = make_truss("hello")
    deployment = push(rig.store, directory).deployment

    async def scenario() -> None:
        old = await rig.bring_up(deployment.id)
        push(rig.store, directory)
        await rig.tick()
        for _ in range(3):
            await rig.tick()
            rig.world.processes[-1].code = 1
            await rig.tick()
            rig.clock.now += 5
        found = rig.deployment(deployment.id)
        assert (found.status, found.serving_revision, found.failed_revision) == (S.ACTIVE, 1, 2)
        assert old.code is None
        assert rig.tables[-1].deployments[deployment.id].upstreams == (str(old.launch.socket),)
        # A fix pushed afterwards starts afresh.
        push(rig.store, directory)
        await rig.tick()
        await rig.tick()
        rig.world.answer(rig.world.processes[-1], 200)
        await rig.tick()
        await rig.tick()
        found = rig.deployment(deployment.id)
        assert (found.status, found.serving_revision) == (S.ACTIVE, 3)
        assert old.code == -15

    run(scenario)


def test_deactivate_stops_and_activate_starts_again(rig: Rig, make_truss: MakeTruss) -> None:
    deployment = push(rig.store, make_truss("hello"), publish=True).deployment

    async def scenario() -> None:
        process = await rig.bring_up(deployment.id)
        deployments.deactivate(rig.store, deployment.id)
        await rig.tick()
        await rig.tick()
        assert process.code == -15
        assert rig.tables[-1].deployments[deployment.id].serving is False
        found = rig.deployment(deployment.id)
        assert (found.status, found.active_replica_count) == (S.INACTIVE, 0)
        deployments.activate(rig.store, deployment.id)
        await rig.bring_up(deployment.id)

    run(scenario)
    assert len(rig.world.processes) == 2


def test_delete_stops_its_replicas_and_forgets_it(rig: Rig, make_truss: MakeTruss) -> None:
    deployment = push(rig.store, make_truss("hello")).deployment

    async def scenario() -> None:
        process = await rig.bring_up(deployment.id)
        deployments.delete(rig.store, deployment.id)
        await rig.tick()
        await rig.tick()
        assert process.code == -15
        assert deployment.id not in rig.tables[-1].deployments
        assert deployment.id not in rig.controller.runs
        with rig.store.read() as tx:
            assert tx.replicas() == []

    run(scenario)


def test_shutdown_stops_every_replica_and_forgets_them(rig: Rig, make_truss: MakeTruss) -> None:
    push(rig.store, make_truss("hello"))
    other = push(rig.store, make_truss("other"), publish=True).deployment

    async def scenario() -> None:
        await rig.tick()
        await rig.tick()
        assert len(rig.world.running()) == 2
        rig.world.answer(rig.world.processes[0], 200)
        await rig.tick()
        await rig.controller.shutdown()

    run(scenario)
    assert rig.world.running() == []
    with rig.store.read() as tx:
        assert tx.replicas() == []
    assert rig.deployment(other.id).status is S.DEPLOYING


def test_a_held_write_lock_delays_the_tick_not_the_event_loop(
    rig: Rig, make_truss: MakeTruss
) -> None:
    """Another process holding SQLite's write lock: the tick waits in the store's thread
    while the event loop (the gateway's) keeps running."""
    deployment = push(rig.store, make_truss("hello")).deployment
    locked = threading.Event()
    release = threading.Event()

    def hold_lock() -> None:
        with Store(rig.store.home) as other, other.transaction():
            locked.set()
            release.wait(10)

    async def scenario() -> None:
        await rig.bring_up(deployment.id)
        rig.world.processes[-1].code = 1  # the next tick has a row to delete
        holder = threading.Thread(target=hold_lock)
        holder.start()
        assert locked.wait(5)
        tick = asyncio.ensure_future(rig.controller.reconcile())
        gaps = []
        last = time.monotonic()
        for _ in range(20):
            await asyncio.sleep(0.01)
            now = time.monotonic()
            gaps.append(now - last)
            last = now
        assert not tick.done()  # waiting for the lock
        release.set()
        await tick
        holder.join()
        assert max(gaps) < 0.5

    run(scenario)
    assert rig.deployment(deployment.id).status is S.DEPLOYING


FAST = {"min_replica": 0, "max_replica": 3, "autoscaling_window": 2, "scale_down_delay": 5}


def test_an_idle_deployment_scales_to_zero_and_a_wake_brings_it_back(
    rig: Rig, make_truss: MakeTruss
) -> None:
    deployment = push(rig.store, make_truss("hello"), publish=True).deployment
    deployments.set_autoscaling(rig.store, deployment.id, FAST)

    async def scenario() -> None:
        first = await rig.bring_up(deployment.id)
        await rig.idle(4)
        assert first.code is None  # the delay is not over
        await rig.idle(2)
        assert first.code == -15
        found = rig.deployment(deployment.id)
        assert (found.status, found.active_replica_count) == (S.SCALED_TO_ZERO, 0)
        route = rig.tables[-1].deployments[deployment.id]
        assert (route.serving, route.upstreams) == (True, ())  # requests are held
        rig.controller.nudge(deployment.id)  # a request held, or .../wake
        await rig.tick()
        await rig.tick()
        assert rig.deployment(deployment.id).status is S.WAKING_UP
        woken = rig.world.running()
        assert woken and all(p is not first for p in woken)
        for process in woken:
            rig.world.answer(process, 200)
        await rig.tick()
        assert rig.deployment(deployment.id).status is S.ACTIVE
        assert rig.tables[-1].deployments[deployment.id].upstreams

    run(scenario)


def test_a_deployment_that_cannot_wake_answers_with_the_cause(
    rig: Rig, make_truss: MakeTruss
) -> None:
    deployment = push(rig.store, make_truss("hello"), publish=True).deployment
    deployments.set_autoscaling(rig.store, deployment.id, {**FAST, "max_replica": 1})

    async def scenario() -> None:
        await rig.bring_up(deployment.id)
        await rig.idle(6)
        assert rig.deployment(deployment.id).status is S.SCALED_TO_ZERO
        rig.world.load[deployment.id] = (1, 1)  # a request held for it
        rig.controller.nudge(deployment.id)
        await rig.tick()
        for _ in range(3):
            await rig.tick()
            rig.world.processes[-1].code = 1  # load() raised
            await rig.tick()
            rig.clock.now += 5
            rig.controller.autoscaler.sample()
        route = rig.tables[-1].deployments[deployment.id]
        assert (route.serving, route.error) == (False, "the model failed to start 3 times")
        assert rig.deployment(deployment.id).status is S.DEPLOY_FAILED

    run(scenario)


def test_a_ready_replica_that_stops_answering_is_replaced(rig: Rig, make_truss: MakeTruss) -> None:
    """`kill -STOP`: its liveness probes get no answer; after `Liveness.timeout` it
    leaves the routing table, is stopped, counts as a crash and another starts."""
    deployment = push(rig.store, make_truss("hello")).deployment
    period = rig.controller.settings.liveness.period

    async def scenario() -> None:
        hung = await rig.bring_up(deployment.id)
        socket = str(hung.launch.socket)
        for _ in range(3):  # answering: nothing happens
            rig.clock.now += period
            await rig.tick()
        assert hung.code is None
        rig.world.answer(hung, None)  # stopped: no answer
        for _ in range(10):  # a probe's answer is taken in at the tick after it ends
            rig.clock.now += period
            await rig.tick()
            if hung.stops:
                break
        assert hung.stops == 1
        assert socket not in rig.tables[-1].deployments[deployment.id].upstreams
        await rig.tick()  # reaped, replaced
        assert len(rig.world.running()) == 1 and rig.world.running()[0] is not hung
        assert rig.controller.runs[deployment.id].history.crashes  # counted as a crash

    run(scenario)
    log = rig.log(deployment.id)
    assert "did not answer its liveness probes for 15 s: stopping it" in log


def test_a_full_disk_stops_nothing_and_the_writes_come_later(
    rig: Rig, make_truss: MakeTruss
) -> None:
    """Writes fail: ticks go on, the replica started meanwhile serves, nothing is
    lost (its row and its ACTIVE status are written once the disk has room), and
    `problems` says so, without the path, until then."""
    deployment = push(rig.store, make_truss("hello")).deployment
    disk = rig.controller.db
    assert isinstance(disk, FullDisk)

    async def scenario() -> None:
        await rig.tick()  # reads the model directory
        disk.full = True
        await rig.tick()  # starts a replica, cannot record it
        [process] = rig.world.processes
        rig.world.answer(process, 200)
        await rig.tick()
        await rig.tick()
        assert rig.tables[-1].deployments[deployment.id].upstreams == (str(process.launch.socket),)
        [problem] = rig.controller.problems()
        assert "disk is full" in problem and str(rig.store.home) not in problem
        assert rig.deployment(deployment.id).status is S.DEPLOYING  # nothing written
        disk.full = False
        await rig.tick()
        assert rig.controller.problems() == []
        assert rig.deployment(deployment.id).status is S.ACTIVE
        with rig.store.read() as tx:
            [row] = tx.replicas()
        assert (row.pid, row.ready) == (process.pid, True)
        assert len(rig.world.processes) == 1  # started once

    run(scenario)


def test_a_starting_replica_that_never_answers_holds_up_no_tick(
    rig: Rig, make_truss: MakeTruss
) -> None:
    """A replica stopped while it loads: its readiness probe never ends; the ticks go
    on and another deployment's replica becomes ready."""
    stuck = push(rig.store, make_truss("stuck")).deployment
    other = push(rig.store, make_truss("other")).deployment

    async def scenario() -> None:
        for _ in range(2):
            await rig.tick()
        by_truss = {p.launch.truss_dir.name: p for p in rig.world.processes}
        rig.world.silent.add(by_truss["stuck"].launch.address)
        rig.world.answer(by_truss["other"], 200)
        await asyncio.wait_for(rig.tick(), 2)
        assert rig.deployment(other.id).status is S.ACTIVE
        assert rig.deployment(stuck.id).status is S.DEPLOYING

    run(scenario)


def test_a_replica_whose_process_ended_leaves_the_table_before_its_exit_is_known(
    rig: Rig, make_truss: MakeTruss
) -> None:
    """Its notice pipe closed (the process is gone) but its exit status is not known yet
    (a forked replica's comes from the fork server): the gateway stops sending it
    requests at the start of the next tick."""
    deployment = push(rig.store, make_truss("hello")).deployment

    async def scenario() -> None:
        for _ in range(2):
            await rig.tick()
        [process] = rig.world.processes
        read, write = os.pipe()
        process.notices = read
        # the pipe the real replica holds: watched from its start, as `Replicas.start` does
        [replica] = rig.controller.replicas.of(deployment.id)
        rig.controller.replicas.start_watching(replica)
        rig.world.answer(process, 200)
        await rig.tick()
        assert rig.tables[-1].deployments[deployment.id].upstreams
        os.close(write)  # the process ended
        await asyncio.sleep(0.01)  # the loop sees the pipe close
        await rig.tick()
        assert rig.tables[-1].deployments[deployment.id].upstreams == ()
        assert process.code is None  # its exit is not reaped yet

    run(scenario)


def test_a_full_disk_at_shutdown_still_stops_every_replica(rig: Rig, make_truss: MakeTruss) -> None:
    deployment = push(rig.store, make_truss("hello")).deployment
    disk = rig.controller.db
    assert isinstance(disk, FullDisk)

    async def scenario() -> None:
        process = await rig.bring_up(deployment.id)
        disk.full = True
        await rig.controller.shutdown()  # raises nothing
        assert process.code is not None
        assert rig.controller.problems()

    run(scenario)


def test_scaling_down_removes_a_loading_replica_first(rig: Rig, make_truss: MakeTruss) -> None:
    """min 1 / max 2: one replica ready, one still loading; demand falls: the loading one
    goes and the ready one keeps serving (ready replicas never drop to 0)."""
    deployment = push(rig.store, make_truss("hello"), publish=True).deployment
    deployments.set_autoscaling(rig.store, deployment.id, FAST)

    async def scenario() -> None:
        await rig.bring_up(deployment.id)
        rig.world.load[deployment.id] = (2, 2)
        rig.controller.autoscaler.sample()
        await rig.tick()
        assert len(rig.world.running()) == 3
        ready, loading = rig.world.running()[:2], rig.world.running()[2]
        for process in ready:
            rig.world.answer(process, 200)
        rig.world.answer(loading, 503)
        rig.world.load[deployment.id] = (0, 2)
        await rig.idle(7)  # the delay passes: 3 -> 2 (one step of at most half)
        assert loading.code is not None
        assert [p.code for p in ready] == [None, None]
        assert len(rig.tables[-1].deployments[deployment.id].upstreams) == 2
        assert rig.deployment(deployment.id).recommended_replicas == 2
        rig.world.load[deployment.id] = (0, 0)
        await rig.idle(7)  # 2 -> 1: the youngest ready replica goes
        assert [p.code is None for p in ready] == [True, False]

    run(scenario)


def test_a_promotion_tells_the_running_replica_its_environment(
    rig: Rig, make_truss: MakeTruss
) -> None:
    """Truss's `setup_environment` on a promotion, without a new replica."""
    deployment = push(rig.store, make_truss("hello"), publish=True).deployment

    async def scenario() -> None:
        process = await rig.bring_up(deployment.id)
        assert process.launch.env["BRACE_ENVIRONMENT"] == "null"
        promote(rig.store, deployment.id)
        await rig.tick()
        await rig.tick()
        assert rig.world.told == [(process.launch.address, "production")]
        await rig.tick()
        assert len(rig.world.told) == 1  # once
        assert rig.world.processes == [process]

    run(scenario)


def test_a_replica_started_in_an_environment_is_given_it(rig: Rig, make_truss: MakeTruss) -> None:
    deployment = push(rig.store, make_truss("hello"), promote=True).deployment

    async def scenario() -> None:
        process = await rig.bring_up(deployment.id)
        assert json.loads(process.launch.env["BRACE_ENVIRONMENT"]) == {"name": "production"}
        await rig.tick()
        assert rig.world.told == []

    run(scenario)


@pytest.mark.parametrize(
    "cleanup",
    [pytest.param("SCALE_TO_ZERO", id="scale-to-zero"), pytest.param("KEEP", id="keep")],
)
def test_the_outgoing_deployment_of_a_rollout_reports_scaled_to_zero(
    rig: Rig, make_truss: MakeTruss, cleanup: str
) -> None:
    """Its last replica drained, the previous deployment waits out the last step's
    stabilization at 0 replicas: it reported DEPLOYING (a start that never comes)."""
    truss = make_truss("hello")
    previous = push(rig.store, truss, promote=True).deployment
    environments.update(
        rig.store,
        "production",
        promotion_settings={
            "rolling_deploy": True,
            "rolling_deploy_config": {"stabilization_time_seconds": 30},
            "promotion_cleanup_strategy": cleanup,
        },
    )

    async def scenario() -> None:
        await rig.bring_up(previous.id)
        candidate = push(rig.store, truss, publish=True).deployment
        promote(rig.store, candidate.id)
        for _ in range(3):
            await rig.tick()
        rig.world.answer(rig.world.processes[-1], 200)  # the candidate's replica
        for _ in range(4):  # ready, traffic moves, the previous replica drains and exits
            rig.clock.now += 1
            await rig.tick()
        assert rig.world.running() == [rig.world.processes[-1]]
        found = rig.deployment(previous.id)
        assert (found.status, found.active_replica_count) == (S.SCALED_TO_ZERO, 0)
        rig.clock.now += 31  # the stabilization time passes: the promotion succeeds
        await rig.tick()
        await rig.tick()
        assert rig.deployment(previous.id).status is not S.DEPLOYING

    run(scenario)

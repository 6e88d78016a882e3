"""The controller does work for what changed: a tick reads and writes only the rows of
the deployments something happened to, so a change at 500 deployments is acted on in
the same ticks as at 5; the periodic full read catches a change whose signal was lost.

The store is a real SQLite file; `CountingStore` (the controller's store, given to its
constructor) counts the deployment rows each tick reads and writes through it.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from brace.server.control.attention import Seen, settled, start_order
from brace.server.control.autoscaler import Autoscaler
from brace.server.control.controller import Controller
from brace.server.control.preparation import Preparation
from brace.server.control.replicas import Replicas
from brace.server.control.rolling_promotions import StepHealth
from brace.server.control.settings import ControllerSettings
from brace.server.control.wakeup import Wakeup
from brace.server.gateway.routing import RoutingTable
from brace.server.storeworker import StoreWorker
from brace.services import deployments
from brace.services.push import push
from brace.store import AutoscalingSettings, Deployment, DeploymentStatus, Store, Tx
from brace.store.db import new_id
from tests.conftest import MakeTruss
from tests.server.control.test_controller import Clock, World

S = DeploymentStatus
T = TypeVar("T")
RESYNC = 30.0


@dataclass
class CountingTx(Tx):
    """A transaction that counts the deployment rows read and written through it."""

    read_rows: Counter[str] = field(default_factory=Counter)
    written_rows: Counter[str] = field(default_factory=Counter)

    def deployment(self, deployment_id: str) -> Deployment | None:
        found = super().deployment(deployment_id)
        self.read_rows[deployment_id] += 1
        return found

    def deployments(self, model_id: str | None = None) -> list[Deployment]:
        found = super().deployments(model_id)
        self.read_rows.update(d.id for d in found)
        return found

    def update_deployment(self, deployment: Deployment, **changes: Any) -> Deployment:
        self.written_rows[deployment.id] += 1
        return super().update_deployment(deployment, **changes)


class CountingStore(StoreWorker):
    """The controller's store, counting the deployment rows of each read and write."""

    def __init__(self, home: Path) -> None:
        super().__init__(home)
        self.read_rows: Counter[str] = Counter()
        self.written_rows: Counter[str] = Counter()
        self.before_write: Callable[[], None] | None = None
        """Called once, before the next write: another process's write landing then."""

    def take(self) -> tuple[Counter[str], Counter[str]]:
        """(rows read, rows written) by deployment id since the last call."""
        taken = self.read_rows, self.written_rows
        self.read_rows, self.written_rows = Counter(), Counter()
        return taken

    def _counting(self, use: Callable[[Tx], T]) -> Callable[[Tx], T]:
        def counted(tx: Tx) -> T:
            counting = CountingTx(tx.conn, tx.clock, self.read_rows, self.written_rows)
            return use(counting)

        return counted

    async def read(self, query: Callable[[Tx], T]) -> T:
        return await super().read(self._counting(query))

    async def write(self, change: Callable[[Tx], T]) -> T:
        if self.before_write is not None:
            self.before_write()
            self.before_write = None
        return await super().write(self._counting(change))


@dataclass
class Rig:
    store: Store
    db: CountingStore
    world: World
    clock: Clock
    controller: Controller
    tables: list[RoutingTable]

    async def tick(self) -> tuple[Counter[str], Counter[str]]:
        """One reconcile and what it set off; the rows it read and wrote."""
        await self.controller.reconcile()
        await self.controller.settle()
        return self.db.take()

    def deployment(self, deployment_id: str) -> Deployment:
        with self.store.read() as tx:
            found = tx.deployment(deployment_id)
        assert found is not None
        return found


def make_rig(
    store: Store,
    home: Path,
    settings: ControllerSettings,
    held: Callable[[], dict[str, int]] = dict,
) -> Rig:
    world = World()
    clock = Clock()
    tables: list[RoutingTable] = []
    db = CountingStore(home)
    controller = Controller(
        db,
        tables.append,
        Replicas(
            spawn=world.spawn,
            probe=world.probe,
            in_flight=lambda u: world.in_flight.get(u, 0),
            tell=world.tell,
        ),
        autoscaler=Autoscaler(lambda: world.load, clock, held),
        health=StepHealth(None),
        wakeup=Wakeup(),
        preparation=Preparation(home, python="python-of-the-test"),
        settings=settings,
        clock=clock,
    )
    return Rig(store, db, world, clock, controller, tables)


@pytest.fixture
def rig(store: Store, home: Path) -> Iterator[Rig]:
    made = make_rig(store, home, ControllerSettings(resync_interval=RESYNC))
    yield made
    made.db.close()


def sleeping(store: Store, make_truss: MakeTruss, count: int) -> list[str]:
    """`count` published deployments of one model each, scaled to zero with min_replica
    0: one pushed, the others copied in one transaction (the server's own store API)."""
    pushed = push(store, make_truss("hello"), publish=True).deployment
    deployments.set_autoscaling(store, pushed.id, {"min_replica": 0})
    with store.transaction() as tx:
        template = tx.deployment(pushed.id)
        assert template is not None
        tx.update_deployment(template, status=S.SCALED_TO_ZERO)
        ids = [pushed.id]
        for number in range(count - 1):
            model = tx.insert_model(f"copy-{number}")
            copy = replace(template, id=new_id(), model_id=model.id, status=S.SCALED_TO_ZERO)
            ids.append(tx.insert_deployment(copy).id)
    return ids


def run(scenario: Callable[[], Any]) -> None:
    asyncio.run(scenario())


async def ticks_until(rig: Rig, done: Callable[[], bool], changed: str) -> int:
    """Ticks until `done()`; every one of them reads and writes only `changed`'s row."""
    for ticks in range(1, 10):
        read, written = await rig.tick()
        assert set(read) <= {changed} and set(written) <= {changed}
        if done():
            return ticks
    raise AssertionError("not acted on in 10 ticks")


@pytest.mark.parametrize("count", [5, 500])
def test_a_change_is_acted_on_in_the_same_ticks_at_5_and_at_500_deployments(
    rig: Rig, make_truss: MakeTruss, count: int
) -> None:
    ids = sleeping(rig.store, make_truss, count)
    woken, stopped = ids[count // 2], ids[-1]

    async def scenario() -> None:
        read, _ = await rig.tick()  # the first tick reads everything
        assert len(read) == count
        for _ in range(3):  # nothing changed: nothing read, nothing written
            assert await rig.tick() == (Counter(), Counter())
        # A request to a sleeping deployment (the gateway's wake).
        rig.controller.nudge(woken)
        took = await ticks_until(rig, lambda: len(rig.world.processes) == 1, woken)
        assert took == 2  # its model directory read, then its replica started
        rig.world.answer(rig.world.processes[0], 200)
        await ticks_until(rig, lambda: rig.deployment(woken).status is S.ACTIVE, woken)
        # A CLI write: `brace deployments autoscaling ID --min-replica 2`.
        deployments.set_autoscaling(rig.store, woken, {"min_replica": 2, "max_replica": 2})
        took = await ticks_until(rig, lambda: len(rig.world.processes) == 2, woken)
        assert took == 1
        # Another: `brace deployments deactivate ID`, acted on in the routing table.
        deployments.deactivate(rig.store, stopped)
        took = await ticks_until(
            rig, lambda: not rig.tables[-1].deployments[stopped].serving, stopped
        )
        assert took == 1

    run(scenario)


def test_the_full_read_catches_a_change_whose_signal_was_lost(
    rig: Rig, make_truss: MakeTruss
) -> None:
    [deployment_id, *_] = sleeping(rig.store, make_truss, 3)

    def serving() -> bool:
        return rig.tables[-1].deployments[deployment_id].serving

    async def scenario() -> None:
        await rig.tick()
        deployments.deactivate(rig.store, deployment_id)
        with rig.store.transaction() as tx:
            tx.forget_changes(tx.last_change())  # as if the change were never logged
        for _ in range(3):
            await rig.tick()
        assert serving()
        rig.clock.now += RESYNC
        read, _ = await rig.tick()  # the full read
        assert len(read) == 3
        assert not serving()

    run(scenario)


def test_a_write_that_lands_during_a_tick_is_acted_on(rig: Rig, make_truss: MakeTruss) -> None:
    """A CLI write committed after a tick's read and before its write: the tick's
    write reads the changes up to its own, so the next tick acts on it, no full read
    needed."""
    woken, stopped, _ = sleeping(rig.store, make_truss, 3)

    async def scenario() -> None:
        await rig.tick()
        rig.controller.nudge(woken)  # the tick writes woken's status
        rig.db.before_write = lambda: deployments.deactivate(rig.store, stopped)
        await rig.tick()
        assert rig.db.before_write is None  # it landed
        for _ in range(2):
            await rig.tick()
        assert not rig.tables[-1].deployments[stopped].serving

    run(scenario)


def test_scale_to_zero_after_the_delay_needs_no_other_event(
    rig: Rig, make_truss: MakeTruss
) -> None:
    """A deployment with replicas is not settled: its scale-down delay runs out with no
    write, no request and no notice, and it goes to sleep."""
    [deployment_id, *_] = sleeping(rig.store, make_truss, 3)
    deployments.set_autoscaling(
        rig.store, deployment_id, {"autoscaling_window": 2, "scale_down_delay": 5}
    )

    async def scenario() -> None:
        await rig.tick()
        rig.controller.nudge(deployment_id)
        for _ in range(3):
            await rig.tick()
        [process] = rig.world.processes
        rig.world.answer(process, 200)
        await rig.tick()
        assert rig.deployment(deployment_id).status is S.ACTIVE
        for _ in range(10):  # the window (2 s) empties, then the delay (5 s) runs out
            rig.clock.now += 1
            rig.controller.autoscaler.sample()
            await rig.tick()
        assert process.code == -15
        assert rig.deployment(deployment_id).status is S.SCALED_TO_ZERO
        await rig.tick()
        assert await rig.tick() == (Counter(), Counter())  # settled again

    run(scenario)


def test_a_replica_that_dies_while_idle_is_restarted(rig: Rig, make_truss: MakeTruss) -> None:
    [deployment_id, *_] = sleeping(rig.store, make_truss, 3)
    deployments.set_autoscaling(rig.store, deployment_id, {"min_replica": 1})

    async def scenario() -> None:
        for _ in range(3):
            await rig.tick()
        [first] = rig.world.processes
        rig.world.answer(first, 200)
        await rig.tick()
        for _ in range(3):
            read, written = await rig.tick()
            assert not read and not written
        first.code = 1  # dies, unasked
        await rig.tick()
        rig.clock.now += 1  # the restart backoff
        await rig.tick()
        assert len(rig.world.running()) == 1 and rig.world.running()[0] is not first

    run(scenario)


def test_replicas_start_one_at_a_time_held_requests_first(
    store: Store, home: Path, make_truss: MakeTruss
) -> None:
    """`start_concurrency` 1 and three deployments that must run (min_replica 1), one
    of them with a request held at the gateway: it starts first, then one replica at
    a time, each once the one before is ready."""
    ids = sleeping(store, make_truss, 3)
    for deployment_id in ids:
        deployments.set_autoscaling(store, deployment_id, {"min_replica": 1})
    with store.transaction() as tx:  # as a stopped server leaves them: they start
        for deployment_id in ids:
            found = tx.deployment(deployment_id)
            assert found is not None
            tx.update_deployment(found, status=S.ACTIVE)
    held = {ids[2]: 1}
    rig = make_rig(store, home, ControllerSettings(start_concurrency=1), lambda: held)

    async def scenario() -> None:
        started: list[str] = []
        for _ in range(12):
            await rig.tick()
            starting = [
                p for p in rig.world.running() if p.launch.address not in rig.world.readiness
            ]
            assert len(starting) <= 1
            for process in starting:
                [replica] = [r for r in rig.controller.replicas if r.process is process]
                started.append(replica.deployment_id)
                rig.world.answer(process, 200)
        assert started[0] == ids[2]
        assert sorted(started) == sorted(ids)

    try:
        run(scenario)
    finally:
        rig.db.close()


def test_settled_only_when_nothing_can_change_by_itself() -> None:
    quiet = Seen(replicas=0, wanted=0, preparing=False, unreported=False, promoted=False)
    assert settled(quiet)
    for change in (
        {"replicas": 1},
        {"wanted": 1},
        {"preparing": True},
        {"unreported": True},
        {"promoted": True},
    ):
        assert not settled(replace(quiet, **change)), change


def deployment(id: str, min_replica: int = 0) -> Deployment:
    return Deployment(
        id=id,
        model_id="m-" + id,
        name=id,
        is_development=False,
        status=S.SCALED_TO_ZERO,
        autoscaling=AutoscalingSettings(min_replica=min_replica),
        created_at="2026-01-01T00:00:00Z",
    )


def test_start_order_puts_the_ones_that_serve_soonest_first() -> None:
    given = [
        deployment("plain"),
        deployment("kept", min_replica=1),
        deployment("staging"),
        deployment("production"),
        deployment("held"),
    ]
    environments = {"staging": "staging", "production": "production"}
    ordered = start_order(given, environments, held={"held"})
    assert [d.id for d in ordered] == ["held", "production", "staging", "kept", "plain"]

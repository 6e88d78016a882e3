"""The replica life cycle: spawn, probe, drain, stop, reap.

A replica serves one revision of one deployment at an address (a Unix socket path or
`host:port`). Where and how it runs is a backend's (`backends.base`: this module knows
a replica only as a `ReplicaHandle`; `backends.local` is the default). `Replicas` holds
the ones the server started and moves each through its states:

    STARTING  spawned, not listening yet
    LOADING   listening, readiness answers 503 while load() runs
    READY     readiness answers 200: the gateway routes to it
    DRAINING  out of the routing table; stopped once its requests in flight finished
              (the gateway counts them) or the drain deadline passed
    STOPPING  TERM sent (then KILL after a grace period), in a worker thread

`reap()` returns the replicas whose process ended, with the state they were in, so the
controller can tell an asked stop from a crash. A real replica also says when its model
is ready, and its pipe closes when it ends (`brace.runtime.notify`): either calls
`on_notice`, so the controller probes and reaps at once instead of at its next tick
(a replica whose pipe closed is `ended`: it gets no request even before its exit
status is known). READY replicas are probed for liveness in the background
(`check_liveness`, rules in `liveness`), and no probe of a silent replica holds up
the caller. `removal_order` says which replica a scale-down takes first.
Launching (`spawn`: a backend's `launch`) and probing are constructor parameters (local
processes and HTTP by default) so tests drive replicas without processes; nothing here
decides how many replicas run or what to do when one dies.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path

from brace.config import Runtime
from brace.server.backends import local, supervisor
from brace.server.backends.base import Address, Launch, ReplicaHandle
from brace.server.control.liveness import (
    LiveCheck,
    Liveness,
    after_probe,
    due,
    probed,
    unresponsive,
)


class ReplicaState(Enum):
    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    DRAINING = "draining"
    STOPPING = "stopping"


STARTING_PROBE_WAIT = 0.2
"""Seconds a tick waits for the readiness probes of starting replicas (the rest are
taken in at a later tick)."""

Spawn = Callable[[Launch], ReplicaHandle]
"""Launch a replica (`backends.base.Backend.launch`)."""
Probe = Callable[[Address], Awaitable["int | None"]]
"""The HTTP status of the readiness route of the replica at an address (None: no answer)."""
Tell = Callable[[Address, "str | None"], Awaitable[bool]]
"""Tell the replica at an address the environment its deployment is now in."""


@dataclass
class Replica:
    id: str
    deployment_id: str
    revision: int
    socket: Path
    process: ReplicaHandle
    state: ReplicaState = ReplicaState.STARTING
    ever_ready: bool = False
    drain_deadline: float = 0.0
    """Clock reading (seconds) after which a DRAINING replica is stopped regardless."""
    environment: str | None = None
    """The environment the replica's model was last given (at start, or told since)."""
    ended: bool = False
    """Its process ended (its notice pipe closed), before its exit was reaped: it gets
    no more requests."""
    live: LiveCheck = field(default_factory=LiveCheck)
    """Its liveness probes while READY (`liveness`)."""
    unresponsive: bool = False
    """Stopped because it stopped answering liveness probes: its exit is a crash."""
    runtime: Runtime = field(default_factory=Runtime)
    """Its config's `runtime` section (the gateway's limits for it come from there)."""

    @property
    def upstream(self) -> Address:
        """Where the gateway, probes and notices reach it (`backends.base.Address`;
        empty while a remote replica has not said where it listens)."""
        return self.process.address


def removal_order(replicas: list[Replica]) -> list[Replica]:
    """The order in which scaling down removes a deployment's replicas (given in the
    order they started): the ones that were never ready first, then the ready ones,
    each the youngest first. Kubernetes ranks unready pods first when it scales a
    ReplicaSet down, and Ray Serve fixed the opposite order (ray-project/ray#43034):
    removing a ready replica and keeping one that is still loading leaves nothing to
    serve until the load ends."""
    youngest_first = list(reversed(replicas))
    return [r for r in youngest_first if r.state is not ReplicaState.READY] + [
        r for r in youngest_first if r.state is ReplicaState.READY
    ]


@dataclass(frozen=True)
class Exited:
    replica: Replica
    code: int

    @property
    def asked(self) -> bool:
        """The server stopped it (not a crash; one it stopped for not answering is)."""
        return not self.replica.unresponsive and self.replica.state in (
            ReplicaState.DRAINING,
            ReplicaState.STOPPING,
        )


@dataclass
class Replicas:
    spawn: Spawn = local.spawn
    probe: Probe = supervisor.probe
    in_flight: Callable[[str], int] = lambda upstream: 0
    """Requests the gateway has in flight to an upstream socket path."""
    tell: Tell = supervisor.tell_environment
    on_notice: Callable[[], None] = lambda: None
    """Called on the loop when a replica says it is ready or its process ends."""
    _all: list[Replica] = field(default_factory=list)
    _watched: dict[str, int] = field(default_factory=dict)
    """Replica id -> its notice descriptor, read by the running loop."""
    _stopping: set[asyncio.Task[None]] = field(default_factory=set)
    _telling: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _probing: dict[str, asyncio.Task[int | None]] = field(default_factory=dict)
    """Liveness probes under way, by replica id."""
    _starting: dict[str, asyncio.Task[int | None]] = field(default_factory=dict)
    """Readiness probes of starting replicas under way, by replica id."""

    def __iter__(self) -> Iterator[Replica]:
        return iter(list(self._all))

    def of(self, deployment_id: str) -> list[Replica]:
        return [r for r in self._all if r.deployment_id == deployment_id]

    def start(
        self,
        replica_id: str,
        deployment_id: str,
        revision: int,
        launch: Launch,
        environment: str | None = None,
    ) -> Replica:
        """Spawn a replica (STARTING) whose model is in `environment`."""
        launch.socket.unlink(missing_ok=True)
        process = self.spawn(launch)
        replica = Replica(
            replica_id,
            deployment_id,
            revision,
            launch.socket,
            process,
            environment=environment,
        )
        self._all.append(replica)
        self.start_watching(replica)
        return replica

    def start_watching(self, replica: Replica) -> None:
        """Read the replica's notice pipe on the running loop (if it has one)."""
        fd = replica.process.notices
        if fd is not None and replica.id not in self._watched:
            asyncio.get_running_loop().add_reader(fd, self._noticed, replica.id, fd)
            self._watched[replica.id] = fd

    def _noticed(self, replica_id: str, fd: int) -> None:
        try:
            data = os.read(fd, 512)
        except OSError:
            data = b""
        if not data:  # the process ended (its exit status may come later)
            self._unwatch(replica_id)
            for replica in self._all:
                if replica.id == replica_id:
                    replica.ended = True
        self.on_notice()

    def _unwatch(self, replica_id: str) -> None:
        fd = self._watched.pop(replica_id, None)
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)

    async def probe_starting(self, wait: float = STARTING_PROBE_WAIT) -> list[Replica]:
        """Probe every STARTING and LOADING replica at once; the ones that changed state.

        Waits `wait` seconds at most: a replica that does not answer (stopped, or too
        busy) keeps its probe running in the background, taken in by a later call, so
        one silent replica never holds up the controller's tick."""
        for replica in self._all:
            if (
                replica.state in (ReplicaState.STARTING, ReplicaState.LOADING)
                and replica.id not in self._starting
                and replica.process.poll() is None
            ):
                self._starting[replica.id] = asyncio.ensure_future(self.probe(replica.upstream))
        if self._starting:
            await asyncio.wait(self._starting.values(), timeout=wait)
        changed = []
        for replica in self._all:
            task = self._starting.get(replica.id)
            if task is None or not task.done():
                continue
            del self._starting[replica.id]
            status = None if task.cancelled() or task.exception() else task.result()
            if replica.state not in (ReplicaState.STARTING, ReplicaState.LOADING):
                continue
            if status == 200:
                replica.state = ReplicaState.READY
                replica.ever_ready = True
                changed.append(replica)
            elif status is not None and replica.state is ReplicaState.STARTING:
                replica.state = ReplicaState.LOADING
                changed.append(replica)
        return changed

    def check_liveness(self, settings: Liveness, now: float) -> list[Replica]:
        """Take in the liveness probes that ended, start the ones due (in the background:
        a silent replica never delays the caller), and return the READY replicas that
        stopped answering (`liveness.unresponsive`). `now`: clock seconds."""
        silent = []
        for replica in self._all:
            task = self._probing.get(replica.id)
            if task is not None and task.done():
                del self._probing[replica.id]
                status = None if task.cancelled() or task.exception() else task.result()
                replica.live = after_probe(replica.live, status)
            if replica.state is not ReplicaState.READY or replica.ended:
                continue
            if unresponsive(settings, replica.live):
                silent.append(replica)
            elif replica.id not in self._probing and due(replica.live, now):
                replica.live = probed(settings, replica.live, now)
                self._probing[replica.id] = asyncio.ensure_future(
                    self._probe_within(replica.upstream, settings.period)
                )
        return silent

    async def _probe_within(self, address: Address, seconds: float) -> int | None:
        try:
            return await asyncio.wait_for(self.probe(address), seconds)
        except TimeoutError:
            return None

    def update_environments(self, environments: Mapping[str, str | None]) -> None:
        """Tell every ready replica whose deployment changed environment (a promotion)
        its new one, without a restart; each in the background, once at a time."""
        for replica in self._all:
            wanted = environments.get(replica.deployment_id)
            if (
                replica.state is ReplicaState.READY
                and replica.environment != wanted
                and replica.id not in self._telling
            ):
                task = asyncio.ensure_future(self._tell(replica, wanted))
                self._telling[replica.id] = task

    async def _tell(self, replica: Replica, environment: str | None) -> None:
        """Told once, whatever the answer: a model whose `setup_environment` raises has
        its replica log it and keeps serving, as in Truss's server."""
        try:
            await self.tell(replica.upstream, environment)
        finally:
            replica.environment = environment
            self._telling.pop(replica.id, None)

    def drain(self, replica: Replica, deadline: float) -> None:
        """Take a replica out of service: no new requests; stopped by `finish_drains`
        once its requests in flight finished or at `deadline` (clock seconds)."""
        if replica.state is ReplicaState.READY:
            replica.state = ReplicaState.DRAINING
            replica.drain_deadline = deadline
        elif replica.state is not ReplicaState.DRAINING:
            self.stop(replica)  # not serving: nothing to drain

    def finish_drains(self, now: float) -> None:
        for replica in self._all:
            if replica.state is ReplicaState.DRAINING and (
                self.in_flight(replica.upstream) == 0 or now >= replica.drain_deadline
            ):
                self.stop(replica)

    def stop(self, replica: Replica, grace: float = supervisor.STOP_GRACE) -> None:
        """Stop it in a worker thread (TERM, `grace` seconds, KILL); `reap` reports the
        exit. A replica that stopped answering gets no grace: it would not use it."""
        if replica.state is ReplicaState.STOPPING:
            return
        replica.state = ReplicaState.STOPPING
        task = asyncio.ensure_future(asyncio.to_thread(replica.process.stop, grace))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def reap(self) -> list[Exited]:
        """Forget the replicas whose process ended, and return them."""
        gone = []
        for replica in list(self._all):
            code = replica.process.poll()
            if code is not None:
                self._all.remove(replica)
                self._unwatch(replica.id)
                for probes in (self._probing, self._starting):
                    probing = probes.pop(replica.id, None)
                    if probing is not None:
                        probing.cancel()
                replica.socket.unlink(missing_ok=True)
                gone.append(Exited(replica, code))
        return gone

    async def wait_stops(self) -> None:
        """Wait until every stop (and every environment change) under way is done."""
        await asyncio.gather(*self._stopping, *self._telling.values(), return_exceptions=True)

    async def stop_all(self) -> list[Replica]:
        """Stop every replica now and wait for them; the ones that were running."""
        replicas, self._all = self._all, []
        for probes in (self._probing, self._starting):
            for probing in probes.values():
                probing.cancel()
            probes.clear()
        await asyncio.gather(*(asyncio.to_thread(r.process.stop) for r in replicas))
        await self.wait_stops()
        for replica in replicas:
            self._unwatch(replica.id)
            replica.socket.unlink(missing_ok=True)
        return replicas

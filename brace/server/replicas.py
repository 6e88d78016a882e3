"""The replica life cycle: spawn, probe, drain, stop, reap.

A replica is one process serving one revision of one deployment on a Unix socket.
`Replicas` holds the ones the server started and moves each through its states:

    STARTING  spawned, not listening yet
    LOADING   listening, readiness answers 503 while load() runs
    READY     readiness answers 200: the gateway routes to it
    DRAINING  out of the routing table; stopped once its requests in flight finished
              (the gateway counts them) or the drain deadline passed
    STOPPING  TERM sent (then KILL after a grace period), in a worker thread

`reap()` returns the replicas whose process ended, with the state they were in, so the
controller can tell an asked stop from a crash. A real replica also says when its model
is ready, and its pipe closes when it ends (`brace.runtime.notify`): either calls
`on_notice`, so the controller probes and reaps at once instead of at its next tick.
Spawning and probing are constructor parameters (real processes and HTTP by default)
so tests drive replicas without processes; nothing here decides how many replicas run
or what to do when one dies.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Protocol

from brace.config import Runtime
from brace.server import supervisor
from brace.server.forkserver import ForkedProcess, ForkServer


class ReplicaState(Enum):
    STARTING = "starting"
    LOADING = "loading"
    READY = "ready"
    DRAINING = "draining"
    STOPPING = "stopping"


class Process(Protocol):
    """A running replica process, as the life cycle needs it."""

    @property
    def pid(self) -> int: ...

    @property
    def started(self) -> float:
        """The process's start time (seconds since the epoch), to tell a reused pid."""
        ...

    def poll(self) -> int | None:
        """The exit status once the process ended (negative: the signal), else None."""
        ...

    def stop(self) -> None:
        """TERM, wait a grace period, then KILL; blocks until it is done."""
        ...

    @property
    def notices(self) -> int | None:
        """A descriptor that turns readable when the replica is ready and at its end
        (None: the probe alone tells)."""
        ...


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one replica."""

    python: str
    truss_dir: Path
    socket: Path
    log_file: Path
    env: Mapping[str, str]


Spawn = Callable[[Launch], Process]
Probe = Callable[[Path], Awaitable["int | None"]]
Tell = Callable[[Path, "str | None"], Awaitable[bool]]
"""Tell the replica on a socket the environment its deployment is now in."""


class OsProcess:
    """A replica process started with `supervisor.spawn_replica`."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.started = supervisor.process_started(popen.pid)
        self.notices: int | None = None

    def poll(self) -> int | None:
        return self._popen.poll()

    def stop(self) -> None:
        supervisor.stop_process_group(self.pid, self.started)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=1)


def spawn_os_process(launch: Launch, fork_server: ForkServer | None = None) -> Process:
    """Start a replica: forked by `fork_server` when it can, else a new interpreter;
    with a pipe on which it says it is ready (`Process.notices`)."""
    notices, ready = os.pipe()
    try:
        forked = fork_server.spawn(launch, ready) if fork_server is not None else None
        process: OsProcess | ForkedProcess = forked or OsProcess(
            supervisor.spawn_replica(
                launch.python, launch.truss_dir, launch.socket, launch.log_file, launch.env, ready
            )
        )
    except BaseException:
        os.close(notices)
        raise
    finally:
        os.close(ready)
    process.notices = notices
    return process


@dataclass
class Replica:
    id: str
    deployment_id: str
    revision: int
    socket: Path
    process: Process
    state: ReplicaState = ReplicaState.STARTING
    ever_ready: bool = False
    drain_deadline: float = 0.0
    """Clock reading (seconds) after which a DRAINING replica is stopped regardless."""
    environment: str | None = None
    """The environment the replica's model was last given (at start, or told since)."""
    runtime: Runtime = field(default_factory=Runtime)
    """Its config's `runtime` section (the gateway's limits for it come from there)."""

    @property
    def upstream(self) -> str:
        return str(self.socket)


@dataclass(frozen=True)
class Exited:
    replica: Replica
    code: int

    @property
    def asked(self) -> bool:
        """The server stopped it (not a crash)."""
        return self.replica.state in (ReplicaState.DRAINING, ReplicaState.STOPPING)


@dataclass
class Replicas:
    spawn: Spawn = spawn_os_process
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
            replica_id, deployment_id, revision, launch.socket, process, environment=environment
        )
        self._all.append(replica)
        fd = process.notices
        if fd is not None:
            asyncio.get_running_loop().add_reader(fd, self._noticed, replica_id, fd)
            self._watched[replica_id] = fd
        return replica

    def _noticed(self, replica_id: str, fd: int) -> None:
        try:
            data = os.read(fd, 512)
        except OSError:
            data = b""
        if not data:  # the process ended
            self._unwatch(replica_id)
        self.on_notice()

    def _unwatch(self, replica_id: str) -> None:
        fd = self._watched.pop(replica_id, None)
        if fd is not None:
            asyncio.get_running_loop().remove_reader(fd)
            os.close(fd)

    async def probe_starting(self) -> list[Replica]:
        """Probe every STARTING and LOADING replica at once; the ones that changed state."""
        waiting = [
            r
            for r in self._all
            if r.state in (ReplicaState.STARTING, ReplicaState.LOADING) and r.process.poll() is None
        ]
        answers = await asyncio.gather(*(self.probe(r.socket) for r in waiting))
        changed = []
        for replica, status in zip(waiting, answers, strict=True):
            if status == 200:
                replica.state = ReplicaState.READY
                replica.ever_ready = True
                changed.append(replica)
            elif status is not None and replica.state is ReplicaState.STARTING:
                replica.state = ReplicaState.LOADING
                changed.append(replica)
        return changed

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
            await self.tell(replica.socket, environment)
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

    def stop(self, replica: Replica) -> None:
        """Stop it in a worker thread (TERM, grace, KILL); `reap` reports the exit."""
        if replica.state is ReplicaState.STOPPING:
            return
        replica.state = ReplicaState.STOPPING
        task = asyncio.ensure_future(asyncio.to_thread(replica.process.stop))
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
                replica.socket.unlink(missing_ok=True)
                gone.append(Exited(replica, code))
        return gone

    async def wait_stops(self) -> None:
        """Wait until every stop (and every environment change) under way is done."""
        await asyncio.gather(*self._stopping, *self._telling.values(), return_exceptions=True)

    async def stop_all(self) -> list[Replica]:
        """Stop every replica now and wait for them; the ones that were running."""
        replicas, self._all = self._all, []
        await asyncio.gather(*(asyncio.to_thread(r.process.stop) for r in replicas))
        await self.wait_stops()
        for replica in replicas:
            self._unwatch(replica.id)
            replica.socket.unlink(missing_ok=True)
        return replicas

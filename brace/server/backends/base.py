"""The replica backend seam: where and how a replica runs.

A `Backend` launches a replica of a revision (its model files, its environment, its
settings: a `Launch`) and hands back a `ReplicaHandle`: the replica's address, a signal
when it says it is ready and when it ends (`notices`), its exit status (`poll`), and
`stop` (TERM, grace, KILL) and `kill`. The controller's `control.replicas` and the
gateway know replicas only through this: the life cycle holds handles, the routing
table carries addresses. `local` is the backend of replicas on this machine (forked by
a fork server, or started as a new interpreter).

An address is a string: a Unix socket path (it starts with `/`) or `host:port` for TCP
(`tcp_address` tells them apart); the gateway's upstream pool speaks both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from brace.polling import poll

Address = str
"""A replica's address: a Unix socket path, or `host:port` (TCP)."""

STOP_GRACE = 5.0
"""Seconds a replica has to exit after TERM before it is killed."""


def tcp_address(address: Address) -> tuple[str, int] | None:
    """`(host, port)` of a TCP address (`host:port`, `[v6]:port`); None for a Unix
    socket path (anything that starts with `/` or `.`, or has no port)."""
    if address.startswith(("/", ".")):
        return None
    host, sep, port = address.rpartition(":")
    if not sep or not port.isdigit() or not host:
        return None
    return host.strip("[]"), int(port)


@dataclass(frozen=True)
class Remote:
    """What a backend of other nodes needs besides a local launch: the deployment (its
    replicas spread over nodes), the model snapshot's content hash (the node fetches
    and caches it), its requirements (the node builds their environment), the
    resources one replica asks for (Ray's names: `CPU`, `memory` in bytes, `GPU`,
    ...), and the names of the model's secrets (their values go with it)."""

    deployment_id: str
    snapshot: str
    requirements: tuple[str, ...] = ()
    request: Mapping[str, float] = field(default_factory=dict)
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True)
class Launch:
    """Everything needed to start one replica of a revision: the Python that runs it,
    its model directory, where it listens (`socket`, or TCP `port` on 127.0.0.1 when
    set), where its output goes, and its whole environment."""

    python: str
    truss_dir: Path
    socket: Path
    log_file: Path
    env: Mapping[str, str]
    port: int | None = None
    remote: Remote | None = None
    """Set for a published revision: it may run on another node (None: this machine)."""

    @property
    def address(self) -> Address:
        return str(self.socket) if self.port is None else f"127.0.0.1:{self.port}"


class ReplicaHandle(Protocol):
    """A launched replica, as the life cycle needs it."""

    @property
    def address(self) -> Address:
        """Where it listens (empty until a remote replica said so on its ready signal)."""
        ...

    @property
    def node(self) -> str | None:
        """The node it runs on (its address), None for this machine."""
        ...

    @property
    def pid(self) -> int:
        """Its process id on this machine (0 while not known, or not local)."""
        ...

    @property
    def started(self) -> float:
        """The process's start time (seconds since the epoch), to tell a reused pid."""
        ...

    def poll(self) -> int | None:
        """The exit signal: its exit status once it ended (negative: the signal), else None."""
        ...

    def stop(self, grace: float = STOP_GRACE) -> None:
        """TERM, wait `grace` seconds, then KILL; blocks until it is done (a worker
        thread calls it)."""
        ...

    def kill(self) -> None:
        """KILL it now, without waiting."""
        ...

    @property
    def notices(self) -> int | None:
        """The ready signal: a descriptor that turns readable when the replica is ready
        and at its end (None: the readiness probe alone tells)."""
        ...


IDENTIFY_TIMEOUT = 2.0
"""Seconds `identified` waits for a launched replica's pid (a fork's comes with its
reply, or with the new interpreter its launch fell back to after 0.25 s)."""


def identified(handle: ReplicaHandle, timeout: float = IDENTIFY_TIMEOUT) -> tuple[int, float]:
    """`(pid, started)` of a launched replica once its pid is known ((0, 0.0) if it is
    not within `timeout` seconds; at once for a replica on another node). Blocks: for
    a worker thread (the store's), never the event loop."""
    if handle.node is not None:
        return 0, 0.0
    poll(lambda: handle.pid or None, timeout, interval=0.005)
    return handle.pid, handle.started


class Backend(Protocol):
    """Where replicas run."""

    def start(self) -> None:
        """Get ready to launch (on the running loop)."""
        ...

    def launch(self, launch: Launch) -> ReplicaHandle:
        """Launch a replica; returns at once (it is ready when `notices` or the probe
        says so). Never blocks the event loop on a child process."""
        ...

    def close(self) -> None:
        """Release what `start` took (replicas are stopped first)."""
        ...

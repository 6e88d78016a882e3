"""Which replica and which connection: one pool of keep-alive connections per replica.

One `UpstreamPool` per replica address (a Unix socket path, or `host:port` for TCP:
`backends.base.Address`) holds idle connections, LIFO (the connection
used last is the least likely to have been closed by the replica's keep-alive timeout)
and counts the requests in flight to that replica. `Pools.dispatch` sends an exchange to
the replica of a deployment with the fewest requests in flight, on an idle connection
when there is one (no task, no coroutine: the common case) and on a new one otherwise
(a task that connects). A connection that cannot be made is the gateway's to handle
(`connect_failed`: another replica, or 502).

A replica takes at most `limit` requests at once: its `predict_concurrency` and a
little more (`replica_limit`), so that the next request is already there when one
finishes and the replica never idles between requests, but no queue builds up in a
replica while another one could serve it (the gateway keeps the rest and hands each
to the first replica that frees a slot, as Knative's activator does). `dispatch`
answers False when every replica of the deployment is at its limit.

A replica whose connection failed (it refused a connection, or closed one before
answering) is avoided for `AVOID_SECONDS`: it gets no request while another replica of
the same deployment can take it. That covers the time between a replica's death and the
controller taking it out of the routing table (a replica that merely closed a stale
keep-alive connection loses its share for that long, nothing more).

A connection is made within `CONNECT_TIMEOUT` seconds or counts as failed. Over TCP it
has `TCP_NODELAY` (a small response is not held back by Nagle's algorithm) and kernel
keep-alive probes (`KEEPALIVE_IDLE`, `KEEPALIVE_INTERVAL`, `KEEPALIVE_COUNT`: a peer
that vanished without a word is noticed and the connection fails); an idle connection
is reused only for `IDLE_LIMIT` seconds (less than a replica's own keep-alive timeout,
uvicorn's 5 s, so the gateway does not write into a connection the replica is closing).
A replica that accepts a connection and then never answers is bounded by the
deployment's first-byte timeout (`failover`).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from time import monotonic
from typing import cast

from brace.config import FIRST_BYTE_TIMEOUT
from brace.server.backends.base import tcp_address
from brace.server.gateway.exchange import Exchange, UpstreamSide

CONNECT_TIMEOUT = 5.0
"""Seconds a new connection to a replica may take before it counts as failed."""
IDLE_LIMIT = 4.0
"""Seconds an idle pooled connection is reused for; older ones are closed."""
KEEPALIVE_IDLE = 10
"""Seconds of silence on a TCP connection before the kernel probes the peer."""
KEEPALIVE_INTERVAL = 5
"""Seconds between the kernel's keep-alive probes."""
KEEPALIVE_COUNT = 3
"""Unanswered probes after which the kernel fails the connection (10 + 3 x 5 s)."""

AVOID_SECONDS = 1.0
"""How long a replica whose connection failed gets no request another replica can take."""

_AVOIDED = 1 << 30
"""Added to an avoided replica's requests in flight when choosing: it comes last."""

UNBOUNDED = 1 << 40
"""The limit of a replica whose concurrency is not known (the management app)."""

EXTRA_FRACTION = 0.25
"""Requests a replica is handed beyond its `predict_concurrency`, as a fraction of it
(at least one): the requests that wait in the replica while others run, so that it
never waits for the gateway between two requests."""


def replica_limit(predict_concurrency: int) -> int:
    """How many requests a replica with this `predict_concurrency` (>= 1; 0: not known)
    is handed at once: the concurrency plus a quarter of it, at least one more
    (1 -> 2, 4 -> 5, 16 -> 20). 0 gives `UNBOUNDED`."""
    if predict_concurrency <= 0:
        return UNBOUNDED
    return predict_concurrency + max(1, int(predict_concurrency * EXTRA_FRACTION))


class UpstreamPool:
    __slots__ = (
        "active",
        "avoid_until",
        "closed",
        "deployment_id",
        "first_byte_timeout",
        "idle",
        "limit",
        "path",
    )

    def __init__(self, path: str) -> None:
        self.path = path
        self.idle: list[UpstreamSide] = []
        self.active = 0
        """Requests dispatched to this replica and not finished (connecting included)."""
        self.limit = UNBOUNDED
        """The most requests dispatched to it at once (`replica_limit`)."""
        self.deployment_id: str | None = None
        """The deployment whose replica this is (None: the management app)."""
        self.first_byte_timeout = FIRST_BYTE_TIMEOUT
        """Seconds a request sent to it waits for its answer's first byte."""
        self.closed = False
        self.avoid_until = 0.0
        """Monotonic seconds until which the replica is avoided (0: it is not)."""

    def avoided(self, now: float) -> bool:
        if self.avoid_until and now >= self.avoid_until:
            self.avoid_until = 0.0
        return self.avoid_until != 0.0

    def park(self, conn: UpstreamSide) -> None:
        if self.closed:
            conn.transport.close()
        else:
            conn.parked_at = monotonic()
            self.idle.append(conn)

    def close(self) -> None:
        """The replica left the routing table: drop idle connections, refuse new ones."""
        self.closed = True
        for conn in self.idle:
            conn.transport.close()
        self.idle.clear()


class Pools:
    def __init__(
        self,
        new_connection: Callable[[UpstreamPool], UpstreamSide],
        connect_failed: Callable[[Exchange, str, OSError], None],
    ) -> None:
        self._new_connection = new_connection
        self._connect_failed = connect_failed
        self._pools: dict[str, UpstreamPool] = {}
        self._retired: dict[str, UpstreamPool] = {}
        """Pools of replicas that left the routing table with requests still in flight."""
        self._tasks: set[asyncio.Task[None]] = set()

    def configure(
        self, deployment_id: str, path: str, predict_concurrency: int, first_byte_timeout: float
    ) -> None:
        """The routing table says the replica at `path` serves `deployment_id` with this
        `predict_concurrency` (0: not known) and `first_byte_timeout` (seconds)."""
        pool = self._pools.get(path)
        if pool is None:
            pool = self._pools[path] = UpstreamPool(path)
        pool.deployment_id = deployment_id
        pool.limit = replica_limit(predict_concurrency)
        pool.first_byte_timeout = first_byte_timeout

    def dispatch(self, ex: Exchange, upstreams: tuple[str, ...], fresh: bool = False) -> bool:
        """Send the exchange to the upstream with the fewest requests in flight, avoided
        ones last; `fresh`: on a new connection. False (nothing done) when every one of
        them has its `limit` of requests in flight."""
        pools = self._pools
        best: UpstreamPool | None = None
        best_load = 0
        now = 0.0
        for path in upstreams:
            pool = pools.get(path)
            if pool is None:
                pool = pools[path] = UpstreamPool(path)
            load = pool.active
            if pool.avoid_until:
                now = now or monotonic()
                if pool.avoided(now):
                    load += _AVOIDED
            if best is None or load < best_load:
                best, best_load = pool, load
        assert best is not None
        if best.active >= best.limit:
            return False
        best.active += 1
        ex.pool = best
        idle = best.idle
        oldest = monotonic() - IDLE_LIMIT if idle else 0.0
        while idle and not fresh:
            conn = idle.pop()  # LIFO: the warmest connection
            if conn.parked_at < oldest:
                conn.transport.close()  # older ones are older still
                for stale in idle:
                    stale.transport.close()
                idle.clear()
                break
            if conn.transport.is_closing():
                continue
            conn.exchange = ex
            ex.upstream = conn
            if ex.client.write_paused:
                conn.pause_reading()
            if ex.pending and not ex.client.feeding:  # else: written once the parser returns
                conn.send_pending(ex)
            return True
        task = asyncio.get_running_loop().create_task(self._connect(ex, best))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return True

    def free(self, upstreams: tuple[str, ...]) -> bool:
        """Whether one of `upstreams` has fewer requests in flight than its limit."""
        pools = self._pools
        for path in upstreams:
            pool = pools.get(path)
            if pool is None or pool.active < pool.limit:
                return True
        return False

    async def _connect(self, ex: Exchange, pool: UpstreamPool) -> None:
        try:
            conn = await asyncio.wait_for(self._open(pool), CONNECT_TIMEOUT)
        except OSError as error:  # TimeoutError included
            if ex.pool is pool:
                pool.active -= 1
                ex.pool = None
                self._connect_failed(ex, pool.path, error)
            return
        if ex.pool is not pool:  # the client went away meanwhile
            pool.park(conn)
            return
        conn.attach(ex)
        if ex.pending:
            conn.send_pending(ex)

    async def _open(self, pool: UpstreamPool) -> UpstreamSide:
        """A new connection to the pool's replica, over TCP or a Unix socket."""
        loop = asyncio.get_running_loop()

        def factory() -> asyncio.Protocol:  # an UpstreamSide is an asyncio Protocol
            return cast(asyncio.Protocol, self._new_connection(pool))

        tcp = tcp_address(pool.path)
        if tcp is None:
            _, conn = await loop.create_unix_connection(factory, pool.path)
        else:
            transport, conn = await loop.create_connection(factory, tcp[0], tcp[1])
            sock = transport.get_extra_info("socket")
            if sock is not None:
                tune_tcp(sock)
        return cast(UpstreamSide, conn)

    def avoid(self, path: str) -> None:
        """The replica at `path` failed a connection: avoid it for `AVOID_SECONDS` and
        close its idle connections (they would fail the same way)."""
        pool = self._pools.get(path)
        if pool is not None:
            pool.avoid_until = monotonic() + AVOID_SECONDS
            for conn in pool.idle:
                conn.transport.close()
            pool.idle.clear()

    def usable(self, upstreams: tuple[str, ...], without: str) -> tuple[str, ...]:
        """The upstreams other than `without` that are not avoided now."""
        now = monotonic()
        pools = self._pools
        return tuple(
            path
            for path in upstreams
            if path != without and ((pool := pools.get(path)) is None or not pool.avoided(now))
        )

    def in_flight(self, path: str) -> int:
        """Requests dispatched to the replica at `path` and not finished yet."""
        pool = self._pools.get(path)
        if pool is None:
            pool = self._retired.get(path)
            if pool is not None and not pool.active:
                del self._retired[path]
        return pool.active if pool is not None else 0

    def prune(self, live: set[str]) -> None:
        """Close the pools of replicas that left the routing table (a draining replica's
        pool is still counted by `in_flight` until its last request finished)."""
        for path in [path for path in self._pools if path not in live]:
            pool = self._pools.pop(path)
            pool.close()
            if pool.active:
                self._retired[path] = pool

    def close(self) -> None:
        for pool in self._pools.values():
            pool.close()
        self._pools.clear()
        self._retired.clear()


def tune_tcp(sock: socket.socket) -> None:
    """`TCP_NODELAY` and kernel keep-alive probes on a connection to a replica."""
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (
        ("TCP_KEEPIDLE", KEEPALIVE_IDLE),
        ("TCP_KEEPINTVL", KEEPALIVE_INTERVAL),
        ("TCP_KEEPCNT", KEEPALIVE_COUNT),
    ):
        option = getattr(socket, name, None)  # Linux; macOS lacks TCP_KEEPIDLE
        if option is not None:
            sock.setsockopt(socket.IPPROTO_TCP, option, value)

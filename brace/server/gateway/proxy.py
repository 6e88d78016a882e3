"""The gateway: the inference hot path of the local server, a small HTTP/1.1 reverse proxy.

It is written directly on asyncio Protocols (run it on uvloop) with httptools parsing,
after FIELD-NOTES.md: a proxy built on an HTTP client library costs several times what
nginx costs per request; this design costs about the same. `Gateway` builds its parts,
passes each the others it calls, and runs their timers. How a request flows:

1. `downstream.ClientConnection` reads the request (`request.RequestReader` parses and
   checks it); once its head is complete, `router.Router.route` decides where it goes
   (`routing.resolve`, pure; during a rolling promotion `split` picks the side) and
   `demand` counts it towards its deployment.
2. `pool.Pools.dispatch`: the deployment's replica with the fewest requests in flight
   is chosen, an idle keep-alive connection is taken from its pool (LIFO) and the
   request head and body are written to it after the parser returns. No task and no
   coroutine run per request; a new connection is the only thing that needs a task.
   A replica is handed at most its `predict_concurrency` and a little more
   (`pool.replica_limit`); when every replica of the deployment has that many, the
   request waits at the gateway (`waiting`) for the first one that frees a slot or
   becomes ready, as with Knative's activator.
3. `upstream.UpstreamConnection` parses the response and relays it to the client as it
   arrives (a small response in one write), then returns to its pool. A request whose
   replica refused the connection, or closed it before any response byte, goes to
   another replica (`failover`).
4. A deployment without ready replicas (starting, scaled to zero): the request is held
   (`waiting`), the `wake` hook is called, and `set_table` releases it when the
   deployment gains a replica, or it gets a 504 after `hold_timeout`; a held request
   whose path the new table routes to another deployment goes there instead. Until
   the first routing table is set (`awaiting_table`: a server that just started),
   inference requests are held the same way and routed once it is there.
5. `Wake`, `NotFound` and `MethodNotAllowed` are answered by the router; `NotInference`
   requests go, path unchanged, to the management app on `internal_uds`.
6. When a request routed to a deployment finishes, `demand` hands its status and
   duration to `counters` (the metrics), unless counting is off (`count_requests`). A
   client that goes away (it closes or half-closes its connection) before the answer
   began is counted as 499 (`abandon`), and its replica connection is closed, which
   is how the replica learns of it (nginx does the same).
7. A request that has waited `first_byte_timeout` seconds (the replica's config) for
   the first byte of its replica's answer gets a 504 (`failover`). A sweep every
   `WAIT_TICK` seconds checks the requests in flight: no timer per request.

Before any of that, a request is checked: its head and body against `limits` (in
`request`), and its `Host` and `Origin` headers against `hosts` (in `router`: a Host
not allowed gets 400, an Origin that is not the server's own 403; see `hosts` for why).

Everything runs on the event loop that called `serve`. `set_table` may be called from
any thread; the `wake` hook runs on the loop and must not block.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterable

from brace.server.gateway.counters import CLIENT_CLOSED
from brace.server.gateway.demand import Demand
from brace.server.gateway.downstream import ClientConnection
from brace.server.gateway.exchange import Exchange
from brace.server.gateway.failover import Failover
from brace.server.gateway.holding import HOLD_LIMIT
from brace.server.gateway.limits import Limits
from brace.server.gateway.pool import Pools, UpstreamPool
from brace.server.gateway.router import CurrentTable, Router
from brace.server.gateway.routing import RoutingTable
from brace.server.gateway.upstream import UpstreamConnection
from brace.server.gateway.waiting import Waiting

IDLE_SWEEP = 60.0
"""Seconds between sweeps that close client connections idle since the previous sweep."""

HEAD_TICKS = 4
"""Header-timeout checks per `header_timeout` (see `ClientConnection.head_tick`)."""

WAIT_TICK = 0.25
"""Seconds between sweeps for requests held too long (`hold_timeout`) or waiting too
long for a replica's first byte (`first_byte_timeout`): each is answered between its
timeout and that plus `WAIT_TICK` seconds."""


class Gateway:
    def __init__(
        self,
        table: RoutingTable,
        *,
        internal_uds: str | None = None,
        wake: Callable[[str], None] = lambda deployment_id: None,
        hold_timeout: float = 120.0,
        limits: Limits = Limits(),
        allowed_hosts: Iterable[str] = (),
        api_key: str | None = None,
        count_requests: bool = True,
        awaiting_table: bool = False,
        hold_limit: int = HOLD_LIMIT,
        replica_secret: str | None = None,
    ) -> None:
        """`internal_uds`, `api_key`, `allowed_hosts`, `replica_secret`: see `router.Router`;
        `wake`, `hold_timeout`, `hold_limit`: see `waiting.Waiting`. `count_requests`: keep
        the counters the metrics read. `awaiting_table`: `table` is a placeholder; hold
        inference requests until the first `set_table` (a server yet to read its store)."""
        self.limits = limits
        self._current = current = CurrentTable(table)
        self._demand = demand = Demand(count_requests)
        self.counters = demand.counters
        """Finished requests by deployment, status and duration (None: not counted)."""
        self._pools = pools = Pools(self._new_upstream, self._connect_failed)
        self._waiting = waiting = Waiting(
            current,
            pools,
            demand,
            wake=wake,
            now=self._now,
            hold_timeout=hold_timeout,
            hold_limit=hold_limit,
            internal=internal_uds,
            awaiting=awaiting_table,
        )
        self.waiting = waiting.waiting
        """Deployment id -> its held requests (does a freed slot have a taker?)."""
        self._router = router = Router(
            current,
            pools,
            demand,
            waiting,
            internal=internal_uds,
            api_key=api_key,
            allowed_hosts=allowed_hosts,
            replica_secret=replica_secret,
        )
        self._failover = Failover(current, pools, demand, waiting, self.abandon)
        self.route = router.route  # per request: straight to its part, one call not two
        self.exchange_done = demand.done
        self.slot_freed = waiting.slot_freed
        self._listening: list[str] = []
        self._clients: set[ClientConnection] = set()
        self._servers: list[asyncio.Server] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: int | None = None
        self._sweeper: asyncio.TimerHandle | None = None
        self._head_sweeper: asyncio.TimerHandle | None = None
        self._wait_sweeper: asyncio.TimerHandle | None = None

    # -- public API ------------------------------------------------------------------------

    @property
    def table(self) -> RoutingTable:
        return self._current.table

    def set_table(self, table: RoutingTable) -> None:
        """Swap the routing table in; requests held for a deployment that is now ready
        (or gone) are released. Safe to call from any thread."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._thread:
            loop.call_soon_threadsafe(self._apply_table, table)
        else:
            self._apply_table(table)

    async def serve(self, host: str, port: int) -> asyncio.Server:
        """Bind and start accepting connections; returns the listening server."""
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._thread = threading.get_ident()
        limits = self.limits
        server = await loop.create_server(
            lambda: ClientConnection(self, limits), host, port, backlog=2048, reuse_address=True
        )
        self._servers.append(server)
        self._listening.append(host)
        self._router.listening(self._listening)
        if self._sweeper is None:
            self._sweeper = loop.call_later(IDLE_SWEEP, self._sweep)
        if self._head_sweeper is None:
            self._head_sweeper = loop.call_later(self._head_interval(), self._sweep_heads)
        if self._wait_sweeper is None:
            self._wait_sweeper = loop.call_later(WAIT_TICK, self._sweep_waits)
        return server

    def outstanding(self, deployment_id: str) -> int:
        """Requests to the deployment not finished yet, held ones included."""
        return self._demand.outstanding.get(deployment_id, 0)

    def load(self) -> dict[str, tuple[int, int]]:
        """Deployment id -> (requests in flight, held ones included; arrivals so far)."""
        return self._demand.load()

    def held(self) -> dict[str, int]:
        """Deployment id -> requests held for it now (no ready replica, or no free slot)."""
        return self._waiting.counts()

    def in_flight(self, upstream: str) -> int:
        """Requests sent to the replica on socket path `upstream` and not finished."""
        return self._pools.in_flight(upstream)

    def close(self) -> None:
        """Stop listening and close every connection, client and upstream."""
        for sweeper in (self._sweeper, self._head_sweeper, self._wait_sweeper):
            if sweeper is not None:
                sweeper.cancel()
        self._sweeper = self._head_sweeper = self._wait_sweeper = None
        for server in self._servers:
            server.close()
        self._servers.clear()
        for client in list(self._clients):
            client.transport.close()
        self._pools.close()
        self._waiting.held.clear()

    # -- called by the client side (besides `route` and `exchange_done`) -------------------

    def abandon(self, ex: Exchange, status: int = CLIENT_CLOSED) -> None:
        """The client went away before its response was written (or the request was
        refused mid-way with `status`): counted with `status` unless its answer began."""
        ex.finished = True
        if not ex.response_started:
            ex.status = status
        self._waiting.unhold(ex)
        conn = ex.upstream
        if conn is not None:
            # Mid-request or mid-response: this connection cannot be reused.
            conn.exchange = None
            ex.upstream = None
            conn.transport.close()
        pool = ex.pool
        if pool is not None:
            pool.active -= 1
            ex.pool = None
        self._demand.done(ex)
        if pool is not None and self.waiting:
            self._waiting.slot_freed(pool)

    def client_opened(self, client: ClientConnection) -> None:
        self._clients.add(client)

    def client_closed(self, client: ClientConnection) -> None:
        self._clients.discard(client)

    # -- called by the upstream side (besides `slot_freed`) and the pools ------------------

    def upstream_failed(self, ex: Exchange, path: str, reused: bool, replayable: bool) -> None:
        self._failover.upstream_failed(ex, path, reused, replayable)

    def truncated(self, ex: Exchange) -> None:
        self._failover.truncated(ex)

    def _connect_failed(self, ex: Exchange, path: str, error: OSError) -> None:
        self._failover.connect_failed(ex, path, error)

    def _new_upstream(self, pool: UpstreamPool) -> UpstreamConnection:
        return UpstreamConnection(self, pool)

    # -- internals -------------------------------------------------------------------------

    def _now(self) -> float:
        loop = self._loop
        assert loop is not None  # set by `serve`, before any request
        return loop.time()

    def _apply_table(self, table: RoutingTable) -> None:
        self._current.table = table
        self._router.table_changed(table)
        for ex in self._waiting.apply(table):
            if not ex.finished:
                self._router.route(ex)

    def _sweep(self) -> None:
        for client in list(self._clients):
            client.close_if_idle()
        assert self._loop is not None
        self._sweeper = self._loop.call_later(IDLE_SWEEP, self._sweep)

    def _head_interval(self) -> float:
        return self.limits.header_timeout / HEAD_TICKS

    def _sweep_heads(self) -> None:
        for client in list(self._clients):
            client.head_tick(HEAD_TICKS)
        assert self._loop is not None
        self._head_sweeper = self._loop.call_later(self._head_interval(), self._sweep_heads)

    def _sweep_waits(self) -> None:
        """Answer the requests held `hold_timeout` seconds, and 504 to those that waited
        their replica's `first_byte_timeout` for the first byte of its answer (a request
        is first seen waiting by one sweep and timed from there)."""
        loop = self._loop
        assert loop is not None
        now = loop.time()
        if self.waiting:
            self._waiting.held.expire(now)
        first_byte_timeout = self._failover.first_byte_timeout
        for client in list(self._clients):
            ex = client.active
            if ex is None or ex.status or ex.finished:
                continue
            pool = ex.pool
            if pool is None or pool.deployment_id is None:
                continue  # held, or on its way to the management app
            if not ex.waiting_since:
                ex.waiting_since = now
            elif now - ex.waiting_since >= pool.first_byte_timeout:
                first_byte_timeout(ex, pool)
        self._wait_sweeper = loop.call_later(WAIT_TICK, self._sweep_waits)

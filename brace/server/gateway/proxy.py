"""The gateway: the inference hot path of the local server, a small HTTP/1.1 reverse proxy.

It is written directly on asyncio Protocols (run it on uvloop) with httptools parsing,
after FIELD-NOTES.md: a proxy built on an HTTP client library costs several times what
nginx costs per request; this design costs about the same. How a request flows:

1. `downstream.ClientConnection` parses the request; in `on_headers_complete` it calls
   `Gateway.route`, which asks `routing.resolve` (pure) where the request goes. A
   forward is remembered per (method, URL, Host) until the next table swap, so a
   repeated request skips `resolve`. For an environment in a rolling promotion what is
   remembered is both forwards and the environment's `split.SmoothSplit`, which picks
   one per request (deterministically: exactly the percentage in every 100 requests).
2. `Forward`: the deployment's replica with the fewest requests in flight is chosen, an
   idle keep-alive connection is taken from its `pool.UpstreamPool` (LIFO) and the
   request head and body are written to it after the parser returns. No task and no
   coroutine run per request; a new connection is the only thing that needs a task.
   A replica is handed at most its `predict_concurrency` and a little more
   (`pool.replica_limit`); when every replica of the deployment has that many, the
   request waits at the gateway (`holding`) for the first one that frees a slot
   (`slot_freed`) or becomes ready, as with Knative's activator.
3. `upstream.UpstreamConnection` parses the response and relays it to the client as it
   arrives (a small response in one write), then returns to its pool. A request whose
   replica refused the connection, or closed it before any response byte (it died, or
   a pooled connection went stale), goes to another replica of the deployment, and
   the failed replica is avoided for a moment (`pool`); see `upstream_failed`.
4. A deployment without ready replicas (starting, scaled to zero): the request is held
   (`holding`), the `wake` hook is called, and `set_table` releases it when the
   deployment gains a replica, or it gets a 504 after `hold_timeout`; a held request
   whose path the new table routes to another deployment (a promotion switched the
   environment, a cancel took the candidate out) goes there instead. Until the first
   routing table is set (`awaiting_table`: a server that just started), inference
   requests are held the same way and routed once it is there (503 after the timeout).
5. `Wake`, `NotFound` and `MethodNotAllowed` are answered here; `NotInference` requests
   go, path unchanged, to the management app on `internal_uds`.
6. When a request routed to a deployment finishes, `exchange_done` hands its status and
   duration to `counters` (the metrics), unless counting is off (`count_requests`). A
   client that goes away (it closes or half-closes its connection) before the answer
   began is counted as 499, and its replica connection is closed, which is how the
   replica learns of it (nginx does the same).
7. A request that has waited `first_byte_timeout` seconds (the replica's config) for
   the first byte of its replica's answer gets a 504, its replica connection is
   closed and the replica is avoided like a failed one. A sweep every `WAIT_TICK`
   seconds checks the requests in flight: no timer per request.

Before any of that, a request is checked: its head and body against `limits` (in
`downstream`), and its `Host` and `Origin` headers against `hosts` (here: a Host not
allowed gets 400, an Origin that is not the server's own 403; see `hosts` for why).
The Host verdict is cached per header value and a remembered forward implies an
allowed Host, so a repeated request pays for neither.

Everything runs on the event loop that called `serve`. `set_table` may be called from
any thread; the `wake` hook runs on the loop and must not block.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Iterable
from time import monotonic

from brace.apikey import authorized
from brace.server.gateway.counters import CLIENT_CLOSED, RequestCounters
from brace.server.gateway.downstream import ClientConnection
from brace.server.gateway.exchange import Exchange, PoolSide, secret_line
from brace.server.gateway.holding import HOLD_LIMIT, HeldRequests
from brace.server.gateway.hosts import host_allowed, host_policy, origin_allowed
from brace.server.gateway.limits import Limits
from brace.server.gateway.pool import Pools
from brace.server.gateway.routing import (
    NO_LIMITS,
    DeploymentRoute,
    Forward,
    NotFound,
    NotInference,
    Resolution,
    RoutingTable,
    Split,
    Unavailable,
    Wake,
    resolve,
    unavailable_message,
)
from brace.server.gateway.split import SmoothSplit, SplitChoice
from brace.server.gateway.upstream import UpstreamConnection

log = logging.getLogger("brace.gateway")

IDLE_SWEEP = 60.0
"""Seconds between sweeps that close client connections idle since the previous sweep."""

KNOWN_LIMIT = 4096
"""Most remembered routing decisions (URLs with query strings could grow it without end)."""

HOSTS_LIMIT = 1024
"""Most remembered Host verdicts (a client may send any number of different values)."""

HEAD_TICKS = 4
"""Header-timeout checks per `header_timeout` (see `ClientConnection.head_tick`)."""

WAIT_TICK = 0.25
"""Seconds between sweeps for requests held too long (`hold_timeout`) or waiting too
long for a replica's first byte (`first_byte_timeout`): each is answered between its
timeout and that plus `WAIT_TICK` seconds."""

STARTING = ""
"""The `holding` key of inference requests held until the first routing table."""

Target = tuple[str, bytes, tuple[str, ...]]
"""Where a request is forwarded: deployment id, upstream path, its replicas' sockets."""


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
        """`api_key`: the key inference requests must carry (None: no key asked).
        `count_requests`: keep the request counters the metrics read (`counters`).
        `awaiting_table`: `table` is a placeholder; hold inference requests until the
        first `set_table` (a server that has not read its store yet). `hold_limit`: the
        most requests held per deployment; `replica_secret`: sent to every replica."""
        self._replica_header = secret_line(replica_secret)
        self._table = table
        self._awaiting_table = awaiting_table
        self._api_key = api_key
        self._internal = internal_uds
        self.limits = limits
        self._allowed_hosts = tuple(allowed_hosts)
        """Names accepted in the Host header besides loopback, localhost names and the
        addresses the gateway listens on."""
        self._listening: list[str] = []
        self._policy = host_policy((), self._allowed_hosts)
        self._hosts: dict[bytes, bool] = {}
        """Host header value -> allowed, for the current policy."""
        self.wake = wake
        """Called with a deployment id to wake it (the server's `control.Wakeup`)."""
        self._known: dict[tuple[bytes, bytes, bytes | None], Target | SplitChoice[Target]] = {}
        """Forwards by (method, url, host): a request seen before skips `resolve`. Emptied
        with every table swap."""
        self._splits: dict[tuple[str, str], SmoothSplit] = {}
        """(model id, environment) -> its split, for environments in a rolling promotion.
        Kept across table swaps, so a new percentage carries on from the split's state."""
        self._pools = Pools(lambda pool: UpstreamConnection(self, pool), self._connect_failed)
        self._outstanding: dict[str, int] = {}
        self._arrivals: dict[str, int] = {}
        """Requests routed to each deployment so far (the autoscaler's load)."""
        self.counters = RequestCounters() if count_requests else None
        """Finished requests by deployment, status and duration (None: not counted)."""
        self._held = HeldRequests(hold_timeout, self._hold_expired, hold_limit)
        self.waiting = self._held.waiting
        """Deployment id -> its held requests (the same dict as the holding's): the
        upstream side reads it to know whether a freed slot has a taker."""
        self._configure_pools(table)
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
        return self._table

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
        self._policy = host_policy(self._listening, self._allowed_hosts)
        self._hosts = {}
        if self._sweeper is None:
            self._sweeper = loop.call_later(IDLE_SWEEP, self._sweep)
        if self._head_sweeper is None:
            self._head_sweeper = loop.call_later(self._head_interval(), self._sweep_heads)
        if self._wait_sweeper is None:
            self._wait_sweeper = loop.call_later(WAIT_TICK, self._sweep_waits)
        return server

    def outstanding(self, deployment_id: str) -> int:
        """Requests to the deployment not finished yet, held ones included."""
        return self._outstanding.get(deployment_id, 0)

    def load(self) -> dict[str, tuple[int, int]]:
        """Deployment id -> (requests in flight, held ones included; arrivals so far)."""
        outstanding = self._outstanding
        return {d: (outstanding.get(d, 0), n) for d, n in self._arrivals.items()}

    def held(self) -> dict[str, int]:
        """Deployment id -> requests held for it now (no ready replica, or no free slot)."""
        counts = self._held.counts()
        counts.pop(STARTING, None)
        return counts

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
        self._held.clear()

    # -- called by the client side ---------------------------------------------------------

    def route(self, ex: Exchange) -> None:
        """Decide where a request goes, in the parser callback that completed its head.

        The hot path: a request seen before under this table skips `resolve`, and its
        bytes go to an idle pooled connection as soon as the parser returns."""
        if ex.origin is not None and self._refused_origin(ex):
            return
        key = (ex.method, ex.url, ex.host)
        known = self._known.get(key)
        if known is None:
            known = self._route_new(ex, key)
            if known is None:
                return  # answered, or on its way to the internal app
        if self._api_key is not None and not self._key_given(ex):
            return
        if isinstance(known, SplitChoice):
            picked = known.pick()
            other = known.current if picked is known.candidate else known.candidate
            ex.alternative = other[0]
            deployment_id, path, upstreams = picked
        else:
            deployment_id, path, upstreams = known
        ex.deployment_id = deployment_id
        outstanding = self._outstanding
        outstanding[deployment_id] = outstanding.get(deployment_id, 0) + 1
        arrivals = self._arrivals
        arrivals[deployment_id] = arrivals.get(deployment_id, 0) + 1
        if self.counters is not None:
            ex.started = monotonic()
        ex.start_request(path, self._replica_header)
        if ex.expect_continue:
            ex.client.send_continue(ex)
        if not upstreams:
            self._hold(ex)
        elif not self._pools.dispatch(ex, upstreams):
            self._hold(ex, wake=False)

    def _key_given(self, ex: Exchange) -> bool:
        """Whether an inference request carries the API key (else it is answered 401).

        The header itself is not forwarded: the key is the server's, not the model's."""
        value = ex.authorization
        key = self._api_key
        assert key is not None
        if value is None or not authorized(value.decode("latin-1"), key):
            ex.client.answer_error(
                ex,
                401,
                "a valid API key is required (header Authorization: Api-Key <key>; "
                "`brace api-key` prints it)",
            )
            return False
        del ex.headers[ex.authorization_at : ex.authorization_at + 4]
        return True

    def _route_new(
        self, ex: Exchange, key: tuple[bytes, bytes, bytes | None]
    ) -> Target | SplitChoice[Target] | None:
        """Resolve a request; a forward (or a split's two) comes back and is remembered,
        anything else is answered here."""
        host = ex.host
        client = ex.client
        if host is not None and not self._host_allowed(host):
            ex.keep_alive = False
            client.answer_error(
                ex,
                400,
                f"Host {host.decode('latin-1')!r} is not allowed: this server answers "
                "loopback addresses, localhost, model-{id}.localhost and the names it "
                "was started with (brace server --host, --allowed-host)",
            )
            return None
        if ex.method == b"CONNECT":
            ex.keep_alive = False
            client.answer_error(ex, 405, "Method Not Allowed")
            return None
        table = self._table
        resolution = _resolve(table, ex)
        if isinstance(resolution, Split):
            routed = self._route_split(resolution, key)
            if isinstance(routed, (tuple, SplitChoice)):
                return routed
            resolution = routed
        if isinstance(resolution, Forward):
            target = _target(table, resolution)
            self._remember(key, target)
            return target
        if isinstance(resolution, NotInference):
            if self._internal is None:
                client.answer_error(ex, 404, "Not Found")
            else:
                ex.start_request(ex.url)
                client.send_continue(ex)
                self._pools.dispatch(ex, (self._internal,))
        elif isinstance(resolution, NotFound):
            if self._awaiting_table:
                self._hold_until_table(ex)
            else:
                client.answer_error(ex, 404, resolution.message)
        elif isinstance(resolution, Unavailable):
            client.answer_error(ex, 503, resolution.message)
        elif isinstance(resolution, Wake):
            if self._api_key is None or self._key_given(ex):
                self._call_wake(resolution.deployment_id)
                client.answer_json(ex, 202, {})
        else:
            client.answer_error(ex, 405, "Method Not Allowed")
        return None

    def _route_split(
        self, split_route: Split, key: tuple[bytes, bytes, bytes | None]
    ) -> Target | SplitChoice[Target] | Resolution:
        """An environment in a rolling promotion: both forwards and its split (remembered),
        or, when a side answers an error (no deployment of the two serves), the side the
        split picks this time (not remembered): a target, or the resolution to answer."""
        table = self._table
        split = self._splits.get(split_route.environment)
        if split is None:
            split = self._splits[split_route.environment] = SmoothSplit()
        candidate, current = split_route.candidate, split_route.current
        if isinstance(candidate, Forward) and isinstance(current, Forward):
            choice = SplitChoice(
                split, split_route.percent, _target(table, candidate), _target(table, current)
            )
            self._remember(key, choice)
            return choice
        chosen = candidate if split.choose(split_route.percent) else current
        return _target(table, chosen) if isinstance(chosen, Forward) else chosen

    def _remember(
        self, key: tuple[bytes, bytes, bytes | None], known: Target | SplitChoice[Target]
    ) -> None:
        if len(self._known) >= KNOWN_LIMIT:
            self._known.clear()
        self._known[key] = known

    def exchange_done(self, ex: Exchange) -> None:
        deployment_id = ex.deployment_id
        if deployment_id is not None:
            ex.deployment_id = None
            self._outstanding[deployment_id] -= 1
            counters = self.counters
            if counters is not None:
                counters.record(deployment_id, ex.status, monotonic() - ex.started)

    def abandon(self, ex: Exchange, status: int = CLIENT_CLOSED) -> None:
        """The client went away before its response was written (or the request was
        refused mid-way with `status`): counted with `status` unless its answer began."""
        ex.finished = True
        if not ex.response_started:
            ex.status = status
        self._unhold(ex)
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
        self.exchange_done(ex)
        if pool is not None and self.waiting:
            self.slot_freed(pool)

    def client_opened(self, client: ClientConnection) -> None:
        self._clients.add(client)

    def client_closed(self, client: ClientConnection) -> None:
        self._clients.discard(client)

    # -- called by the upstream side -------------------------------------------------------

    def slot_freed(self, pool: PoolSide) -> None:
        """A request to the replica of `pool` finished: requests held for its deployment
        go to the replicas with a free slot, oldest first. The upstream side calls it
        only when something is held (`waiting`), so it costs nothing otherwise."""
        deployment_id = pool.deployment_id
        if deployment_id is None:
            return
        held = self._held
        ex = held.first(deployment_id)
        if ex is None:
            return
        route = self._table.deployments.get(deployment_id)
        # One slot freed, one request sent (a new replica or a higher limit comes with a
        # table, and `_apply_table` fills every free slot).
        if route is not None and route.upstreams and self._pools.dispatch(ex, route.upstreams):
            held.remove(ex, deployment_id)

    def upstream_failed(self, ex: Exchange, path: str, reused: bool, replayable: bool) -> None:
        """The connection closed before any response byte arrived: the replica died, or
        a pooled connection had gone stale. A `replayable` request (its bytes were kept
        and the replica sent nothing) gets one second chance: another replica of its
        deployment on a new connection, else this one on a new connection when the
        failed one was `reused`. Otherwise, and after the second chance, 502."""
        if ex.finished:
            return
        self._pools.avoid(path)
        if replayable and not ex.retried:
            ex.retried = True
            # A stale pooled connection: the same replica on a new one first (its
            # refusal, if it died, sends the request to the split's other side).
            others = self._others(ex, path) or (() if reused else self._other_side(ex))
            if others or reused:
                if ex.replay is not None:
                    ex.pending = ex.replay + ex.pending
                    ex.pending_size += ex.replay_size
                ex.replay, ex.replay_size = None, 0
                log.info(
                    "replica %s closed the connection before answering; sending the request again",
                    path,
                )
                if not self._pools.dispatch(ex, others or (path,), fresh=True):
                    self._hold(ex, wake=False)  # the others are busy: the first free slot
                return
        log.warning("replica %s closed the connection before responding", path)
        self._bad_gateway(ex)

    def truncated(self, ex: Exchange) -> None:
        """The replica went away mid-response: all that is left is to cut the client off."""
        log.warning("replica closed the connection in the middle of a response")
        client = ex.client
        self.abandon(ex)
        client.transport.close()

    # -- internals -------------------------------------------------------------------------

    def _host_allowed(self, host: bytes) -> bool:
        allowed = self._hosts.get(host)
        if allowed is None:
            allowed = host_allowed(self._policy, host.decode("latin-1"))
            if len(self._hosts) >= HOSTS_LIMIT:
                self._hosts.clear()
            self._hosts[host] = allowed
        return allowed

    def _refused_origin(self, ex: Exchange) -> bool:
        """True when a web page on another origin made the browser send the request:
        it is then answered 403."""
        assert ex.origin is not None
        host = ex.host.decode("latin-1") if ex.host is not None else None
        origin = ex.origin.decode("latin-1")
        if origin_allowed(origin, host):
            return False
        ex.keep_alive = False
        ex.client.answer_error(
            ex,
            403,
            f"cross-origin requests are not allowed (Origin {origin!r}): "
            "call the server from a program, not from a web page",
        )
        return True

    def _connect_failed(self, ex: Exchange, path: str, error: OSError) -> None:
        """Nothing was sent: another replica of the deployment that is not avoided can
        take the request (each failure avoids its replica, so this ends); else 502."""
        log.warning("cannot connect to replica %s: %s", path, error)
        self._pools.avoid(path)
        others = self._others(ex, path) or self._other_side(ex)
        if not others:
            self._bad_gateway(ex)
        elif not self._pools.dispatch(ex, others, fresh=True):
            self._hold(ex, wake=False)  # the others are busy: the first free slot takes it

    def _others(self, ex: Exchange, path: str) -> tuple[str, ...]:
        """The other replicas of the exchange's deployment, avoided ones left out."""
        deployment_id = ex.deployment_id
        route = self._table.deployments.get(deployment_id) if deployment_id else None
        if route is None:
            return ()
        return self._pools.usable(route.upstreams, without=path)

    def _other_side(self, ex: Exchange) -> tuple[str, ...]:
        """For a request of an environment's split that no replica of its deployment
        took (a candidate replica that just crashed): the usable replicas of the other
        deployment, which the request then counts towards; else ()."""
        alternative, ex.alternative = ex.alternative, None
        route = self._table.deployments.get(alternative) if alternative else None
        if route is None or not route.serving or ex.deployment_id is None:
            return ()
        usable = self._pools.usable(route.upstreams, without="")
        if usable:
            self._outstanding[ex.deployment_id] -= 1
            ex.deployment_id = route.deployment_id
            self._outstanding[route.deployment_id] = (
                self._outstanding.get(route.deployment_id, 0) + 1
            )
        return usable

    def _bad_gateway(self, ex: Exchange) -> None:
        ex.client.answer_error(ex, 502, "Bad Gateway: the replica did not answer")

    def _hold(self, ex: Exchange, wake: bool = True) -> None:
        """Hold a request routed to a deployment; `wake`: it has no ready replica (else
        the request waits for a free slot)."""
        deployment_id = ex.deployment_id
        assert deployment_id is not None
        held = self._held
        if held.full(deployment_id):
            ex.client.answer_error(
                ex,
                503,
                f"Deployment {deployment_id} has {held.limit} requests waiting for a "
                "replica already; try again later",
            )
        elif held.add(ex, deployment_id, self._now(), wake):
            self._call_wake(deployment_id)

    def _hold_until_table(self, ex: Exchange) -> None:
        """An inference request before the first routing table: routed once it is set."""
        held = self._held
        if held.full(STARTING):
            ex.client.answer_error(ex, 503, "the server is starting; try again in a moment")
        else:
            held.add(ex, STARTING, self._now())

    def _now(self) -> float:
        loop = self._loop
        assert loop is not None  # set by `serve`, before any request
        return loop.time()

    def _unhold(self, ex: Exchange) -> None:
        self._held.remove(ex, ex.deployment_id or STARTING)

    def _hold_expired(self, ex: Exchange, key: str) -> None:
        timeout = self._held.timeout
        if key == STARTING:
            ex.client.answer_error(
                ex, 503, f"the server did not read its routing table within {timeout:g} seconds"
            )
            return
        route = self._table.deployments.get(key)
        if route is not None and route.upstreams:
            message = (
                f"Deployment {key} had no replica free to take the request within "
                f"{timeout:g} seconds"
            )
        else:
            message = f"Deployment {key} did not become ready within {timeout:g} seconds"
        ex.client.answer_error(ex, 504, message)

    def _send_held(self, deployment_id: str, upstreams: tuple[str, ...]) -> None:
        """Send requests held for the deployment, oldest first, while one of its
        replicas has a free slot."""
        held = self._held
        dispatch = self._pools.dispatch
        while (ex := held.first(deployment_id)) is not None:
            if not dispatch(ex, upstreams):
                return
            held.remove(ex, deployment_id)

    def _call_wake(self, deployment_id: str) -> None:
        try:
            self.wake(deployment_id)
        except Exception:
            log.exception("the wake hook failed for deployment %s", deployment_id)

    def _apply_table(self, table: RoutingTable) -> None:
        self._table = table
        self._known = {}
        environments = table.environments
        self._splits = {
            key: split
            for key, split in self._splits.items()
            if (env := environments.get(key)) is not None and env.candidate is not None
        }
        self._configure_pools(table)
        held = self._held
        for deployment_id in held.held_for():
            if deployment_id == STARTING:
                continue
            route = table.deployments.get(deployment_id)
            if route is not None and route.serving and route.upstreams:
                self._send_held(deployment_id, route.upstreams)
                continue
            self._reroute_held(table, deployment_id)
            if route is not None and route.serving:
                continue  # the rest wait: they are demand that wakes it
            for ex in held.release(deployment_id):
                if route is not None and route.error is not None:
                    ex.client.answer_error(ex, 503, unavailable_message(deployment_id, route.error))
                else:
                    ex.client.answer_error(ex, 404, f"Deployment {deployment_id} is not active")
        self._prune_pools(table)
        if self._awaiting_table:
            self._awaiting_table = False
            for ex in held.release(STARTING):
                if not ex.finished:
                    self.route(ex)

    def _reroute_held(self, table: RoutingTable, deployment_id: str) -> None:
        """Requests held for a deployment that has no ready replica now and that the new
        table routes elsewhere (an environment switched by a promotion, a candidate
        taken out by a cancel) go where their path leads now, instead of waiting for a
        deployment put to sleep or stopped."""
        held = self._held
        waiting = held.waiting.get(deployment_id)
        if not waiting:
            return
        outstanding = self._outstanding
        arrivals = self._arrivals
        for ex in list(waiting):
            target = _reroute_target(table, ex)
            if target is None or target[0] == deployment_id:
                continue
            new_id, _, upstreams = target
            held.remove(ex, deployment_id)
            outstanding[deployment_id] -= 1
            outstanding[new_id] = outstanding.get(new_id, 0) + 1
            arrivals[new_id] = arrivals.get(new_id, 0) + 1
            ex.deployment_id = new_id
            if not upstreams:
                self._hold(ex)
            elif not self._pools.dispatch(ex, upstreams):
                self._hold(ex, wake=False)

    def _configure_pools(self, table: RoutingTable) -> None:
        configure = self._pools.configure
        for route in table.deployments.values():
            limits = route.limits
            for index, path in enumerate(route.upstreams):
                limit = limits[index] if index < len(limits) else NO_LIMITS
                configure(
                    route.deployment_id, path, limit.predict_concurrency, limit.first_byte_timeout
                )

    def _prune_pools(self, table: RoutingTable) -> None:
        live = _upstreams(table.deployments.values())
        if self._internal is not None:
            live.add(self._internal)
        self._pools.prune(live)

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
            self._held.expire(now)
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
                self._first_byte_timeout(ex, pool)
        self._wait_sweeper = loop.call_later(WAIT_TICK, self._sweep_waits)

    def _first_byte_timeout(self, ex: Exchange, pool: PoolSide) -> None:
        """The replica has not begun to answer in time: 504, its connection closed (the
        replica's server sees the client leave) and the replica avoided like a failed
        one, so that the next requests go to another replica while there is one."""
        timeout = pool.first_byte_timeout
        log.warning(
            "replica %s did not begin to answer within %g seconds: answered 504", pool.path, timeout
        )
        conn = ex.upstream
        if conn is not None:
            conn.exchange = None
            ex.upstream = None
            conn.transport.close()
        pool.active -= 1
        ex.pool = None
        self._pools.avoid(pool.path)
        ex.client.answer_error(
            ex,
            504,
            f"Gateway Timeout: the replica did not begin to answer within {timeout:g} seconds "
            "(model_metadata.brace.first_byte_timeout in the model's config.yaml)",
        )
        if self.waiting:
            self.slot_freed(pool)


def _target(table: RoutingTable, forward: Forward) -> Target:
    deployment_id = forward.deployment_id
    return (
        deployment_id,
        forward.upstream_path.encode(),
        table.deployments[deployment_id].upstreams,
    )


def _resolve(table: RoutingTable, ex: Exchange) -> Resolution:
    """`routing.resolve` of the exchange's method, URL and Host header."""
    host = ex.host.decode("latin-1") if ex.host is not None else None
    return resolve(table, ex.method.decode("latin-1"), ex.url.decode("latin-1"), host)


def _reroute_target(table: RoutingTable, ex: Exchange) -> Target | None:
    """Where a held request's path leads in `table` (during a split, a side with ready
    replicas first, the current deployment first); None when it leads to no deployment."""
    resolution = _resolve(table, ex)
    if isinstance(resolution, Forward):
        return _target(table, resolution)
    if not isinstance(resolution, Split):
        return None
    sides = [r for r in (resolution.current, resolution.candidate) if isinstance(r, Forward)]
    for side in sides:
        if table.deployments[side.deployment_id].upstreams:
            return _target(table, side)
    return _target(table, sides[0]) if sides else None


def _upstreams(routes: Iterable[DeploymentRoute]) -> set[str]:
    return {path for route in routes for path in route.upstreams}

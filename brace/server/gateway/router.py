"""Where each request goes, decided in the parser callback that completed its head.

`Router.route` checks the request (its Origin, its Host, the API key) and asks
`routing.resolve` (pure) where it goes. A forward is remembered per (method, URL,
Host) until the next table swap, so a repeated request skips `resolve`, and a
remembered forward implies an allowed Host; the Host verdict is cached per header
value too, so a repeated request pays for neither. For an environment in a rolling
promotion what is remembered is both forwards and the environment's
`split.SmoothSplit`, which picks one per request (deterministically: exactly the
percentage in every 100 requests).

A forward goes to `pool.Pools.dispatch`, or waits (`Holding`: the gateway's waiting
side) when its deployment has no ready replica or no free slot. `Wake`, `NotFound`,
`Unavailable` and refused methods are answered here; `NotInference` requests go, path
unchanged, to the management app on `internal`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from brace.apikey import authorized
from brace.server.gateway.demand import Demand
from brace.server.gateway.exchange import Exchange, secret_line
from brace.server.gateway.hosts import host_allowed, host_policy, origin_allowed
from brace.server.gateway.pool import Pools
from brace.server.gateway.routing import (
    Forward,
    NotFound,
    NotInference,
    Resolution,
    RoutingTable,
    Split,
    Unavailable,
    Wake,
    resolve,
)
from brace.server.gateway.split import SmoothSplit, SplitChoice

KNOWN_LIMIT = 4096
"""Most remembered routing decisions (URLs with query strings could grow it without end)."""

HOSTS_LIMIT = 1024
"""Most remembered Host verdicts (a client may send any number of different values)."""

Target = tuple[str, bytes, tuple[str, ...]]
"""Where a request is forwarded: deployment id, upstream path, its replicas' addresses."""

Key = tuple[bytes, bytes, bytes | None]
"""A remembered forward's request: method, URL, Host header."""


class CurrentTable:
    """The routing table in force, shared by the gateway's parts; `Gateway.set_table`
    swaps it (a table itself is never changed)."""

    __slots__ = ("table",)

    def __init__(self, table: RoutingTable) -> None:
        self.table = table


class Holding(Protocol):
    """The waiting side, as the router uses it (`waiting.Waiting`)."""

    def hold(self, ex: Exchange, wake: bool = True) -> None:
        """Hold a routed request; `wake`: its deployment has no ready replica."""
        ...

    def hold_unrouted(self, ex: Exchange) -> bool:
        """Hold an inference request until the first routing table; False when the
        table is there already."""
        ...

    def wake(self, deployment_id: str) -> None: ...


class Router:
    def __init__(
        self,
        current: CurrentTable,
        pools: Pools,
        demand: Demand,
        holding: Holding,
        *,
        internal: str | None = None,
        api_key: str | None = None,
        allowed_hosts: Iterable[str] = (),
        replica_secret: str | None = None,
    ) -> None:
        """`internal`: the management app's socket (None: other paths get 404).
        `api_key`: the key inference requests must carry (None: no key asked).
        `allowed_hosts`: names accepted in the Host header besides loopback, localhost
        names and the addresses the gateway listens on. `replica_secret`: sent to every
        replica (remote replicas refuse requests without it)."""
        self._replica_header = secret_line(replica_secret)
        self._current = current
        self._pools = pools
        self._demand = demand
        self._holding = holding
        self._internal = internal
        self._api_key = api_key
        self._allowed_hosts = tuple(allowed_hosts)
        self._policy = host_policy((), self._allowed_hosts)
        self._hosts: dict[bytes, bool] = {}
        """Host header value -> allowed, for the current policy."""
        self._known: dict[Key, Target | SplitChoice[Target]] = {}
        """Forwards by (method, url, host): a request seen before skips `resolve`. Emptied
        with every table swap."""
        self._splits: dict[tuple[str, str], SmoothSplit] = {}
        """(model id, environment) -> its split, for environments in a rolling promotion.
        Kept across table swaps, so a new percentage carries on from the split's state."""

    def listening(self, hosts: Iterable[str]) -> None:
        """The gateway listens on `hosts` now: a Host naming one of them is allowed."""
        self._policy = host_policy(hosts, self._allowed_hosts)
        self._hosts = {}

    def table_changed(self, table: RoutingTable) -> None:
        """Forget the remembered forwards, and the splits of environments no longer in
        a rolling promotion."""
        self._known = {}
        environments = table.environments
        self._splits = {
            key: split
            for key, split in self._splits.items()
            if (env := environments.get(key)) is not None and env.candidate is not None
        }

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
        self._demand.arrived(ex, deployment_id)
        ex.start_request(path, self._replica_header)
        if ex.expect_continue:
            ex.client.send_continue(ex)
        if not upstreams:
            self._holding.hold(ex)
        elif not self._pools.dispatch(ex, upstreams):
            self._holding.hold(ex, wake=False)

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

    def _route_new(self, ex: Exchange, key: Key) -> Target | SplitChoice[Target] | None:
        """Resolve a request; a forward (or a split's two) comes back and is remembered,
        anything else is answered here."""
        if not self._checked(ex):
            return None
        table = self._current.table
        resolution = resolve_exchange(table, ex)
        if isinstance(resolution, Split):
            routed = self._route_split(resolution, key)
            if isinstance(routed, (tuple, SplitChoice)):
                return routed
            resolution = routed
        if isinstance(resolution, Forward):
            target = target_of(table, resolution)
            self._remember(key, target)
            return target
        self._answer(ex, resolution)
        return None

    def _checked(self, ex: Exchange) -> bool:
        """A request not seen before: its Host allowed (else 400) and its method not
        CONNECT (else 405)."""
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
            return False
        if ex.method == b"CONNECT":
            ex.keep_alive = False
            client.answer_error(ex, 405, "Method Not Allowed")
            return False
        return True

    def _answer(self, ex: Exchange, resolution: Resolution) -> None:
        """What is not a forward: to the management app, or answered here."""
        client = ex.client
        if isinstance(resolution, NotInference):
            if self._internal is None:
                client.answer_error(ex, 404, "Not Found")
            else:
                ex.start_request(ex.url)
                client.send_continue(ex)
                self._pools.dispatch(ex, (self._internal,))
        elif isinstance(resolution, NotFound):
            if not self._holding.hold_unrouted(ex):
                client.answer_error(ex, 404, resolution.message)
        elif isinstance(resolution, Unavailable):
            client.answer_error(ex, 503, resolution.message)
        elif isinstance(resolution, Wake):
            if self._api_key is None or self._key_given(ex):
                self._holding.wake(resolution.deployment_id)
                client.answer_json(ex, 202, {})
        else:
            client.answer_error(ex, 405, "Method Not Allowed")

    def _route_split(
        self, split_route: Split, key: Key
    ) -> Target | SplitChoice[Target] | Resolution:
        """An environment in a rolling promotion: both forwards and its split (remembered),
        or, when a side answers an error (no deployment of the two serves), the side the
        split picks this time (not remembered): a target, or the resolution to answer."""
        table = self._current.table
        split = self._splits.get(split_route.environment)
        if split is None:
            split = self._splits[split_route.environment] = SmoothSplit()
        candidate, current = split_route.candidate, split_route.current
        if isinstance(candidate, Forward) and isinstance(current, Forward):
            choice = SplitChoice(
                split, split_route.percent, target_of(table, candidate), target_of(table, current)
            )
            self._remember(key, choice)
            return choice
        chosen = candidate if split.choose(split_route.percent) else current
        return target_of(table, chosen) if isinstance(chosen, Forward) else chosen

    def _remember(self, key: Key, known: Target | SplitChoice[Target]) -> None:
        if len(self._known) >= KNOWN_LIMIT:
            self._known.clear()
        self._known[key] = known

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


def target_of(table: RoutingTable, forward: Forward) -> Target:
    deployment_id = forward.deployment_id
    return (
        deployment_id,
        forward.upstream_path.encode(),
        table.deployments[deployment_id].upstreams,
    )


def resolve_exchange(table: RoutingTable, ex: Exchange) -> Resolution:
    """`routing.resolve` of the exchange's method, URL and Host header."""
    host = ex.host.decode("latin-1") if ex.host is not None else None
    return resolve(table, ex.method.decode("latin-1"), ex.url.decode("latin-1"), host)


def reroute_target(table: RoutingTable, ex: Exchange) -> Target | None:
    """Where a held request's path leads in `table` (during a split, a side with ready
    replicas first, the current deployment first); None when it leads to no deployment."""
    resolution = resolve_exchange(table, ex)
    if isinstance(resolution, Forward):
        return target_of(table, resolution)
    if not isinstance(resolution, Split):
        return None
    sides = [r for r in (resolution.current, resolution.candidate) if isinstance(r, Forward)]
    for side in sides:
        if table.deployments[side.deployment_id].upstreams:
            return target_of(table, side)
    return target_of(table, sides[0]) if sides else None

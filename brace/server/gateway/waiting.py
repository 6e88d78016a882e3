"""The gateway's waiting side: requests held for a deployment, and each new table.

A request routed to a deployment without a ready replica (starting, scaled to zero) is
held (`holding.HeldRequests`) and the `wake` hook is called; one whose deployment's
replicas all have their limit of requests in flight waits for the first free slot
(`slot_freed`), as with Knative's activator. `apply` takes a new routing table in:
it sets each replica's limits in its pool, sends held requests to the replicas that
became ready, re-routes those whose path the new table sends to another deployment (a
promotion switched the environment, a cancel took the candidate out), and answers
those whose deployment is gone. Until the first routing table is set (`awaiting`: a
server that just started), inference requests are held under `STARTING` and routed
once it is there (503 after the timeout). `expire` answers the requests held
`hold_timeout` seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from brace.server.gateway.demand import Demand
from brace.server.gateway.exchange import Exchange, PoolSide
from brace.server.gateway.holding import HOLD_LIMIT, HeldRequests
from brace.server.gateway.pool import Pools
from brace.server.gateway.router import CurrentTable, reroute_target
from brace.server.gateway.routing import (
    NO_LIMITS,
    DeploymentRoute,
    RoutingTable,
    unavailable_message,
)

log = logging.getLogger("brace.gateway")

STARTING = ""
"""The `holding` key of inference requests held until the first routing table."""


class Waiting:
    def __init__(
        self,
        current: CurrentTable,
        pools: Pools,
        demand: Demand,
        *,
        wake: Callable[[str], None],
        now: Callable[[], float],
        hold_timeout: float,
        hold_limit: int = HOLD_LIMIT,
        internal: str | None = None,
        awaiting: bool = False,
    ) -> None:
        """`wake`: called with a deployment id to wake it (the server's
        `control.Wakeup`; it runs on the loop and must not block). `now`: the loop's
        clock (seconds). `hold_timeout`: seconds a request is held before it is answered
        504 (503 before the first table); `hold_limit`: the most requests held per
        deployment. `internal`: the management app's socket (its pool is kept).
        `awaiting`: no routing table yet; hold inference requests until `apply`."""
        self._current = current
        self._pools = pools
        self._demand = demand
        self.held = held = HeldRequests(hold_timeout, self.expired, hold_limit)
        self._wake = wake
        self._now = now
        self._internal = internal
        self.awaiting = awaiting
        self.waiting = held.waiting
        """Deployment id -> its held requests (the same dict as the holding's): the
        upstream side reads it to know whether a freed slot has a taker."""
        self._configure_pools(current.table)

    def hold(self, ex: Exchange, wake: bool = True) -> None:
        """Hold a request routed to a deployment; `wake`: it has no ready replica (else
        the request waits for a free slot)."""
        deployment_id = ex.deployment_id
        assert deployment_id is not None
        held = self.held
        if held.full(deployment_id):
            ex.client.answer_error(
                ex,
                503,
                f"Deployment {deployment_id} has {held.limit} requests waiting for a "
                "replica already; try again later",
            )
        elif held.add(ex, deployment_id, self._now(), wake):
            self.wake(deployment_id)

    def hold_unrouted(self, ex: Exchange) -> bool:
        """An inference request before the first routing table: routed once it is set.
        False (nothing done) when the table is there."""
        if not self.awaiting:
            return False
        held = self.held
        if held.full(STARTING):
            ex.client.answer_error(ex, 503, "the server is starting; try again in a moment")
        else:
            held.add(ex, STARTING, self._now())
        return True

    def unhold(self, ex: Exchange) -> None:
        self.held.remove(ex, ex.deployment_id or STARTING)

    def wake(self, deployment_id: str) -> None:
        try:
            self._wake(deployment_id)
        except Exception:
            log.exception("the wake hook failed for deployment %s", deployment_id)

    def counts(self) -> dict[str, int]:
        """Deployment id -> requests held for it now (no ready replica, or no free slot)."""
        counts = self.held.counts()
        counts.pop(STARTING, None)
        return counts

    def slot_freed(self, pool: PoolSide) -> None:
        """A request to the replica of `pool` finished: requests held for its deployment
        go to the replicas with a free slot, oldest first. The upstream side calls it
        only when something is held (`waiting`), so it costs nothing otherwise."""
        deployment_id = pool.deployment_id
        if deployment_id is None:
            return
        held = self.held
        ex = held.first(deployment_id)
        if ex is None:
            return
        route = self._current.table.deployments.get(deployment_id)
        # One slot freed, one request sent (a new replica or a higher limit comes with a
        # table, and `apply` fills every free slot).
        if route is not None and route.upstreams and self._pools.dispatch(ex, route.upstreams):
            held.remove(ex, deployment_id)

    def expired(self, ex: Exchange, key: str) -> None:
        """Answer a request held `hold_timeout` seconds (`HeldRequests.expire`)."""
        timeout = self.held.timeout
        if key == STARTING:
            ex.client.answer_error(
                ex, 503, f"the server did not read its routing table within {timeout:g} seconds"
            )
            return
        route = self._current.table.deployments.get(key)
        if route is not None and route.upstreams:
            message = (
                f"Deployment {key} had no replica free to take the request within "
                f"{timeout:g} seconds"
            )
        else:
            message = f"Deployment {key} did not become ready within {timeout:g} seconds"
        ex.client.answer_error(ex, 504, message)

    def apply(self, table: RoutingTable) -> list[Exchange]:
        """Take in the table now in force (`current`): held requests go to replicas that
        became ready or where their path leads now, or are answered when their
        deployment is gone. Returns the requests held until this first table, to route
        (each unless it finished meanwhile)."""
        self._configure_pools(table)
        held = self.held
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
        if not self.awaiting:
            return []
        self.awaiting = False
        return held.release(STARTING)

    def _send_held(self, deployment_id: str, upstreams: tuple[str, ...]) -> None:
        """Send requests held for the deployment, oldest first, while one of its
        replicas has a free slot."""
        held = self.held
        dispatch = self._pools.dispatch
        while (ex := held.first(deployment_id)) is not None:
            if not dispatch(ex, upstreams):
                return
            held.remove(ex, deployment_id)

    def _reroute_held(self, table: RoutingTable, deployment_id: str) -> None:
        """Requests held for a deployment that has no ready replica now and that the new
        table routes elsewhere (an environment switched by a promotion, a candidate
        taken out by a cancel) go where their path leads now, instead of waiting for a
        deployment put to sleep or stopped."""
        held = self.held
        waiting = held.waiting.get(deployment_id)
        if not waiting:
            return
        for ex in list(waiting):
            target = reroute_target(table, ex)
            if target is None or target[0] == deployment_id:
                continue
            new_id, _, upstreams = target
            held.remove(ex, deployment_id)
            self._demand.moved(ex, new_id, arrival=True)
            if not upstreams:
                self.hold(ex)
            elif not self._pools.dispatch(ex, upstreams):
                self.hold(ex, wake=False)

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


def _upstreams(routes: Iterable[DeploymentRoute]) -> set[str]:
    return {path for route in routes for path in route.upstreams}

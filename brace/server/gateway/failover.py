"""The gateway's failover side: what happens when a replica does not answer.

A request whose replica refused the connection (`connect_failed`), or closed it before
any response byte (`upstream_failed`: it died, or a pooled connection went stale),
goes to another replica of the deployment, or, during a rolling promotion, to the
other side of the split; the failed replica is avoided for a moment (`pool.avoid`).
A request that has waited its replica's `first_byte_timeout` for the first byte of the
answer (`first_byte_timeout`, from the gateway's sweep) gets a 504, its replica
connection is closed and the replica is avoided like a failed one. A replica that goes
away mid-response (`truncated`) leaves nothing to do but cut the client off. When no
replica is left: 502.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from brace.server.gateway.demand import Demand
from brace.server.gateway.exchange import Exchange, PoolSide
from brace.server.gateway.pool import Pools
from brace.server.gateway.router import CurrentTable
from brace.server.gateway.waiting import Waiting

log = logging.getLogger("brace.gateway")


class Failover:
    def __init__(
        self,
        current: CurrentTable,
        pools: Pools,
        demand: Demand,
        waiting: Waiting,
        abandon: Callable[[Exchange], None],
    ) -> None:
        """`abandon`: end an exchange whose client is cut off (`Gateway.abandon`)."""
        self._current = current
        self._pools = pools
        self._demand = demand
        self._waiting = waiting
        self._abandon = abandon

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
                    self._waiting.hold(ex, wake=False)  # the others are busy: the first free slot
                return
        log.warning("replica %s closed the connection before responding", path)
        self._bad_gateway(ex)

    def truncated(self, ex: Exchange) -> None:
        """The replica went away mid-response: all that is left is to cut the client off."""
        log.warning("replica closed the connection in the middle of a response")
        client = ex.client
        self._abandon(ex)
        client.transport.close()

    def connect_failed(self, ex: Exchange, path: str, error: OSError) -> None:
        """Nothing was sent: another replica of the deployment that is not avoided can
        take the request (each failure avoids its replica, so this ends); else 502."""
        log.warning("cannot connect to replica %s: %s", path, error)
        self._pools.avoid(path)
        others = self._others(ex, path) or self._other_side(ex)
        if not others:
            self._bad_gateway(ex)
        elif not self._pools.dispatch(ex, others, fresh=True):
            self._waiting.hold(ex, wake=False)  # the others are busy: the first free slot takes it

    def first_byte_timeout(self, ex: Exchange, pool: PoolSide) -> None:
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
        waiting = self._waiting
        if waiting.waiting:
            waiting.slot_freed(pool)

    def _others(self, ex: Exchange, path: str) -> tuple[str, ...]:
        """The other replicas of the exchange's deployment, avoided ones left out."""
        deployment_id = ex.deployment_id
        route = self._current.table.deployments.get(deployment_id) if deployment_id else None
        if route is None:
            return ()
        return self._pools.usable(route.upstreams, without=path)

    def _other_side(self, ex: Exchange) -> tuple[str, ...]:
        """For a request of an environment's split that no replica of its deployment
        took (a candidate replica that just crashed): the usable replicas of the other
        deployment, which the request then counts towards; else ()."""
        alternative, ex.alternative = ex.alternative, None
        route = self._current.table.deployments.get(alternative) if alternative else None
        if route is None or not route.serving or ex.deployment_id is None:
            return ()
        usable = self._pools.usable(route.upstreams, without="")
        if usable:
            self._demand.moved(ex, route.deployment_id, arrival=False)
        return usable

    def _bad_gateway(self, ex: Exchange) -> None:
        ex.client.answer_error(ex, 502, "Bad Gateway: the replica did not answer")

"""Handing the gateway its routing table (`table.build_table`) only when what it routes
on changed: the store's desired state, a deployment's ready replicas, or why a
deployment cannot serve. With nothing changed a tick builds no table."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from brace.server.control.mirror import Mirror
from brace.server.control.table import Upstreams, build_table
from brace.server.gateway.routing import RoutingTable

_NONE = Upstreams()


class Publisher:
    def __init__(self, publish: Callable[[RoutingTable], None]) -> None:
        """`publish(table)` hands the gateway a new routing table."""
        self.publish = publish
        self._table: RoutingTable | None = None
        self._upstreams: dict[str, Upstreams] = {}
        """Deployment id -> its ready replicas (only deployments that have some)."""
        self._failures: dict[str, str] = {}
        """Deployment id -> why it cannot serve (only deployments given up on)."""
        self._changed = True

    def failure(self, deployment_id: str, reason: str | None) -> None:
        """Why the deployment cannot serve now (None: it can)."""
        if self._failures.get(deployment_id) == reason:
            return
        self._changed = True
        if reason is None:
            del self._failures[deployment_id]
        else:
            self._failures[deployment_id] = reason

    def upstreams(self, now: dict[str, Upstreams], among: Iterable[str]) -> None:
        """The ready replicas of the deployments `among` (those with replicas now or at
        the last call); `now` has them by deployment id (a missing one: none)."""
        for deployment_id in set(among) | self._upstreams.keys():
            ready = now.get(deployment_id, _NONE)
            if ready == self._upstreams.get(deployment_id, _NONE):
                continue
            self._changed = True
            if ready == _NONE:
                del self._upstreams[deployment_id]
            else:
                self._upstreams[deployment_id] = ready

    def update(self, mirror: Mirror, changed: bool) -> None:
        """Publish a new table if the store (`changed`) or anything given since the
        last one changed. Nothing before the mirror's first full read: a table built
        from an empty mirror would answer 404 for every model the gateway is holding
        requests for until its first table."""
        if not mirror.loaded or not (changed or self._changed):
            return
        self._changed = False
        desired = mirror.desired()
        table = build_table(
            desired.models,
            desired.deployments,
            desired.environments,
            desired.promotions,
            self._upstreams,
            self._failures,
        )
        if table != self._table:
            self._table = table
            self.publish(table)

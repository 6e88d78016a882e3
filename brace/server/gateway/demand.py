"""What each deployment is asked: its requests in flight and its arrivals.

The router counts a request towards a deployment when it routes it there, a re-route
or a failover moves it to another one, and `done` takes it off when its exchange ends
(and hands its status and duration to `counters`, unless counting is off). Held
requests count as in flight: they are the autoscaler's demand (`Gateway.load`).
"""

from __future__ import annotations

from time import monotonic

from brace.server.gateway.counters import RequestCounters
from brace.server.gateway.exchange import Exchange


class Demand:
    __slots__ = ("arrivals", "counters", "outstanding")

    def __init__(self, count_requests: bool = True) -> None:
        self.outstanding: dict[str, int] = {}
        """Deployment id -> its requests not finished yet, held ones included."""
        self.arrivals: dict[str, int] = {}
        """Deployment id -> requests routed to it so far (the autoscaler's load)."""
        self.counters = RequestCounters() if count_requests else None
        """Finished requests by deployment, status and duration (None: not counted)."""

    def arrived(self, ex: Exchange, deployment_id: str) -> None:
        """The exchange counts towards `deployment_id` from now on."""
        ex.deployment_id = deployment_id
        outstanding = self.outstanding
        outstanding[deployment_id] = outstanding.get(deployment_id, 0) + 1
        arrivals = self.arrivals
        arrivals[deployment_id] = arrivals.get(deployment_id, 0) + 1
        if self.counters is not None:
            ex.started = monotonic()

    def moved(self, ex: Exchange, deployment_id: str, arrival: bool) -> None:
        """The exchange counts towards `deployment_id` instead of its own; `arrival`:
        count it as an arrival there too (a held request re-routed by a new table, not
        a failover to the other side of a split)."""
        old = ex.deployment_id
        assert old is not None
        outstanding = self.outstanding
        outstanding[old] -= 1
        outstanding[deployment_id] = outstanding.get(deployment_id, 0) + 1
        if arrival:
            self.arrivals[deployment_id] = self.arrivals.get(deployment_id, 0) + 1
        ex.deployment_id = deployment_id

    def done(self, ex: Exchange) -> None:
        """The exchange ended (answered, or its client left): counted, once."""
        deployment_id = ex.deployment_id
        if deployment_id is not None:
            ex.deployment_id = None
            self.outstanding[deployment_id] -= 1
            counters = self.counters
            if counters is not None:
                counters.record(deployment_id, ex.status, monotonic() - ex.started)

    def load(self) -> dict[str, tuple[int, int]]:
        """Deployment id -> (requests in flight, held ones included; arrivals so far)."""
        outstanding = self.outstanding
        return {d: (outstanding.get(d, 0), n) for d, n in self.arrivals.items()}

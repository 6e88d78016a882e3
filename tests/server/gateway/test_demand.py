"""What each deployment is asked: in flight, arrivals, and counting when a request ends."""

from __future__ import annotations

from typing import Any, cast

from brace.server.gateway.demand import Demand
from brace.server.gateway.exchange import ClientSide, Exchange


def exchange() -> Exchange:
    return Exchange(cast(ClientSide, cast(Any, None)))  # demand never touches the client


def test_an_arrival_is_in_flight_until_done_and_counted_once() -> None:
    demand = Demand()
    ex = exchange()
    demand.arrived(ex, "d1")
    assert demand.load() == {"d1": (1, 1)}
    ex.status = 200
    demand.done(ex)
    demand.done(ex)  # a second end (the client left after the answer) counts nothing
    assert demand.load() == {"d1": (0, 1)}
    assert demand.counters is not None
    assert demand.counters.snapshot().deployments["d1"].statuses == {200: 1}


def test_a_rerouted_request_arrives_again_and_a_failover_does_not() -> None:
    demand = Demand()
    rerouted, failed_over = exchange(), exchange()
    demand.arrived(rerouted, "old")
    demand.arrived(failed_over, "old")
    demand.moved(rerouted, "new", arrival=True)
    demand.moved(failed_over, "other", arrival=False)
    assert demand.load() == {"old": (0, 2), "new": (1, 1)}
    assert demand.outstanding["other"] == 1
    assert (rerouted.deployment_id, failed_over.deployment_id) == ("new", "other")


def test_without_counting_nothing_is_recorded() -> None:
    demand = Demand(count_requests=False)
    ex = exchange()
    demand.arrived(ex, "d1")
    demand.done(ex)
    assert demand.counters is None
    assert demand.load() == {"d1": (0, 1)}

"""Placement of a replica on a node: pure decisions, table tests."""

from __future__ import annotations

import pytest

from brace.config import Resources
from brace.server.backends.placement import Node, Placed, Refusal, place, resource_request

HEAD = Node("head-id-0000", "10.0.0.1", True, {"CPU": 4.0, "memory": 8 * 2**30})
WORKER = Node("work-id-0000", "10.0.0.2", True, {"CPU": 4.0, "memory": 8 * 2**30, "GPU": 1.0})
SMALL = {"CPU": 1.0, "memory": 2**30}


@pytest.mark.parametrize(
    ("placed", "expected"),
    [
        pytest.param([], "head-id-0000", id="empty-cluster-head-first"),
        pytest.param([Placed("head-id-0000", "d", SMALL)], "work-id-0000", id="spread"),
        pytest.param(
            [Placed("head-id-0000", "d", SMALL), Placed("work-id-0000", "d", SMALL)],
            "head-id-0000",
            id="one-each-then-head",
        ),
        pytest.param(
            [Placed("work-id-0000", "other", SMALL)],
            "head-id-0000",
            id="fewest-replicas-in-all",
        ),
        pytest.param(
            [Placed("head-id-0000", "other", {"CPU": 3.5, "memory": 0.0})],
            "work-id-0000",
            id="head-full",
        ),
    ],
)
def test_a_deployment_spreads_over_nodes_that_can_hold_it(
    placed: list[Placed], expected: str
) -> None:
    assert place([HEAD, WORKER], placed, "d", SMALL) == expected


def test_a_dead_node_gets_nothing() -> None:
    dead = Node(WORKER.id, WORKER.address, False, WORKER.resources)
    assert place([HEAD, dead], [Placed(HEAD.id, "d", SMALL)], "d", SMALL) == HEAD.id


def test_no_node_that_can_hold_it_says_why() -> None:
    refusal = place([HEAD, WORKER], [], "d", {"CPU": 8.0})
    assert isinstance(refusal, Refusal)
    assert refusal.reason == (
        "no node has CPU 8 free (free: 10.0.0.1 (head-id-): CPU 4; 10.0.0.2 (work-id-): CPU 4)"
    )
    assert place([], [], "d", SMALL) == Refusal(
        "no node of the Ray cluster is alive (or has its brace agent yet)"
    )


def test_a_gpu_goes_where_the_gpu_is() -> None:
    request = resource_request(Resources(cpu="500m", memory="512Mi", accelerator="T4:1"))
    assert request == {
        "CPU": 0.5,
        "memory": float(512 * 2**20),
        "GPU": 1.0,
        "accelerator_type:T4": 0.001,
    }
    typed = Node(WORKER.id, WORKER.address, True, {**WORKER.resources, "accelerator_type:T4": 1})
    assert place([HEAD, typed], [], "d", request) == WORKER.id

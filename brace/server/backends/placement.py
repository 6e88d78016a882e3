"""Which node a replica goes to: a pure decision over the cluster's nodes.

A deployment's replicas spread over the nodes: a new replica goes to the node that
runs the fewest replicas of its deployment, then the fewest replicas in all, then the
node listed first (the cluster's head). Each replica is then pinned to that node
explicitly (`cluster`): Ray's own soft SPREAD put two replicas on one node in 2 of 3
trials. A node must be alive, have its agent, and have the replica's resources free:
its Ray resources (`CPU`, `memory` in bytes, `GPU`, `accelerator_type:<kind>`) less
what brace's replicas placed on it ask for. A replica no node can hold gets the
reason (`Refusal`), which the backend reports once its placement timeout has passed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from brace.config import Resources

Request = Mapping[str, float]
"""Ray resource names -> amounts one replica asks for."""

_MEMORY_UNITS = {
    "": 1,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "Ki": 2**10,
    "Mi": 2**20,
    "Gi": 2**30,
    "Ti": 2**40,
}


def resource_request(resources: Resources) -> dict[str, float]:
    """A config.yaml `resources` section as Ray resources: `cpu` ("1", "1.5",
    "500m") -> `CPU`; `memory` ("512Mi", "2Gi") -> `memory` in bytes; `accelerator`
    ("A10G:2") -> `GPU` 2 and a sliver of `accelerator_type:A10G` (how Ray marks a
    node's GPU model)."""
    cpu = resources.cpu
    request: dict[str, float] = {
        "CPU": float(cpu[:-1]) / 1000 if cpu.endswith("m") else float(cpu),
        "memory": float(_memory_bytes(resources.memory)),
    }
    if resources.accelerator:
        kind, _, count = resources.accelerator.partition(":")
        request["GPU"] = float(count or 1)
        request[f"accelerator_type:{kind}"] = 0.001
    return request


def _memory_bytes(text: str) -> int:
    digits = text.rstrip("kMGTi")
    return int(float(digits) * _MEMORY_UNITS[text[len(digits) :]])


@dataclass(frozen=True)
class Node:
    """A node as placement sees it: Ray's node id, its address, whether it is alive
    and has its agent, and its Ray resources (totals)."""

    id: str
    address: str
    alive: bool
    resources: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Placed:
    """A replica brace placed: its node, its deployment and what it asked for."""

    node_id: str
    deployment_id: str
    request: Request


@dataclass(frozen=True)
class Refusal:
    """Why no node can hold a replica (one line, for the deployment's log and status)."""

    reason: str


def free(node: Node, placed: Sequence[Placed]) -> dict[str, float]:
    """The node's resources less what brace's replicas on it ask for."""
    left = dict(node.resources)
    for replica in placed:
        if replica.node_id == node.id:
            for name, amount in replica.request.items():
                left[name] = left.get(name, 0.0) - amount
    return left


def fits(request: Request, available: Mapping[str, float]) -> bool:
    return all(available.get(name, 0.0) + 1e-9 >= amount for name, amount in request.items())


def place(
    nodes: Sequence[Node], placed: Sequence[Placed], deployment_id: str, request: Request
) -> str | Refusal:
    """The id of the node for a new replica of `deployment_id` asking for `request`,
    or why none can hold it."""
    alive = [n for n in nodes if n.alive]
    if not alive:
        return Refusal("no node of the Ray cluster is alive (or has its brace agent yet)")
    able = [n for n in alive if fits(request, free(n, placed))]
    if not able:
        wanted = ", ".join(f"{k} {_amount(v)}" for k, v in request.items() if v >= 0.01)
        offered = "; ".join(
            f"{n.address} ({n.id[:8]}): "
            + ", ".join(f"{k} {_amount(free(n, placed).get(k, 0.0))}" for k in request)
            for n in alive
        )
        return Refusal(f"no node has {wanted} free (free: {offered})")
    order = {n.id: i for i, n in enumerate(nodes)}

    def load(node: Node) -> tuple[int, int, int]:
        mine = sum(1 for p in placed if p.node_id == node.id and p.deployment_id == deployment_id)
        return mine, sum(1 for p in placed if p.node_id == node.id), order[node.id]

    return min(able, key=load).id


def _amount(value: float) -> str:
    return f"{value:g}" if value < 2**20 else f"{value / 2**30:.2f}Gi"

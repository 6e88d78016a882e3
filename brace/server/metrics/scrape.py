"""What one scrape of `GET /metrics` reports, read at one moment.

`endpoint` reads it (the store in its worker thread, the gateway's counters on the event
loop) and `exposition` turns it into Prometheus text; both depend on this record, not
on each other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from brace.server.gateway.counters import Snapshot
from brace.store import Deployment, Promotion, Tx

LOCAL_NODE = "local"
"""The `node` label of replicas on the server's own machine (a Ray node's is its address)."""


@dataclass(frozen=True)
class StoreView:
    """What a scrape reads from the store, in one snapshot."""

    deployments: list[Deployment]
    model_names: dict[str, str]
    environments: dict[str, str]
    """Deployment id -> the environment it serves (production first), or the one it is
    being promoted to; deployments in none are not listed."""
    promotions: list[Promotion]

    @classmethod
    def read(cls, tx: Tx) -> StoreView:
        models = tx.models()
        promotions = tx.active_promotions()
        environments = {p.candidate_id: p.environment for p in promotions}
        # Each model's production first: the first one listed wins.
        for environment in reversed(tx.all_environments()):
            if environment.current_deployment_id is not None:
                environments[environment.current_deployment_id] = environment.name
        return cls(tx.deployments(), {m.id: m.name for m in models}, environments, promotions)


@dataclass(frozen=True)
class Scrape:
    """Everything one scrape reports, read at one moment."""

    store: StoreView
    counters: Snapshot
    in_flight: Mapping[str, int] = field(default_factory=dict)
    replicas: Mapping[str, Mapping[tuple[str, str], int]] = field(default_factory=dict)
    """Deployment id -> (state name, node) -> replicas (`endpoint.ReplicaStates`)."""

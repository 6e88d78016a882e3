"""The routing table the gateway reads, built from the store's records: a pure function.

A deployment serves (requests are forwarded or held) when the controller wants
replicas of it or some are still ready; its upstreams are the sockets of its ready
replicas of the current revision, or of an older revision while that one still serves
alone. An environment routes to its current deployment and, during a rolling
promotion, to the candidate for `percent_traffic` percent of its requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from brace.server.routing import DeploymentRoute, EnvironmentRoute, RoutingTable
from brace.server.targets import ReplicaTarget
from brace.store.records import Deployment, Environment, Model, Promotion


@dataclass(frozen=True)
class Upstreams:
    """Socket paths of one deployment's ready replicas."""

    current: tuple[str, ...] = ()
    previous: tuple[str, ...] = ()


def build_table(
    models: Iterable[Model],
    deployments: Iterable[Deployment],
    environments: Iterable[Environment],
    promotions: Iterable[Promotion],
    targets: Mapping[str, ReplicaTarget],
    upstreams: Mapping[str, Upstreams],
) -> RoutingTable:
    routes = {}
    development = {}
    for deployment in deployments:
        ready = upstreams.get(deployment.id, Upstreams())
        target = targets.get(deployment.id)
        serving = ready.current or ready.previous
        routes[deployment.id] = DeploymentRoute(
            deployment_id=deployment.id,
            model_id=deployment.model_id,
            serving=(target is not None and target.replicas > 0) or bool(serving),
            upstreams=serving,
        )
        if deployment.is_development:
            development[deployment.model_id] = deployment.id
    rolling = {(p.model_id, p.environment): p for p in promotions if p.rolling}
    envs = {}
    for environment in environments:
        key = (environment.model_id, environment.name)
        promotion = rolling.get(key)
        envs[key] = EnvironmentRoute(
            current=environment.current_deployment_id,
            candidate=promotion.candidate_id if promotion else None,
            percent_to_candidate=promotion.percent_traffic if promotion else 0,
        )
    names: dict[str, str] = {}
    models = list(models)
    for model in models:
        names[model.id] = model.id
    for model in models:
        names.setdefault(model.name, model.id)
    return RoutingTable(
        models=names, environments=envs, development=development, deployments=routes
    )

"""The routing table the gateway reads, built from the store's records: a pure function.

A deployment serves (requests are forwarded, or held while it starts or wakes) when
it is neither stopped nor failed, or while replicas of it are still ready; its
upstreams are the sockets of its ready replicas of the current revision, or of an
older revision while that one still serves alone. A failed one carries why, and its
requests are answered 503 with it. An environment routes to its current deployment
and, during a rolling promotion, to the candidate for `percent_traffic` percent of
its requests, or for all or none of them while only one of the two has a ready replica.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from brace.config import Runtime
from brace.server.control.observed import stopped
from brace.server.control.replicas import Replica, ReplicaState
from brace.server.gateway.routing import (
    NO_LIMITS,
    DeploymentRoute,
    EnvironmentRoute,
    ReplicaLimits,
    RoutingTable,
)
from brace.store.records import Deployment, Environment, Model, Promotion

NO_FAILURES: Mapping[str, str] = {}


@dataclass(frozen=True)
class Upstreams:
    """Socket paths of one deployment's ready replicas."""

    current: tuple[str, ...] = ()
    previous: tuple[str, ...] = ()
    limits: Mapping[str, ReplicaLimits] = field(default_factory=dict)
    """Socket path -> what the gateway holds that replica to (from its config.yaml)."""


def upstreams_of(deployment: Deployment, replicas: Iterable[Replica]) -> Upstreams:
    """The upstreams of `deployment` from its replicas (all of them, any revision): the
    ready ones that have not ended, by revision."""
    ready = [r for r in replicas if r.state is ReplicaState.READY and not r.ended]
    return Upstreams(
        current=tuple(r.upstream for r in ready if r.revision == deployment.revision),
        previous=tuple(r.upstream for r in ready if r.revision != deployment.revision),
        limits={r.upstream: replica_limits(r.runtime) for r in ready},
    )


def replica_limits(runtime: Runtime) -> ReplicaLimits:
    """What the gateway holds a replica to, from its config's `runtime` section."""
    return ReplicaLimits(runtime.predict_concurrency, runtime.first_byte_timeout)


def answering_split(percent: int, candidate_answers: bool, current_answers: bool) -> int:
    """The candidate's share of an environment's requests (0-100) given which sides
    have a ready replica: while one side has none and the other has, all requests go to
    the side that can answer now instead of waiting for a replica (a candidate whose
    replicas restart after a crash, a previous deployment scaling back up)."""
    if candidate_answers and not current_answers:
        return 100
    if current_answers and not candidate_answers:
        return 0
    return percent


def _answers(route: DeploymentRoute | None) -> bool:
    return route is not None and route.serving and bool(route.upstreams)


def build_table(
    models: Iterable[Model],
    deployments: Iterable[Deployment],
    environments: Iterable[Environment],
    promotions: Iterable[Promotion],
    upstreams: Mapping[str, Upstreams],
    failures: Mapping[str, str] = NO_FAILURES,
) -> RoutingTable:
    """`failures`: why deployments the controller gave up on cannot serve, by id."""
    routes = {}
    development = {}
    for deployment in deployments:
        ready = upstreams.get(deployment.id, Upstreams())
        serving = ready.current or ready.previous
        error = failures.get(deployment.id)
        if error is None and deployment.status.failed:
            error = f"its status is {deployment.status.value} (its log says why)"
        routes[deployment.id] = DeploymentRoute(
            deployment_id=deployment.id,
            model_id=deployment.model_id,
            serving=bool(serving) or (error is None and not stopped(deployment.status)),
            upstreams=serving,
            error=error,
            limits=tuple(ready.limits.get(path, NO_LIMITS) for path in serving)
            if ready.limits
            else (),
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
            percent_to_candidate=answering_split(
                promotion.percent_traffic,
                _answers(routes.get(promotion.candidate_id)),
                _answers(routes.get(environment.current_deployment_id or "")),
            )
            if promotion
            else 0,
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

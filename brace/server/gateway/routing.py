"""Where an inference request goes: the routing table and the pure `resolve()`.

The controller builds a `RoutingTable` from the store and the replicas it supervises,
and hands the gateway a new one whenever anything changes (`Gateway.set_table`). The
table is never mutated after that: the gateway reads it on every request without locks.

`resolve()` maps one request (method, path, Host header) to a `Resolution`. It is the
whole routing decision and stays pure: the same inputs always give the same answer,
and the table tests pin every case. For an environment in a rolling promotion it
answers a `Split` with both outcomes; the gateway's per-environment `split.SmoothSplit`
picks one per request. Baseten's inference paths (DESIGN.md, Surfaces):

    /model/{model}/environments/{env}/{action}
    /model/{model}/production/{action}        the environment named production
    /model/{model}/development/{action}
    /model/{model}/deployment/{deployment_id}/{action}

with `{action}` either `predict` (forwarded to the replica's Truss route) or `wake`
(answered 202 by the gateway after asking the controller to wake the deployment). On a
host `model-{model_id}.localhost[:port]` the same paths work without `/model/{model}`.
Anything else is not an inference path and goes to the management app.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote

from brace.config import FIRST_BYTE_TIMEOUT

PREDICT_PATH = "/v1/models/model:predict"
"""The Truss server's predict route, which every replica serves."""

PRODUCTION = "production"


@dataclass(frozen=True)
class ReplicaLimits:
    """What the gateway holds one replica to, from its deployment's config.yaml."""

    predict_concurrency: int = 0
    """`runtime.predict_concurrency` (0: not known, no bound): the gateway hands the
    replica this many requests at once and a little more (`pool.replica_limit`)."""
    first_byte_timeout: float = FIRST_BYTE_TIMEOUT
    """`model_metadata.brace.first_byte_timeout`: seconds a request sent to the replica waits for
    the first byte of its answer before it is answered 504."""


NO_LIMITS = ReplicaLimits()


@dataclass(frozen=True)
class DeploymentRoute:
    deployment_id: str
    model_id: str
    serving: bool
    """False when deactivated, failed or being deleted: requests get 404 (or 503 with
    `error`)."""
    upstreams: tuple[str, ...] = ()
    """Unix socket paths of READY replicas; empty while starting or scaled to zero."""
    error: str | None = None
    """Why a deployment that should serve cannot (it failed to start or to wake):
    its requests, held ones included, are answered 503 with this."""
    limits: tuple[ReplicaLimits, ...] = ()
    """Each upstream's limits, in the same order (one missing: `NO_LIMITS`)."""


@dataclass(frozen=True)
class EnvironmentRoute:
    current: str | None
    candidate: str | None = None
    """The deployment being rolled out to this environment, if any."""
    percent_to_candidate: int = 0
    """0-100: the share of requests the candidate gets during a rolling promotion."""


@dataclass(frozen=True)
class RoutingTable:
    models: Mapping[str, str] = field(default_factory=dict)
    """Model id and model name -> model id."""
    environments: Mapping[tuple[str, str], EnvironmentRoute] = field(default_factory=dict)
    """(model id, environment name) -> environment."""
    development: Mapping[str, str] = field(default_factory=dict)
    """Model id -> its development deployment's id."""
    deployments: Mapping[str, DeploymentRoute] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Forward:
    """Proxy the request to one of the deployment's replicas, at `upstream_path`."""

    deployment_id: str
    upstream_path: str


@dataclass(frozen=True, slots=True)
class Split:
    """An environment in a rolling promotion: each request goes where `candidate` says
    with `percent` % of the requests, else where `current` says. The two differ only in
    the deployment chosen: each falls back to the other deployment when its own is gone
    or not serving (a candidate that just failed, say), so a request does not fail
    while the other side serves."""

    environment: tuple[str, str]
    """(model id, environment name): the split's state is kept per environment."""
    percent: int
    candidate: Resolution
    current: Resolution


@dataclass(frozen=True, slots=True)
class Wake:
    """Ask the controller to wake the deployment and answer 202 at once."""

    deployment_id: str


@dataclass(frozen=True, slots=True)
class NotFound:
    """Answer 404 with this message."""

    message: str


@dataclass(frozen=True, slots=True)
class Unavailable:
    """Answer 503 with this message: the deployment failed and cannot serve."""

    message: str


@dataclass(frozen=True, slots=True)
class MethodNotAllowed:
    """An inference path with a method other than POST: answer 405."""


@dataclass(frozen=True, slots=True)
class NotInference:
    """Not an inference path: the management app answers it, with the original path."""


Resolution = Forward | Split | Wake | NotFound | Unavailable | MethodNotAllowed | NotInference

_NOT_INFERENCE = NotInference()
_METHOD_NOT_ALLOWED = MethodNotAllowed()
_ACTIONS = frozenset({"predict", "wake"})


def resolve(table: RoutingTable, method: str, path: str, host: str | None) -> Resolution:
    """Route one request."""
    parts = path.partition("?")[0].split("/")
    model_ref = host_model(host) if host else None
    if model_ref is not None:
        found = _match(table, method, model_ref, parts[1:])
        if found is not None:
            return found
    if len(parts) > 3 and parts[1] == "model":
        found = _match(table, method, unquote(parts[2]), parts[3:])
        if found is not None:
            return found
    return _NOT_INFERENCE


def host_model(host: str) -> str | None:
    """The model id in a `model-{model_id}.localhost[:port]` Host header, else None."""
    name = host.rpartition(":")[0] if ":" in host else host
    name = name.lower()
    if not (name.startswith("model-") and name.endswith(".localhost")):
        return None
    model_id = name[len("model-") : -len(".localhost")]
    return model_id or None


def _match(table: RoutingTable, method: str, model_ref: str, rest: list[str]) -> Resolution | None:
    """Resolve the part of the path after the model; None when it is no inference path."""
    if len(rest) == 2 and rest[0] == PRODUCTION:
        kind, name, action = "environments", PRODUCTION, rest[1]
    elif len(rest) == 2 and rest[0] == "development":
        kind, name, action = "development", "", rest[1]
    elif len(rest) == 3 and rest[0] in ("environments", "deployment"):
        kind, name, action = rest[0], unquote(rest[1]), rest[2]
    else:
        return None
    if action not in _ACTIONS:
        return None
    if method != "POST":
        return _METHOD_NOT_ALLOWED
    model_id = table.models.get(model_ref)
    if model_id is None:
        return NotFound(f"Model {model_ref} not found")
    if kind == "development":
        deployment_id = table.development.get(model_id)
        if deployment_id is None:
            return NotFound(f"Model {model_ref} has no development deployment")
    elif kind == "deployment":
        deployment_id = name
    else:
        environment = table.environments.get((model_id, name))
        if environment is None:
            return NotFound(f"Environment {name} not found for model {model_ref}")

        def to(deployment_id: str | None) -> Resolution:
            if deployment_id is None:
                return NotFound(f"Environment {name} of model {model_ref} has no active deployment")
            return _to_deployment(table, model_ref, model_id, deployment_id, action)

        if environment.candidate is None or action == "wake":
            return to(_side(table, environment, False))
        return Split(
            (model_id, name),
            environment.percent_to_candidate,
            to(_side(table, environment, True)),
            to(_side(table, environment, False)),
        )
    return _to_deployment(table, model_ref, model_id, deployment_id, action)


def _to_deployment(
    table: RoutingTable, model_ref: str, model_id: str, deployment_id: str, action: str
) -> Resolution:
    route = table.deployments.get(deployment_id)
    if route is None or route.model_id != model_id:
        return NotFound(f"Deployment {deployment_id} not found for model {model_ref}")
    if not route.serving:
        if route.error is not None:
            return Unavailable(unavailable_message(deployment_id, route.error))
        return NotFound(f"Deployment {deployment_id} is not active")
    if action == "wake":
        return Wake(deployment_id)
    return Forward(deployment_id, PREDICT_PATH)


def unavailable_message(deployment_id: str, error: str) -> str:
    return f"Deployment {deployment_id} cannot serve: {error}"


def _side(table: RoutingTable, environment: EnvironmentRoute, to_candidate: bool) -> str | None:
    """The deployment an environment request goes to when the split says candidate
    (`to_candidate`) or current. When that side is gone or not serving (a candidate
    that just failed, say) and the other one serves, the request goes there instead of
    failing. A wake goes to the current deployment: that is the one a user means by
    "wake production".
    """
    first, second = environment.current, environment.candidate
    if to_candidate and second is not None:
        first, second = second, first
    for deployment_id in (first, second):
        if deployment_id is not None:
            route = table.deployments.get(deployment_id)
            if route is not None and route.serving:
                return deployment_id
    return first

"""The figures each console page shows, as plain dicts (what the live updates send as
JSON too). Store reads take a `Tx`; traffic figures come from the gateway's counters
(`brace.server.metrics.endpoint.Sources`) and must be read on the event loop; replicas from
`live.Live`. Shapes reuse the management API's (`brace.services.views`)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from brace.console.live import Live
from brace.rollout.view import rollout_view
from brace.server.gateway.counters import HISTORY_INTERVAL, HISTORY_SPAN, Snapshot
from brace.server.metrics.endpoint import Sources
from brace.server.metrics.stats import window_stats
from brace.services import views
from brace.services.lookup import PRODUCTION, find_deployment, find_environment, find_model
from brace.store import Tx

RATE_WINDOW = 60.0
"""Seconds over which the model pages show request and error rates."""

CHART_SECONDS = 300.0
"""Seconds of history the deployment page charts."""


@dataclass(frozen=True)
class Traffic:
    """The gateway's counters now and their kept history, copied on the event loop
    (`take`) so the figures can then be computed anywhere (the store's thread)."""

    now: Snapshot
    kept: tuple[Snapshot, ...]
    """Oldest first."""

    @classmethod
    def take(cls, sources: Sources) -> Traffic:
        return cls(sources.counters.snapshot(), sources.history.kept())

    def since(self, seconds: float) -> Snapshot:
        """The newest kept snapshot at least `seconds` old, else the oldest (as
        `CounterHistory.since`)."""
        start = self.now.time - seconds
        chosen = self.kept[0] if self.kept else self.now
        for snapshot in self.kept:
            if snapshot.time > start:
                break
            chosen = snapshot
        return chosen

    def inside(self, seconds: float) -> Snapshot:
        """The oldest kept snapshot taken in the last `seconds` (at least a second
        before now), so a window from it holds nothing older; else `since(seconds)`."""
        start = self.now.time - seconds
        for snapshot in self.kept:
            if start <= snapshot.time <= self.now.time - 1.0:
                return snapshot
        return self.since(seconds)

    def stats(self, deployment_id: str, seconds: float, *, inside: bool = False) -> dict[str, Any]:
        """Request rate (/s), error rate (5xx share or None), p50/p99 (seconds or
        None) over the last `seconds` (at most what the history keeps); `window_seconds`
        says the window used: the kept snapshots are `HISTORY_INTERVAL` apart, so it
        starts at or before `seconds` ago, or with `inside`, at or after."""
        seconds = min(max(seconds, 1.0), HISTORY_SPAN)
        then = self.inside(seconds) if inside else self.since(seconds)
        return window_stats(
            then.of(deployment_id), self.now.of(deployment_id), self.now.time - then.time
        ).to_json()

    def series(self, deployment_id: str, seconds: float = CHART_SECONDS) -> list[dict[str, Any]]:
        """One point per kept snapshot over the last `seconds`, oldest first: `{"ago":
        seconds before now, "rate", "error_rate", "p50", "p99"}` over the interval that
        ends there (the last one ends now)."""
        start = self.now.time - seconds
        ordered = [s for s in self.kept if s.time >= start - HISTORY_INTERVAL]
        ordered.append(self.now)
        points = []
        for before, after in pairwise(ordered):
            if after.time <= before.time:
                continue
            stats = window_stats(
                before.of(deployment_id), after.of(deployment_id), after.time - before.time
            )
            points.append(
                {
                    "ago": round(self.now.time - after.time, 1),
                    "rate": stats.request_rate,
                    "error_rate": stats.error_rate,
                    "p50": stats.p50,
                    "p99": stats.p99,
                }
            )
        return points


def models_page(tx: Tx, traffic: Traffic) -> list[dict[str, Any]]:
    """Every model: its deployments (role, status, ready/wanted replicas, rates) and
    its environments (current deployment, promotion status)."""
    found = []
    for model in tx.models():
        environments = tx.environments(model.id)
        serving = {e.current_deployment_id: e.name for e in environments}
        deployments = []
        for deployment in tx.deployments(model.id):
            role = serving.get(deployment.id) or (
                "development" if deployment.is_development else ""
            )
            rates = traffic.stats(deployment.id, RATE_WINDOW)
            deployments.append(
                {
                    "id": deployment.id,
                    "name": deployment.name,
                    "role": role,
                    "status": deployment.status.value,
                    "ready": deployment.active_replica_count,
                    "wanted": deployment.recommended_replicas,
                    "request_rate": rates["request_rate"],
                    "error_rate": rates["error_rate"],
                }
            )
        deployments.sort(
            key=lambda d: (
                d["role"] != PRODUCTION,
                d["role"] != "development",
                d["role"] == "",
                d["name"],
            )
        )
        envs = []
        for environment in environments:
            promotion = tx.latest_promotion(model.id, environment.name)
            envs.append(
                {
                    "name": environment.name,
                    "current": environment.current_deployment_id,
                    "promotion": promotion.status.value
                    if promotion is not None and not promotion.status.finished
                    else None,
                }
            )
        found.append(
            {"id": model.id, "name": model.name, "deployments": deployments, "environments": envs}
        )
    return found


def model_page(tx: Tx, model_ref: str, traffic: Traffic) -> dict[str, Any]:
    model = find_model(tx, model_ref)
    deployments = []
    for deployment in tx.deployments(model.id):
        shown = views.deployment_json(tx, deployment)
        shown["wanted"] = deployment.recommended_replicas
        shown.update(
            {f"traffic_{k}": v for k, v in traffic.stats(deployment.id, RATE_WINDOW).items()}
        )
        deployments.append(shown)
    environments = [views.environment_json(tx, e) for e in tx.environments(model.id)]
    return {
        "model": views.model_json(tx, model),
        "deployments": deployments,
        "environments": environments,
    }


def rollout_page(
    tx: Tx, model_ref: str, environment_name: str, traffic: Traffic, now: float | None = None
) -> dict[str, Any]:
    """An environment and its latest promotion as the live rollout view shows it:
    status, percent, step n of N, each side's ready/target replicas and traffic over
    the current step, time to the next step, the pending action."""
    now = time.time() if now is None else now
    model = find_model(tx, model_ref)
    environment = find_environment(tx, model, environment_name)
    shown: dict[str, Any] = {
        "model": {"id": model.id, "name": model.name},
        "environment": views.environment_json(tx, environment),
        "promotion": None,
    }
    promotion = tx.latest_promotion(model.id, environment.name)
    if promotion is None:
        return shown
    view = rollout_view(promotion, now)
    since = promotion.step_settled_at or promotion.step_applied_at or now
    window = min(HISTORY_SPAN, max(1.0, now - since))

    def side(deployment_id: str | None, target: int | None) -> dict[str, Any] | None:
        if deployment_id is None:
            return None
        deployment = tx.deployment(deployment_id)
        return {
            "id": deployment_id,
            "name": deployment.name if deployment is not None else deployment_id,
            "status": deployment.status.value if deployment is not None else "DELETED",
            "ready": deployment.active_replica_count if deployment is not None else 0,
            "target": target,
            "traffic": traffic.stats(deployment_id, window, inside=True),
        }

    shown["promotion"] = {
        "status": promotion.status.value,
        "finished": promotion.status.finished,
        "rolling": promotion.rolling,
        "percent": promotion.percent_traffic,
        "error_message": promotion.error_message,
        "pending": promotion.requested_action.value if promotion.requested_action else None,
        "step": view.step if view else None,
        "steps": view.steps if view else None,
        "ramping_down": view.ramping_down if view else False,
        "waiting_for": view.waiting_for if view else None,
        "next_step_in": view.next_step_in if view else None,
        "step_seconds": window,
        "candidate": side(promotion.candidate_id, view.candidate_target if view else None),
        "previous": side(promotion.previous_id, view.previous_target if view else None),
    }
    return shown


def deployment_page(tx: Tx, model_ref: str, deployment_ref: str) -> dict[str, Any]:
    deployment = find_deployment(tx, deployment_ref, model_ref)
    model = tx.model(deployment.model_id)
    shown = views.deployment_json(tx, deployment)
    shown["wanted"] = deployment.recommended_replicas
    shown["model_name"] = model.name if model is not None else deployment.model_id
    return shown


def deployment_live(
    traffic: Traffic, live: Live, deployment_id: str, now: float | None = None
) -> dict[str, Any]:
    """The deployment page's moving parts: charts, replicas (state, age in seconds),
    restarts. Call it on the event loop."""
    now = time.time() if now is None else now
    replicas = [
        {
            "id": r.id,
            "revision": r.revision,
            "state": r.state,
            "pid": r.pid,
            "age": max(0.0, now - r.started),
        }
        for r in live.replicas()
        if r.deployment_id == deployment_id
    ]
    return {
        "series": traffic.series(deployment_id),
        "traffic": traffic.stats(deployment_id, RATE_WINDOW),
        "replicas": sorted(replicas, key=lambda r: r["age"], reverse=True),
        "restarts": live.restarts(deployment_id),
    }

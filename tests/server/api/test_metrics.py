"""`GET /metrics` and `GET /brace/stats` in process: the real app and store, with the
gateway's counters and the controller's replicas given as plain data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from brace.server.app import internal_app
from brace.server.control.replicas import Replica, ReplicaState
from brace.server.gateway.counters import RequestCounters
from brace.server.metrics.endpoint import Sources, replica_states
from brace.server.storeworker import StoreWorker
from brace.services.promote import promote
from brace.services.push import push
from brace.store import Deployment, PromotionStatus, Store
from tests.server.api.conftest import AUTH, KEY
from tests.services.conftest import enable_rolling, latest_promotion, the_model

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture
def counters() -> RequestCounters:
    return RequestCounters()


@pytest.fixture
def metrics_api(home: Path, store: Store, counters: RequestCounters) -> Iterator[TestClient]:
    sources = Sources(counters)
    worker = StoreWorker(home)
    try:
        with TestClient(internal_app("s", KEY, worker, sources), headers=AUTH) as client:
            yield client
    finally:
        worker.close()


def scrape(client: TestClient) -> Samples:
    answer = client.get("/metrics")
    assert answer.status_code == 200, answer.text
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def labels(deployment: Deployment, environment: str, **more: str) -> dict[str, str]:
    return {
        "model_id": deployment.model_id,
        "model_name": "hello",
        "deployment_id": deployment.id,
        "environment": environment,
        **more,
    }


def value(samples: Samples, name: str, labels: dict[str, str]) -> Any:
    return samples[(name, frozenset(labels.items()))]


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({"Authorization": ""}, id="no-key"),
        pytest.param({"Authorization": "Bearer wrong"}, id="wrong-key"),
    ],
)
@pytest.mark.parametrize("path", ["/metrics", "/brace/stats"])
def test_metrics_need_the_key(metrics_api: TestClient, path: str, headers: dict[str, str]) -> None:
    answer = metrics_api.get(path, headers=headers)
    assert (answer.status_code, answer.json()["error_code"]) == (401, "UNAUTHORIZED")
    assert metrics_api.get(path, headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_requests_durations_and_replicas_per_deployment(
    metrics_api: TestClient,
    store: Store,
    production: Deployment,
    truss_dir: Path,
    counters: RequestCounters,
) -> None:
    development = push(store, truss_dir).deployment
    for status, seconds in ((200, 0.002), (200, 0.02), (500, 0.3), (499, 200.0)):
        counters.record(production.id, status, seconds)
    sources: Sources = metrics_api.app.state.sources  # type: ignore[attr-defined]
    sources.load = lambda: {production.id: (2, 9)}
    sources.replicas = lambda: {
        production.id: {("READY", "local"): 1, ("READY", "10.0.0.2"): 1, ("DRAINING", "local"): 1}
    }
    samples = scrape(metrics_api)

    prod = labels(production, "production")
    total = "brace_inference_requests_total"
    assert {k: v for k, v in samples.items() if k[0] == total} == {
        (total, frozenset({**prod, "status_code": code}.items())): n
        for code, n in (("200", 2), ("499", 1), ("500", 1))
    }
    histogram = "brace_end_to_end_response_time_seconds"
    assert value(samples, f"{histogram}_count", prod) == 4
    assert value(samples, f"{histogram}_sum", prod) == pytest.approx(200.322)
    for le, n in (("0.001", 0), ("0.0025", 1), ("0.025", 2), ("0.5", 3), ("120.0", 3), ("+Inf", 4)):
        assert value(samples, f"{histogram}_bucket", {**prod, "le": le}) == n, le
    assert value(samples, "brace_inference_requests_in_flight", prod) == 2
    for state in ReplicaState:
        expected = {"READY": 1, "DRAINING": 1}.get(state.name, 0)
        local = {**prod, "state": state.name, "node": "local"}
        assert value(samples, "brace_replicas", local) == expected
        remote = {**prod, "state": state.name, "node": "10.0.0.2"}
        assert value(samples, "brace_replicas", remote) == (state.name == "READY")
    assert value(samples, "brace_replicas_recommended", prod) == 0

    dev = labels(development, "")  # in no environment
    assert value(samples, f"{histogram}_count", dev) == 0
    assert not [k for k in samples if k[0] == total and ("deployment_id", development.id) in k[1]]
    assert not [k for k in samples if k[0].startswith("brace_promotion")]


def test_an_in_progress_promotion_reports_its_status_and_traffic(
    metrics_api: TestClient, store: Store, production: Deployment, truss_dir: Path
) -> None:
    enable_rolling(store)
    candidate = push(store, truss_dir, publish=True).deployment
    promote(store, candidate.id)
    promotion = latest_promotion(store)
    assert promotion is not None
    with store.transaction() as tx:
        tx.update_promotion(promotion, status=PromotionStatus.RAMPING_UP, percent_traffic=20)
    samples = scrape(metrics_api)

    side = labels(candidate, "production", previous_deployment_id=production.id)
    assert value(samples, "brace_promotion_percent_traffic", side) == 20
    for status in ("RELEASING", "RAMPING_UP", "PAUSED", "RAMPING_DOWN"):
        found = value(samples, "brace_promotion_status", {**side, "status": status})
        assert found == (status == "RAMPING_UP"), status
    # Both sides of the rollout are in the environment.
    assert value(samples, "brace_replicas_recommended", labels(candidate, "production")) == 0
    assert value(samples, "brace_replicas_recommended", labels(production, "production")) == 0
    assert the_model(store).id == candidate.model_id


def test_stats_over_a_window(
    metrics_api: TestClient, production: Deployment, counters: RequestCounters
) -> None:
    for status in (200, 200, 200, 503):
        counters.record(production.id, status, 0.004)
    answer = metrics_api.get("/brace/stats", params={"deployment_id": production.id})
    assert answer.status_code == 200
    data = answer.json()
    [stats] = data["deployments"]
    assert stats["window_seconds"] == data["window_seconds"] > 0
    assert (stats["requests"], stats["errors"], stats["error_rate"]) == (4, 1, 0.25)
    assert stats["p50_seconds"] == pytest.approx(0.004, rel=0.01)  # the latency sketch
    assert stats["counts"]["statuses"] == {"200": 3, "503": 1}
    assert stats["in_flight"] == 0
    everyone = metrics_api.get("/brace/stats").json()["deployments"]
    assert [s["deployment_id"] for s in everyone] == [production.id]


@pytest.mark.parametrize("window", ["0", "-1", "nan", "x", "601"])
def test_stats_refuse_a_window_out_of_range(metrics_api: TestClient, window: str) -> None:
    answer = metrics_api.get("/brace/stats", params={"window": window})
    assert answer.status_code == 400
    assert answer.json()["error_code"] == "VALIDATION_ERROR"


class _Process:
    pid = 1
    started = 0.0
    node = None

    def poll(self) -> int | None:
        return None

    def stop(self, grace: float = 5.0) -> None:
        pass


def test_replica_states_count_by_deployment_and_state() -> None:
    def replica(deployment_id: str, state: ReplicaState) -> Replica:
        return Replica("r", deployment_id, 1, Path("s"), _Process(), state)

    replicas = [
        replica("a", ReplicaState.READY),
        replica("a", ReplicaState.READY),
        replica("a", ReplicaState.LOADING),
        replica("b", ReplicaState.DRAINING),
    ]
    assert replica_states(replicas) == {
        "a": {("READY", "local"): 2, ("LOADING", "local"): 1},
        "b": {("DRAINING", "local"): 1},
    }

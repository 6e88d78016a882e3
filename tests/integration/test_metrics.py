"""`/metrics` and `/brace/stats` of a real server after known traffic, and the numbers
`brace deployments show` prints from them."""

from __future__ import annotations

import http.client
import json
import re
from datetime import datetime
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from brace.store import Store
from tests.conftest import MakeTruss
from tests.integration.conftest import AUTH, KEY, Answer, Server

FLAKY = """\
class Model:
    def predict(self, model_input):
        if model_input.get("fail"):
            raise ValueError("asked to fail")
        return {"ok": True}
"""


def get(server: Server, path: str, headers: dict[str, str] | None = None) -> Answer:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request("GET", path, headers=AUTH if headers is None else headers)
        response = connection.getresponse()
        return Answer(response.status, response.read(), dict(response.getheaders()))
    finally:
        connection.close()


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of a scrape: (name, labels) -> value."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> Any:
    return scraped[(name, frozenset(labels.items()))]


def test_metrics_count_known_traffic_exactly(server: Server, make_truss: MakeTruss) -> None:
    pushed = server.json("push", make_truss("flaky", model=FLAKY), "--promote", "--wait")
    model_id, deployment_id = pushed["model"]["id"], pushed["deployment"]["id"]
    for n in range(10):
        answer = server.post("/model/flaky/production/predict", {"fail": n % 4 == 3 or n == 9})
        assert answer.status == (500 if n in (3, 7, 9) else 200), n

    assert get(server, "/metrics", {}).status == 401
    assert get(server, "/brace/stats", {}).status == 401
    answer = get(server, "/metrics", {"Authorization": f"Bearer {KEY}"})
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    scraped = samples(answer.body.decode())
    labels = {
        "model_id": model_id,
        "model_name": "flaky",
        "deployment_id": deployment_id,
        "environment": "production",
    }
    requests = "brace_inference_requests_total"
    assert value(scraped, requests, **labels, status_code="200") == 7
    assert value(scraped, requests, **labels, status_code="500") == 3
    assert {k for k in scraped if k[0] == requests} == {
        (requests, frozenset({**labels, "status_code": code}.items())) for code in ("200", "500")
    }
    histogram = "brace_end_to_end_response_time_seconds"
    assert value(scraped, f"{histogram}_count", **labels) == 10
    assert value(scraped, f"{histogram}_bucket", **labels, le="+Inf") == 10
    assert 0 < value(scraped, f"{histogram}_sum", **labels) < 10
    buckets = sorted(
        (float(dict(k[1])["le"]), v) for k, v in scraped.items() if k[0] == f"{histogram}_bucket"
    )
    assert [v for _, v in buckets] == sorted(v for _, v in buckets)  # cumulative
    assert value(scraped, "brace_inference_requests_in_flight", **labels) == 0
    assert value(scraped, "brace_replicas", **labels, state="READY", node="local") == 1
    assert value(scraped, "brace_replicas", **labels, state="LOADING", node="local") == 0
    recommended = server.deployment(deployment_id).recommended_replicas
    assert value(scraped, "brace_replicas_recommended", **labels) == recommended == 1

    stats = get(server, f"/brace/stats?deployment_id={deployment_id}").json()
    [mine] = stats["deployments"]
    assert (mine["requests"], mine["errors"], mine["error_rate"]) == (10, 3, 0.3)
    assert 0 < mine["p50_seconds"] <= mine["p99_seconds"]
    assert mine["counts"]["statuses"] == {"200": 7, "500": 3}
    assert get(server, "/brace/stats?window=0").status == 400

    shown = server.brace("deployments", "show", "production", "-m", "flaky")
    assert shown.returncode == 0, shown.stderr
    assert "Traffic (last " in shown.stdout
    assert re.search(r"requests\s+10 \(\d+\.\d\d/s\)", shown.stdout), shown.stdout
    assert re.search(r"errors \(5xx\)\s+3 \(30\.0%\)", shown.stdout), shown.stdout
    as_json = json.loads(server.brace("deployments", "show", "production", "-o", "json").stdout)
    assert "requests" not in as_json  # -o json prints the API's deployment object only


def test_replica_and_server_lines_share_one_time_format(
    server: Server, make_truss: MakeTruss
) -> None:
    pushed = server.json("push", make_truss("flaky", model=FLAKY), "--wait")
    assert server.post("/model/flaky/development/predict", {"fail": True}).status == 500
    with Store(server.home) as store, store.read() as tx:
        [replica] = [r.id for r in tx.replicas()]
    done = server.brace("logs", "development", "-o", "jsonl")
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(datetime.fromisoformat(r["time"]).tzinfo is not None for r in records)
    ours = [r for r in records if r["message"].startswith("[brace] ")]
    assert ours and all((r["level"], r["replica"]) == ("INFO", None) for r in ours)
    [failed] = [r for r in records if r["level"] == "ERROR"]
    assert failed["replica"] == replica
    after = records[records.index(failed) + 1 :]
    assert after[-1]["message"] == "ValueError: asked to fail"
    assert {(r["time"], r["level"]) for r in after} == {(failed["time"], None)}
    since = server.brace("logs", pushed["deployment"]["id"], "--since", "1m")
    assert since.stdout.splitlines()[-1] == "ValueError: asked to fail"

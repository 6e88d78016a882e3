"""Bodies and values that are JSON but no setting: every /v1 write path answers 400 with
a clear message, stores nothing, and reads no more of a body than its limit."""

from __future__ import annotations

import asyncio
import math
from typing import Any

import pytest
from starlette.routing import Route
from starlette.testclient import TestClient

from brace.server.api import bodies
from brace.server.api.routes import ROUTES
from brace.server.app import internal_app
from brace.server.storeworker import StoreWorker
from brace.store import Deployment, Store
from tests.server.api.conftest import AUTH, KEY

WRITES = [
    (method, route.path)
    for route in ROUTES
    if isinstance(route, Route)
    for method in sorted(route.methods or ())
    if method in ("POST", "PATCH")
]


def _path(template: str, deployment: Deployment) -> str:
    return template.format(
        model_id=deployment.model_id, deployment_id=deployment.id, env_name="production"
    )


DEEP = b"[" * 2000 + b"]" * 2000
DEEP_OBJECT = b'{"a":' * 2000 + b"1" + b"}" * 2000


@pytest.mark.parametrize(("method", "template"), WRITES, ids=[f"{m} {p}" for m, p in WRITES])
@pytest.mark.parametrize(
    ("body", "error"),
    [
        pytest.param(DEEP, "it nests deeper than 64 levels", id="nested-2000-deep"),
        pytest.param(DEEP_OBJECT, "it nests deeper than 64 levels", id="objects-2000-deep"),
        pytest.param(b'{"name": NaN}', "NaN is not a finite number", id="nan"),
        pytest.param(b'{"name": -Infinity}', "-Infinity is not a finite number", id="infinity"),
        pytest.param(b'{"name": 1e400}', "1e400 is not a finite number", id="overflowing-float"),
    ],
)
def test_a_body_that_cannot_be_read_is_a_400_on_every_write_path(
    api: TestClient,
    production: Deployment,
    method: str,
    template: str,
    body: bytes,
    error: str,
) -> None:
    answer = api.request(method, _path(template, production), content=body)
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "error": f"the body is not valid JSON: {error}",
        "error_code": "INVALID_BODY",
    }


HUGE = 10**4000


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        pytest.param(
            {"min_replica": HUGE, "max_replica": HUGE},
            "min_replica must be 0 to 1000, got a number of about 4001 digits",
            id="10^4000",
        ),
        pytest.param(
            {"max_replica": 10**30},
            "max_replica must be 1 to 1000, got a number of about 31 digits",
            id="10^30",
        ),
        pytest.param({"max_replica": 1001}, "max_replica must be 1 to 1000, got 1001", id="1001"),
        pytest.param(
            {"concurrency_target": 10**19},
            "concurrency_target must be 1 to 1000000, got a number of about 20 digits",
            id="concurrency-2^64",
        ),
        pytest.param({"max_replica": 2.0}, "max_replica must be a whole number, got 2.0", id="2.0"),
    ],
)
def test_integers_out_of_range_are_refused_and_not_stored(
    api: TestClient, store: Store, production: Deployment, changes: dict[str, Any], error: str
) -> None:
    path = f"/v1/models/{production.model_id}/deployments/{production.id}/autoscaling_settings"
    answer = api.patch(path, content=_dumps(changes))
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == error
    with store.read() as tx:
        stored = tx.deployment(production.id)
    assert stored is not None and stored.autoscaling == production.autoscaling
    environment = f"/v1/models/{production.model_id}/environments/production"
    answer = api.patch(environment, content=_dumps({"autoscaling_settings": changes}))
    assert (answer.status_code, answer.json()["error"]) == (400, error)


def _dumps(value: Any) -> bytes:
    """JSON of `value`, with integers of any size (json.dumps refuses none)."""
    import json

    return json.dumps(value).encode()


@pytest.mark.parametrize("ratio", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_a_non_finite_ratio_is_refused_and_the_environment_still_reads(
    api: TestClient, production: Deployment, ratio: str
) -> None:
    path = f"/v1/models/{production.model_id}/environments/production"
    rollback = '{"automatic_rollback": {"max_p99_latency_ratio": ' + ratio + "}}"
    body = '{"promotion_settings": ' + rollback + "}"
    answer = api.patch(path, content=body.encode())
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == f"the body is not valid JSON: {ratio} is not a finite number"
    assert api.get(path).status_code == 200
    listed = api.get(f"/v1/models/{production.model_id}/environments")
    assert listed.status_code == 200
    ratios = [
        e["promotion_settings"]["automatic_rollback"]["max_p99_latency_ratio"]
        for e in listed.json()["environments"]
    ]
    assert all(r is None or math.isfinite(r) for r in ratios)


def test_null_leaves_a_field_or_a_section_as_it_is(api: TestClient, production: Deployment) -> None:
    """Baseten: "All fields are optional, and we only update ones passed in"; each field
    is typed `integer | null`. The ratio's null is a value: no latency check."""
    path = f"/v1/models/{production.model_id}/environments/production"
    set_first = {
        "autoscaling_settings": {"max_replica": 3},
        "promotion_settings": {
            "rolling_deploy": True,
            "automatic_rollback": {"enabled": True, "max_p99_latency_ratio": 2.5},
        },
    }
    assert api.patch(path, json=set_first).status_code == 200
    before = api.get(path).json()
    for body in [
        {"autoscaling_settings": None, "promotion_settings": None},
        {"autoscaling_settings": {"min_replica": None, "max_replica": None}},
        {"promotion_settings": {"rolling_deploy": None, "rolling_deploy_config": None}},
        {"promotion_settings": {"automatic_rollback": {"enabled": None, "min_requests": None}}},
    ]:
        answer = api.patch(path, json=body)
        assert answer.status_code == 200, (body, answer.text)
        assert answer.json()["status"] == "UNCHANGED", body
        assert api.get(path).json() == before, body
    cleared = {"promotion_settings": {"automatic_rollback": {"max_p99_latency_ratio": None}}}
    assert api.patch(path, json=cleared).json()["status"] == "ACCEPTED"
    rollback = api.get(path).json()["promotion_settings"]["automatic_rollback"]
    assert rollback == {
        **before["promotion_settings"]["automatic_rollback"],
        "max_p99_latency_ratio": None,
    }


def test_a_null_required_field_is_refused(api: TestClient, production: Deployment) -> None:
    path = f"/v1/models/{production.model_id}/deployments/{production.id}"
    answer = api.patch(path, json={"name": None})
    assert (answer.status_code, answer.json()["error"]) == (400, "the field 'name' is required")


class _Body:
    """An ASGI `receive` that hands out `chunks` chunks of 64 KiB, counting them."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.read = 0

    async def __call__(self) -> dict[str, Any]:
        self.read += 1
        more = self.read < self.chunks
        return {"type": "http.request", "body": b" " * 65536, "more_body": more}


def _call(
    home: Any, path: str, headers: list[tuple[bytes, bytes]], receive: _Body
) -> tuple[int, bytes]:
    worker = StoreWorker(home)
    app = internal_app("test-server", KEY, worker)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "PATCH",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            *headers,
            *[(k.lower().encode(), v.encode()) for k, v in AUTH.items()],
        ],
        "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8765),
    }
    try:
        asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    finally:
        worker.close()
    start = next(m for m in sent if m["type"] == "http.response.start")
    return start["status"], b"".join(m.get("body", b"") for m in sent[1:])


def test_a_declared_length_over_the_limit_is_refused_before_any_byte_is_read(
    home: Any, production: Deployment
) -> None:
    path = f"/v1/models/{production.model_id}/deployments/{production.id}/autoscaling_settings"
    body = _Body(chunks=1400)  # 90 MiB
    status, answer = _call(home, path, [(b"content-length", str(1400 * 65536).encode())], body)
    assert status == 400 and b"larger than 1048576 bytes" in answer
    assert body.read == 0


def test_a_chunked_body_is_read_no_further_than_the_limit(
    home: Any, production: Deployment
) -> None:
    path = f"/v1/models/{production.model_id}/deployments/{production.id}/autoscaling_settings"
    body = _Body(chunks=1400)
    status, answer = _call(home, path, [(b"transfer-encoding", b"chunked")], body)
    assert status == 400 and b"larger than 1048576 bytes" in answer
    assert body.read == bodies.MAX_BODY // 65536 + 1

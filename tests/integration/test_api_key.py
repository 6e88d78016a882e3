"""The API key through a real server: the management API and the inference paths ask
for it, `brace predict` and the other commands send it, and the documented opt-out
leaves inference open."""

from __future__ import annotations

import http.client
import json

import pytest

from tests.conftest import MakeTruss
from tests.integration.conftest import KEY, Server


def _call(server: Server, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict]:  # type: ignore[type-arg]
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(method, path, body=b"{}", headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()


def test_inference_and_management_need_the_key(server: Server, make_truss: MakeTruss) -> None:
    model_id = server.json("push", make_truss("hello"), "--wait")["model"]["id"]
    predict = f"/model/{model_id}/development/predict"
    for headers in ({}, {"Authorization": "Api-Key nope"}):
        status, body = _call(server, "POST", predict, headers)
        assert status == 401, body
        assert "API key" in body["error"]
        status, body = _call(server, "GET", "/v1/models", headers)
        assert (status, body["error_code"]) == (401, "UNAUTHORIZED")
    assert _call(server, "POST", predict, {"Authorization": f"Bearer {KEY}"}) == (200, {"echo": {}})
    status, _ = _call(server, "POST", f"/model/{model_id}/development/wake", {})
    assert status == 401
    # The CLI sends it.
    assert server.json("predict", "--development", "-d", '{"a": 1}') == {"echo": {"a": 1}}
    assert server.brace("api-key").stdout.strip() == KEY


@pytest.mark.parametrize("server_env", [{"BRACE_INFERENCE_KEY": "false"}])
def test_the_opt_out_leaves_inference_open(server: Server, make_truss: MakeTruss) -> None:
    model_id = server.json("push", make_truss("hello"), "--wait")["model"]["id"]
    assert _call(server, "POST", f"/model/{model_id}/development/predict", {}) == (
        200,
        {"echo": {}},
    )
    status, _ = _call(server, "GET", "/v1/models", {})
    assert status == 401  # the management API always asks

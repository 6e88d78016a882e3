"""The repository's examples served by real replicas: routes, JSON in and out, logs."""

from __future__ import annotations

import re

import pytest

from tests.runtime.conftest import EXAMPLES, Launcher, Replica


@pytest.fixture(scope="module")
def examples(module_replicas: Launcher) -> dict[str, Replica]:
    # Start all three at once, then wait: the spawns overlap.
    started = {
        name: module_replicas(EXAMPLES / name, wait=False)
        for name in ("hello", "prepost", "streaming")
    }
    return {name: replica.wait_ready() for name, replica in started.items()}


def test_liveness_and_readiness(examples: dict[str, Replica]) -> None:
    hello = examples["hello"]
    live = hello.request("GET", "/")
    assert (live.status, live.json()) == (200, {})
    ready = hello.readiness()
    assert (ready.status, ready.json()) == (200, {"name": "model", "ready": True})
    assert ready.headers["content-type"] == "application/json"


def test_predict_echoes_with_the_configs_environment(examples: dict[str, Replica]) -> None:
    reply = examples["hello"].predict({"text": "hi", "n": [1, 2.5, None]})
    assert reply.status == 200
    assert reply.json() == {"greeting": "hello", "echo": {"text": "hi", "n": [1, 2.5, None]}}


def test_preprocess_predict_postprocess(examples: dict[str, Replica]) -> None:
    reply = examples["prepost"].predict({"text": "b a B c a b"})
    assert reply.status == 200
    assert reply.json() == {"model": "prepost", "words": 6, "top": [["b", 3], ["a", 2], ["c", 1]]}


def test_streaming_example(examples: dict[str, Replica]) -> None:
    reply = examples["streaming"].predict({"text": "one two three", "delay": 0})
    assert reply.status == 200
    assert reply.headers.get("transfer-encoding") == "chunked"
    assert reply.body == b"one\ntwo\nthree\n"


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="malformed"),
        pytest.param(b"", id="empty"),
        pytest.param(b"\xff\xfe\x00", id="not-utf8"),
    ],
)
def test_invalid_json_is_400(examples: dict[str, Replica], body: bytes) -> None:
    reply = examples["hello"].request("POST", "/v1/models/model:predict", body)
    assert reply.status == 400
    assert reply.json()["error"].startswith("Invalid JSON payload: ")


def test_wrong_method_and_unknown_path(examples: dict[str, Replica]) -> None:
    hello = examples["hello"]
    assert hello.request("POST", "/v1/models/model").status == 405
    assert hello.request("GET", "/nowhere").status == 404


def test_log_says_serving_and_loaded_with_time(examples: dict[str, Replica]) -> None:
    log = examples["hello"].log()
    assert re.search(r"Serving .*examples/hello on unix:.*\.sock \(pid \d+\)", log), log
    assert re.search(r"Model loaded in \d+ ms \(version 1\)", log), log
    assert "Uvicorn running" not in log  # uvicorn's own info lines stay quiet

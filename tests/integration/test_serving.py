"""Real processes end to end: push, promote, deactivate, delete, failures, crashes."""

from __future__ import annotations

import http.client
import json
import os
import signal
import time
from pathlib import Path

import pytest

from tests.conftest import MakeTruss
from tests.integration.conftest import AUTH, Server, alive, free_port, start_server, wait_until

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

VERSIONED = """\
class Model:
    def __init__(self, **kwargs):
        pass

    def load(self):
        pass

    def predict(self, model_input):
        return {{"version": {version}, "echo": model_input}}
"""

FAILING_LOAD = """\
class Model:
    def load(self):
        raise RuntimeError("weights are missing")

    def predict(self, model_input):
        return model_input
"""


def test_push_then_predict_through_the_gateway(server: Server, make_truss: MakeTruss) -> None:
    directory = make_truss("hello")
    pushed = server.json("push", directory, "--wait")
    model_id, dev_id = pushed["model"]["id"], pushed["deployment"]["id"]
    assert server.deployment(dev_id).status.value == "ACTIVE"
    answer = server.post(f"/model/{model_id}/development/predict", {"x": 1})
    assert (answer.status, answer.json()) == (200, {"echo": {"x": 1}})
    assert answer.headers.get("X-BASETEN-REQUEST-ID") or answer.headers.get("x-baseten-request-id")
    by_name = server.post("/model/hello/deployment/" + dev_id + "/predict", {"x": 2})
    assert by_name.json() == {"echo": {"x": 2}}
    by_host = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    by_host.request(
        "POST",
        "/development/predict",
        body=b'{"x": 3}',
        headers={"Host": f"model-{model_id}.localhost:{server.port}", **AUTH},
    )
    assert json.loads(by_host.getresponse().read()) == {"echo": {"x": 3}}
    by_host.close()
    predicted = server.brace("predict", "--development", "-d", '{"x": 4}')
    assert predicted.returncode == 0, predicted.stderr
    assert json.loads(predicted.stdout) == {"echo": {"x": 4}}


def test_promote_switches_production(server: Server, make_truss: MakeTruss) -> None:
    directory = make_truss("hello", model=VERSIONED.format(version=1))
    first = server.json("push", directory, "--promote", "--wait")["deployment"]
    assert server.post("/model/hello/production/predict", {}).json()["version"] == 1
    (directory / "model" / "model.py").write_text(VERSIONED.format(version=2))
    second = server.json("push", directory, "--publish", "--wait")["deployment"]
    assert server.post("/model/hello/production/predict", {}).json()["version"] == 1
    promoted = server.brace("promote", second["id"], "--wait")
    assert promoted.returncode == 0, promoted.stderr
    assert server.post("/model/hello/production/predict", {}).json()["version"] == 2
    shown = server.json("environments", "show", "production")
    assert shown["current_deployment"]["id"] == second["id"]
    assert shown["in_progress_promotion"]["status"] == "SUCCEEDED"
    # The former production deployment still serves on its own URL.
    former = server.post(f"/model/hello/deployment/{first['id']}/predict", {})
    assert former.json()["version"] == 1


def test_deactivate_activate_and_delete(server: Server, make_truss: MakeTruss) -> None:
    directory = make_truss("hello")
    server.json("push", directory, "--promote", "--wait")
    published = server.json("push", directory, "--publish", "--wait")["deployment"]
    path = f"/model/hello/deployment/{published['id']}/predict"
    assert server.post(path, {"a": 1}).status == 200
    assert server.brace("deactivate", published["id"]).returncode == 0
    server.wait_status(published["id"], "INACTIVE")
    wait_until(lambda: server.post(path, {}).status == 404, 10, "404 after deactivate")
    assert "error" in server.post(path, {}).json()
    assert server.brace("activate", published["id"]).returncode == 0
    server.wait_status(published["id"], "ACTIVE")
    assert server.post(path, {"a": 2}).json() == {"echo": {"a": 2}}
    assert server.brace("delete", published["id"], "--yes").returncode == 0
    wait_until(lambda: server.post(path, {}).status == 404, 10, "404 after delete")


def test_load_failure_ends_deploy_failed_and_keeps_production(
    server: Server, make_truss: MakeTruss
) -> None:
    good = make_truss("hello")
    before = server.json("push", good, "--promote", "--wait")["deployment"]
    bad = make_truss("hello-bad", config="model_name: hello\n", model=FAILING_LOAD)
    pushed = server.brace("push", bad, "--promote", "--wait")
    assert pushed.returncode == 1, pushed.stdout
    assert "DEPLOY_FAILED" in pushed.stderr
    assert "weights are missing" in pushed.stderr  # the user's error, from the log
    shown = server.json("environments", "show", "production")
    assert shown["current_deployment"]["id"] == before["id"]
    assert shown["in_progress_promotion"]["status"] == "FAILED"
    assert "DEPLOY_FAILED" in shown["in_progress_promotion"]["error_message"]
    assert server.post("/model/hello/production/predict", {"ok": 1}).json() == {"echo": {"ok": 1}}
    logs = server.brace("logs", "deployment-2")
    assert "RuntimeError: weights are missing" in logs.stdout


def test_killed_replica_is_replaced(server: Server, make_truss: MakeTruss) -> None:
    server.json("push", make_truss("hello"), "--wait")
    (pid,) = server.replica_pids()
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: server.replica_pids() not in ([], [pid]), 30, "a new replica")
    wait_until(
        lambda: server.post("/model/hello/development/predict", {"b": 1}).status == 200,
        30,
        "serving to resume",
    )


def test_server_killed_and_restarted_leaves_no_orphans(
    server: Server, make_truss: MakeTruss
) -> None:
    server.json("push", make_truss("hello"), "--wait")
    old = server.replica_pids()
    assert old and all(alive(pid) for pid in old)
    server.process.kill()
    server.process.wait()
    server.process = start_server(server.home, server.port)
    wait_until(lambda: not any(alive(pid) for pid in old), 15, "old replicas to be gone")
    dev = server.json("deployments", "show", "development")
    server.wait_status(dev["id"], "ACTIVE")
    assert server.post("/model/hello/development/predict", {"c": 1}).status == 200


def test_streaming_streams_through_the_gateway(server: Server) -> None:
    server.json("push", EXAMPLES / "streaming", "--wait")
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    started = time.monotonic()
    connection.request(
        "POST",
        "/model/streaming/development/predict",
        body=b'{"text": "a b c", "delay": 0.4}',
        headers=AUTH,
    )
    response = connection.getresponse()
    first = response.read1(100)
    first_at = time.monotonic() - started
    rest = response.read()
    total = time.monotonic() - started
    connection.close()
    assert (first + rest).decode() == "a\nb\nc\n"
    assert first_at < total - 0.3, (first_at, total)


@pytest.mark.parametrize(
    ("example", "payload", "expected"),
    [
        pytest.param("hello", {"x": 1}, {"greeting": "hello", "echo": {"x": 1}}, id="hello"),
        pytest.param(
            "prepost",
            {"text": "b a b"},
            {"model": "prepost", "words": 3, "top": [["b", 2], ["a", 1]]},
            id="prepost",
        ),
        pytest.param("with-requirements", {"bytes": 3000}, {"size": "3.0 kB"}, id="requirements"),
    ],
)
def test_every_example_serves(
    server: Server, example: str, payload: object, expected: object
) -> None:
    pushed = server.json(
        "push", EXAMPLES / example, "--promote", "--wait", "--timeout-seconds", "300"
    )
    answer = server.post(f"/model/{pushed['model']['id']}/production/predict", payload)
    assert (answer.status, answer.json()) == (200, expected)


def test_second_server_for_the_same_home_is_refused(server: Server) -> None:
    port = free_port()
    env = {**os.environ, "BRACE_HOME": str(server.home)}
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "brace", "server", "--port", str(port)],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
    )
    assert done.returncode == 6
    assert "already running" in done.stderr

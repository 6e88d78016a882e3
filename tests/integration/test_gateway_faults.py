"""The gateway under faults and races, with a real server and real replica processes:
a burst at a deployment scaled to zero is shared by the replicas it wakes; a client
that gives up is counted 499; a replica that does not begin to answer in time costs
its request a 504, not a hang; the first requests after a server start wait for the
routing table instead of getting 404; and a request that arrives as the last replica
of a deployment is removed wakes it again.

Settings are small (window and delays of 1 s, loads and predicts of a fraction of a
second), so each test takes a few seconds.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brace.store import Store
from tests.conftest import MakeTruss
from tests.integration.conftest import (
    AUTH,
    KEY,
    Server,
    free_port,
    start_server,
    stop_server,
    wait_until,
)
from tests.integration.test_autoscaling import post_at_once, publish, wait_asleep
from tests.integration.test_metrics import get, samples

# load() and predict take what the config's environment variables say.
TIMED = """\
import os
import time


class Model:
    def load(self):
        time.sleep(float(os.environ.get("LOAD_SECONDS", "0")))

    def predict(self, model_input):
        time.sleep(model_input.get("sleep", float(os.environ.get("PREDICT_SECONDS", "0"))))
        return {"pid": os.getpid()}
"""


def timed_config(name: str, load: float, predict: float, concurrency: int, extra: str = "") -> str:
    return (
        f"model_name: {name}\n"
        f"environment_variables:\n  LOAD_SECONDS: '{load}'\n  PREDICT_SECONDS: '{predict}'\n"
        f"runtime:\n  predict_concurrency: {concurrency}\n{extra}"
    )


def test_a_burst_at_a_deployment_at_zero_is_shared_by_the_replicas_it_wakes(
    server: Server, make_truss: MakeTruss
) -> None:
    load, predict, clients = 2.0, 0.3, 30
    deployment_id = publish(
        server,
        make_truss("burst", config=timed_config("burst", load, predict, 1), model=TIMED),
        *("--min-replica", "0", "--max-replica", "3", "--concurrency-target", "2"),
        *("--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    wait_asleep(server, deployment_id)
    answers = post_at_once(server, f"/model/burst/deployment/{deployment_id}/predict", clients)
    assert [answer.status for answer, _ in answers] == [200] * clients
    served: dict[int, int] = {}
    for answer, _ in answers:
        served[answer.json()["pid"]] = served.get(answer.json()["pid"], 0) + 1
    last = max(took for _, took in answers)
    ideal = load + clients / 3 * predict  # 5 s; one replica serving all of them: 11 s
    assert len(served) == 3, served
    assert min(served.values()) >= 5, served
    assert last < ideal + 2.5, (last, served)


def test_clients_that_give_up_are_counted_499(server: Server, make_truss: MakeTruss) -> None:
    pushed = server.json(
        "push",
        make_truss("slow", config=timed_config("slow", 0, 2.0, 4), model=TIMED),
        "--promote",
        "--wait",
    )
    deployment_id = pushed["deployment"]["id"]
    for _ in range(3):  # each gives up after 0.3 s; predict takes 2 s
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=0.3)
        connection.request("POST", "/model/slow/production/predict", body=b"{}", headers=AUTH)
        with pytest.raises(TimeoutError):
            connection.getresponse()
        connection.close()

    def counted() -> dict[str, float]:
        scraped = samples(get(server, "/metrics").body.decode())
        return {
            dict(labels)["status_code"]: number
            for (name, labels), number in scraped.items()
            if name == "brace_inference_requests_total"
            and dict(labels)["deployment_id"] == deployment_id
            and number
        }

    wait_until(lambda: counted() == {"499": 3.0}, 10, f"three 499s (now {counted()})")
    stats = json.loads(get(server, "/brace/stats?window=60").body)
    [mine] = [d for d in stats["deployments"] if d["deployment_id"] == deployment_id]
    assert (mine["requests"], mine["errors"]) == (3, 0)


def test_a_replica_that_does_not_begin_to_answer_in_time_answers_504(
    server: Server, make_truss: MakeTruss
) -> None:
    metadata = "model_metadata:\n  brace:\n    first_byte_timeout: 1\n"
    config = timed_config("stuck", 0, 0, 2, metadata)
    server.json("push", make_truss("stuck", config=config, model=TIMED), "--promote", "--wait")
    began = time.monotonic()
    answer = server.post("/model/stuck/production/predict", {"sleep": 6})
    took = time.monotonic() - began
    assert answer.status == 504, answer.body
    assert "did not begin to answer within 1 seconds" in answer.json()["error"]
    assert 1 <= took < 3, took
    assert server.post("/model/stuck/production/predict", {}).status == 200


def _predict_at_once(port: int, path: str, deadline: float) -> tuple[int, bytes]:
    """Connect as soon as the server listens and send the predict: the first answer."""
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            connection.request("POST", path, body=b"{}", headers=AUTH)
            response = connection.getresponse()
            return response.status, response.read()
        except (ConnectionRefusedError, http.client.RemoteDisconnected):
            assert time.monotonic() < deadline, "the server never listened"
            time.sleep(0.002)


def test_the_first_requests_after_a_server_start_wait_for_the_routing_table(
    tmp_path: Path, make_truss: MakeTruss
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    process = start_server(home, port)
    server = Server(home, port, process)
    try:
        server.json("push", make_truss("roll"), "--promote", "--wait")
        for _ in range(3):
            stop_server(server.process, server.replica_pids())
            env = {"BRACE_API_KEY": KEY, "BRACE_HOME": str(home), "PATH": "/usr/bin:/bin"}
            log = open(tmp_path / "restarts.log", "ab")  # noqa: SIM115
            server.process = subprocess.Popen(
                [sys.executable, "-m", "brace", "server", "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
            )
            log.close()
            status, body = _predict_at_once(
                port, "/model/roll/production/predict", time.monotonic() + 30
            )
            assert status == 200, body
    finally:
        stop_server(server.process, server.replica_pids())


@pytest.mark.parametrize("server_env", [{"BRACE_HOLD_TIMEOUT": "5"}])
@pytest.mark.parametrize("kind", ["published", "development"])
def test_a_request_that_arrives_as_the_last_replica_is_removed_wakes_the_deployment(
    server: Server, make_truss: MakeTruss, kind: str
) -> None:
    name = f"waking-{kind}"
    directory = make_truss(name, config=timed_config(name, 0.3, 0, 1), model=TIMED)
    settings = ("--autoscaling-window", "1", "--scale-down-delay", "1")
    if kind == "published":
        deployment_id = publish(server, directory, "--min-replica", "0", *settings)
        path = f"/model/{name}/deployment/{deployment_id}/predict"
    else:  # min 0 / max 1 always: it goes to sleep after its delay
        deployment_id = server.json("push", directory, "--wait")["deployment"]["id"]
        done = server.brace("deployments", "autoscaling", "development", "-m", name, *settings)
        assert done.returncode == 0, done.stderr
        path = f"/model/{name}/development/predict"

    def recommended() -> int:
        with Store(server.home) as store, store.read() as tx:
            found = tx.deployment(deployment_id)
        assert found is not None
        return found.recommended_replicas

    for probe in range(3):
        assert server.post(path, {}).status == 200, probe
        # The instant the autoscaler decides on zero (it writes its recommendation in
        # the tick that removes the replica), the next request arrives.
        wait_until(lambda: recommended() == 0, 15, "the decision to scale to zero")
        answer = server.post(path, {})
        assert answer.status == 200, (probe, answer.body)


def test_a_wake_at_the_instant_of_the_decision_to_scale_to_zero_is_not_lost(
    server: Server, make_truss: MakeTruss
) -> None:
    deployment_id = publish(
        server,
        make_truss("woken", config=timed_config("woken", 0.3, 0, 1), model=TIMED),
        *("--min-replica", "0", "--max-replica", "1"),
        *("--autoscaling-window", "1", "--scale-down-delay", "1"),
    )

    def state() -> tuple[int, int]:
        with Store(server.home) as store, store.read() as tx:
            found = tx.deployment(deployment_id)
        assert found is not None
        return found.recommended_replicas, found.active_replica_count

    wait_until(lambda: state()[0] == 0, 15, "the decision to scale to zero")
    answer = server.post(f"/model/woken/deployment/{deployment_id}/wake", {})
    assert answer.status == 202
    wait_until(lambda: state() == (1, 1), 10, "the wake to start a replica")

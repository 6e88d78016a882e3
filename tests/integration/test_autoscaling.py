"""Autoscaling with real processes: scale up under load, scale down after the delay
(draining: no request fails, streams that started finish), scale to zero, wake on a
request or `.../wake` (the development deployment with the code saved meanwhile), and
the answers a request gets when a wake fails or takes longer than the hold timeout.

Settings are seconds (window 1 s, delays of 1-2 s), so each test takes a few seconds.
Load comes from client threads (`SteadyLoad`), stopped by the test even when it fails.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import psutil
import pytest

from brace.processes import replica_arguments
from tests.conftest import MakeTruss
from tests.integration.conftest import AUTH, Answer, Server, alive, wait_until

# Predicts in parallel, as many as the gateway sends it.
SLEEPY_CONFIG = "model_name: sleepy\nruntime:\n  predict_concurrency: 16\n"
SLEEPY = """\
import os
import time


class Model:
    def load(self):
        pass

    def predict(self, model_input):
        time.sleep(model_input.get("sleep", 0))
        return {"pid": os.getpid()}
"""

STREAMS_CONFIG = "model_name: streams\nruntime:\n  predict_concurrency: 4\n"
# A generator predict: its pid, then `chunks` lines, one every `delay` seconds.
STREAMS = """\
import os
import time


class Model:
    def predict(self, model_input):
        yield f"{os.getpid()}\\n"
        for index in range(model_input["chunks"]):
            time.sleep(model_input["delay"])
            yield f"{index}\\n"
"""

# load() reads a file outside the model directory (published deployments run from a
# snapshot): absent, it loads at once; "fail", it raises; a number, it takes that long.
WAKES_BY_MARKER = """\
import os
import time

MARKER = {marker!r}


class Model:
    def load(self):
        if not os.path.exists(MARKER):
            return
        with open(MARKER) as marker:
            instruction = marker.read()
        if instruction == "fail":
            raise RuntimeError("weights vanished while the deployment slept")
        time.sleep(float(instruction))

    def predict(self, model_input):
        return {{"pid": os.getpid()}}
"""

VERSIONED = """\
import os


class Model:
    def predict(self, model_input):
        return {{"version": {version}, "greeting": os.environ.get("GREETING")}}
"""


# helpers


def publish(server: Server, directory: Path, *autoscaling: str) -> str:
    """Push `directory` as a published deployment, wait until it serves, then apply the
    autoscaling flags; its id."""
    pushed = server.json("push", directory, "--publish", "--wait")
    deployment_id: str = pushed["deployment"]["id"]
    if autoscaling:
        set_autoscaling(server, deployment_id, pushed["model"]["name"], *autoscaling)
    return deployment_id


def set_autoscaling(server: Server, deployment: str, model: str, *flags: str) -> None:
    done = server.brace("deployments", "autoscaling", deployment, "-m", model, *flags)
    assert done.returncode == 0, done.stderr


def replica_processes(server: Server) -> list[int]:
    """Pids of the server's live replica processes, seen by the OS, not the store.

    A process that is exiting has an empty command line before it becomes a zombie:
    it still counts."""
    pids = []
    for child in psutil.Process(server.process.pid).children(recursive=True):
        try:
            command = child.cmdline()
        except psutil.NoSuchProcess:
            continue
        if (not command or replica_arguments(command) is not None) and alive(child.pid):
            pids.append(child.pid)
    return pids


def counts(server: Server, deployment_id: str) -> tuple[int, int]:
    """(active_replica_count as the store reports it, live replica processes)."""
    return server.deployment(deployment_id).active_replica_count, len(replica_processes(server))


def wait_asleep(server: Server, deployment_id: str, timeout: float = 15) -> None:
    server.wait_status(deployment_id, "SCALED_TO_ZERO", timeout=timeout)
    wait_until(lambda: not replica_processes(server), 10, "no replica process")


def statuses_logged(server: Server, deployment_id: str) -> list[str]:
    """The statuses the deployment's log records, in order (`brace logs`)."""
    done = server.brace("logs", deployment_id)
    assert done.returncode == 0, done.stderr
    marker = "[brace] status "
    return [line.split(marker, 1)[1] for line in done.stdout.splitlines() if marker in line]


def post_at_once(server: Server, path: str, clients: int) -> list[tuple[Answer, float]]:
    """`clients` requests sent together; each answer with its latency in seconds."""
    start = threading.Barrier(clients)

    def one(index: int) -> tuple[Answer, float]:
        start.wait()
        began = time.monotonic()
        answer = server.post(path, {"client": index})
        return answer, time.monotonic() - began

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


class SteadyLoad:
    """`clients` threads, each sending the same predict one after another on its own
    keep-alive connection until stopped; every answer is kept (status 0: the connection
    failed). A context manager: the threads stop when the block ends, however it ends."""

    def __init__(self, server: Server, path: str, payload: dict[str, Any], clients: int) -> None:
        self.answers: list[tuple[int, bytes]] = []
        self._target = (server.port, path, json.dumps(payload))
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> SteadyLoad:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _client(self) -> None:
        port, path, body = self._target
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not self._stop.is_set():
            try:
                connection.request("POST", path, body=body, headers=AUTH)
                response = connection.getresponse()
                self.answers.append((response.status, response.read()))
            except (OSError, http.client.HTTPException) as error:
                self.answers.append((0, repr(error).encode()))
                connection.close()
        connection.close()

    def stop(self) -> float:
        """Stop sending and wait for the answers in flight; when the clients were told."""
        told = time.monotonic()
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=30)
        return told

    def pids(self) -> set[int]:
        """The replicas that answered (SLEEPY answers with its pid)."""
        return {json.loads(body)["pid"] for status, body in self.answers if status == 200}

    def failures(self) -> list[tuple[int, bytes]]:
        return [answer for answer in self.answers if answer[0] != 200]


# tests


def test_scales_up_under_load_and_back_down_after_the_delay(
    server: Server, make_truss: MakeTruss
) -> None:
    delay = 2
    deployment_id = publish(
        server,
        make_truss("sleepy", config=SLEEPY_CONFIG, model=SLEEPY),
        *("--min-replica", "1", "--max-replica", "3"),
        *("--autoscaling-window", "1", "--scale-down-delay", str(delay)),
    )
    path = f"/model/sleepy/deployment/{deployment_id}/predict"
    with SteadyLoad(server, path, {"sleep": 0.2}, clients=8) as load:
        # 8 in flight / (1 x 70 %) asks for 12 replicas: the maximum, 3.
        wait_until(lambda: counts(server, deployment_id) == (3, 3), 20, "3 ready replicas")
        wait_until(lambda: len(load.pids()) == 3, 10, "requests served by all 3 replicas")
        stopped_at = load.stop()
    assert not load.failures(), load.failures()[:3]

    # Then down, at most half of the replicas per step (3 -> 2 -> 1), each step only
    # once demand stayed lower for the delay; never below min_replica.
    seen: list[tuple[float, int]] = [(stopped_at, 3)]

    def at_minimum() -> bool:
        count = server.deployment(deployment_id).active_replica_count
        if count != seen[-1][1]:
            seen.append((time.monotonic(), count))
        return count == 1 and len(replica_processes(server)) == 1

    wait_until(at_minimum, 20, "one replica left")
    assert [count for _, count in seen] == [3, 2, 1], seen
    gaps = [later - earlier for (earlier, _), (later, _) in pairwise(seen)]
    assert all(gap >= delay - 0.5 for gap in gaps), gaps
    time.sleep(1)  # and it stays at min_replica
    assert counts(server, deployment_id) == (1, 1)
    assert server.deployment(deployment_id).status.value == "ACTIVE"


def test_scales_to_zero_and_serves_every_request_held_during_the_wake(
    server: Server, make_truss: MakeTruss
) -> None:
    deployment_id = publish(
        server,
        make_truss("sleepy", config=SLEEPY_CONFIG, model=SLEEPY),
        *("--min-replica", "0", "--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    [first] = replica_processes(server)
    wait_asleep(server, deployment_id)
    assert not alive(first)
    shown = server.json("deployments", "show", deployment_id, "-m", "sleepy")
    assert (shown["status"], shown["active_replica_count"]) == ("SCALED_TO_ZERO", 0)

    answers = post_at_once(server, f"/model/sleepy/deployment/{deployment_id}/predict", 8)
    assert [answer.status for answer, _ in answers] == [200] * 8, [a.body for a, _ in answers]
    [woken] = replica_processes(server)  # max_replica 1: one replica served them all
    assert {answer.json()["pid"] for answer, _ in answers} == {woken}
    assert server.deployment(deployment_id).status.value == "ACTIVE"
    statuses = statuses_logged(server, deployment_id)
    assert statuses[statuses.index("SCALED_TO_ZERO") :] == ["SCALED_TO_ZERO", "WAKING_UP", "ACTIVE"]


def test_wake_answers_202_and_the_deployment_becomes_active(
    server: Server, make_truss: MakeTruss
) -> None:
    deployment_id = publish(
        server,
        make_truss("sleepy", config=SLEEPY_CONFIG, model=SLEEPY),
        *("--min-replica", "0", "--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    wait_asleep(server, deployment_id)
    answer = server.post(f"/model/sleepy/deployment/{deployment_id}/wake", {})
    assert answer.status == 202, answer.body
    server.wait_status(deployment_id, "ACTIVE", timeout=15)
    assert len(replica_processes(server)) == 1
    # Nothing else asked for it: it goes back to sleep after its delay.
    wait_asleep(server, deployment_id)


def test_brace_wake_wakes_a_sleeping_deployment(server: Server, make_truss: MakeTruss) -> None:
    """`brace wake DEPLOYMENT --wait` goes through the gateway's wake path and returns
    once the deployment serves."""
    deployment_id = publish(
        server,
        make_truss("sleepy", config=SLEEPY_CONFIG, model=SLEEPY),
        *("--min-replica", "0", "--autoscaling-window", "1", "--scale-down-delay", "60"),
    )
    set_autoscaling(server, deployment_id, "sleepy", "--scale-down-delay", "1")
    wait_asleep(server, deployment_id)
    set_autoscaling(server, deployment_id, "sleepy", "--scale-down-delay", "60")
    woken = server.brace("wake", deployment_id, "--wait", "-o", "json")
    assert woken.returncode == 0, woken.stderr
    assert json.loads(woken.stdout)["status"] == "ACTIVE"
    assert woken.stderr.startswith(f"Waiting for deployment-1 ({deployment_id}):\n")
    assert len(replica_processes(server)) == 1


def test_a_deployment_that_cannot_wake_answers_held_requests_503(
    server: Server, make_truss: MakeTruss, tmp_path: Path
) -> None:
    deployment_id, answers = _wake_with_failing_load(server, make_truss, tmp_path)
    prefix = f"Deployment {deployment_id} cannot serve: "
    for answer, took in answers:
        assert answer.status == 503, answer.body
        assert answer.headers.get("content-type", "").startswith("application/json")
        assert answer.json()["error"].startswith(prefix), answer.body
        assert took < 30, took  # 3 failed starts; the hold timeout is 120 s
    server.wait_status(deployment_id, "DEPLOY_FAILED", timeout=5)
    # Once it gave up, a request is answered at once, not held.
    began = time.monotonic()
    later = server.post(f"/model/wakefail/deployment/{deployment_id}/predict", {})
    assert (later.status, later.json()["error"].startswith(prefix)) == (503, True)
    assert time.monotonic() - began < 1
    assert not replica_processes(server)


def test_the_503_of_a_failed_wake_names_the_load_error(
    server: Server, make_truss: MakeTruss, tmp_path: Path
) -> None:
    _, answers = _wake_with_failing_load(server, make_truss, tmp_path)
    for answer, _ in answers:
        assert "weights vanished while the deployment slept" in answer.json()["error"]


def _wake_with_failing_load(
    server: Server, make_truss: MakeTruss, tmp_path: Path
) -> tuple[str, list[tuple[Answer, float]]]:
    """A deployment that loaded once, slept, and whose load() now raises: the answers
    to 4 requests sent while it sleeps."""
    marker = tmp_path / "wake-marker"
    deployment_id = publish(
        server,
        make_truss("wakefail", model=WAKES_BY_MARKER.format(marker=str(marker))),
        *("--min-replica", "0", "--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    wait_asleep(server, deployment_id)
    marker.write_text("fail")
    return deployment_id, post_at_once(
        server, f"/model/wakefail/deployment/{deployment_id}/predict", 4
    )


@pytest.mark.parametrize("server_env", [{"BRACE_HOLD_TIMEOUT": "1"}])
def test_a_request_held_longer_than_the_hold_timeout_gets_504(
    server: Server, make_truss: MakeTruss, tmp_path: Path
) -> None:
    marker = tmp_path / "wake-marker"
    deployment_id = publish(
        server,
        make_truss("slowwake", model=WAKES_BY_MARKER.format(marker=str(marker))),
        *("--min-replica", "0", "--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    wait_asleep(server, deployment_id)
    marker.write_text("2.5")  # the next load() takes 2.5 s; requests wait at most 1 s
    path = f"/model/slowwake/deployment/{deployment_id}/predict"
    began = time.monotonic()
    answer = server.post(path, {})
    took = time.monotonic() - began
    assert answer.status == 504, answer.body
    assert answer.json()["error"] == (
        f"Deployment {deployment_id} did not become ready within 1 seconds"
    )
    assert 0.9 <= took < 5, took
    # The wake goes on: a client that retries is served once the replica is ready.
    wait_until(lambda: server.post(path, {}).status == 200, 20, "a retry to be served")


def test_no_request_fails_while_a_replica_drains_during_scale_down(
    server: Server, make_truss: MakeTruss
) -> None:
    deployment_id = publish(
        server,
        make_truss("sleepy", config=SLEEPY_CONFIG, model=SLEEPY),
        # 4 clients / (8 x 70 %) ask for one replica: min_replica alone keeps two.
        *("--min-replica", "2", "--max-replica", "2", "--concurrency-target", "8"),
        *("--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    wait_until(lambda: counts(server, deployment_id) == (2, 2), 20, "2 ready replicas")
    path = f"/model/sleepy/deployment/{deployment_id}/predict"
    with SteadyLoad(server, path, {"sleep": 0.2}, clients=4) as load:
        wait_until(lambda: len(load.pids()) == 2, 10, "both replicas serving")
        both = load.pids()
        set_autoscaling(server, deployment_id, "sleepy", "--min-replica", "1")
        wait_until(lambda: counts(server, deployment_id) == (1, 1), 20, "one replica left")
        [survivor] = replica_processes(server)
        served = len(load.answers)
        wait_until(lambda: len(load.answers) >= served + 10, 10, "more answers after")
    assert not load.failures(), load.failures()[:3]
    assert survivor in both
    [drained] = both - {survivor}
    assert not alive(drained)
    assert len(load.answers) > 40


def test_development_sleeps_and_wakes_with_the_code_saved_meanwhile(
    server: Server, make_truss: MakeTruss
) -> None:
    config = "model_name: devwake\nenvironment_variables:\n  GREETING: {greeting}\n"
    directory = make_truss(
        "devwake", config=config.format(greeting="hello"), model=VERSIONED.format(version=1)
    )
    deployment_id = server.json("push", directory, "--wait")["deployment"]["id"]
    path = "/model/devwake/development/predict"
    assert server.post(path, {}).json() == {"version": 1, "greeting": "hello"}
    # min and max are pinned for the development deployment; window and delay are not.
    pinned = server.brace(
        "deployments", "autoscaling", "development", "-m", "devwake", "--min-replica", "1"
    )
    assert pinned.returncode == 5, pinned.stderr
    assert pinned.stderr.startswith(
        "Error: the development deployment always has min_replica 0 and max_replica 1\n"
    ), pinned.stderr
    set_autoscaling(
        server, "development", "devwake", "--autoscaling-window", "1", "--scale-down-delay", "1"
    )
    wait_asleep(server, deployment_id)

    (directory / "model" / "model.py").write_text(VERSIONED.format(version=2))
    (directory / "config.yaml").write_text(config.format(greeting="hola"))
    answer = server.post(path, {})
    assert (answer.status, answer.json()) == (200, {"version": 2, "greeting": "hola"})
    assert server.deployment(deployment_id).status.value == "ACTIVE"
    assert len(replica_processes(server)) == 1


def test_scale_down_lets_streams_that_started_finish(server: Server, make_truss: MakeTruss) -> None:
    deployment_id = publish(
        server,
        make_truss("streams", config=STREAMS_CONFIG, model=STREAMS),
        *("--min-replica", "2", "--max-replica", "2", "--concurrency-target", "8"),
        *("--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    wait_until(lambda: counts(server, deployment_id) == (2, 2), 20, "2 ready replicas")
    path = f"/model/streams/deployment/{deployment_id}/predict"
    connections = []
    for _ in range(2):  # the gateway sends each to the least busy replica
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        connection.request(
            "POST", path, body=json.dumps({"chunks": 10, "delay": 0.5}), headers=AUTH
        )
        connections.append(connection)
    try:
        responses = [connection.getresponse() for connection in connections]
        firsts = [response.readline() for response in responses]
        assert len(set(firsts)) == 2, firsts  # one stream on each replica
        set_autoscaling(server, deployment_id, "streams", "--min-replica", "1")
        wait_until(lambda: server.deployment(deployment_id).active_replica_count == 1, 10, "1")
        assert len(replica_processes(server)) == 2  # the drained one still streams
        bodies = [first + rest.read() for first, rest in zip(firsts, responses, strict=True)]
    finally:
        for connection in connections:
            connection.close()
    for first, body in zip(firsts, bodies, strict=True):
        assert body.decode().splitlines() == [first.decode().strip()] + [str(i) for i in range(10)]
    wait_until(lambda: len(replica_processes(server)) == 1, 10, "the drained replica to stop")

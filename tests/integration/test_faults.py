"""Production under faults, with real processes: a candidate that crashes under
traffic, a replica that stops answering (`kill -STOP`), a promotion whose candidate
is still loading, and a home whose disk is full during a rolling promotion.

Each test starts its own server (the `server` fixture) and stops it, with every
replica, even when it fails.
"""

from __future__ import annotations

import contextlib
import http.client
import itertools
import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psutil
import pytest

from tests.conftest import MakeTruss
from tests.integration.conftest import (
    AUTH,
    Server,
    alive,
    free_port,
    start_server,
    stop_server,
    wait_until,
)
from tests.integration.test_autoscaling import (
    SLEEPY,
    SLEEPY_CONFIG,
    WAKES_BY_MARKER,
    SteadyLoad,
    publish,
    replica_processes,
)
from tests.integration.test_rollout import (
    MODEL,
    PREDICT,
    Production,
    Stream,
    Watch,
    call,
    production,
)

CRASHING = """\
import os


class Model:
    def __init__(self, **kwargs):
        self.calls = 0

    def predict(self, model_input):
        self.calls += 1
        if self.calls > {calls}:
            os._exit(1)  # a crash under traffic, after load() succeeded
        return {{"version": 2, "pid": os.getpid()}}
"""


def push_crashing(prod: Production, calls: int = 3) -> str:
    """Promote a v2 whose replicas crash on their request number `calls + 1`."""
    (prod.directory / "model" / "model.py").write_text(CRASHING.format(calls=calls))
    pushed = prod.server.json("push", prod.directory, "--promote")
    candidate: str = pushed["deployment"]["id"]
    return candidate


def longest_silence(stream: Stream) -> float:
    """The longest time, in seconds, with a request outstanding and no answer."""
    replies = sorted(stream.replies, key=lambda r: r.received)
    longest = 0.0
    for before, after in itertools.pairwise(replies):
        longest = max(longest, after.received - max(before.received, after.sent))
    return max([longest, *(r.received - r.sent for r in replies)])


def test_a_crash_looping_candidate_costs_production_nothing(server: Server, tmp_path: Path) -> None:
    """Production pinned at 2/2, surge 50 %, a candidate whose replicas crash after
    three predicts: production keeps answering (never silent for a second), the only
    failed requests are the ones in flight on a crashing replica, the promotion fails
    and the previous deployment is at full strength when it takes the traffic back."""
    prod = production(server, tmp_path / MODEL, {"max_surge_percent": 50}, replicas=2)
    with Watch(server, prod.model_id) as watch, Stream(server) as stream:
        stream.wait_more()
        candidate = push_crashing(prod)
        ended = watch.wait_ended(60)
        v1 = prod.deployment(prod.v1)
        stream.wait_more(200)
    assert ended.status == "FAILED"
    assert (v1["status"], v1["active_replica_count"]) == ("ACTIVE", 2)
    assert prod.current_deployment() == prod.v1
    log = server.brace("logs", candidate, "-m", MODEL).stdout
    crashes = log.count("exited with code 1")
    failures = stream.failures()
    assert crashes >= 1
    # Each crash fails the request in flight on it (one client: at most one), and
    # nothing else fails.
    assert len(failures) <= crashes, (failures, crashes)
    assert all(f.status == 502 for f in failures), failures
    assert longest_silence(stream) < 1.0
    assert stream.versions(sent_after=ended.at) == {1}


LIVENESS = {"BRACE_LIVENESS_TIMEOUT": "1.5"}
PRODUCTION = PREDICT


@contextlib.contextmanager
def stopped(pid: int) -> Iterator[None]:
    """`kill -STOP` the process; CONT it on the way out if it is still there (so the
    server's stop can end it)."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGCONT)


def predict_pid(server: Server, path: str = PRODUCTION, timeout: float = 3) -> int | None:
    """The pid of the replica that answered one predict within `timeout` s, else None."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=timeout)
    try:
        connection.request("POST", path, body=b"{}", headers=AUTH)
        response = connection.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()
    pid: int | None = json.loads(body)["pid"] if response.status == 200 else None
    return pid


@pytest.mark.parametrize("server_env", [LIVENESS])
def test_a_replica_that_stops_answering_is_replaced(server: Server, tmp_path: Path) -> None:
    """`kill -STOP` of the only replica: within the liveness timeout it is out of the
    routing table, killed and replaced, and requests are answered again."""
    prod = production(server, tmp_path / MODEL, {"max_surge_percent": 50}, replicas=1)
    [pid] = prod.v1_processes()
    assert predict_pid(server) == pid
    with stopped(pid):
        wait_until(lambda: not alive(pid), 15, "the stopped replica to be killed")
        answered = wait_until(lambda: predict_pid(server), 15, "an answer from a new replica")
    assert answered != pid
    log = server.brace("logs", prod.v1, "-m", MODEL).stdout
    assert "did not answer its liveness probes for 1.5 s: stopping it" in log
    shown = prod.deployment(prod.v1)
    assert (shown["status"], shown["active_replica_count"]) == ("ACTIVE", 1)


@pytest.mark.parametrize("server_env", [LIVENESS])
def test_a_stopped_candidate_replica_does_not_let_the_rollout_succeed(
    server: Server, tmp_path: Path
) -> None:
    """The candidate's replica is stopped once it has the traffic: the rollout does not
    end on it; it ends on a replica that answers."""
    config = {"max_surge_percent": 50, "stabilization_time_seconds": 4}
    prod = production(server, tmp_path / MODEL, config, replicas=1)
    with Watch(server, prod.model_id) as watch:
        candidate = prod.push_v2()
        watch.wait(lambda s: s.percent == 100, 30, "all traffic on the candidate")
        [pid] = prod.other_processes()
        with stopped(pid):
            ended = watch.wait_ended(40)
            assert not alive(pid), "the rollout ended with the stopped replica in place"
    assert ended.status == "SUCCEEDED"
    assert wait_until(lambda: predict_pid(server), 10, "an answer") not in (None, pid)
    log = server.brace("logs", candidate, "-m", MODEL).stdout
    assert "did not answer its liveness probes" in log


@contextlib.contextmanager
def small_disk(where: Path, size: str = "24m") -> Iterator[Path]:
    """A tmpfs of `size` mounted on `where` (owner-only), unmounted on the way out;
    the test is skipped where mounting is impossible (not root, no tmpfs)."""
    where.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def fill(directory: Path) -> Path:
    """Write a file in `directory` until the disk is full; the file."""
    filler = directory / "filler"
    with filler.open("wb", buffering=0) as file:
        for chunk in (1 << 20, 1 << 12, 1):
            with contextlib.suppress(OSError):
                while True:
                    file.write(b"\0" * chunk)
    return filler


def test_a_full_disk_during_a_rolling_promotion_stops_nothing(tmp_path: Path) -> None:
    """The home's disk fills while a rolling promotion runs: the server keeps serving
    (no request fails), says so once in its log and in `brace status`, answers a PATCH
    with an error that names no path, and finishes the rollout once there is room."""
    with small_disk(tmp_path / "home") as home:
        port = free_port()
        server = Server(home, port, start_server(home, port))
        try:
            config = {"max_surge_percent": 50, "stabilization_time_seconds": 2}
            prod = production(server, tmp_path / MODEL, config, replicas=2)
            with Watch(server, prod.model_id) as watch, Stream(server) as stream:
                stream.wait_more()
                prod.push_v2()
                watch.wait(lambda s: s.percent > 0, 30, "the rollout to move traffic")
                filler = fill(home)
                time.sleep(3)  # ticks that cannot write
                assert server.process.poll() is None, "the server stopped"
                patched = call(
                    server,
                    "PATCH",
                    prod.environment_path,
                    {"autoscaling_settings": {"max_replica": 3}},
                )
                status = server.json("status")
                stream.wait_more(50)
                filler.unlink()
                ended = watch.wait_ended(60)
                stream.wait_more(50)
            assert ended.status == "SUCCEEDED"
            assert stream.failures() == []
            assert patched.status == 500, patched.body
            assert str(home) not in patched.body.decode()
            assert "disk is full" in patched.json()["error"]
            [problem] = status["problems"]
            assert "cannot write its state" in problem and str(home) not in problem
            assert server.json("status")["problems"] == []
        finally:
            stop_server(server.process, server.replica_pids())
    log = (tmp_path / f"server-{port}.log").read_text()
    assert log.count("cannot write the server's state") == 1, log


LOADS_FOR_MINUTES = "__import__('time').sleep(300)"


@pytest.mark.parametrize(("action", "status"), [("cancel", "CANCELED"), ("pause", "PAUSED")])
def test_an_action_on_a_promotion_whose_candidate_still_loads_acts_now(
    server: Server, tmp_path: Path, action: str, status: str
) -> None:
    """The candidate's load() takes 5 minutes: a cancel or a pause does not wait for
    it (nor for the 600 s step deadline); production answers throughout."""
    prod = production(server, tmp_path / MODEL, {"max_surge_percent": 50}, replicas=1)
    with Watch(server, prod.model_id) as watch, Stream(server) as stream:
        prod.push_v2(load=LOADS_FOR_MINUTES)
        watch.wait_status("RELEASING", 20)
        wait_until(prod.other_processes, 20, "the candidate's replica to load")
        asked = time.monotonic()
        prod.act(action)
        reached = watch.wait(lambda s: s.status == status, 15, status)
        stream.wait_more(50)
    assert reached.at - asked < 10.0, reached.at - asked  # TERM, grace, KILL at most
    assert stream.failures() == []
    assert stream.versions() == {1}
    if action == "cancel":
        assert prod.other_processes() == []  # the loading replica is gone
        assert prod.current_deployment() == prod.v1


def test_scale_down_removes_the_replica_still_loading_not_the_ready_one(
    server: Server, make_truss: MakeTruss, tmp_path: Path
) -> None:
    """min 1 / max 2; a burst starts a second replica whose load() takes 6 s, and
    demand falls before it is ready: the loading one goes, the ready one keeps serving
    (never 0 ready replicas)."""
    marker = tmp_path / "load-seconds"
    truss = make_truss("slow", model=WAKES_BY_MARKER.format(marker=str(marker)))
    deployment_id = publish(
        server,
        truss,
        *("--min-replica", "1", "--max-replica", "2", "--concurrency-target", "1"),
        *("--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    [ready] = replica_processes(server)
    marker.write_text("6")
    path = f"/model/slow/deployment/{deployment_id}/predict"
    with SteadyLoad(server, path, {}, clients=3) as load:
        wait_until(lambda: len(replica_processes(server)) == 2, 10, "a second replica")
    [loading] = set(replica_processes(server)) - {ready}
    ready_counts = []

    def loading_gone() -> bool:
        ready_counts.append(server.deployment(deployment_id).active_replica_count)
        return not alive(loading)

    wait_until(loading_gone, 15, "the loading replica to be removed")
    assert alive(ready)
    assert min(ready_counts) == 1, ready_counts
    assert predict_pid(server, path) == ready
    assert not load.failures(), load.failures()[:3]


def fork_server_pid(server: Server) -> int:
    for child in psutil.Process(server.process.pid).children():
        with contextlib.suppress(psutil.NoSuchProcess):
            if "brace.runtime.forkserver" in " ".join(child.cmdline()):
                return child.pid
    raise AssertionError("no fork server")


def test_a_stopped_fork_server_freezes_nothing_and_kills_no_replica(
    server: Server, make_truss: MakeTruss
) -> None:
    """`kill -STOP` of the fork server, then a wake of another deployment: a healthy
    model keeps answering without a pause (nothing waits on the fork server on the
    event loop: the longest gap between two answers stays well under the 250 ms the
    launch once waited for its reply), its replica is not killed, and the woken
    deployment starts as a new interpreter and answers."""
    healthy = publish(server, make_truss("sleepy", config=SLEEPY_CONFIG, model=SLEEPY))
    healthy_path = f"/model/sleepy/deployment/{healthy}/predict"
    wait_until(lambda: predict_pid(server, healthy_path), 10, "the healthy model")
    [replica] = replica_processes(server)
    asleep = publish(
        server,
        make_truss("asleep", config=SLEEPY_CONFIG.replace("sleepy", "asleep"), model=SLEEPY),
        *("--min-replica", "0", "--autoscaling-window", "1", "--scale-down-delay", "1"),
    )
    server.wait_status(asleep, "SCALED_TO_ZERO", timeout=20)
    # Its replica gone too (a wake at the instant of the scale to zero is another case).
    wait_until(lambda: replica_processes(server) == [replica], 10, "the replica gone")
    fork_server = fork_server_pid(server)
    with stopped(fork_server), ThreadPoolExecutor(1) as executor:
        wake = f"/model/asleep/deployment/{asleep}/predict"
        woken = executor.submit(predict_pid, server, wake, 30)
        longest, answers, gap = 0.0, [], 0.0
        last = time.monotonic()
        while not woken.done():
            began = time.monotonic()
            answers.append(predict_pid(server, healthy_path))
            longest = max(longest, time.monotonic() - began)
            gap, last = max(gap, time.monotonic() - last), time.monotonic()
        assert woken.result() is not None
        for _ in range(20):
            answers.append(predict_pid(server, healthy_path))
    assert set(answers) == {replica}  # every request answered, by the same replica
    assert longest < 1.0, longest
    print(f"longest gap between answers: {gap * 1000:.0f} ms")
    assert gap < 0.2, gap  # measured: see docs/serving.md
    assert alive(replica)

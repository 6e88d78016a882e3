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
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import AUTH, Server, alive, wait_until
from tests.integration.test_rollout import (
    MODEL,
    PREDICT,
    Production,
    Stream,
    Watch,
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


def predict_pid(server: Server, path: str = PRODUCTION) -> int | None:
    """The pid of the replica that answered one predict within 3 s, else None."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3)
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

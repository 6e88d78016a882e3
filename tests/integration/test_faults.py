"""Production under faults, with real processes: a candidate that crashes under
traffic, a replica that stops answering (`kill -STOP`), a promotion whose candidate
is still loading, and a home whose disk is full during a rolling promotion.

Each test starts its own server (the `server` fixture) and stops it, with every
replica, even when it fails.
"""

from __future__ import annotations

from pathlib import Path

from tests.integration.conftest import Server
from tests.integration.test_rollout import (
    MODEL,
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
    for before, after in zip(replies, replies[1:], strict=False):
        longest = max(longest, after.received - max(before.received, after.sent))
    return max([longest, *(r.received - r.sent for r in replies)])


def test_a_crash_looping_candidate_costs_production_nothing(
    server: Server, tmp_path: Path
) -> None:
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

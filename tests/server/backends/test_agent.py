"""The per-node agent, without Ray: it keeps a model by hash and starts real replicas
bound to its node's address on a port the kernel picks, which the replica reports."""

from __future__ import annotations

import http.client
import sys
import time
from pathlib import Path

from brace.runtime.guard import HEADER
from brace.server.backends.agent import Event, NodeAgent, pack_model
from brace.server.backends.supervisor import replica_environment

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "hello"


def wait_for(
    agent: NodeAgent, kind: str, cursor: int, seen: list[Event], replica: str = "r1"
) -> tuple[int, Event]:
    """The first event of `kind` for `replica`, among those seen so far or to come."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for event in seen:
            if event[:2] == (replica, kind):
                return cursor, event
        cursor, events = agent.events(cursor, wait=0.5)
        seen.extend(events)
    raise AssertionError(f"no {kind} event: {seen}")


def status(address: str, headers: dict[str, str]) -> int:
    host, port = address.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        connection.request("GET", "/v1/models/model", headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_an_agent_starts_a_replica_that_reports_its_port_and_guards_it(tmp_path: Path) -> None:
    agent = NodeAgent(str(tmp_path / "cache"), "127.0.0.1")
    assert not agent.has_model("abc123")
    agent.put_model("abc123", pack_model(EXAMPLE))
    agent.put_model("abc123", b"not even read: the hash is cached")
    assert agent.has_model("abc123")
    env = {**replica_environment(tmp_path / "home", {}), "BRACE_REPLICA_SECRET": "s3cret"}
    seen: list[Event] = []
    agent.spawn("r1", "abc123", sys.executable, env, "r1@127.0.0.1")
    forked = agent._children["r1"].popen is None  # by the node's fork server
    other = tmp_path / "python"  # another Python (the same one behind a script): not forked
    other.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
    other.chmod(0o755)
    agent.spawn("r2", "abc123", str(other), env, "r2")
    assert agent._children["r2"].popen is not None
    agent.stop("r2", grace=1)
    try:
        assert forked
        cursor, (_, _, address) = wait_for(agent, "address", 0, seen)
        assert address.startswith("127.0.0.1:") and not address.endswith(":0")
        cursor, _ = wait_for(agent, "ready", cursor, seen)
        assert status(address, {HEADER: "s3cret"}) == 200
        assert status(address, {}) == 403  # not from its server
    finally:
        code = agent.stop("r1", grace=5)
    assert code == 0
    _, (_, _, exited) = wait_for(agent, "exit", cursor, seen)
    assert exited == "0"
    lines = [value for name, kind, value in seen if (name, kind) == ("r1", "log")]
    assert any("[r1@127.0.0.1] brace.runtime: Serving" in line for line in lines), lines


def test_events_already_read_are_forgotten(tmp_path: Path) -> None:
    agent = NodeAgent(str(tmp_path / "cache"), "127.0.0.1")
    for n in range(3):
        agent._emit("r", "log", str(n))
    cursor, events = agent.events(0, wait=0)
    assert (cursor, [e[2] for e in events]) == (3, ["0", "1", "2"])
    agent._emit("r", "log", "3")
    assert agent.events(cursor, wait=0) == (4, [("r", "log", "3")])
    assert agent.events(4, wait=0.01) == (4, [])


def test_a_models_requirements_are_built_on_the_node_once(tmp_path: Path) -> None:
    """The node builds the environment in its own cache, keyed by the requirements."""
    agent = NodeAgent(str(tmp_path / "cache"), "127.0.0.1")
    assert agent.python_for([]) == sys.executable  # brace's own: forked replicas
    python = agent.python_for(["pyyaml>=5"])  # already in brace's env: no download
    assert python.startswith(str(tmp_path / "cache")) and python.endswith("/bin/python")
    assert agent.python_for(["pyyaml>=5"]) == python  # cached by its hash

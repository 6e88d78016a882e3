"""The scale-out scenario, run inside a private network and PID namespace by
test_ray_cluster.py: `python -m tests.integration.ray_scenario ROOT SHORT` (SHORT: a
directory with a short path for Ray's nodes).

Two Ray nodes on this machine (`raycluster`), a brace server with `--backend ray`, and
a model with two replicas, one per node. Then: a rolling promotion with surge 50 %
under a steady stream (every 100 consecutive requests within 2 of the reported split,
none failed); a scale up to 3 and back down to 1 across nodes; a scale to zero and a
wake with held requests; and `kill -9` of every process of the second node under load:
no request fails but the ones in flight there, and the replica is replaced on the head
within 5 s. Prints one JSON line of what it measured; exits 1 on the first broken
expectation (the traceback says which). Everything it started ends with the namespace.
"""

from __future__ import annotations

import json
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from tests.integration.conftest import Server, free_port, start_server, wait_until
from tests.integration.raycluster import HEAD_PORT, node_processes, start_cluster
from tests.integration.test_rollout import PREDICT, Stream, Watch, call, windows, write_model

RESOURCES = "resources:\n  cpu: 100m\n  memory: 64Mi\n"


def replica_processes() -> list[psutil.Process]:
    """Every `python -m brace.runtime` in the namespace."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        if "brace.runtime" in (process.info["cmdline"] or ()):
            found.append(process)
    return found


def nodes(server: Server) -> list[dict[str, Any]]:
    status = server.json("status")
    assert status["backend"] == "ray", status
    found: list[dict[str, Any]] = status["nodes"]
    return found


def replicas_by_node(server: Server) -> dict[str, int]:
    """Replicas on each Ray node (by node id), alive nodes only."""
    return {n["id"]: len(n["replicas"]) for n in nodes(server) if n["id"] and n["alive"]}


def scale(server: Server, model_id: str, deployment_id: str, low: int, high: int) -> None:
    settings = {
        "min_replica": low,
        "max_replica": high,
        "scale_down_delay": 0,
        "autoscaling_window": 1,
    }
    answer = call(
        server,
        "PATCH",
        f"/v1/models/{model_id}/deployments/{deployment_id}/autoscaling_settings",
        settings,
    )
    assert answer.status == 200, answer.body


def wait_for(
    check: Callable[[], bool], seconds: float, what: str, server: Server | None = None
) -> float:
    started = time.monotonic()
    try:
        wait_until(check, seconds, what)
    except AssertionError:
        if server is not None:
            print(json.dumps(nodes(server), indent=1), file=sys.stderr)
        raise
    return time.monotonic() - started


def scenario(root: Path) -> dict[str, Any]:
    measured: dict[str, Any] = {}
    t0 = time.monotonic()
    _, node2 = start_cluster(Path(sys.argv[2]))
    measured["cluster_s"] = round(time.monotonic() - t0, 1)
    home = root / "home"
    home.mkdir()
    port = free_port()
    options = ("--backend", "ray", "--address", f"127.0.0.1:{HEAD_PORT}")
    options += ("--placement-timeout", "1")
    env = {"BRACE_NODE_CACHE": str(root / "node-cache"), "BRACE_AUTOSTART": "0"}
    server = Server(home, port, start_server(home, port, *options, env=env))

    # two models no node may run: too large for any node, and one with secrets (the
    # cluster has no token authentication); both are refused with the reason
    refused = {}
    for name, extra in (("huge", "resources:\n  cpu: '64'\n"), ("secret", "secrets:\n  k: null\n")):
        write_model(root / name, 1)
        config = root / name / "config.yaml"
        config.write_text(config.read_text().replace("rolling", name) + extra)
        refused[name] = server.json("push", root / name, "--publish")["deployment"]["id"]

    model = root / "rolling"
    write_model(model, 1)
    (model / "config.yaml").write_text((model / "config.yaml").read_text() + RESOURCES)
    server.json("push", model, "--wait")  # the development deployment stays here
    [here] = [n for n in nodes(server) if n["address"] == "local"]
    assert len(here["replicas"]) == 1, nodes(server)
    pushed = server.json("push", model, "--promote", "--wait")
    model_id = pushed["model"]["id"]
    settings = {
        "autoscaling_settings": {"min_replica": 2, "max_replica": 2},
        "promotion_settings": {
            "rolling_deploy": True,
            "rolling_deploy_config": {
                "stabilization_time_seconds": 1,
                "max_surge_percent": 50,
                "max_unavailable_percent": 0,
            },
            "promotion_cleanup_strategy": "SCALE_TO_ZERO",
        },
    }
    answer = call(server, "PATCH", f"/v1/models/{model_id}/environments/production", settings)
    assert answer.status == 200, answer.body
    wait_for(lambda: sorted(replicas_by_node(server).values()) == [1, 1], 30, "one per node")
    measured["nodes"] = len(replicas_by_node(server))

    # a rolling promotion with surge 50 % under a steady stream
    with Watch(server, model_id) as watch, Stream(server) as stream:
        stream.wait_more(100)
        write_model(model, 2)
        (model / "config.yaml").write_text((model / "config.yaml").read_text() + RESOURCES)
        v2 = server.json("push", model, "--promote")["deployment"]["id"]
        watch.wait_status("SUCCEEDED", 60)
        stream.wait_more(100)
    found = windows(watch, stream)
    assert found, "no window of 100 requests at one reported split"
    for percent, v2_answers in found:
        assert abs(v2_answers - percent) <= 2, found
    assert stream.failures() == [], stream.failures()[:5]
    measured["rollout"] = {"requests": len(stream.replies), "windows": found}

    # scale up across nodes, and back down
    scale(server, model_id, v2, 3, 3)
    wait_for(lambda: sum(replicas_by_node(server).values()) == 3, 30, "3 replicas")
    assert min(replicas_by_node(server).values()) >= 1, replicas_by_node(server)
    scale(server, model_id, v2, 1, 1)
    wait_for(lambda: sum(replicas_by_node(server).values()) == 1, 30, "1 replica")

    # scale to zero, then wake with held requests
    scale(server, model_id, v2, 0, 1)
    wait_for(lambda: sum(replicas_by_node(server).values()) == 0, 30, "scaled to zero")
    answers: list[int] = []

    def predict() -> None:
        answers.append(server.post(PREDICT, {}).status)

    held = [threading.Thread(target=predict) for _ in range(3)]
    woke = time.monotonic()
    for thread in held:
        thread.start()
    for thread in held:
        thread.join(60)
    measured["wake_s"] = round(time.monotonic() - woke, 2)
    assert answers == [200, 200, 200], answers

    # kill -9 the second node's brace agent alone: its replica ends with it and is
    # replaced; the node (still alive for Ray) gets a new agent, and replicas again
    scale(server, model_id, v2, 2, 2)
    wait_for(lambda: sorted(replicas_by_node(server).values()) == [1, 1], 30, "one per node")
    head_id = next(n["id"] for n in nodes(server) if n["id"] and "node2" not in n["resources"])
    [agent] = [p for p in node_processes(node2) if "NodeAgent" in " ".join(p.cmdline())]
    agent.send_signal(signal.SIGKILL)
    wait_for(lambda: replicas_by_node(server).get(head_id) == 2, 10, "replaced on the head")
    measured["agent_back_s"] = wait_for(
        lambda: [n["agent"] for n in nodes(server) if n["id"]] == ["ready", "ready"],
        30,
        "a new agent on the second node",
    )
    scale(server, model_id, v2, 3, 3)
    wait_for(
        lambda: sorted(replicas_by_node(server).values()) == [1, 2], 30, "one there again", server
    )
    # kill -9 every process of the second node under load (3 replicas, one there)
    with Stream(server) as stream:
        stream.wait_more(100)
        killed_at = time.monotonic()
        victims = node_processes(node2)
        for process in victims:
            process.send_signal(signal.SIGKILL)

        def replaced() -> bool:
            placed = replicas_by_node(server)
            ready = call(server, "GET", f"/v1/models/{model_id}/deployments/{v2}")
            return placed.get(head_id) == 3 and ready.json()["active_replica_count"] == 3

        wait_until(replaced, 5, "the lost replica replaced on the head")
        measured["replaced_s"] = round(time.monotonic() - killed_at, 2)
        stream.wait_more(100)
    failed = stream.failures()
    measured["kill"] = {"processes": len(victims), "requests": len(stream.replies)}
    measured["kill"]["failed"] = len(failed)
    assert all(killed_at - 1 <= f.sent for f in failed), failed
    assert len(failed) <= 1, failed  # one client: at most its request in flight there

    for name, reason in (("huge", "no node has CPU 64"), ("secret", "has secrets")):
        deployment = server.deployment(refused[name])
        assert deployment.status.value == "DEPLOY_FAILED", (name, deployment)
        log = server.brace("logs", refused[name], "-m", name).stdout
        assert "PlacementError" in log and reason in log, log

    # the server ends cleanly, and so do its agents and replicas
    server.process.send_signal(signal.SIGTERM)
    code = server.process.wait(30)
    assert code == 0, (code, (root / f"server-{port}.log").read_text()[-3000:])
    wait_until(lambda: not replica_processes(), 10, "no replica left")
    measured["total_s"] = round(time.monotonic() - t0, 1)
    return measured


def main() -> int:
    print(json.dumps(scenario(Path(sys.argv[1]))), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A burst of requests at a deployment whose replicas each serve one at a time: how
long until the last answer, against the ideal.

A `brace server` (private home, free port) runs a model whose `load()` takes LOAD
seconds and whose predict takes PREDICT seconds with `predict_concurrency` 1, published
with min_replica 0, max_replica 3 and concurrency_target 2. Two bursts of CLIENTS
requests sent at once:

  cold   the deployment scaled to zero: the burst wakes it, and the autoscaler starts
         three replicas; ideal = LOAD + ceil(CLIENTS / 3) x PREDICT
  warm   three ready replicas (min_replica 3); ideal = ceil(CLIENTS / 3) x PREDICT

For each it prints the last answer's time, the ideal, their ratio and how many
requests each replica served (the model answers with its pid). The gateway sends a
replica at most its predict_concurrency and a little more, and keeps the rest queued
for the first replica with a free slot, so the three share the burst; a gateway that
sent every held request to the first ready replica took LOAD + CLIENTS x PREDICT.

Usage: python bench/burst.py [--clients N] [--runs N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cold_start import brace_cli, brace_server
from common import AUTH, KEY, wait_until

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from brace.store import Store  # noqa: E402

LOAD = 2.0
PREDICT = 0.3
REPLICAS = 3
CONFIG = "model_name: burst\nruntime:\n  predict_concurrency: 1\n"
MODEL = f"""\
import os
import time


class Model:
    def load(self):
        time.sleep({LOAD})

    def predict(self, model_input):
        time.sleep({PREDICT})
        return {{"pid": os.getpid()}}
"""


def post(port: int, path: str) -> tuple[int, int | None]:
    """(status, the answering replica's pid) of one predict."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        connection.request("POST", path, body=b"{}", headers=AUTH)
        response = connection.getresponse()
        body = response.read()
        pid = json.loads(body)["pid"] if response.status == 200 else None
        return response.status, pid
    finally:
        connection.close()


def burst(port: int, path: str, clients: int) -> tuple[float, Counter[int | None]]:
    """`clients` predicts sent together: when the last answer came (seconds after the
    start) and how many each replica served."""
    start = threading.Barrier(clients + 1)

    def one(_: int) -> tuple[int, int | None]:
        start.wait()
        return post(port, path)

    with ThreadPoolExecutor(clients) as pool:
        futures = [pool.submit(one, index) for index in range(clients)]
        start.wait()
        began = time.monotonic()
        answers = [future.result() for future in futures]
        last = time.monotonic() - began
    failed = [status for status, _ in answers if status != 200]
    if failed:
        raise SystemExit(f"{len(failed)} of {clients} requests failed: {failed[:5]}")
    return last, Counter(pid for _, pid in answers)


def replicas_of(home: Path, deployment_id: str) -> int:
    with Store(home) as store, store.read() as tx:
        return sum(1 for r in tx.replicas() if r.deployment_id == deployment_id)


def status_of(home: Path, deployment_id: str) -> str:
    with Store(home) as store, store.read() as tx:
        deployment = tx.deployment(deployment_id)
    assert deployment is not None
    return deployment.status.value


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--clients", type=int, default=30)
    parser.add_argument("--runs", type=int, default=1)
    options = parser.parse_args()
    clients = options.clients
    rounds = math.ceil(clients / REPLICAS)
    ideal = {"cold": LOAD + rounds * PREDICT, "warm": rounds * PREDICT}
    results: dict[str, list[float]] = {"cold": [], "warm": []}
    with tempfile.TemporaryDirectory(prefix="brace-burst-") as tmp:
        work = Path(tmp)
        truss = work / "burst"
        truss.mkdir()
        (truss / "config.yaml").write_text(CONFIG)
        (truss / "model").mkdir()
        (truss / "model" / "model.py").write_text(MODEL)
        home = work / "home"
        env = {"PATH": "/usr/bin:/bin", "BRACE_API_KEY": KEY, "PYTHONUNBUFFERED": "1"}
        with brace_server(home, env) as port:
            env = {**env, "BRACE_HOME": str(home), "BRACE_PORT": str(port)}
            pushed = brace_cli(env, "push", str(truss), "--publish", "--wait")
            deployment, model = pushed["deployment"], pushed["model"]
            assert isinstance(deployment, dict) and isinstance(model, dict)
            deployment_id, model_id = str(deployment["id"]), str(model["id"])
            path = f"/model/{model_id}/deployment/{deployment_id}/predict"
            settings = ["deployments", "autoscaling", deployment_id, "-m", model_id]
            settings += ["--max-replica", str(REPLICAS), "--concurrency-target", "2"]
            settings += ["--autoscaling-window", "1", "--scale-down-delay", "1"]
            for run in range(options.runs):
                brace_cli(env, *settings, "--min-replica", "0")
                wait_until(
                    lambda: (
                        status_of(home, deployment_id) == "SCALED_TO_ZERO"
                        and not replicas_of(home, deployment_id)
                    ),
                    "the deployment to scale to zero",
                )
                last, served = burst(port, path, clients)
                results["cold"].append(last)
                print(f"cold {run + 1}: last answer {last:.2f} s, served {sorted(served.values())}")
                brace_cli(env, *settings, "--min-replica", str(REPLICAS))
                wait_until(
                    lambda: (
                        status_of(home, deployment_id) == "ACTIVE"
                        and replicas_of(home, deployment_id) == REPLICAS
                    ),
                    f"{REPLICAS} ready replicas",
                )
                time.sleep(0.5)  # every replica in the routing table
                last, served = burst(port, path, clients)
                results["warm"].append(last)
                print(f"warm {run + 1}: last answer {last:.2f} s, served {sorted(served.values())}")
    print()
    print(f"{clients} requests at once, predict {PREDICT} s, load {LOAD} s, {REPLICAS} replicas")
    for name, times in results.items():
        median = statistics.median(times)
        print(
            f"{name}: last answer {median:.2f} s (median of {len(times)}), ideal "
            f"{ideal[name]:.2f} s, ratio {median / ideal[name]:.2f}"
        )


if __name__ == "__main__":
    main()

"""What a `brace server` costs as the number of deployments grows, all asleep.

For each N (default 10, 100, 1000), in a private home on a free port:
  examples/hello is pushed once (published, min_replica 0, window 1 s, scale-down
  delay 1 s) and copied N-1 times straight into the store (one model per deployment,
  one transaction: the server does not build them, they share the first one's
  snapshot), then, once every deployment is SCALED_TO_ZERO:
  idle CPU                    the server process's CPU time over --idle seconds with
                              no request, in % of one core (psutil)
  request -> act              a predict to a sleeping deployment: from the request
                              until the controller has started a replica (its row in
                              the store, polled every 2 ms); and until the response
                              ("wake")
  autoscaling write -> act    then, that deployment awake with min_replica 1:
                              `brace deployments autoscaling ID --min-replica 2`, from
                              the command's exit (its write is committed) until the
                              controller has started the second replica (its row).
                              (A min_replica write alone does not wake a sleeping
                              deployment: only a request does, sizing.py.)
  GET /metrics, GET /v1/models
                              wall time per request (the median of --requests) and the
                              server's CPU time per request (psutil, over all of them,
                              less its idle CPU over the same time)
  brace deployments list      the command's wall time (it reads the store itself: no
                              server time), and less that of `brace --help` (the
                              interpreter's start and the CLI's imports): its own work
  RSS                         the server process's resident memory, and its growth per
                              sleeping deployment against the smallest N
and prints one table, a column per N.
Usage: python bench/scale.py [--sizes 10,100,1000] [--idle SECONDS] [--requests N]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from cold_start import SleepingDeployment, brace_cli, brace_server
from common import AUTH, KEY, wait_until

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from brace.server.paths import ServerPaths  # noqa: E402
from brace.server.record import read_record  # noqa: E402
from brace.store import Store  # noqa: E402
from brace.store.db import new_id  # noqa: E402
from brace.store.statuses import DeploymentStatus  # noqa: E402

POLL_SECONDS = 0.002


def add_sleeping_copies(home: Path, template_id: str, count: int) -> None:
    """`count` more models, each with one published deployment like `template_id`,
    scaled to zero; one transaction."""
    with Store(home) as store, store.transaction() as tx:
        template = tx.deployment(template_id)
        assert template is not None
        for number in range(count):
            model = tx.insert_model(f"copy-{number}")
            tx.insert_deployment(
                replace(
                    template,
                    id=new_id(),
                    model_id=model.id,
                    status=DeploymentStatus.SCALED_TO_ZERO,
                    active_replica_count=0,
                    created_at=tx.now(),
                )
            )


def all_asleep(home: Path) -> bool:
    with Store(home) as store, store.read() as tx:
        deployments = tx.deployments()
        replicas = tx.replicas()
    return not replicas and all(d.status == DeploymentStatus.SCALED_TO_ZERO for d in deployments)


def replica_started(home: Path, deployment_id: str) -> bool:
    return replica_count(home, deployment_id) > 0


def time_until(condition: Callable[[], bool], timeout: float = 60.0) -> float:
    """Seconds until `condition` holds, polled every 2 ms from now."""
    start = time.perf_counter()
    while not condition():
        if time.perf_counter() - start > timeout:
            raise SystemExit("timed out waiting for the controller")
        time.sleep(POLL_SECONDS)
    return time.perf_counter() - start


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def idle_cpu_percent(process: psutil.Process, seconds: float) -> float:
    start, wall = cpu_seconds(process), time.perf_counter()
    time.sleep(seconds)
    return 100 * (cpu_seconds(process) - start) / (time.perf_counter() - wall)


def get(port: int, path: str) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers=AUTH)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise SystemExit(f"GET {path} answered {response.status}")
    finally:
        connection.close()


def time_get(
    process: psutil.Process, port: int, path: str, count: int, idle_percent: float
) -> tuple[float, float]:
    """(median wall seconds, server CPU seconds per request) of `count` GETs; the
    server's idle CPU (`idle_percent` of a core) over the same time is taken off."""
    walls = []
    cpu, wall = cpu_seconds(process), time.perf_counter()
    for _ in range(count):
        start = time.perf_counter()
        get(port, path)
        walls.append(time.perf_counter() - start)
    idle = idle_percent / 100 * (time.perf_counter() - wall)
    return statistics.median(walls), max(0.0, cpu_seconds(process) - cpu - idle) / count


def replica_count(home: Path, deployment_id: str) -> int:
    with Store(home) as store, store.read() as tx:
        return sum(r.deployment_id == deployment_id for r in tx.replicas())


def set_min_replica(sleeping: SleepingDeployment, model_id: str, count: int) -> None:
    brace_cli(
        sleeping.env, "deployments", "autoscaling", sleeping.id, "-m", model_id,
        "--min-replica", str(count), "--max-replica", "2",
    )  # fmt: skip


def time_autoscaling_write(sleeping: SleepingDeployment, model_id: str) -> float:
    """From `brace deployments autoscaling --min-replica 2` exiting until the
    controller started the second replica of the (awake, min_replica 1) deployment;
    back to one replica afterwards."""
    set_min_replica(sleeping, model_id, 2)
    took = time_until(lambda: replica_count(sleeping.home, sleeping.id) == 2)
    set_min_replica(sleeping, model_id, 1)
    wait_until(lambda: replica_count(sleeping.home, sleeping.id) == 1, "the scale-down")
    return took


def time_request_to_act(sleeping: SleepingDeployment) -> tuple[float, float]:
    """(request -> replica started, request -> response) for a sleeping deployment."""
    sleeping.wait_asleep()
    answered: list[float] = []
    start = time.perf_counter()
    thread = threading.Thread(target=lambda: answered.append(sleeping.time_request()))
    thread.start()
    acted = time_until(lambda: replica_started(sleeping.home, sleeping.id))
    thread.join()
    took = time.perf_counter() - start
    sleeping.wait_asleep()
    return acted, answered[0] if answered else took


def time_cli(env: dict[str, str], *args: str, output: tuple[str, ...] = ("-o", "json")) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "brace", *args, *output],
        check=True,
        stdout=subprocess.DEVNULL,
        env=env,
    )
    return time.perf_counter() - start


def measure(workdir: Path, size: int, options: argparse.Namespace) -> dict[str, float]:
    home = workdir / f"home-{size}"
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
        "PYTHONPYCACHEPREFIX": str(workdir / "pycache"),
        "BRACE_API_KEY": KEY,
    }
    with brace_server(home, env) as port:
        record = read_record(ServerPaths(home))
        assert record is not None
        server = psutil.Process(record.pid)
        sleeping = SleepingDeployment(home, port, ROOT / "examples" / "hello", env)
        model_id = sleeping.path.split("/")[2]
        started = time.perf_counter()
        add_sleeping_copies(home, sleeping.id, size - 1)
        setup = time.perf_counter() - started
        wait_until(lambda: all_asleep(home), "every deployment to sleep", timeout=120)
        time.sleep(1.0)  # let the last scale-down settle
        result: dict[str, float] = {"store setup s": setup}
        idle = result["idle CPU % of a core"] = idle_cpu_percent(server, options.idle)
        for name, path in (("GET /metrics", "/metrics"), ("GET /v1/models", "/v1/models")):
            wall, cpu = time_get(server, port, path, options.requests, idle)
            result[f"{name} ms"] = 1000 * wall
            result[f"{name} server CPU ms"] = 1000 * cpu
        lists = [time_cli(sleeping.env, "deployments", "list") for _ in range(3)]
        result["brace deployments list ms"] = 1000 * statistics.median(lists)
        helps = [time_cli(sleeping.env, "--help", output=()) for _ in range(3)]
        own = statistics.median(lists) - statistics.median(helps)
        result["  less `brace --help` ms"] = 1000 * own
        result["server RSS MB"] = server.memory_info().rss / 1e6
        acts = [time_request_to_act(sleeping) for _ in range(options.rounds)]
        result["request -> act ms"] = 1000 * statistics.median(a for a, _ in acts)
        result["request -> response (wake) ms"] = 1000 * statistics.median(w for _, w in acts)
        set_min_replica(sleeping, model_id, 1)
        sleeping.time_request()  # awake, and it stays so
        writes = [time_autoscaling_write(sleeping, model_id) for _ in range(options.rounds)]
        result["autoscaling write -> act ms"] = 1000 * statistics.median(writes)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sizes", default="10,100,1000")
    parser.add_argument("--idle", type=float, default=3.0, help="seconds of idle CPU sampling")
    parser.add_argument("--requests", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3, help="changes timed per N")
    options = parser.parse_args()
    sizes = [int(size) for size in options.sizes.split(",")]
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for size in sizes:
            print(f"N = {size} ...", file=sys.stderr, flush=True)
            results[size] = measure(Path(tmp), size, options)
    smallest = min(sizes)
    for size in sizes:
        grown = results[size]["server RSS MB"] - results[smallest]["server RSS MB"]
        per = 1000 * grown / (size - smallest) if size > smallest else float("nan")
        results[size]["RSS per sleeping deployment KB"] = per
    rows = list(results[sizes[0]])
    print(f"{'N deployments (all asleep)':36}" + "".join(f"{size:>10}" for size in sizes))
    for row in rows:
        cells = "".join(f"{results[size][row]:10.1f}" for size in sizes)
        print(f"{row:36}{cells}")
    print(
        f"(Python {sys.version.split()[0]}; {os.cpu_count()} CPUs; "
        f"load average {os.getloadavg()[0]:.1f}; {json.dumps(vars(options))})"
    )


if __name__ == "__main__":
    main()

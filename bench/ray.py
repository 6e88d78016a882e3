"""What the `ray` backend costs: a replica on a Ray node against one on this machine.

Runs inside a private network and PID namespace (it re-runs itself under `unshare
--net --pid --fork --mount-proc`, as root), with two Ray nodes on this machine (the
helper of tests/integration/test_ray_cluster.py) and one `brace server --backend ray`:
  local replica     the model's development deployment: a replica forked on this
                    machine, reached over a Unix socket (the `local` backend)
  remote replica    a published deployment of the same model: a replica started by
                    a Ray node's brace agent, reached over TCP with the server's
                    secret header (on one machine, "another node" is another Ray
                    node process; the network is loopback)
Each round sends predicts one after another on one keep-alive connection through the
gateway for --seconds to each (interleaved), and reports requests/s, p50 and the p50
the remote path adds. Then, interleaved per round: a wake from zero of a published
deployment whose replica starts on a Ray node (held at the gateway until it answers)
against a bare uvicorn start (`python -m uvicorn` with a 5-line app, spawn to first
200; cold_start.py's reference). Prints medians and the ratios, all from one run.
Usage: python bench/ray.py [--rounds N] [--seconds S]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cold_start import (
    BARE_APP,
    SleepingDeployment,
    _get_status,
    bare_uvicorn_command,
    brace_cli,
    time_server,
)
from common import AUTH, KEY, free_port, wait_until

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.raycluster import HEAD_PORT, UNSHARE, start_cluster  # noqa: E402

INSIDE = "BRACE_BENCH_INSIDE"


def sequential(port: int, path: str, seconds: float) -> tuple[float, float]:
    """(requests/s, p50 in seconds) of predicts one after another for `seconds`."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    body = json.dumps({"text": "hi"}).encode()
    took = []
    start = time.perf_counter()
    try:
        while time.perf_counter() - start < seconds:
            sent = time.perf_counter()
            connection.request("POST", path, body=body, headers=AUTH)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"{path} answered {response.status}")
            took.append(time.perf_counter() - sent)
    finally:
        connection.close()
    return len(took) / (time.perf_counter() - start), statistics.median(took)


def serve(workdir: Path, env: dict[str, str]) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    home = workdir / "home"
    home.mkdir()
    process = subprocess.Popen(
        [sys.executable, "-m", "brace", "server", "--port", str(port), "--backend", "ray",
         "--address", f"127.0.0.1:{HEAD_PORT}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        env={**env, "BRACE_HOME": str(home), "BRACE_NODE_CACHE": str(workdir / "cache")},
    )  # fmt: skip
    wait_until(lambda: _get_status(port, "/healthz") == 200, "brace server", 30)
    return process, port


def measure(workdir: Path, rounds: int, seconds: float) -> None:
    start_cluster(workdir / "ray")
    truss = workdir / "hello"
    shutil.copytree(ROOT / "examples" / "hello", truss)
    (workdir / "bare_app.py").write_text(BARE_APP)
    env = {**os.environ, "BRACE_API_KEY": KEY, "BRACE_AUTOSTART": "0"}
    server, port = serve(workdir, env)
    try:
        cli_env = {**env, "BRACE_HOME": str(workdir / "home"), "BRACE_PORT": str(port)}
        model = brace_cli(cli_env, "push", str(truss), "--wait")["model"]
        assert isinstance(model, dict)
        published = brace_cli(cli_env, "push", str(truss), "--publish", "--wait")["deployment"]
        assert isinstance(published, dict)
        local = f"/model/{model['id']}/development/predict"
        remote = f"/model/{model['id']}/deployment/{published['id']}/predict"
        sleeping = SleepingDeployment(workdir / "home", port, truss, env)
        path = str(workdir / "bare.sock")
        results: dict[str, list[float]] = {}
        for _ in range(rounds):
            for name, target in (("local", local), ("remote", remote)):
                rps, p50 = sequential(port, target, seconds)
                results.setdefault(f"{name} req/s", []).append(rps)
                results.setdefault(f"{name} p50 ms", []).append(p50 * 1000)
            bare = time_server(bare_uvicorn_command(workdir, path), path, env)
            results.setdefault("bare uvicorn start s", []).append(bare)
            results.setdefault("remote wake s", []).append(sleeping.time_wake())
            sleeping.wait_asleep()
    finally:
        server.terminate()
        server.wait(30)
    report(results)


def report(results: dict[str, list[float]]) -> None:
    median = {name: statistics.median(values) for name, values in results.items()}
    for name, value in median.items():
        print(f"{name:22} {value:10.3f}   (rounds: {', '.join(f'{v:.3f}' for v in results[name])})")
    print(f"remote / local req/s   {median['remote req/s'] / median['local req/s']:10.2f}x")
    added = median["remote p50 ms"] - median["local p50 ms"]
    print(f"p50 the remote path adds {added * 1000:8.0f} us")
    wake = median["remote wake s"] / median["bare uvicorn start s"]
    print(f"remote wake / bare uvicorn start {wake:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=2.0)
    options = parser.parse_args()
    if os.environ.get(INSIDE) != "1":
        if os.geteuid() != 0 or shutil.which("unshare") is None:
            raise SystemExit("bench/ray.py needs root and unshare (a private namespace)")
        env = {**os.environ, INSIDE: "1"}
        raise SystemExit(subprocess.call([*UNSHARE, sys.executable, *sys.argv], env=env))
    with tempfile.TemporaryDirectory(prefix="bench-ray-") as workdir:
        measure(Path(workdir), options.rounds, options.seconds)


if __name__ == "__main__":
    main()

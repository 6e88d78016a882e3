"""How long a replica takes from spawn to its first answered predict, and a deployment
from scaled to zero to its first response.

Runs, interleaved so that machine noise hits all alike:
  python -c "import starlette, uvicorn"     the floor for any Starlette-on-uvicorn server
  bare uvicorn spawn -> first 200           `python -m uvicorn` with a 5-line ASGI app on
                                            a Unix socket (uvloop, httptools): a reference
  replica spawn -> first 200 predict        python -m brace.runtime --truss examples/hello
                                            --uds ..., polled every 2 ms until a predict
                                            answers 200 (readiness 503s count as waiting)
  wake from zero -> response                one predict through a `brace server` (private
                                            home, free port) to examples/hello published
                                            with min_replica 0 and scaled to zero: held
                                            at the gateway while a replica starts
  warm replica -> response                  the same predict right after, to the replica
                                            the wake started
and, unless --no-heavy, the same for a model whose model.py imports numpy and pandas
at the top (config `requirements: [numpy, pandas]`, so brace installs them with pip
into the model's environment at the start of the run):
  heavy replica in a fresh interpreter      that environment's python -m brace.runtime,
                                            spawn -> first 200 predict
  heavy wake from zero -> response          through the server, whose replica comes from
                                            the fork server that preloaded numpy and
                                            pandas (brace/server/backends/forkservers.py)
and prints the median and p90 wall time of each and its ratio to the floor, then the
wake's ratio to the bare uvicorn start (target <= 1.5x), and the heavy wake's to the
heavy fresh start (target <= 0.3x), each also paired within each round, and the RSS of
the preloaded fork server.
The woken deployment goes back to sleep (window 1 s, scale-down delay 1 s) before the
next measurement starts, so its replica's stop does not overlap another one.

Both run with a private bytecode cache (PYTHONPYCACHEPREFIX in a temporary directory,
warmed first), so brace's own modules start from bytecode as in a normal install even
where PYTHONDONTWRITEBYTECODE is set or the source tree is read-only; without it an
editable checkout recompiles brace on every start and the ratio measures that instead.
Usage: python bench/cold_start.py [--runs N] [--truss DIR] [--no-heavy]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from common import AUTH, KEY, free_port

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from brace.server.paths import ServerPaths  # noqa: E402
from brace.server.record import read_record  # noqa: E402
from brace.store import Store  # noqa: E402

POLL_SECONDS = 0.002
WAKE_TARGET = 1.5
"""Wake from zero to first response, at most this many times the bare uvicorn start."""
HEAVY_TARGET = 0.3
"""The heavy model's wake from zero, at most this share of its fresh-interpreter start."""
HEAVY_CONFIG = """\
model_name: heavy
requirements:
  - numpy
  - pandas
"""
HEAVY_MODEL = """\
import numpy as np
import pandas as pd


class Model:
    def predict(self, request):
        frame = pd.DataFrame({"x": np.arange(4)})
        return {"text": request.get("text"), "sum": int(frame["x"].sum())}
"""
# Imports what a replica imports, including what uvicorn loads lazily at start-up
# (after the replica has turned bytecode writing off for the user's code).
WARM_CACHE = (
    "import brace.runtime.main, brace.runtime.server, uvicorn;"
    "config = uvicorn.Config(app=None, loop='uvloop', http='httptools', ws='none',"
    " lifespan='off', interface='asgi3', log_config=None);"
    "config.load(); config.get_loop_factory()"
)


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("replica", timeout=5)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def _predict_status(path: str, body: bytes) -> int | None:
    connection = _UnixConnection(path)
    try:
        connection.request("POST", "/v1/models/model:predict", body=body)
        response = connection.getresponse()
        response.read()
        return response.status
    except (FileNotFoundError, ConnectionRefusedError):
        return None  # not listening yet
    finally:
        connection.close()


def time_import_floor(env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import starlette, uvicorn"], check=True, env=env)
    return time.perf_counter() - start


BARE_APP = """\
async def app(scope, receive, send):
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})
"""


def replica_command(truss: Path, path: str) -> list[str]:
    return [sys.executable, "-m", "brace.runtime", "--truss", str(truss), "--uds", path]


def bare_uvicorn_command(app_dir: Path, path: str) -> list[str]:
    return [
        sys.executable, "-m", "uvicorn", "bare_app:app", "--app-dir", str(app_dir),
        "--uds", path, "--loop", "uvloop", "--http", "httptools", "--ws", "none",
        "--lifespan", "off", "--no-access-log", "--log-level", "warning",
    ]  # fmt: skip


def time_server(command: list[str], path: str, env: dict[str, str]) -> float:
    """Spawn `command` and time it until a predict on `path` answers 200."""
    body = json.dumps({"text": "hi"}).encode()
    start = time.perf_counter()
    process = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env=env,
    )
    try:
        while _predict_status(path, body) != 200:
            if process.poll() is not None:
                raise SystemExit(f"{command[2]} exited with {process.returncode}")
            time.sleep(POLL_SECONDS)
        return time.perf_counter() - start
    finally:
        process.terminate()
        process.wait()


def brace_cli(env: dict[str, str], *args: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "brace", *args, "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
    )
    if done.returncode != 0:
        raise SystemExit(f"brace {' '.join(args)} failed: {done.stderr.strip()}")
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _post(port: int, path: str, body: bytes) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", path, body=body, headers=AUTH)
        response = connection.getresponse()
        return response.status, response.read()
    except OSError:
        return 0, b""
    finally:
        connection.close()


class SleepingDeployment:
    """A deployment of `truss` on a `brace server`, published with min_replica 0 and
    small autoscaling settings, so that it falls asleep within seconds of its last
    request."""

    def __init__(self, home: Path, port: int, truss: Path, env: dict[str, str]) -> None:
        self.home = home
        self.port = port
        self.env = {**env, "BRACE_HOME": str(home), "BRACE_PORT": str(port)}
        pushed = brace_cli(self.env, "push", str(truss), "--publish", "--wait")
        deployment, model = pushed["deployment"], pushed["model"]
        assert isinstance(deployment, dict) and isinstance(model, dict)
        self.id = str(deployment["id"])
        brace_cli(
            self.env, "deployments", "autoscaling", self.id, "-m", str(model["id"]),
            "--min-replica", "0", "--autoscaling-window", "1", "--scale-down-delay", "1",
        )  # fmt: skip
        self.path = f"/model/{model['id']}/deployment/{self.id}/predict"

    def asleep(self) -> bool:
        with Store(self.home) as store, store.read() as tx:
            deployment = tx.deployment(self.id)
            replicas = [r for r in tx.replicas() if r.deployment_id == self.id]
        assert deployment is not None
        return deployment.status.value == "SCALED_TO_ZERO" and not replicas

    def wait_asleep(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while not self.asleep():
            if time.monotonic() > deadline:
                raise SystemExit(f"deployment {self.id} did not scale to zero in {timeout} s")
            time.sleep(0.05)

    def time_request(self) -> float:
        body = json.dumps({"text": "hi"}).encode()
        start = time.perf_counter()
        status, answer = _post(self.port, self.path, body)
        took = time.perf_counter() - start
        if status != 200:
            raise SystemExit(f"predict through brace server answered {status}: {answer!r}")
        return took

    def time_wake(self) -> float:
        self.wait_asleep()
        return self.time_request()

    def time_warm(self) -> float:
        took = self.time_request()
        self.wait_asleep()  # quiet before the next measurement
        return took


@contextmanager
def brace_server(home: Path, env: dict[str, str]) -> Iterator[int]:
    """A `brace server` with a private home on a free port; its port. Stopped (and its
    replicas with it) when the block ends."""
    home.mkdir()
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "brace", "server", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**env, "BRACE_HOME": str(home)},
    )
    try:
        deadline = time.monotonic() + 30
        while _get_status(port, "/healthz") != 200:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("brace server did not start")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _get_status(port: int, path: str) -> int | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    except OSError:
        return None
    finally:
        connection.close()


def write_heavy_truss(directory: Path) -> Path:
    (directory / "model").mkdir(parents=True)
    (directory / "config.yaml").write_text(HEAVY_CONFIG)
    (directory / "model" / "model.py").write_text(HEAVY_MODEL)
    return directory


def environment_python(home: Path) -> str:
    """The python of the one requirements environment under `home`."""
    [python] = (home / "envs").glob("*/bin/python")
    return str(python)


def preloaded_fork_server_rss(home: Path) -> str:
    """RSS of the fork servers that preloaded modules (brace.runtime.forkserver with
    module arguments) of the server on `home`, in MB."""
    record = read_record(ServerPaths(home))
    if record is None:
        return "no server"
    found = []
    for process in psutil.Process(record.pid).children():
        try:
            command = process.cmdline()
            if "brace.runtime.forkserver" not in command:
                continue
            modules = command[command.index("brace.runtime.forkserver") + 1 :]
            if modules:
                found.append(f"{' '.join(modules)}: {process.memory_info().rss / 1e6:.0f} MB")
        except psutil.Error:
            continue
    return "; ".join(found) or "none running"


def print_ratio(name: str, numerator: list[float], denominator: list[float], target: float) -> None:
    paired = statistics.median(n / d for n, d in zip(numerator, denominator, strict=True))
    ratio = statistics.median(numerator) / statistics.median(denominator)
    verdict = "meets" if ratio <= target else "misses"
    print(
        f"{name}: {ratio:.2f}x (paired within rounds: {paired:.2f}x; "
        f"target <= {target}x: {verdict})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--truss", type=Path, default=ROOT / "examples" / "hello")
    parser.add_argument(
        "--no-heavy", dest="heavy", action="store_false", help="skip the numpy/pandas model"
    )
    options = parser.parse_args()
    floor_name = "python -c 'import starlette, uvicorn'"
    bare_name = "bare uvicorn spawn -> first 200"
    replica_name = f"replica spawn -> first predict ({options.truss.name})"
    wake_name = f"wake from zero -> response ({options.truss.name})"
    warm_name = f"warm replica -> response ({options.truss.name})"
    heavy_fresh_name = "heavy replica in a fresh interpreter"
    heavy_wake_name = "heavy wake from zero -> response"
    heavy_warm_name = "heavy warm replica -> response"
    names: tuple[str, ...] = (floor_name, bare_name, replica_name, wake_name, warm_name)
    if options.heavy:
        names += (heavy_fresh_name, heavy_wake_name, heavy_warm_name)
    samples: dict[str, list[float]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "bare_app.py").write_text(BARE_APP)
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPYCACHEPREFIX": str(workdir / "pycache"),
            "BRACE_API_KEY": KEY,
        }
        path = str(workdir / "bench.sock")
        # Warm the bytecode cache first: the server's replicas use it too.
        subprocess.run([sys.executable, "-c", WARM_CACHE], check=True, env=env)
        with brace_server(workdir / "home", env) as port:
            sleeping = SleepingDeployment(workdir / "home", port, options.truss.resolve(), env)
            runs = {
                floor_name: lambda: time_import_floor(env),
                bare_name: lambda: time_server(bare_uvicorn_command(workdir, path), path, env),
                replica_name: lambda: time_server(replica_command(options.truss, path), path, env),
                wake_name: sleeping.time_wake,
                warm_name: sleeping.time_warm,  # right after the wake, in this order
            }
            if options.heavy:
                home = workdir / "home"
                heavy_truss = write_heavy_truss(workdir / "heavy")
                print("building the numpy/pandas environment (pip) ...", flush=True)
                heavy = SleepingDeployment(home, port, heavy_truss, env)
                python = environment_python(home)
                heavy_command = [python, *replica_command(heavy_truss, path)[1:]]
                runs[heavy_fresh_name] = lambda: time_server(heavy_command, path, env)
                runs[heavy_wake_name] = heavy.time_wake
                runs[heavy_warm_name] = heavy.time_warm
            # And the page cache, once.
            for run in runs.values():
                run()
            for _ in range(options.runs):
                for name, run in runs.items():
                    samples[name].append(run())
            rss = preloaded_fork_server_rss(workdir / "home") if options.heavy else ""
    floor = statistics.median(samples[floor_name])
    print(f"{'command':44} {'median ms':>10} {'p90 ms':>8} {'vs floor':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else median
        print(f"{name:44} {median * 1000:10.1f} {p90 * 1000:8.1f} {median / floor:8.2f}x")
    print_ratio(
        "wake from zero / bare uvicorn start", samples[wake_name], samples[bare_name], WAKE_TARGET
    )
    if options.heavy:
        print_ratio(
            "heavy wake from zero / heavy fresh start",
            samples[heavy_wake_name],
            samples[heavy_fresh_name],
            HEAVY_TARGET,
        )
        print(f"preloaded fork server RSS: {rss}")
    print(
        f"({options.runs} interleaved runs each; Python {sys.version.split()[0]}; "
        f"{os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()

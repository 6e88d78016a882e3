"""How long a replica takes from spawn to its first answered predict.

Runs, interleaved so that machine noise hits all alike:
  python -c "import starlette, uvicorn"     the floor for any Starlette-on-uvicorn server
  bare uvicorn spawn -> first 200           `python -m uvicorn` with a 5-line ASGI app on
                                            a Unix socket (uvloop, httptools): a reference
  replica spawn -> first 200 predict        python -m brace.runtime --truss examples/hello
                                            --uds ..., polled every 2 ms until a predict
                                            answers 200 (readiness 503s count as waiting)
and prints the median and p90 wall time of each and its ratio to the floor.

Both run with a private bytecode cache (PYTHONPYCACHEPREFIX in a temporary directory,
warmed first), so brace's own modules start from bytecode as in a normal install even
where PYTHONDONTWRITEBYTECODE is set or the source tree is read-only; without it an
editable checkout recompiles brace on every start and the ratio measures that instead.
Usage: python bench/cold_start.py [--runs N] [--truss DIR]
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
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.002
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


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--truss", type=Path, default=ROOT / "examples" / "hello")
    options = parser.parse_args()
    floor_name = "python -c 'import starlette, uvicorn'"
    bare_name = "bare uvicorn spawn -> first 200"
    replica_name = f"replica spawn -> first predict ({options.truss.name})"
    samples: dict[str, list[float]] = {floor_name: [], bare_name: [], replica_name: []}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        (workdir / "bare_app.py").write_text(BARE_APP)
        env = {
            **{k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"},
            "PYTHONPYCACHEPREFIX": str(workdir / "pycache"),
        }
        path = str(workdir / "bench.sock")
        runs = {
            floor_name: lambda: time_import_floor(env),
            bare_name: lambda: time_server(bare_uvicorn_command(workdir, path), path, env),
            replica_name: lambda: time_server(replica_command(options.truss, path), path, env),
        }
        # Warm the bytecode cache and the page cache once.
        subprocess.run([sys.executable, "-c", WARM_CACHE], check=True, env=env)
        for run in runs.values():
            run()
        for _ in range(options.runs):
            for name, run in runs.items():
                samples[name].append(run())
    floor = statistics.median(samples[floor_name])
    print(f"{'command':44} {'median ms':>10} {'p90 ms':>8} {'vs floor':>9}")
    for name, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) > 1 else median
        print(f"{name:44} {median * 1000:10.1f} {p90 * 1000:8.1f} {median / floor:8.2f}x")
    print(
        f"({options.runs} interleaved runs each; Python {sys.version.split()[0]}; "
        f"{os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()

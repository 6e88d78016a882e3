"""How fast a saved edit serves: `brace watch` next to `uvicorn --reload`, in one run.

Both serve the same trivial predict (it returns the version number written into the
source). For each of N edits (interleaved: brace, uvicorn, brace, ...) the bench
writes the new source and polls predict on a keep-alive connection until the new
version answers; the time from the write to that answer is one sample. Meanwhile a
steady request stream runs against each server and every failed request (an error
status, a refused or cut connection) is counted, the pollers' included. Also measured:
the watching process's idle CPU (brace watch; uvicorn's reloader parent).

Prints p50/p90 per tool, the failed requests, and brace/uvicorn. The target: brace p50
at most 0.1 of uvicorn's, and no failed request.
Usage: python bench/reload.py [--edits N]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil
from common import KEY, free_port, wait_until

MODEL = """\
class Model:
    def predict(self, model_input):
        return {{"version": {version}}}
"""
APP = """\
import json


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    body = json.dumps({{"version": {version}}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({{"type": "http.response.start", "status": 200, "headers": headers}})
    await send({{"type": "http.response.body", "body": body}})
"""


@dataclass
class Target:
    """One server under test: where predict is, and what to write for a version."""

    name: str
    port: int
    path: str
    source: Path
    template: str
    watcher_pid: int = 0
    log: Path | None = None  # brace watch's JSON events
    headers: dict[str, str] = field(default_factory=dict)
    samples: list[float] = field(default_factory=list)
    requests: int = 0
    failed: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, ok: bool) -> None:
        with self.lock:
            self.requests += 1
            self.failed += not ok


class Client:
    """A keep-alive HTTP client that reconnects after a failure (and reports it)."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.connection: http.client.HTTPConnection | None = None

    def version(self) -> int | None:
        """The version the server answers, or None if the request failed."""
        if self.connection is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", self.target.port, timeout=30)
        try:
            target = self.target
            self.connection.request("POST", target.path, body=b"{}", headers=target.headers)
            response = self.connection.getresponse()
            body = response.read()
            ok = response.status == 200
        except (OSError, http.client.HTTPException):
            self.connection.close()
            self.connection = None
            ok = False
        self.target.count(ok)
        return int(json.loads(body)["version"]) if ok else None


def write(target: Target, version: int) -> float:
    """Write the new source the way an editor saves; the time just before the write."""
    started = time.perf_counter()
    target.source.write_text(target.template.format(version=version))
    return started


def wait_for(target: Target, version: int, timeout: float = 30.0) -> float:
    """Write `version`, poll until it answers; seconds from the write to that answer."""
    client = Client(target)
    client.version()  # connected and warm before the write
    started = write(target, version)
    while time.perf_counter() - started < timeout:
        answer = client.version()
        if answer == version:
            return time.perf_counter() - started
        if answer is None:
            time.sleep(0.001)  # refused while restarting: do not spin
    raise SystemExit(f"{target.name}: version {version} did not serve within {timeout} s")


def steady(target: Target, stop: threading.Event) -> None:
    client = Client(target)
    while not stop.is_set():
        if client.version() is None:
            time.sleep(0.001)


def answers(target: Target) -> bool:
    client = Client(target)
    ok = client.version() is not None
    with target.lock:  # warm-up requests are not part of the count
        target.requests, target.failed = 0, 0
    return ok


def idle_cpu(pid: int, seconds: float = 3.0) -> float:
    """Percent of one core the process and its threads use while nothing changes."""
    process = psutil.Process(pid)
    process.cpu_percent(None)
    time.sleep(seconds)
    return process.cpu_percent(None)


def start_brace(root: Path, env: dict[str, str], stack: contextlib.ExitStack) -> Target:
    home, truss = root / "home", root / "hello"
    (truss / "model").mkdir(parents=True)
    (truss / "config.yaml").write_text("model_name: hello\n")
    port = free_port()
    target = Target(
        "brace watch",
        port,
        "/model/hello/development/predict",
        truss / "model" / "model.py",
        MODEL,
        headers={"Authorization": f"Api-Key {KEY}"},
    )
    target.source.write_text(MODEL.format(version=0))
    env = {**env, "BRACE_HOME": str(home), "BRACE_PORT": str(port), "BRACE_API_KEY": KEY}
    home.mkdir()
    server = subprocess.Popen(
        [sys.executable, "-m", "brace", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stack.callback(stop, server)
    log = root / "watch.out"
    with log.open("w") as out:
        watch = subprocess.Popen(
            [sys.executable, "-m", "brace", "watch", str(truss), "-o", "json"],
            env=env,
            stdout=out,
            stderr=subprocess.DEVNULL,
        )
    stack.callback(stop, watch, signal.SIGINT)
    wait_until(lambda: '"event": "watching"' in log.read_text(), "brace watch to be watching")
    wait_until(lambda: answers(target), "brace to answer")
    target.watcher_pid = watch.pid
    target.log = log
    return target


def start_uvicorn(root: Path, env: dict[str, str], stack: contextlib.ExitStack) -> Target:
    directory = root / "app"
    directory.mkdir()
    port = free_port()
    target = Target("uvicorn --reload", port, "/predict", directory / "app.py", APP)
    target.source.write_text(APP.format(version=0))
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "app:app",
            "--reload",
            "--port",
            str(port),
            "--app-dir",
            str(directory),
            "--reload-dir",
            str(directory),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    stack.callback(stop, server)
    wait_until(lambda: answers(target), "uvicorn to answer")
    target.watcher_pid = server.pid
    return target


def stop(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def percentile(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20)
    edits = parser.parse_args().edits
    env = {k: v for k, v in os.environ.items() if not k.startswith("BRACE_")}
    with tempfile.TemporaryDirectory(prefix="brace-bench-") as tmp, contextlib.ExitStack() as stack:
        root = Path(tmp)
        brace = start_brace(root, env, stack)
        uvicorn = start_uvicorn(root, env, stack)
        targets = (brace, uvicorn)
        cpu = {t.name: idle_cpu(t.watcher_pid) for t in targets}
        for target in targets:  # one warm-up edit each, not counted
            wait_for(target, 1)
            time.sleep(0.3)
            answers(target)
        stop_streams = threading.Event()
        streams = [threading.Thread(target=steady, args=(t, stop_streams)) for t in targets]
        for stream in streams:
            stream.start()
        try:
            for version in range(2, edits + 2):
                for target in targets:
                    target.samples.append(wait_for(target, version))
                    time.sleep(0.3)  # let the reloader settle before the next edit
        finally:
            stop_streams.set()
            for stream in streams:
                stream.join()
        assert brace.log is not None
        events = [json.loads(line) for line in brace.log.read_text().splitlines()]
        reloads = [e for e in events if e.get("event") == "reloaded"][-edits:]
    print(f"{'':18} {'p50 ms':>8} {'p90 ms':>8} {'requests':>9} {'failed':>7} {'idle CPU':>9}")
    for target in targets:
        print(
            f"{target.name:18} {statistics.median(target.samples) * 1000:8.1f} "
            f"{percentile(target.samples, 90) * 1000:8.1f} {target.requests:9d} "
            f"{target.failed:7d} {cpu[target.name]:8.1f}%"
        )
    ratio50 = statistics.median(brace.samples) / statistics.median(uvicorn.samples)
    ratio90 = percentile(brace.samples, 90) / percentile(uvicorn.samples, 90)
    print(f"{'brace / uvicorn':18} {ratio50:8.3f} {ratio90:8.3f}")
    if reloads:
        print(
            "brace watch's own account (p50): the reload call "
            f"{statistics.median(e['ms'] for e in reloads):.1f} ms, of which the replica "
            f"{statistics.median(e.get('replica_ms', 0) for e in reloads):.1f} ms; the rest "
            "is noticing the write (watchfiles step) and the first new answer"
        )
    met = ratio50 <= 0.1 and brace.failed == 0
    print(
        f"({edits} edits each, interleaved, from the write to the first answer of the new "
        f"code; Python {sys.version.split()[0]}, {os.cpu_count()} CPUs)"
    )
    print(
        "target (brace p50 <= 0.1 x uvicorn's, 0 failed requests): " + ("met" if met else "NOT met")
    )


if __name__ == "__main__":
    main()

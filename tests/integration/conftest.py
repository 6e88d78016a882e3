"""A real `brace server` process on a free port with a private home, for each test.

Every process a test starts is stopped by the fixture, even when the test fails: the
server (TERM, then KILL) and any replica it recorded.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
import pytest

from brace.store import Deployment, Store

KEY = "integration-test-key"
"""The API key of the servers these tests start (BRACE_API_KEY)."""
AUTH = {"Authorization": f"Api-Key {KEY}"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what or condition}")


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Server:
    home: Path
    port: int
    process: subprocess.Popen[bytes]

    def brace(self, *args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        env = {
            **os.environ,
            "BRACE_HOME": str(self.home),
            "BRACE_PORT": str(self.port),
            "BRACE_API_KEY": KEY,
        }
        return run_brace(env, *args)

    def json(self, *args: str | os.PathLike[str]) -> Any:
        done = self.brace(*args, "-o", "json")
        assert done.returncode == 0, done.stderr
        return json.loads(done.stdout)

    def post(self, path: str, payload: Any, headers: dict[str, str] | None = None) -> Answer:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        try:
            connection.request(
                "POST", path, body=json.dumps(payload), headers={**AUTH, **(headers or {})}
            )
            response = connection.getresponse()
            return Answer(response.status, response.read(), dict(response.getheaders()))
        finally:
            connection.close()

    def deployment(self, deployment_id: str) -> Deployment:
        with Store(self.home) as store, store.read() as tx:
            found = tx.deployment(deployment_id)
        assert found is not None
        return found

    def wait_status(self, deployment_id: str, *statuses: str, timeout: float = 60.0) -> Deployment:
        return wait_until(  # type: ignore[no-any-return]
            lambda: (d := self.deployment(deployment_id)).status.value in statuses and d,
            timeout,
            f"deployment {deployment_id} to be {' or '.join(statuses)}",
        )

    def replica_pids(self) -> list[int]:
        with Store(self.home) as store, store.read() as tx:
            return [r.pid for r in tx.replicas()]


def run_brace(
    env: Mapping[str, str], *args: str | os.PathLike[str]
) -> subprocess.CompletedProcess[str]:
    """`python -m brace ARGS` with exactly `env`, output captured as text."""
    return subprocess.run(
        [sys.executable, "-m", "brace", *map(str, args)],
        capture_output=True,
        text=True,
        env=dict(env),
        timeout=120,
    )


def stop_server(process: subprocess.Popen[bytes], leftovers: Iterable[int] = ()) -> None:
    """TERM the server, KILL it after 20 s; then KILL the process group of each pid in
    `leftovers` (replicas it may have failed to stop)."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    for pid in leftovers:
        if pid <= 0:  # a pid not known (never recorded so): killpg(0) would hit this group
            continue
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)


def start_server(
    home: Path, port: int, *options: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """`brace server --port PORT OPTIONS...` (with `env` added), once it answers /healthz."""
    env = {**os.environ, "BRACE_API_KEY": KEY, **(env or {}), "BRACE_HOME": str(home)}
    log = open(home.parent / f"server-{port}.log", "ab")  # noqa: SIM115
    process = subprocess.Popen(
        [sys.executable, "-m", "brace", "server", "--port", str(port), *options],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    log.close()

    def healthy() -> bool:
        if process.poll() is not None:
            raise AssertionError(
                f"server exited: {(home.parent / f'server-{port}.log').read_text()}"
            )
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
        try:
            connection.request("GET", "/healthz")
            return connection.getresponse().status == 200
        except OSError:
            return False
        finally:
            connection.close()

    wait_until(healthy, 30, "the server to answer /healthz")
    return process


@pytest.fixture
def server_env() -> dict[str, str]:
    """Extra environment for the `server` fixture's process. A test changes it with
    `@pytest.mark.parametrize("server_env", [{"BRACE_HOLD_TIMEOUT": "1"}])`."""
    return {}


@pytest.fixture
def server(tmp_path: Path, server_env: dict[str, str]) -> Iterator[Server]:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    process = start_server(home, port, env=server_env)
    running = Server(home, port, process)
    try:
        yield running
    finally:
        stop_server(running.process, running.replica_pids())


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False

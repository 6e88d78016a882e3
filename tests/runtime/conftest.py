"""Real replica processes for the runtime tests, and a tiny HTTP client over Unix sockets.

`start_replica` (one test) and `module_replicas` (shared by a test module, so several
tests reuse one process) spawn `python -m brace.runtime --truss DIR --uds SOCKET` with
stdout and stderr in one log file, as the controller does. Every replica is stopped in
a finalizer (TERM, wait 5 s, KILL) whether or not the test passed.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
READY_TIMEOUT = 20.0


class UnixHTTPConnection(http.client.HTTPConnection):
    """http.client over an AF_UNIX socket."""

    def __init__(self, path: Path, timeout: float = 10.0) -> None:
        super().__init__("replica", timeout=timeout)
        self.socket_path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


@dataclass(frozen=True)
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class Replica:
    def __init__(self, process: subprocess.Popen[bytes], socket_path: Path, log_path: Path):
        self.process = process
        self.socket_path = socket_path
        self.log_path = log_path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def open(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
    ) -> tuple[UnixHTTPConnection, http.client.HTTPResponse]:
        """Send a request and return the response unread (for streams)."""
        connection = UnixHTTPConnection(self.socket_path, timeout=timeout)
        connection.request(method, path, body=body, headers=headers or {})
        return connection, connection.getresponse()

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        connection, response = self.open(method, path, body, headers)
        try:
            data = response.read()
            return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
        finally:
            connection.close()

    def predict(self, payload: Any = None, headers: dict[str, str] | None = None) -> Reply:
        body = json.dumps(payload).encode()
        return self.request("POST", "/v1/models/model:predict", body, headers)

    def readiness(self) -> Reply:
        return self.request("GET", "/v1/models/model")

    def first_answer(self, timeout: float = READY_TIMEOUT) -> Reply:
        """The first readiness answer, as soon as the socket accepts connections."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(
                    f"replica exited with {self.process.returncode}:\n{self.log()}"
                )
            try:
                return self.readiness()
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.01)
        raise AssertionError(f"replica did not listen within {timeout} s:\n{self.log()}")

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> Replica:
        deadline = time.monotonic() + timeout
        while self.first_answer(timeout).status != 200:
            if time.monotonic() > deadline:
                raise AssertionError(f"replica not ready within {timeout} s:\n{self.log()}")
            time.sleep(0.01)
        return self

    def wait_exit(self, timeout: float = READY_TIMEOUT) -> int:
        return self.process.wait(timeout)

    def stop(self) -> None:
        stop_all([self])


def stop_all(replicas: list[Replica]) -> None:
    """TERM every replica at once, give each 5 s to exit, then KILL what is left."""
    running = [replica.process for replica in replicas if replica.process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + 5
    for process in running:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def replica_env(home: Path | None = None, extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without stray secrets, plus `extra`."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("BRACE_SECRET_", "TRUSS_SECRET_", "BRACE_HOME"))
    }
    if home is not None:
        env["BRACE_HOME"] = str(home)
    env.update(extra or {})
    return env


def launch(
    truss: Path,
    workdir: Path,
    *,
    env: dict[str, str] | None = None,
    python: Path | str = sys.executable,
    name: str = "r",
) -> Replica:
    """Spawn a replica (without waiting for it)."""
    workdir.mkdir(parents=True, exist_ok=True)
    socket_path = workdir / f"{name}.sock"
    log_path = workdir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [str(python), "-m", "brace.runtime", "--truss", str(truss), "--uds", str(socket_path)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env if env is not None else replica_env(),
            cwd=workdir,
            start_new_session=True,
        )
    return Replica(process, socket_path, log_path)


def write_truss(
    directory: Path, config: str, model: str, files: dict[str, str] | None = None
) -> Path:
    """A Truss directory (like the `make_truss` fixture, for module-scoped fixtures)."""
    (directory / "model").mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(textwrap.dedent(config))
    (directory / "model" / "model.py").write_text(textwrap.dedent(model))
    for relative, content in (files or {}).items():
        target = directory / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(textwrap.dedent(content))
    return directory


Launcher = Callable[..., Replica]


@pytest.fixture
def start_replica(tmp_path: Path) -> Iterator[Launcher]:
    """start_replica(truss_dir, env=..., wait=True): a replica stopped after the test."""
    replicas: list[Replica] = []

    def start(truss: Path, *, wait: bool = True, **kwargs: Any) -> Replica:
        replica = launch(truss, tmp_path / f"replica-{len(replicas)}", **kwargs)
        replicas.append(replica)
        return replica.wait_ready() if wait else replica

    yield start
    stop_all(replicas)


@pytest.fixture(scope="module")
def module_replicas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    """Like start_replica, but the replicas live for the whole test module."""
    replicas: list[Replica] = []
    root = tmp_path_factory.mktemp("replicas")

    def start(truss: Path, *, wait: bool = True, **kwargs: Any) -> Replica:
        replica = launch(truss, root / f"replica-{len(replicas)}", **kwargs)
        replicas.append(replica)
        return replica.wait_ready() if wait else replica

    yield start
    stop_all(replicas)

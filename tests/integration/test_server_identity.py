"""The CLI sends the API key only to its own home's server: another local user who
listens on BRACE_PORT (and relays /healthz to the real server) gets no key, and any
answer that is not brace's is a one-line error, never a traceback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import MakeTruss
from tests.integration.conftest import KEY, Server, free_port, run_brace, wait_until
from tests.other_user import shared_tmp as shared_tmp
from tests.other_user import start_as_nobody

LISTENER = """
import http.client, json, socket, sys, time
port, real, record = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
listener = socket.create_server(("127.0.0.1", port))
listener.settimeout(1)
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        conn, _ = listener.accept()
    except socket.timeout:
        continue
    with conn:
        conn.settimeout(5)
        data = b""
        try:
            while b"\\r\\n\\r\\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data += chunk
        except OSError:
            continue
        with open(record, "ab") as file:
            file.write(data)
        if data.startswith(b"GET /healthz"):  # relay: the real server's identity
            relay = http.client.HTTPConnection("127.0.0.1", real, timeout=5)
            relay.request("GET", "/healthz")
            body = relay.getresponse().read()
        else:
            body = json.dumps({"status": "ok", "deployments": "none"}).encode()
        conn.sendall(
            b"HTTP/1.1 200 OK\\r\\ncontent-type: application/json\\r\\ncontent-length: "
            + str(len(body)).encode() + b"\\r\\nconnection: close\\r\\n\\r\\n" + body
        )
"""


@pytest.fixture
def impostor(server: Server, shared_tmp: Path) -> Iterator[tuple[int, Path]]:
    """Another user listening on a port of its own, recording what it receives."""
    port = free_port()
    script = shared_tmp / "listener.py"
    script.write_text(LISTENER)
    script.chmod(0o644)
    record = shared_tmp / "received"
    python = os.path.realpath(sys.executable)
    process = start_as_nobody(python, str(script), str(port), str(server.port), str(record))

    def listening() -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 1):
            return True
        return False

    try:
        wait_until(listening, 10, "the other user's listener")
        yield port, record
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["deployments", "show", "development", "-m", "hello"], id="deployments-show"),
        pytest.param(["rollout", "status", "-m", "hello", "-e", "production"], id="rollout-status"),
        pytest.param(["predict", "-m", "hello", "-d", "{}"], id="predict"),
        pytest.param(["status"], id="status"),
    ],
)
def test_the_key_goes_to_no_one_listening_on_brace_port(
    server: Server, make_truss: MakeTruss, impostor: tuple[int, Path], command: list[str]
) -> None:
    port, record = impostor
    truss = make_truss("hello")
    server.json("push", truss, "--promote", "--wait")
    if command[0] == "rollout":  # a rolling promotion under way: its traffic is asked for
        server.json("environments", "update", "production", "-m", "hello", "--rolling-deploy")
        server.json(
            "environments", "update", "production", "-m", "hello",
            "--stabilization-time-seconds", "600",
        )  # fmt: skip
        (truss / "model" / "model.py").write_text(
            (truss / "model" / "model.py").read_text() + "\n# v2\n"
        )
        server.json("push", truss, "--promote")
        wait_until(
            lambda: server.json("rollout", "status", "-m", "hello")["in_progress_promotion"],
            30,
            "the rolling promotion to begin",
        )
    env = {
        **os.environ,
        "BRACE_HOME": str(server.home),
        "BRACE_PORT": str(port),
        "BRACE_API_KEY": KEY,
        "BRACE_AUTOSTART": "0",
    }
    started = time.monotonic()
    done = run_brace(env, *command)
    assert "Traceback" not in done.stderr, done.stderr
    assert len(done.stderr.strip().splitlines()) <= 3, done.stderr
    assert time.monotonic() - started < 30
    received = record.read_bytes() if record.exists() else b""
    assert KEY.encode() not in received
    assert b"Authorization" not in received
    if command[0] in ("predict", "status"):
        assert done.returncode == 6, done.stderr
        assert f"this home's brace server listens at http://127.0.0.1:{server.port}" in done.stderr

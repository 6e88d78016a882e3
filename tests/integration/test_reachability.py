"""Who can reach a real `brace server`, and what it tells them (docs/security.md).

Web pages (DNS rebinding, cross-origin posts) are refused before anything runs,
/healthz says nothing about the machine, the server's bounds hold in the real process,
and the CLI still tells this home's server from another one.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import time
from functools import partial
from pathlib import Path

import psutil

from tests.integration.conftest import Server, free_port, run_brace, start_server, stop_server


def get(port: int, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_healthz_tells_nothing_about_the_machine(server: Server) -> None:
    status, body = get(server.port, "/healthz")
    answer = json.loads(body)
    assert status == 200
    assert set(answer) == {"status", "version", "server_id", "problems"}
    assert answer["problems"] == []
    assert str(server.home).encode() not in body
    assert str(server.process.pid).encode() not in body
    record = json.loads((server.home / "server.json").read_text())
    assert answer["server_id"] == record["server_id"]
    assert os.stat(server.home / "server.json").st_mode & 0o077 == 0


def test_rebound_host_and_cross_origin_post_are_refused(server: Server) -> None:
    status, body = get(server.port, "/healthz", {"Host": f"rebound.example:{server.port}"})
    assert status == 400
    assert json.loads(body)["error"].startswith("Host 'rebound.example:")
    answer = server.post(
        "/model/any/production/predict",
        "{}",
        {"Content-Type": "text/plain", "Origin": "http://attacker.example"},
    )
    assert answer.status == 403
    status = server.brace("status", "-o", "json")  # the CLI still finds its server
    assert (status.returncode, json.loads(status.stdout)["running"]) == (0, True)


def test_another_homes_server_on_the_port_is_not_taken_for_ours(
    server: Server, tmp_path: Path
) -> None:
    env = {**os.environ, "BRACE_HOME": str(tmp_path / "other"), "BRACE_PORT": str(server.port)}
    brace = partial(run_brace, env)

    status = brace("status", "-o", "json")  # not ours: this home has no server running
    assert (status.returncode, json.loads(status.stdout)["running"]) == (0, False)
    up = brace("up")
    assert (up.returncode, up.stderr) == (
        6,
        f"Error: http://127.0.0.1:{server.port} is taken by another server "
        "(not this brace home's)\nHint: Pass --port to use another port.\n",
    )


def test_body_limit_option_and_env_var(tmp_path: Path) -> None:
    for options, env in ((("--max-body-size", "1KiB"), {}), ((), {"BRACE_MAX_BODY_SIZE": "1KiB"})):
        home = tmp_path / f"home-{len(options)}"
        home.mkdir()
        port = free_port()
        process = start_server(home, port, *options, env=env)
        try:
            running = Server(home, port, process)
            assert running.post("/model/any/production/predict", "x" * 2000).status == 413
            assert running.post("/model/any/production/predict", "x" * 500).status == 404
        finally:
            stop_server(process)


def test_an_oversized_header_is_not_held(server: Server) -> None:
    """The probe that found this: a 100 MB header grew the server by 370 MB."""
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"POST /healthz HTTP/1.1\r\nHost: localhost\r\nx-big: ")
        sock.settimeout(0.001)
        piece = b"a" * 65536
        deadline = time.monotonic() + 10
        while sent < 100 << 20 and not answer and time.monotonic() < deadline:
            try:
                sent += sock.send(piece)
            except (TimeoutError, BlockingIOError):
                pass
            except (BrokenPipeError, ConnectionResetError):
                break
            with contextlib.suppress(TimeoutError, BlockingIOError):
                answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 431")
    assert sent < 24 << 20
    assert process.memory_info().rss - before < 16 << 20

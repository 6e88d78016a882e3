"""The replica's command line."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import unquote

import pytest

from brace.runtime.main import parser
from tests.runtime.conftest import EXAMPLES, READY_TIMEOUT, Replica, replica_env, stop_all


def test_socket_or_port_is_required() -> None:
    with pytest.raises(SystemExit) as exit_:
        parser().parse_args(["--truss", "x"])
    assert exit_.value.code == 2
    with pytest.raises(SystemExit):
        parser().parse_args(["--truss", "x", "--uds", "s", "--port", "1"])


def test_defaults() -> None:
    args = parser().parse_args(["--truss", "dir", "--uds", "r.sock"])
    assert (args.truss, args.uds, args.port) == (Path("dir"), Path("r.sock"), None)
    assert (args.host, args.log_level, args.access_log) == ("127.0.0.1", "info", False)


def test_start_path_stays_slim() -> None:
    """Starting a replica imports neither the CLI stack nor the store."""
    code = (
        "import sys, brace.runtime.server, brace.runtime.main;"
        "heavy = ['typer', 'rich', 'sqlite3', 'brace.store', 'brace.services',"
        " 'brace.cli', 'httpx', 'websockets', 'anyio._backends._asyncio'];"
        "print([name for name in heavy if name in sys.modules])"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "[]", result.stderr


def test_tcp_port_0_logs_the_real_port_and_access_log_works(tmp_path: Path) -> None:
    log_path = tmp_path / "tcp.log"
    command = [sys.executable, "-m", "brace.runtime", "--truss", str(EXAMPLES / "hello")]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [*command, "--port", "0", "--access-log"],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=replica_env(),
            start_new_session=True,
        )
    replica = Replica(process, tmp_path / "unused.sock", log_path)
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        while not (found := re.search(r"on http://127\.0\.0\.1:(\d+) ", replica.log())):
            assert time.monotonic() < deadline and process.poll() is None, replica.log()
            time.sleep(0.01)
        port = int(found.group(1))
        assert port != 0
        body = json.dumps({"tcp": True})
        for _ in range(int(READY_TIMEOUT / 0.01)):  # until loaded
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("POST", "/v1/models/model:predict", body)
            response = connection.getresponse()
            payload = response.read()
            connection.close()
            if response.status == 200:
                break
            time.sleep(0.01)
        assert json.loads(payload) == {"greeting": "hello", "echo": {"tcp": True}}
        # uvicorn percent-encodes the path in its access log up to 0.54 and not from 0.55:
        # what brace promises is the request line and its status, either way.
        assert '"POST /v1/models/model:predict HTTP/1.1" 200' in unquote(replica.log())
    finally:
        stop_all([replica])

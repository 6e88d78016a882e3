"""How commands find, start, stop and call the local server (stdlib HTTP only).

Every command finds the server the same way: `--host`/`--port`, else
`BRACE_HOST`/`BRACE_PORT`, else the address of the server running for this brace
home (`server.json`), else 127.0.0.1:8765.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from brace.errors import ServerError, UsageError
from brace.logs import open_for_append, tail
from brace.polling import poll
from brace.server.paths import ServerPaths
from brace.server.state import ServerRecord, read_record

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


@dataclass(frozen=True)
class Address:
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def _port(text: str) -> int:
    if not text.strip().isdigit() or not 1 <= int(text) <= 65535:
        raise UsageError(f"BRACE_PORT must be a port number (1 to 65535), got {text[:40]!r}")
    return int(text)


def address(home: Path, host: str | None = None, port: int | None = None) -> Address:
    """Where this home's server listens (see the module doc); UsageError when
    BRACE_PORT is not a port."""
    host = host or os.environ.get("BRACE_HOST")
    port = port or (_port(os.environ["BRACE_PORT"]) if os.environ.get("BRACE_PORT") else None)
    record = read_record(ServerPaths(home)) if host is None or port is None else None
    return Address(
        host or (record.host if record else DEFAULT_HOST),
        port or (record.port if record else DEFAULT_PORT),
    )


HEALTH_LIMIT = 65536
"""Bytes of a /healthz answer read at most: whatever listens on the port may answer."""


def health(where: Address, timeout: float = 1.0) -> dict[str, Any] | None:
    """The server's /healthz answer, or None when nothing healthy answers."""
    connection = http.client.HTTPConnection(where.host, where.port, timeout=timeout)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        body = response.read(HEALTH_LIMIT + 1)
        if response.status != 200 or len(body) > HEALTH_LIMIT:
            return None
        data: dict[str, Any] = json.loads(body)
        return data
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def running(home: Path, where: Address) -> ServerRecord | None:
    """This home's server record when the server answering at `where` is that server.

    /healthz tells no one which home a server belongs to; it echoes the random
    `server_id` that the server wrote to `server.json`, which only the owner can read."""
    record = read_record(ServerPaths(home))
    if record is None or not record.server_id:
        return None
    answer = health(where)
    if answer is None or answer.get("server_id") != record.server_id:
        return None
    return record


def start_background(home: Path, where: Address, timeout: float = 30.0) -> ServerRecord:
    """Start `brace server` detached, and return once it answers /healthz."""
    paths = ServerPaths(home)
    paths.sockets()  # an unsafe sockets folder is refused here, not in the server's log
    if health(where) is not None and not running(home, where):
        raise ServerError(
            f"{where.url} is taken by another server (not this brace home's)",
            "Pass --port to use another port.",
        )
    log = open_for_append(paths.server_log)
    command = [
        sys.executable,
        "-P",  # the user's cwd (perhaps a checkout with a brace/ folder) must not shadow brace
        "-m",
        "brace",
        "server",
        "--host",
        where.host,
        "--port",
        str(where.port),
    ]
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "BRACE_HOME": str(home)},
        start_new_session=True,
    )
    os.close(log)

    def started() -> ServerRecord | None:
        record = running(home, where)
        if record is not None:
            return record
        if process.poll() is not None:
            raise ServerError(
                f"the brace server exited with code {process.returncode}",
                f"See {paths.server_log}:\n{tail(paths.server_log)}",
            )
        return None

    record = poll(started, timeout)
    if record is None:
        raise ServerError(
            f"the brace server did not answer within {timeout:.0f} s", f"See {paths.server_log}."
        )
    return record


def stop(home: Path, timeout: float = 30.0) -> ServerRecord | None:
    """Stop this home's server (TERM, then KILL after `timeout`); the record, if any."""
    paths = ServerPaths(home)
    record = read_record(paths)
    if record is None:
        _stop_leftover_replicas(home)
        return None
    os.kill(record.pid, signal.SIGTERM)
    if poll(lambda: read_record(paths) is None or None, timeout) is None:
        os.kill(record.pid, signal.SIGKILL)
    return record


def _stop_leftover_replicas(home: Path) -> None:
    """No server runs, but one that was killed may have left replicas: stop them."""
    from brace.server.supervisor import stop_recorded_replicas
    from brace.store import Store

    with Store(home) as store:
        stop_recorded_replicas(store)


def post(
    where: Address,
    path: str,
    body: bytes,
    on_chunk: Callable[[int, bytes], None],
    timeout: float = 300.0,
    key: str | None = None,
) -> int:
    """POST `body` to `path`, with the API key `key` if given; pass (status, chunk) to
    `on_chunk` as the body streams in."""
    connection = http.client.HTTPConnection(where.host, where.port, timeout=timeout)
    try:
        headers = {"Content-Type": "application/json"}
        if key is not None:
            headers["Authorization"] = f"Api-Key {key}"
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        while chunk := response.read1(65536):
            on_chunk(response.status, chunk)
        return response.status
    except OSError as error:
        raise ServerError(f"cannot reach the brace server at {where.url}: {error}") from None
    finally:
        connection.close()


ANSWER_LIMIT = 1 << 20
"""Bytes of a JSON answer `get_json` reads at most."""


def get_json(where: Address, path: str, key: str, timeout: float = 5.0) -> Any:
    """GET `path` with the API key `key`; the JSON answer. ServerError when the server
    cannot be reached or answers anything but 200 with JSON."""
    connection = http.client.HTTPConnection(where.host, where.port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Authorization": f"Api-Key {key}"})
        response = connection.getresponse()
        body = response.read(ANSWER_LIMIT + 1)
        if response.status != 200:
            raise ServerError(f"the brace server answered {response.status} to GET {path}")
        return json.loads(body)
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise ServerError(
            f"cannot read {path} from the brace server at {where.url}: {error}"
        ) from None
    finally:
        connection.close()


def request_stats(where: Address, key: str, deployment_id: str, window: float = 60.0) -> Any:
    """The deployment's request statistics over the last `window` seconds (`GET
    /brace/stats`): request rate, error rate, p50/p99 latency, requests in flight."""
    query = urlencode({"deployment_id": deployment_id, "window": f"{window:g}"})
    answer = get_json(where, f"/brace/stats?{query}", key)
    return {"window_seconds": answer["window_seconds"], **answer["deployments"][0]}

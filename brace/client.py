"""How commands find, start, stop and call the local server (stdlib HTTP only).

Every command finds the server the same way: `--host`/`--port`, else
`BRACE_HOST`/`BRACE_PORT`, else the address of the server running for this brace
home (`server.json`), else 127.0.0.1:8765. While this home's server runs, an address
other than the one it recorded is refused (`check_not_elsewhere`), and the API key goes
only to the recorded address once /healthz there echoed the record's identity
(`running`), or over the home's internal socket (`get_json`): never to whatever else
listens on a port (docs/security.md, "Who is on the other end").
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

from brace.errors import BraceError, ServerError, UsageError
from brace.logs import open_for_append, tail
from brace.polling import poll
from brace.server.claim import one_start
from brace.server.paths import ServerPaths
from brace.server.record import ServerRecord, read_record

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
    if not text.strip().isdigit() or len(text.strip()) > 5 or not 1 <= int(text) <= 65535:
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
        data = json.loads(body)
        return data if isinstance(data, dict) else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()


_LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def same_address(record: ServerRecord, where: Address) -> bool:
    """Whether `where` is the address the server recorded it listens on (the loopback
    names count as one)."""
    hosts = {record.host, where.host}
    return record.port == where.port and (len(hosts) == 1 or hosts <= _LOOPBACK)


def running(home: Path, where: Address) -> ServerRecord | None:
    """This home's server record when the server answering at `where` is that server.

    Two checks, because whatever listens on a port may answer anything: `where` must
    be the address the server recorded in `server.json` (the home is private, and while
    the server listens there, no one else can), and /healthz there must echo the
    record's random `server_id`. Only then may a command send it the API key. An
    answer echoed from elsewhere (a relay on another port) fails the first check."""
    record = read_record(ServerPaths(home))
    if record is None or not record.server_id or not same_address(record, where):
        return None
    answer = health(where)
    if answer is None or answer.get("server_id") != record.server_id:
        return None
    return record


def check_not_elsewhere(home: Path, where: Address) -> None:
    """ServerError when this home's server runs, but at another address than `where`:
    a command must not send its key to `where`, nor start a second server."""
    record = read_record(ServerPaths(home))
    if record is not None and not same_address(record, where):
        raise ServerError(
            f"this home's brace server listens at {record.url}, not {where.url}",
            "Unset BRACE_HOST and BRACE_PORT (or --host and --port) to use it, or stop it "
            "with `brace down`.",
        )


def start_background(home: Path, where: Address, timeout: float = 30.0) -> ServerRecord:
    """Start `brace server` detached, and return once it answers /healthz; or the
    server that another command started meanwhile (one start at a time: `claim`)."""
    paths = ServerPaths(home)
    paths.sockets()  # an unsafe sockets folder is refused here, not in the server's log
    with one_start(home, timeout + 5):
        record = running(home, where)
        if record is not None:  # another command started it while this one waited
            return record
        return _start(home, paths, where, timeout)


def _start(home: Path, paths: ServerPaths, where: Address, timeout: float) -> ServerRecord:
    check_not_elsewhere(home, where)
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
    from brace.server.backends.supervisor import stop_recorded_replicas
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


class _SocketConnection(http.client.HTTPConnection):
    """HTTP over the Unix socket at `path`."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        import socket

        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(str(self.path))
        except BaseException:
            sock.close()
            raise
        self.sock = sock


def get_json(home: Path, path: str, key: str, timeout: float = 5.0) -> Any:
    """GET `path` from this home's server with the API key `key`; the JSON answer.

    Asked over the server's internal socket, inside the private home, never over TCP:
    only this home's server can be listening there, so the key goes to no one else
    (whatever BRACE_PORT says). ServerError when no server answers there, or it
    answers anything but 200 with JSON."""
    try:
        where = ServerPaths(home).internal_socket
    except BraceError as error:
        raise ServerError(f"cannot reach this home's brace server: {error.message}") from None
    connection = _SocketConnection(where, timeout)
    try:
        connection.request("GET", path, headers={"Authorization": f"Api-Key {key}"})
        response = connection.getresponse()
        body = response.read(ANSWER_LIMIT + 1)
        if response.status != 200:
            raise ServerError(f"the brace server answered {response.status} to GET {path}")
        return json.loads(body)
    except (OSError, ValueError, http.client.HTTPException) as error:
        raise ServerError(f"cannot read {path} from this home's brace server: {error}") from None
    finally:
        connection.close()


def request_stats(home: Path, key: str, deployment_id: str, window: float = 60.0) -> Any:
    """The deployment's request statistics over the last `window` seconds (`GET
    /brace/stats`): request rate, error rate, p50/p99 latency, requests in flight.
    ServerError when the answer does not have that shape."""
    query = urlencode({"deployment_id": deployment_id, "window": f"{window:g}"})
    answer = get_json(home, f"/brace/stats?{query}", key)
    try:
        window_seconds = answer["window_seconds"]
        [stats] = answer["deployments"]
        if not isinstance(stats, dict) or not isinstance(window_seconds, (int, float)):
            raise TypeError
    except (KeyError, TypeError, ValueError):
        raise ServerError(
            "the brace server's answer to GET /brace/stats is not what brace sends "
            "(no window_seconds, or not one deployment)"
        ) from None
    return {"window_seconds": window_seconds, **stats}

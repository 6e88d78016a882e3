"""Starting, probing and stopping replica processes.

A replica is `python -m brace.runtime` on a Unix socket, in its own session (so a
signal to its process group reaches everything it started), with an explicit
environment, its output appended to the deployment's log; started here as a new
interpreter, or forked by the fork server (forkserver.py) in the same shape. On Linux
it is also told to die with the server (PR_SET_PDEATHSIG), and the server sweeps
recorded replicas when it starts, so none outlives a crashed server. Stopping is TERM,
wait, then KILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from brace.deathsig import die_with_parent
from brace.logs import open_for_append
from brace.polling import poll
from brace.processes import RUNTIME_MODULE
from brace.processes import is_same_process as is_same_process
from brace.processes import process_started as process_started
from brace.runtime import notify
from brace.runtime.secrets import ENV_PREFIXES as SECRET_PREFIXES
from brace.server.backends import base
from brace.store import Store

PASSED_VARIABLES = frozenset(
    {
        # what a process expects of its session
        "PATH", "HOME", "USER", "LOGNAME", "SHELL", "TERM",
        "LANG", "LANGUAGE", "TZ", "TMPDIR", "TEMP", "TMP",
        # where libraries find certificates, proxies, devices and shared libraries
        "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE",
        "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
        "LD_LIBRARY_PATH", "CUDA_VISIBLE_DEVICES", "VIRTUAL_ENV",
    }
)  # fmt: skip
"""The server's variables a replica gets, besides `PASSED_PREFIXES` (docs/security.md)."""
PASSED_PREFIXES = ("LC_", "PYTHON")
"""Locale settings, and the interpreter's own (PYTHONPATH may be how brace is found)."""


def replica_environment(
    home: Path,
    extra: Mapping[str, str],
    secrets: Iterable[str] = (),
    source: Mapping[str, str] = os.environ,
) -> dict[str, str]:
    """A replica's whole environment, made afresh (docs/security.md): of `source` (the
    server's), only what a process and Python need (`PASSED_VARIABLES`,
    `PASSED_PREFIXES`) and the variables of this model's own `secrets`
    (`BRACE_SECRET_<name>`, `TRUSS_SECRET_<name>`); then the model's
    `environment_variables` (`extra`) and brace's settings for the runtime. Never
    another model's secrets, the API key, or brace's other variables."""
    env = {
        k: v for k, v in source.items() if k in PASSED_VARIABLES or k.startswith(PASSED_PREFIXES)
    }
    for name in secrets:
        for prefix in SECRET_PREFIXES:
            value = source.get(prefix + name)
            if value is not None:
                env[prefix + name] = value
    env.update(extra)
    env["BRACE_HOME"] = str(home)
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def runtime_arguments(truss_dir: Path, socket: Path, port: int | None = None) -> list[str]:
    """`python -m brace.runtime`'s arguments for a replica of `truss_dir` on `socket`
    (or on TCP `port` of 127.0.0.1 when given). The socket is named after the replica
    (ServerPaths.replica_socket): its log records carry that id."""
    where = ["--uds", str(socket)] if port is None else ["--port", str(port)]
    return ["--truss", str(truss_dir), *where, "--replica-id", socket.stem]


def spawn_replica(
    python: str,
    truss_dir: Path,
    socket: Path,
    log_file: Path,
    env: Mapping[str, str],
    ready_fd: int | None = None,
    port: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start a replica as a new interpreter; `ready_fd`: the write end of a pipe it is
    handed to say it is ready (`brace.runtime.notify`), still the caller's to close."""
    socket.unlink(missing_ok=True)
    fd = open_for_append(log_file)
    env = dict(env)
    if ready_fd is not None:
        env[notify.ENV_VAR] = str(ready_fd)
    try:
        return subprocess.Popen(
            # -P: the model's directory (the cwd) must not shadow brace on sys.path.
            [python, "-P", "-m", RUNTIME_MODULE, *runtime_arguments(truss_dir, socket, port)],
            stdin=subprocess.DEVNULL,
            stdout=fd,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            cwd=truss_dir,  # as Truss runs user code from the model's directory
            preexec_fn=die_with_parent if sys.platform == "linux" else None,
            close_fds=True,
            pass_fds=() if ready_fd is None else (ready_fd,),
        )
    finally:
        os.close(fd)


def kill_group(pid: int, sig: int) -> None:
    """Send `sig` to the process group `pid` leads (a pid of 0 or less, such as a
    replica on another node has, names no group here: never the server's own)."""
    if pid <= 0:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


STOP_GRACE = base.STOP_GRACE


def stop_process_group(pid: int, started: float, grace: float = STOP_GRACE) -> None:
    """TERM the replica's process group, wait up to `grace` seconds, then KILL it."""
    if not is_same_process(pid, started):
        return
    kill_group(pid, signal.SIGTERM)
    # Gone, or a zombie: it has exited.
    if poll(lambda: (not is_same_process(pid, started)) or None, grace) is None:
        kill_group(pid, signal.SIGKILL)


def stop_recorded_replicas(store: Store) -> int:
    """Stop every replica process recorded in the store (left by a server that died);
    the number that were still running."""
    with store.read() as tx:
        recorded = tx.replicas()
    running = 0
    for replica in recorded:
        running += is_same_process(replica.pid, replica.process_started)
        stop_process_group(replica.pid, replica.process_started)
        Path(replica.socket).unlink(missing_ok=True)
    with store.transaction() as tx:
        for replica in recorded:
            tx.delete_replica(replica.id)
    return running


async def probe(
    address: base.Address,
    path: str = "/v1/models/model",
    timeout: float = 1.0,
    headers: Mapping[str, str] | None = None,
) -> int | None:
    """The HTTP status of GET `path` on the replica at `address` (a Unix socket path or
    `host:port`), or None if it is not up; `headers`: more header fields (the
    server's secret for a remote replica)."""
    return await request(address, "GET", path, b"", timeout, headers)


async def tell_environment(
    address: base.Address,
    environment: str | None,
    timeout: float = 30.0,
    headers: Mapping[str, str] | None = None,
) -> bool:
    """Tell the replica at `address` the environment its deployment is now in (Truss's
    `setup_environment`); True once it took it."""
    body = json.dumps(environment_json(environment)).encode()
    return await request(address, "POST", ENVIRONMENT_PATH, body, timeout, headers) == 200


ENVIRONMENT_PATH = "/brace/environment"
ENVIRONMENT_VARIABLE = "BRACE_ENVIRONMENT"


def environment_json(environment: str | None) -> dict[str, str] | None:
    """The environment as Truss's server hands it to the model: a mapping with its name,
    or None when the deployment is in no environment."""
    return None if environment is None else {"name": environment}


async def connect(
    address: base.Address, timeout: float
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A connection to the replica at `address`: its Unix socket, or TCP with
    `TCP_NODELAY` (a small request must not wait for Nagle's delayed ACK); raises
    OSError or TimeoutError after `timeout` seconds."""
    tcp = base.tcp_address(address)
    if tcp is None:
        return await asyncio.wait_for(asyncio.open_unix_connection(address), timeout)
    reader, writer = await asyncio.wait_for(asyncio.open_connection(*tcp), timeout)
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return reader, writer


async def request(
    address: base.Address,
    method: str,
    path: str,
    body: bytes,
    timeout: float,
    headers: Mapping[str, str] | None = None,
) -> int | None:
    """The HTTP status of one request to the replica at `address`, or None if it is not
    up; `headers`: more header fields."""
    try:
        reader, writer = await connect(address, timeout)
    except (OSError, TimeoutError):
        return None
    extra = "".join(f"{name}: {value}\r\n" for name, value in (headers or {}).items())
    try:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: replica\r\nConnection: close\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        writer.write(head.encode() + body)
        line = await asyncio.wait_for(reader.readline(), timeout)
        parts = line.split()
        return int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
    except (OSError, TimeoutError, ValueError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()

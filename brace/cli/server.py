"""Commands that run or talk to the local server: server, up, down, status, logs.

Commands that need a running server (predict, `--wait`, watch) start it in the
background when it is not running, and say so on stderr. So do commands that record
something for the server to run (push, promote, activate): without a server, nothing
would ever run it. `BRACE_AUTOSTART=0` turns that off: those commands then only
record, and the ones that need a server fail with exit code 6 (`brace up` starts it).
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from brace.cli.common import (
    ModelOpt,
    Output,
    OutputOpt,
    emit,
    line,
    note,
    open_store,
    session,
)
from brace.errors import ServerError, UsageError
from brace.home import brace_home

if TYPE_CHECKING:
    from brace.client import Address

HostOpt = Annotated[
    str | None,
    typer.Option(
        envvar="BRACE_HOST", help="Server address [default: the running server's, else 127.0.0.1]."
    ),
]
PortOpt = Annotated[
    int | None,
    typer.Option(
        envvar="BRACE_PORT",
        min=1,
        max=65535,
        help="Server port [default: the running server's, else 8765].",
    ),
]


def _address(host: str | None, port: int | None) -> Address:
    from brace.client import address

    return address(brace_home(), host, port)


AUTOSTART = "BRACE_AUTOSTART"


def autostart(environ: Mapping[str, str]) -> bool:
    """Whether commands may start the server in the background (`BRACE_AUTOSTART`)."""
    return environ.get(AUTOSTART, "1").strip().lower() not in ("0", "false", "no", "off")


def ensure_server(host: str | None = None, port: int | None = None) -> Address:
    """The address of this home's server, started in the background if needed (and
    allowed: see `autostart`)."""
    from brace import client

    home = brace_home()
    where = _address(host, port)
    if not client.running(home, where):
        client.check_not_elsewhere(home, where)
        if not autostart(os.environ):
            raise ServerError(
                f"no brace server is running at {where.url}",
                f"Start one with `brace up` ({AUTOSTART}=0 keeps commands from starting it).",
            )
        note(f"Starting the brace server at {where.url} (log: {home / 'logs' / 'server.log'}).")
        client.start_background(home, where)
    return where


def start_to_run(what: str) -> None:
    """`what` ("deployment deployment-1 (abc)") was recorded for the server to run:
    start the server in the background if none runs (and autostart is on)."""
    if not autostart(os.environ):
        return
    try:
        ensure_server()
    except ServerError as error:
        raise ServerError(
            f"{what} is recorded, but the brace server did not start: {error.message}",
            error.hint,
        ) from None


def up_command(host: HostOpt = None, port: PortOpt = None, output: OutputOpt = Output.text) -> None:
    """Start the local server in the background and print its URL.

    Example:

    \b
      brace up
    """
    from brace import client

    where = _address(host, port)
    record = client.running(brace_home(), where)
    started = record is None
    if record is None:
        record = client.start_background(brace_home(), where)
    emit(
        {"url": where.url, "pid": record.pid, "started": started},
        f"brace server {'started' if started else 'already running'} at {where.url}",
    )


def down_command(output: OutputOpt = Output.text) -> None:
    """Stop the local server and every replica.

    Example:

    \b
      brace down
    """
    from brace import client

    record = client.stop(brace_home())
    emit(
        {"stopped": record is not None, "pid": record.pid if record else None},
        f"Stopped the brace server (pid {record.pid})." if record else "No server was running.",
    )


def api_key_command(output: OutputOpt = Output.text) -> None:
    """Print the API key that the management API and the inference paths ask for.

    Send it as `Authorization: Api-Key <key>` (or `Bearer <key>`). It is made on first
    use in the brace home (file api_key, readable only by you); BRACE_API_KEY replaces it.

    Example:

    \b
      curl -H "Authorization: Api-Key $(brace api-key)" http://127.0.0.1:8765/v1/models
    """
    from brace.apikey import api_key

    key = api_key(brace_home())
    emit({"api_key": key}, key)


def status_command(
    host: HostOpt = None, port: PortOpt = None, output: OutputOpt = Output.text
) -> None:
    """Say whether the local server is running and healthy, and what keeps it from
    doing its job in full (a full disk: it serves what runs, and changes wait until it
    can write its state again).

    A stopped server is an answer, not an error: exit code 0 either way, and
    `"running": false` with -o json.

    Example:

    \b
      brace status -o json
    """
    from brace import client
    from brace.services import views

    where = _address(host, port)
    record = client.running(brace_home(), where)
    if record is None:
        client.check_not_elsewhere(brace_home(), where)
        emit(
            {"running": False, "url": where.url},
            f"brace server stopped: none is running at {where.url} (start it with `brace up`).",
        )
        return
    answer = client.health(where) or {}
    problems = [str(p) for p in answer.get("problems") or []]
    cluster = _cluster(brace_home())
    with open_store() as store, store.read() as tx:
        replicas = len(tx.replicas())
        running = views.running_deployments(tx)

    def text() -> None:
        line(f"brace server running at {where.url} (pid {record.pid}, {replicas} replicas)")
        for problem in problems:
            line(f"  problem: the server {problem}")
        for d in running:
            line(
                f"  {d['model']}/{d['deployment']} ({d['id']}): {d['status']}, "
                f"{d['active_replica_count']} of {d['recommended_replicas']} replicas"
            )
        for text in _cluster_lines(cluster):
            line(text)

    emit(
        {
            "running": True,
            "url": where.url,
            "pid": record.pid,
            "replicas": replicas,
            "deployments": running,
            "problems": problems,
            **_cluster_json(cluster),
        },
        text,
    )


def _cluster_lines(cluster: dict[str, Any]) -> list[str]:
    """`brace status`'s lines on where replicas run: the backend, then each node."""
    if cluster.get("backend") == "ray":
        lines = [f"  backend: ray at {cluster.get('address')} ({cluster.get('connection')})"]
    else:
        lines = [f"  backend: {cluster.get('backend')}"] if cluster else []
    for node in cluster.get("nodes") or []:
        state = "alive" if node.get("alive") else "lost"
        if node.get("alive") and node.get("agent", "ready") != "ready":
            state = f"alive, agent {node['agent']}"
        name = str(node.get("address")) + (f" ({node['id'][:8]})" if node.get("id") else "")
        lines.append(f"  node {name}: {state}, {len(node.get('replicas') or [])} replicas")
    return lines


def _cluster_json(cluster: dict[str, Any]) -> dict[str, Any]:
    """`brace status -o json`'s fields on where replicas run."""
    found: dict[str, Any] = {"backend": cluster.get("backend")}
    if cluster.get("backend") == "ray":
        found |= {"cluster": cluster.get("address"), "connection": cluster.get("connection")}
    return found | {"nodes": cluster.get("nodes") or []}


def _cluster(home: Path) -> dict[str, Any]:
    """Where the server runs its replicas (`GET /brace/cluster`); empty if it cannot say."""
    from brace.apikey import api_key
    from brace.client import get_json

    try:
        answer = get_json(home, "/brace/cluster", api_key(home))
    except ServerError:
        return {}
    return answer if isinstance(answer, dict) else {}


class LogOutput(StrEnum):
    text = "text"
    json = "json"
    jsonl = "jsonl"


def _remember_log_output(value: LogOutput) -> LogOutput:
    session.output = Output.text if value is LogOutput.text else Output.json
    return value


def logs_command(
    deployment: Annotated[str, typer.Argument(help="Deployment id or name.")],
    model: ModelOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only lines written since then: a duration back from now (30s, 10m, 1h, "
            "2d) or a time (2026-01-02T03:04; local time unless it names a zone)."
        ),
    ] = None,
    output: Annotated[
        LogOutput,
        typer.Option(
            "-o",
            "--output",
            callback=_remember_log_output,
            is_eager=True,
            help='text (the lines as written), json ({"logs": [...]}), or jsonl: one '
            "object per line with time (ISO 8601 with zone), level, replica and message.",
        ),
    ] = LogOutput.text,
) -> None:
    """Print a deployment's log: its replicas' output and what the server did.

    Example:

    \b
      brace logs development -m hello --follow
      brace logs production -m hello --since 10m -o jsonl
    """
    from datetime import datetime

    from brace.logs import LogLines, LogTail, parse_since
    from brace.server.paths import ServerPaths
    from brace.services.lookup import find_deployment

    try:
        start = parse_since(since, datetime.now().astimezone()) if since is not None else None
    except ValueError as error:
        raise UsageError(f"--since: {error}") from None
    with open_store() as store, store.read() as tx:
        found = find_deployment(tx, deployment, model)

    path = ServerPaths(brace_home()).deployment_log(found.id)
    log = LogTail(lambda: path, from_start=True)
    lines = LogLines(start)
    while True:
        shown = lines.select(log.poll(partial=not follow))
        if output is LogOutput.jsonl:
            for _, parsed in shown:
                emit(parsed.to_json(), "", stream=True)
        elif output is LogOutput.json and not follow:
            emit({"logs": [{"message": text} for text, _ in shown]}, "")
        else:
            for text, _ in shown:
                if output is LogOutput.json:
                    emit({"message": text}, "", stream=True)
                else:
                    line(text)
        if not follow:
            return
        time.sleep(0.2)

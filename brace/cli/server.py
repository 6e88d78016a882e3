"""Commands that run or talk to the local server: server, up, down, status, predict, logs.

Commands that need a running server (predict, `--wait`) start it in the background
when it is not running, and say so on stderr.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brace.cli.common import ModelOpt, Output, OutputOpt, emit, line, note, open_store, session
from brace.errors import InvalidError, NotFoundError, ServerError, UsageError
from brace.home import brace_home
from brace.server.limits import Limits, parse_size, size_text

if TYPE_CHECKING:
    from brace.server.client import Address

HostOpt = Annotated[
    str | None,
    typer.Option(
        envvar="BRACE_HOST", help="Server address [default: the running server's, else 127.0.0.1]."
    ),
]
PortOpt = Annotated[
    int | None,
    typer.Option(
        envvar="BRACE_PORT", help="Server port [default: the running server's, else 8765]."
    ),
]


def _address(host: str | None, port: int | None) -> Address:
    from brace.server.client import address

    return address(brace_home(), host, port)


def ensure_server(host: str | None = None, port: int | None = None) -> Address:
    """The address of this home's server, started in the background if needed."""
    from brace.server import client

    home = brace_home()
    where = _address(host, port)
    if not client.running(home, where):
        note(f"Starting the brace server at {where.url} (log: {home / 'logs' / 'server.log'}).")
        client.start_background(home, where)
    return where


def server_command(
    host: HostOpt = None,
    port: PortOpt = None,
    hold_timeout: Annotated[
        float,
        typer.Option(
            envvar="BRACE_HOLD_TIMEOUT",
            min=0.1,
            help="Seconds a request waits for a deployment to start or wake before 504.",
        ),
    ] = 120.0,
    inference_key: Annotated[
        bool,
        typer.Option(
            envvar="BRACE_INFERENCE_KEY",
            help="Ask for the API key on inference paths too, as Baseten does. "
            "--no-inference-key lets any local program call models without it "
            "(the management API always asks).",
        ),
    ] = True,
    max_body_size: Annotated[
        str,
        typer.Option(
            envvar="BRACE_MAX_BODY_SIZE",
            help="Largest request body the server accepts (413 above it): bytes, or with a "
            "unit (KiB, MiB, GiB, KB, MB, GB).",
        ),
    ] = size_text(Limits().max_body_bytes),
    header_timeout: Annotated[
        float,
        typer.Option(
            envvar="BRACE_HEADER_TIMEOUT",
            min=0.1,
            help="Seconds a client has to send a request's headers (408 after).",
        ),
    ] = Limits().header_timeout,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            envvar="BRACE_ALLOWED_HOSTS",
            help="Also accept this name in the Host header (repeatable; the env var takes "
            "names separated by spaces). Loopback addresses, localhost, model-{id}.localhost "
            "and --host are always accepted.",
        ),
    ] = None,
    output: OutputOpt = Output.text,
) -> None:
    """Run the local server in the foreground (gateway, management API, controller).

    Requests with a Host header that is not a local name, or an Origin header of
    another site, are refused (see docs/security.md).

    Example:

    \b
      brace server --port 8765 --max-body-size 1GiB
    """
    from brace.server.client import DEFAULT_HOST, DEFAULT_PORT
    from brace.server.main import run_server

    try:
        body = parse_size(max_body_size)
    except ValueError as error:
        raise UsageError(f"--max-body-size: {error}") from None
    limits = replace(Limits(), max_body_bytes=body, header_timeout=header_timeout)
    run_server(
        brace_home(),
        host or DEFAULT_HOST,
        port or DEFAULT_PORT,
        limits,
        allowed_host or (),
        hold_timeout,
        inference_key,
    )


def up_command(host: HostOpt = None, port: PortOpt = None, output: OutputOpt = Output.text) -> None:
    """Start the local server in the background and print its URL.

    Example:

    \b
      brace up
    """
    from brace.server import client

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
    from brace.server import client

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
    """Say whether the local server is running and healthy (exit code 6 if not).

    Example:

    \b
      brace status -o json
    """
    from brace.server import client

    where = _address(host, port)
    record = client.running(brace_home(), where)
    if record is None:
        raise ServerError(
            f"no brace server is running at {where.url}", "Start one with `brace up`."
        )
    with open_store() as store, store.read() as tx:
        replicas = len(tx.replicas())
        names = {m.id: m.name for m in tx.models()}
        running = [
            {
                "model": names.get(d.model_id, d.model_id),
                "deployment": d.name,
                "id": d.id,
                "status": d.status.value,
                "active_replica_count": d.active_replica_count,
                "recommended_replicas": d.recommended_replicas,
            }
            for d in tx.deployments()
            if not (d.status.failed or d.status.inactive)
        ]

    def text() -> None:
        line(f"brace server running at {where.url} (pid {record.pid}, {replicas} replicas)")
        for d in running:
            line(
                f"  {d['model']}/{d['deployment']} ({d['id']}): {d['status']}, "
                f"{d['active_replica_count']} of {d['recommended_replicas']} replicas"
            )

    emit(
        {
            "running": True,
            "url": where.url,
            "pid": record.pid,
            "replicas": replicas,
            "deployments": running,
        },
        text,
    )


def _predict_path(
    model: str | None, environment: str | None, deployment: str | None, development: bool
) -> str:
    from brace.services.lookup import find_deployment, find_model

    chosen = [environment is not None, deployment is not None, development]
    if sum(chosen) > 1:
        raise UsageError("choose one of --environment, --deployment and --development")
    with open_store() as store, store.read() as tx:
        found = find_model(tx, model)
        if deployment is not None:
            target = find_deployment(tx, deployment, found.id)
            return f"/model/{found.id}/deployment/{target.id}/predict"
    if development:
        return f"/model/{found.id}/development/predict"
    if environment is not None:
        return f"/model/{found.id}/environments/{environment}/predict"
    return f"/model/{found.id}/production/predict"


def _input(data: str | None, file: Path | None) -> bytes:
    if data is not None and file is not None:
        raise UsageError("pass the input with -d or -f, not both")
    if data is not None:
        text = data
    elif file is not None:
        try:
            text = file.read_text()
        except OSError as error:
            raise InvalidError(f"{file}: {error.strerror}") from None
    else:
        text = sys.stdin.read()
    try:
        json.loads(text)
    except ValueError as error:
        raise InvalidError(f"the input is not valid JSON: {error}") from None
    return text.encode()


def predict_command(
    model: ModelOpt = None,
    environment: Annotated[
        str | None, typer.Option("-e", "--environment", help="Call this environment.")
    ] = None,
    deployment: Annotated[
        str | None, typer.Option(help="Call this deployment (id or name).")
    ] = None,
    development: Annotated[bool, typer.Option(help="Call the development deployment.")] = False,
    data: Annotated[str | None, typer.Option("-d", "--data", help="JSON input.")] = None,
    file: Annotated[
        Path | None, typer.Option("-f", "--file", help="File with the JSON input.")
    ] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Call a model's predict endpoint through the local server (production by default).

    The input comes from -d, -f or stdin; the answer streams to stdout as it arrives.

    Example:

    \b
      brace predict -m hello -d '{"text": "hi"}'
    """
    from brace.server.client import post

    path = _predict_path(model, environment, deployment, development)
    body = _input(data, file)
    where = ensure_server(host, port)
    received: list[bytes] = []

    def on_chunk(status: int, chunk: bytes) -> None:
        received.append(chunk)
        if status < 300:  # an answer streams to stdout as it arrives; an error is raised
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()

    from brace.apikey import api_key

    status = post(where, path, body, on_chunk, key=api_key(brace_home()))
    answer = b"".join(received).decode(errors="replace")
    if status >= 300:
        message = f"the server answered {status}: {answer.strip()}"
        if status == 404:
            raise NotFoundError(message)
        if status < 500:
            raise InvalidError(message)
        raise ServerError(
            message, f"See the replica's log: brace logs {deployment or 'DEPLOYMENT'}"
        )
    if not answer.endswith("\n") and session.output is Output.text:
        sys.stdout.write("\n")


def logs_command(
    deployment: Annotated[str, typer.Argument(help="Deployment id or name.")],
    model: ModelOpt = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines.")
    ] = False,
    output: OutputOpt = Output.text,
) -> None:
    """Print a deployment's log: its replicas' output and what the server did.

    Example:

    \b
      brace logs development -m hello --follow
    """
    from brace.server.paths import ServerPaths
    from brace.services.lookup import find_deployment

    with open_store() as store, store.read() as tx:
        found = find_deployment(tx, deployment, model)
    from brace.logs import LogTail

    path = ServerPaths(brace_home()).deployment_log(found.id)
    log = LogTail(lambda: path, from_start=True)
    while True:
        lines = log.poll(partial=not follow)
        if session.output is Output.json and not follow:
            emit({"logs": [{"message": m} for m in lines]}, "")
        else:
            for message in lines:
                if session.output is Output.json:
                    emit({"message": message}, "", stream=True)
                else:
                    line(message)
        if not follow:
            return
        time.sleep(0.2)

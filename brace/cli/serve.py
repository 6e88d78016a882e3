"""`brace server`: run the server in the foreground, its replicas on this machine or
on the nodes of a Ray cluster (docs/scale-out.md)."""

from __future__ import annotations

import importlib.util
from dataclasses import replace
from enum import StrEnum
from typing import Annotated

import typer

from brace.cli.common import Output, OutputOpt, finite
from brace.cli.server import HostOpt, PortOpt
from brace.errors import ServerError, UsageError
from brace.home import brace_home
from brace.server.control.liveness import LIVENESS_TIMEOUT, REMOTE_LIVENESS_TIMEOUT, Liveness
from brace.server.gateway.limits import Limits, parse_size, size_text


class BackendKind(StrEnum):
    local = "local"
    ray = "ray"


def server_command(
    host: HostOpt = None,
    port: PortOpt = None,
    hold_timeout: Annotated[
        float,
        typer.Option(
            envvar="BRACE_HOLD_TIMEOUT",
            min=0.1,
            callback=finite,
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
            callback=finite,
            help="Seconds a client has to send a request's headers (408 after).",
        ),
    ] = Limits().header_timeout,
    liveness_timeout: Annotated[
        float | None,
        typer.Option(
            envvar="BRACE_LIVENESS_TIMEOUT",
            min=0.1,
            help="Seconds a ready replica may go without answering its liveness probes "
            "(three, this far apart in all) before it is stopped and replaced "
            f"[default: {LIVENESS_TIMEOUT:g}; {REMOTE_LIVENESS_TIMEOUT:g} with --backend ray].",
        ),
    ] = None,
    start_concurrency: Annotated[
        int | None,
        typer.Option(
            envvar="BRACE_START_CONCURRENCY",
            min=1,
            help="Most replicas starting at once [default: the number of cores]; the others "
            "wait their turn, deployments with requests held and production ones first.",
        ),
    ] = None,
    allowed_host: Annotated[
        list[str] | None,
        typer.Option(
            envvar="BRACE_ALLOWED_HOSTS",
            help="Also accept this name in the Host header (repeatable; the env var takes "
            "names separated by spaces). Loopback addresses, localhost, model-{id}.localhost "
            "and --host are always accepted.",
        ),
    ] = None,
    backend: Annotated[
        BackendKind,
        typer.Option(
            envvar="BRACE_BACKEND",
            help="Where replicas run: on this machine, or on the nodes of a Ray cluster "
            "(pip install 'brace[ray]'; see docs/scale-out.md).",
        ),
    ] = BackendKind.local,
    address: Annotated[
        str | None,
        typer.Option(
            envvar="BRACE_RAY_ADDRESS",
            help="The Ray cluster's address (HOST:PORT of its head) for --backend ray.",
        ),
    ] = None,
    placement_timeout: Annotated[
        float,
        typer.Option(
            envvar="BRACE_PLACEMENT_TIMEOUT",
            min=0.1,
            callback=finite,
            help="Seconds a replica waits for a Ray node that can hold it before its "
            "deployment reports why none can.",
        ),
    ] = 30.0,
    node_cache: Annotated[
        str,
        typer.Option(
            envvar="BRACE_NODE_CACHE",
            help="Where each Ray node keeps models and environments "
            "[default: ~/.cache/brace/node on the node].",
        ),
    ] = "",
    ship_secrets_unauthenticated: Annotated[
        bool,
        typer.Option(
            "--ship-secrets-unauthenticated",
            help="Send model secrets to a Ray cluster without token authentication "
            "(refused by default; see docs/security.md).",
        ),
    ] = False,
    output: OutputOpt = Output.text,
) -> None:
    """Run the local server in the foreground (gateway, management API, controller).

    Requests with a Host header that is not a local name, or an Origin header of
    another site, are refused (see docs/security.md). The web console is at / on the
    same address; sign in with the API key (see docs/console.md).

    Example:

    \b
      brace server --port 8765 --max-body-size 1GiB
      brace server --backend ray --address 10.0.0.1:6379
    """
    from brace.client import DEFAULT_HOST, DEFAULT_PORT
    from brace.server.backends.cluster import ClusterSettings
    from brace.server.main import ServerOptions, run_server

    try:
        body = parse_size(max_body_size)
    except ValueError as error:
        raise UsageError(f"--max-body-size: {error}") from None
    cluster = None
    if backend is BackendKind.ray:
        if not address:
            raise UsageError(
                "--backend ray needs the cluster's address",
                "Pass --address HOST:PORT (or set BRACE_RAY_ADDRESS).",
            )
        if importlib.util.find_spec("ray") is None:
            raise ServerError(
                "--backend ray needs Ray, which is not installed",
                "Install it with `pip install 'brace[ray]'` (docs/scale-out.md).",
            )
        cluster = ClusterSettings(
            address, placement_timeout, ship_secrets_unauthenticated, node_cache
        )
    if liveness_timeout is None:
        liveness_timeout = LIVENESS_TIMEOUT if cluster is None else REMOTE_LIVENESS_TIMEOUT
    options = ServerOptions(
        limits=replace(Limits(), max_body_bytes=body, header_timeout=header_timeout),
        allowed_hosts=tuple(allowed_host or ()),
        hold_timeout=hold_timeout,
        inference_key=inference_key,
        liveness=Liveness(timeout=liveness_timeout),
        cluster=cluster,
        start_concurrency=start_concurrency,
    )
    run_server(brace_home(), host or DEFAULT_HOST, port or DEFAULT_PORT, options)

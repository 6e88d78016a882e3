"""`brace server`: the gateway, the internal app and the controller in one event loop.

Start-up order: take the home's server lock (`claim`: a second server is refused with
the first one's pid); refuse if a server's record names a live process; sweep replicas a
crashed server left behind; start the internal app on a Unix socket; bind the
gateway; write `server.json`; then reconcile until SIGTERM or SIGINT, and on the way
out stop every replica and remove `server.json`.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

import uvicorn
import uvloop

from brace.apikey import api_key
from brace.console.live import Live, ReplicaInfo
from brace.errors import ServerError
from brace.runtime import guard
from brace.server.app import internal_app
from brace.server.backends import forkserver, supervisor
from brace.server.backends.base import Backend
from brace.server.backends.cluster import ClusterSettings, RayBackend
from brace.server.backends.forkservers import ForkServers
from brace.server.backends.local import LocalBackend
from brace.server.backends.supervisor import process_started, replica_environment
from brace.server.claim import claim, release
from brace.server.control.autoscaler import Autoscaler
from brace.server.control.controller import Controller
from brace.server.control.liveness import Liveness
from brace.server.control.replicas import Replicas
from brace.server.control.rolling_promotions import StepHealth
from brace.server.control.settings import ControllerSettings
from brace.server.control.wakeup import Wakeup
from brace.server.gateway.counters import HISTORY_INTERVAL
from brace.server.gateway.limits import Limits
from brace.server.gateway.proxy import Gateway
from brace.server.gateway.routing import RoutingTable
from brace.server.metrics.endpoint import Sources, keep_history, replica_states
from brace.server.metrics.usage import Sample, keep_usage, sampler
from brace.server.paths import ServerPaths
from brace.server.record import (
    ServerRecord,
    new_server_id,
    read_record,
    remove_record,
    write_record,
)
from brace.server.storeworker import StoreWorker


class _QuietServer(uvicorn.Server):
    """The internal app's server: the event loop's own handlers take the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass(frozen=True)
class ServerOptions:
    """`brace server`'s options (docs/cli.md): the gateway's bounds, the names it
    accepts in the Host header besides loopback and localhost, how long a request
    waits (seconds) for a deployment to start or wake before 504, and whether
    inference paths ask for the API key, as on Baseten (the management API always
    does), how long a ready replica may stop answering before it is replaced, and how
    many replicas may start at once (None: as many as there are cores)."""

    limits: Limits = field(default_factory=Limits)
    allowed_hosts: tuple[str, ...] = ()
    hold_timeout: float = 120.0
    inference_key: bool = True
    liveness: Liveness = field(default_factory=Liveness)
    cluster: ClusterSettings | None = None
    """The `ray` backend's settings (None: the `local` backend)."""
    start_concurrency: int | None = None


async def serve(home: Path, host: str, port: int, options: ServerOptions = ServerOptions()) -> None:
    """Serve until SIGTERM or SIGINT."""
    paths = ServerPaths(home)
    claimed = claim(home)  # before anything else: one home, one server
    try:
        await _serve(home, paths, host, port, options)
    finally:
        release(claimed)


async def _serve(
    home: Path, paths: ServerPaths, host: str, port: int, options: ServerOptions
) -> None:
    _refuse_another(home, paths)
    db, api_db = StoreWorker(home), StoreWorker(home)
    key = api_key(home)
    gateway, backend, controller = _wings(home, paths, options, db, key)
    controller.sweep_orphans()
    paths.internal_socket.unlink(missing_ok=True)
    server_id = new_server_id()
    sources = Sources(gateway.counters, gateway.load, lambda: replica_states(controller.replicas))
    stop = asyncio.Event()
    app = internal_app(
        server_id,
        key,
        api_db,
        sources,
        live=console_live(controller, stop),
        problems=controller.problems,
        cluster=lambda: cluster_view(backend, controller),
    )
    internal = _QuietServer(
        uvicorn.Config(
            app,
            uds=str(paths.internal_socket),
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
    )
    internal_task = asyncio.create_task(internal.serve())
    try:
        listener = await gateway.serve(host, port)
    except OSError as error:
        internal.should_exit = True
        await internal_task
        raise ServerError(f"cannot listen on {host}:{port}: {error.strerror}") from None
    backend.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    pid = os.getpid()
    write_record(paths, ServerRecord(pid, process_started(pid), host, port, server_id))
    print(f"brace server listening on http://{host}:{port} (home {home})", flush=True)
    history = asyncio.create_task(keep_history(sources, stop, HISTORY_INTERVAL))
    usage = asyncio.create_task(keep_usage(_usage_sample(sources), api_db, stop))
    try:
        await controller.run(stop)
    finally:
        stop.set()
        await asyncio.gather(history, usage)
        listener.close()
        await controller.shutdown()
        backend.close()
        await forkserver.ended()
        internal.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await internal_task
        _clean_up(paths, pid, db, api_db)


def _refuse_another(home: Path, paths: ServerPaths) -> None:
    """ServerError when the home's record names another live server."""
    running = read_record(paths)
    if running is not None and running.pid != os.getpid():
        raise ServerError(
            f"a brace server for {home} is already running at {running.url} (pid {running.pid})",
            "Stop it with `brace down`, or use it as it is.",
        )


def _wings(
    home: Path, paths: ServerPaths, options: ServerOptions, db: StoreWorker, key: str
) -> tuple[Gateway, Backend, Controller]:
    """The gateway, the replica backend and the controller, each given the others'
    hooks it calls (one `Wakeup` nudges the controller from all of them). With the
    `ray` backend, a per-server secret goes with every request to a replica."""
    wakeup = Wakeup()
    secret = None if options.cluster is None else secrets.token_urlsafe(32)
    gateway = Gateway(
        RoutingTable(),
        internal_uds=str(paths.internal_socket),
        wake=wakeup,
        hold_timeout=options.hold_timeout,
        limits=options.limits,
        allowed_hosts=options.allowed_hosts,
        api_key=key if options.inference_key else None,
        awaiting_table=True,
        replica_secret=secret,
    )
    fork_server = ForkServers(
        sys.executable, replica_environment(home, {}), paths.server_log, on_exit=wakeup
    )
    backend: Backend = LocalBackend(fork_server)
    headers = {} if secret is None else {guard.HEADER: secret}
    if options.cluster is not None and secret is not None:
        backend = RayBackend(options.cluster, backend, secret)
    replicas = Replicas(
        spawn=backend.launch,
        probe=partial(supervisor.probe, headers=headers),
        tell=partial(supervisor.tell_environment, headers=headers),
        in_flight=gateway.in_flight,
        on_notice=wakeup,
    )
    controller = Controller(
        db,
        gateway.set_table,
        replicas=replicas,
        autoscaler=Autoscaler(gateway.load, time.monotonic, gateway.held),
        health=StepHealth(gateway.counters),
        wakeup=wakeup,
        settings=_controller_settings(options),
    )
    return gateway, backend, controller


def cluster_view(backend: Backend, controller: Controller) -> dict[str, object]:
    """Where replicas run, for `brace status`: the backend, and with `ray` the
    cluster's address, the connection to it (`connected`, `connecting` or why not)
    and its nodes (address, id, alive, Ray resources, brace's replicas on each); `local` names the
    server's own machine, where the development deployment's replicas run."""
    here = sorted(r.id for r in controller.replicas if r.process.node is None)
    if not isinstance(backend, RayBackend):
        return {
            "backend": "local",
            "nodes": [{"address": "local", "alive": True, "replicas": here}],
        }
    local = {"address": "local", "id": "", "alive": True, "resources": {}, "replicas": here}
    return {
        "backend": "ray",
        "address": backend.settings.address,
        "connection": backend.connection,
        "nodes": [local, *backend.node_views()],
    }


def _controller_settings(options: ServerOptions) -> ControllerSettings:
    settings = ControllerSettings(liveness=options.liveness)
    if options.start_concurrency is None:
        return settings
    return replace(settings, start_concurrency=options.start_concurrency)


def _clean_up(paths: ServerPaths, pid: int, *stores: StoreWorker) -> None:
    """The server's record and sockets gone, its store threads closed."""
    remove_record(paths, pid)
    paths.internal_socket.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # only when no replica socket is left in it
        paths.sockets().rmdir()
    for store in stores:
        store.close()
    print("brace server stopped", flush=True)


def console_live(controller: Controller, stopping: asyncio.Event) -> Live:
    """What the console shows of the running server: its replicas, each deployment's
    restarts, the controller's wake hook, and the event that ends the live pages."""

    def replicas() -> list[ReplicaInfo]:
        return [
            ReplicaInfo(
                r.id,
                r.deployment_id,
                r.revision,
                r.state.name,
                r.process.pid,
                r.process.started,
            )
            for r in controller.replicas
        ]

    def restarts(deployment_id: str) -> int:
        run = controller.runs.get(deployment_id)
        return 0 if run is None else run.history.start_failures + len(run.history.crashes)

    return Live(replicas, restarts, controller.nudge, stopping)


def _usage_sample(sources: Sources) -> Callable[[], Sample]:
    def requests() -> dict[str, int]:
        return {d: c.requests for d, c in sources.counters.snapshot().deployments.items()}

    return sampler(sources.replicas, requests)


def run_server(home: Path, host: str, port: int, options: ServerOptions = ServerOptions()) -> None:
    uvloop.run(serve(home, host, port, options))

"""`GET /metrics` (Prometheus text format) and `GET /brace/stats`, on the internal app.

What is counted lives where it happens: the gateway's request counters
(`counters.RequestCounters`, bumped on the hot path) and requests in flight, the
controller's replicas and their states, and the store (names, environments, the
autoscaler's recommendation, promotions). Nothing is aggregated ahead of time: a scrape
reads the store in its worker thread, then copies the gateway's counters on the event
loop (where they change, so the copy is consistent), and `exposition` turns that one
`scrape.Scrape` into Prometheus text, in a thread.

Names and labels follow Baseten's metrics export (`baseten_inference_requests_total`
becomes `brace_inference_requests_total`, with `model_id`, `model_name`,
`deployment_id`, `environment`, `status_code`); docs/serving.md lists them all.
`/brace/stats` answers request rate, error rate and p50/p99 per deployment over a
recent window (`stats.py`) from the snapshots `counters.CounterHistory` keeps.
Both paths need the API key (`api/auth.py`), as Baseten's metrics endpoint does.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable, Iterable, Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from brace.errors import InvalidError
from brace.server.control.autoscaler import Load
from brace.server.control.replicas import Replica
from brace.server.gateway.counters import (
    BOUNDS,
    HISTORY_SPAN,
    CounterHistory,
    RequestCounters,
)
from brace.server.metrics.scrape import LOCAL_NODE, Scrape, StoreView
from brace.server.metrics.stats import window_stats
from brace.server.storeworker import StoreWorker

METRICS_PATH = "/metrics"
STATS_PATH = "/brace/stats"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

DEFAULT_WINDOW = 60.0
"""Seconds `/brace/stats` looks back when not told."""

ReplicaStates = Callable[[], Mapping[str, Mapping[tuple[str, str], int]]]
"""Deployment id -> (replica state name (READY, LOADING, ...), node) -> replicas in it;
the node is `LOCAL_NODE` for this machine, else the Ray node's address."""


def replica_states(replicas: Iterable[Replica]) -> dict[str, dict[tuple[str, str], int]]:
    """Count the server's replicas by deployment, state and node (`ReplicaStates`; a
    remote replica not placed yet counts on node "")."""
    states: dict[str, dict[tuple[str, str], int]] = {}
    for replica in replicas:
        counts = states.setdefault(replica.deployment_id, {})
        node = replica.process.node
        key = (replica.state.name, LOCAL_NODE if node is None else node)
        counts[key] = counts.get(key, 0) + 1
    return states


class Sources:
    """What the running server knows beyond the store, read at scrape time on the event
    loop: the gateway's counters and load, the controller's replicas. The defaults are
    a server that has seen nothing (tests of the management API)."""

    def __init__(
        self,
        counters: RequestCounters | None = None,
        load: Load = dict,
        replicas: ReplicaStates = dict,
    ) -> None:
        self.counters = counters if counters is not None else RequestCounters()
        self.history = CounterHistory(self.counters)
        self.load = load
        self.replicas = replicas


async def metrics(request: Request) -> Response:
    sources: Sources = request.app.state.sources
    worker: StoreWorker = request.app.state.store
    view = await worker.read(StoreView.read)
    # On the event loop, where the gateway counts: a consistent copy.
    in_flight = {d: n for d, (n, _) in sources.load().items()}
    scrape = Scrape(view, sources.counters.snapshot(), in_flight, sources.replicas())
    body = await asyncio.to_thread(_render, scrape)
    return Response(body, media_type=CONTENT_TYPE)


def _render(scrape: Scrape) -> bytes:
    from brace.server.metrics.exposition import render  # prometheus_client: on the first scrape

    return render(scrape)


async def stats(request: Request) -> JSONResponse:
    """Per deployment (those that saw requests, or `?deployment_id=`), over the last
    `?window=` seconds (default 60, at most what the history keeps)."""
    sources: Sources = request.app.state.sources
    window = _window(request.query_params.get("window"))
    now = sources.counters.snapshot()
    then = sources.history.since(window, now)
    seconds = now.time - then.time
    wanted = request.query_params.get("deployment_id")
    ids = [wanted] if wanted else sorted(now.deployments)
    load = sources.load()

    def one(deployment_id: str) -> dict[str, object]:
        after = now.of(deployment_id)
        return {
            "deployment_id": deployment_id,
            **window_stats(then.of(deployment_id), after, seconds).to_json(),
            "in_flight": load.get(deployment_id, (0, 0))[0],
            "counts": after.to_json(),
        }

    return JSONResponse(
        {"window_seconds": seconds, "bounds": list(BOUNDS), "deployments": [one(i) for i in ids]}
    )


def _window(text: str | None) -> float:
    if text is None:
        return DEFAULT_WINDOW
    try:
        window = float(text)
    except ValueError:
        window = math.nan
    if not 0 < window <= HISTORY_SPAN:
        raise InvalidError(
            f"window must be a number of seconds above 0 and at most {HISTORY_SPAN:g}, "
            f"not {text!r}",
            facts={"field": "window"},
        )
    return window


async def keep_history(sources: Sources, stop: asyncio.Event, interval: float) -> None:
    """Take a snapshot for the history every `interval` seconds until `stop` is set."""
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), interval)
        except TimeoutError:
            sources.history.record()


ROUTES = [
    Route(METRICS_PATH, metrics, methods=["GET"]),
    Route(STATS_PATH, stats, methods=["GET"]),
]

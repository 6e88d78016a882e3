"""The internal Starlette app behind the gateway: health, metrics and the management API.

The gateway forwards every path that is not an inference path here (the console's
pages at `/` and `/console/...` too), over a Unix
socket, so users see one address. The management API (`brace.server.api`) reaches the
store through its own worker thread, never from the event loop. `/healthz` answers
anyone who can reach the server, so it says nothing about the machine (no home path,
no pid): only the server's random identity, which the CLI compares with `server.json`
(see `brace.server.record`). `/metrics` and `/brace/stats` (`brace.server.metrics.endpoint`)
read the gateway's counters and the controller's replicas through `sources`.
"""

from __future__ import annotations

from collections.abc import Callable

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from brace import __version__
from brace.console import routes as console_routes
from brace.console.live import Live
from brace.errors import BraceError
from brace.server.api import errors, trussclient
from brace.server.api import routes as api_routes
from brace.server.api.auth import RequireKey
from brace.server.api.downloads import Downloads
from brace.server.api.spec import spec_route
from brace.server.metrics.endpoint import ROUTES as METRICS_ROUTES
from brace.server.metrics.endpoint import Sources
from brace.server.storeworker import StoreWorker


def internal_app(
    server_id: str,
    key: str,
    store: StoreWorker,
    sources: Sources | None = None,
    downloads: Downloads | None = None,
    live: Live | None = None,
    problems: Callable[[], list[str]] = list,
    cluster: Callable[[], dict[str, object]] = lambda: {"backend": "local", "nodes": []},
) -> Starlette:
    """The app of the server `server_id`, with the API key `key` on /v1 paths and the
    metrics; the management API and the metrics use `store` (its own worker thread),
    the metrics `sources` too (default: a server that has counted nothing yet);
    `downloads` signs download links (default: a new secret, 5-minute links). The
    console (`brace.console`, at `/` and under `/console/`) signs in with `key` and
    shows what `live` lends (default: no replica). `problems`: what keeps the server
    from doing its job in full now (a full disk), in /healthz's `problems` (one line
    each, no paths). `cluster`: where replicas run (`GET /brace/cluster`, with the key):
    the backend and its nodes."""

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "status": "ok",
                "version": __version__,
                "server_id": server_id,
                "problems": problems(),
            }
        )

    async def nodes(request: Request) -> JSONResponse:
        return JSONResponse(cluster())

    app = Starlette(
        routes=[
            Route("/healthz", healthz),
            Route("/brace/cluster", nodes),
            *api_routes.ROUTES,
            *trussclient.ROUTES,
            trussclient.ARCHIVE_ROUTE,
            spec_route(),
            *METRICS_ROUTES,
            *console_routes.ROUTES,
        ],
        middleware=[Middleware(RequireKey, key=key)],
        exception_handlers={
            BraceError: errors.brace_error,
            404: errors.not_found,
            405: errors.method_not_allowed,
            Exception: errors.bug,
        },
    )
    app.state.store = store
    app.state.api_key = key
    app.state.downloads = downloads if downloads is not None else Downloads()
    app.state.sources = sources if sources is not None else Sources()
    console_routes.install(app.state, key, live)
    return app

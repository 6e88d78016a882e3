"""The internal Starlette app behind the gateway: health now, the management API next.

The gateway forwards every path that is not an inference path here, over a Unix
socket, so users see one address. `/healthz` answers anyone who can reach the server,
so it says nothing about the machine (no home path, no pid): only the server's random
identity, which the CLI compares with `server.json` (see `brace.server.state`).
"""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from brace import __version__


def internal_app(server_id: str) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__, "server_id": server_id})

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"no such path: {request.url.path}"}, status_code=404)

    return Starlette(
        routes=[Route("/healthz", healthz)],
        exception_handlers={404: not_found},
    )

"""The internal Starlette app behind the gateway: health now, the management API next.

The gateway forwards every path that is not an inference path here, over a Unix
socket, so users see one address.
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from brace import __version__


def internal_app(home: Path) -> Starlette:
    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse(
            {"status": "ok", "version": __version__, "pid": os.getpid(), "home": str(home)}
        )

    async def not_found(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"error": f"no such path: {request.url.path}"}, status_code=404)

    return Starlette(
        routes=[Route("/healthz", healthz)],
        exception_handlers={404: not_found},
    )

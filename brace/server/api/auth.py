"""The API key on every management path: an ASGI middleware in front of the routes.

Requests under `/v1/`, to `/metrics` or under `/brace/` without `Authorization:
Api-Key <key>` (or `Bearer <key>`, the scheme Prometheus' `authorization` setting
sends) carrying the server's key are answered 401 before any route runs; the
comparison is constant-time (`brace.apikey.authorized`). Other paths (`/healthz`)
pass. Metrics need the key as Baseten's metrics endpoint does: they name every model
and deployment, and the server may listen on more than loopback.
"""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from brace.apikey import authorized

PROTECTED = ("/v1/", "/brace/")
PROTECTED_PATHS = frozenset({"/metrics"})


class RequireKey:
    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self.key = key

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"] if scope["type"] == "http" else ""
        if path.startswith(PROTECTED) or path in PROTECTED_PATHS:
            header = dict(scope["headers"]).get(b"authorization")
            if not authorized(header.decode("latin-1") if header else None, self.key):
                response = JSONResponse(
                    {
                        "error": "a valid API key is required "
                        "(header Authorization: Api-Key <key>)",
                        "error_code": "UNAUTHORIZED",
                    },
                    status_code=401,
                    headers={"WWW-Authenticate": "Api-Key"},
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

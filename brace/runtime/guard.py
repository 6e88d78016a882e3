"""The replica's door: a replica reachable from the network answers only its server.

A replica on another node listens on that node's address, where anyone on the network
can reach it. Its server then hands it a per-server secret in `BRACE_REPLICA_SECRET`
(taken out of the environment before any user code runs); every request must carry it
in the `x-brace-replica-secret` header, which brace's gateway, probes and notices add
(never the user's API key, which the replica never sees). A request without it is
answered 403 before it reaches the model; the model never sees the header (a model
that reads its request's headers cannot learn the secret). The gateway adds its line
after the client's headers, so a client's own `x-brace-replica-secret` header neither
passes the door nor shuts it. Without the variable (a replica on a Unix socket or on
loopback) the door is open, as before.
"""

from __future__ import annotations

import hmac
from collections.abc import MutableMapping

from starlette.types import ASGIApp, Receive, Scope, Send

ENV_VAR = "BRACE_REPLICA_SECRET"
HEADER = "x-brace-replica-secret"
_HEADER = HEADER.encode()
_REFUSED = b'{"error":"this replica answers only its brace server"}'


def take_secret(environ: MutableMapping[str, str]) -> str | None:
    """The replica's secret from `environ` (the variable is removed), or None."""
    value = environ.pop(ENV_VAR, None)
    return value or None


class Guard:
    """An ASGI app that passes to `app` only HTTP requests carrying `secret`."""

    def __init__(self, app: ASGIApp, secret: str) -> None:
        self.app = app
        self._secret = secret.encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            given = [v for k, v in headers if k == _HEADER]
            if any(hmac.compare_digest(v, self._secret) for v in given):
                others = [(k, v) for k, v in headers if k != _HEADER]
                await self.app({**scope, "headers": others}, receive, send)
            else:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(_REFUSED)).encode()),
                        ],
                    }
                )
                await send({"type": "http.response.body", "body": _REFUSED})
            return
        await self.app(scope, receive, send)


def guarded(app: ASGIApp, secret: str | None) -> ASGIApp:
    """`app` behind the door when there is a secret, else `app` itself."""
    return app if secret is None else Guard(app, secret)

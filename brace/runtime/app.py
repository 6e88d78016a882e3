"""The replica's HTTP routes, as Truss's model server has them.

  GET  /                              liveness: 200 {} (503 if is_healthy() says False)
  GET  /v1/models/{name}              readiness: 503 {"error": "model is loading"} until
                                      load() returns, then 200 {"name": ..., "ready": true}
  POST /v1/models/{name}:predict      the model (pipeline.py)
  POST /brace/reload                  live reload from the Truss directory (reload.py);
                                      answers when the new code serves, or why not

Truss ignores the model name in these paths and so does brace (it is always "model").
The app only reads the holder, once per request; loading and swapping models happen
elsewhere.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from brace.runtime.holder import Current, ModelHolder, Phase
from brace.runtime.pipeline import Pipeline, error_response, invoke, json_response
from brace.runtime.reload import Reloader

log = logging.getLogger("brace.runtime")

MODEL_NAME = "model"


class Replica:
    def __init__(
        self,
        holder: ModelHolder,
        pipeline: Pipeline,
        executor: Executor,
        reloader: Reloader | None = None,
    ) -> None:
        self.holder = holder
        self.pipeline = pipeline
        self.executor = executor
        self.reloader = reloader

    async def _healthy(self, current: Current) -> bool:
        method = current.model.methods.is_healthy
        if method is None:
            return True
        try:
            healthy = await invoke(method, None, None, self.executor)
        except Exception as exc:
            self.pipeline.log_model_error(exc)
            healthy = False
        if not healthy:
            log.warning("Health check failed: is_healthy() returned %r", healthy)
        return bool(healthy)

    async def liveness(self, request: Request) -> Response:
        current = self.holder.current
        if current is not None and not await self._healthy(current):
            return error_response("model is not healthy", 503)
        return json_response({})

    async def readiness(self, request: Request) -> Response:
        current = self.holder.current
        if current is None:
            failed = self.holder.phase is Phase.FAILED
            return error_response("model failed to load" if failed else "model is loading", 503)
        if not await self._healthy(current):
            return error_response("model is not healthy", 503)
        return json_response({"name": MODEL_NAME, "ready": True})

    async def predict(self, scope: Scope, receive: Receive, send: Send) -> None:
        current = self.holder.current
        if current is None:
            await error_response("model is loading", 503)(scope, receive, send)
            return
        await self.pipeline.handle(current.model, scope, receive, send)

    async def reload(self, request: Request) -> Response:
        if self.reloader is None:
            return error_response("live reload is not enabled on this replica", 404)
        try:
            status, body = await self.reloader.reload()
        except Exception:  # logged by the reloader
            current = self.holder.current
            body = {
                "applied": False,
                "version": current.version if current is not None else None,
                "error": "reloading failed (a bug in brace); see the replica's log",
            }
            status = 500
        return json_response(body, status)


class _PredictEndpoint:
    """Predict as a raw ASGI endpoint (starlette calls non-function endpoints as ASGI
    apps), because streams and passed-through Responses send for themselves."""

    def __init__(self, replica: Replica) -> None:
        self._replica = replica

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._replica.predict(scope, receive, send)


def build_app(replica: Replica) -> Starlette:
    return Starlette(
        routes=[
            # Before the readiness route: "{model_name}" would also match "model:predict".
            Route("/v1/models/{model_name}:predict", _PredictEndpoint(replica), methods=["POST"]),
            Route("/v1/models/{model_name}", replica.readiness, methods=["GET"]),
            Route("/", replica.liveness, methods=["GET"]),
            Route("/brace/reload", replica.reload, methods=["POST"]),
        ]
    )

"""The replica's HTTP routes, as Truss's model server has them.

  GET  /                              liveness: 200 {} (503 if is_healthy() says False)
  GET  /v1/models/{name}              readiness: 503 {"error": "model is loading"} until
                                      load() returns, then 200 {"name": ..., "ready": true}
  GET  /v1/models/{name}/loaded       200 {} once load() returned (503 before); also /ping
  POST /v1/models/{name}:predict      the model (pipeline.py); also /invocations
  POST /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/messages,
       /v1/responses                  the model's method of that name (404 without one)
  POST /brace/reload                  live reload from the Truss directory (reload.py);
                                      answers when the new code serves, or why not
  POST /brace/environment             the deployment's environment changed
                                      (environment.py): calls setup_environment

Truss ignores the model name in these paths and so does brace (it is always "model").
The app only reads the holder, once per request; loading and swapping models happen
elsewhere. `POST /v1/models/model:predict`, where the gateway sends every request, is
answered before Starlette's router and exception middlewares, which cost about a fifth
of a fast predict's CPU (docs/serving.md, "Where the CPU goes") and have nothing to do
there: the pipeline answers every failure itself.
"""

from __future__ import annotations

import logging
from concurrent.futures import Executor

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from brace.runtime.environment import EnvironmentUpdater
from brace.runtime.holder import Current, ModelHolder, Phase
from brace.runtime.payloads import ErrorCode, error_response, json_response
from brace.runtime.pipeline import Pipeline, invoke
from brace.runtime.reload import Reloader
from brace.runtime.requestid import REQUEST_ID, from_headers
from brace.runtime.signatures import ENDPOINTS

log = logging.getLogger("brace.runtime")

MODEL_NAME = "model"


class Replica:
    def __init__(
        self,
        holder: ModelHolder,
        pipeline: Pipeline,
        executor: Executor,
        reloader: Reloader | None = None,
        environment: EnvironmentUpdater | None = None,
    ) -> None:
        self.holder = holder
        self.pipeline = pipeline
        self.executor = executor
        self.reloader = reloader
        self.environment = environment

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

    async def loaded(self, request: Request) -> Response:
        if self.holder.current is None:
            return error_response("model is loading", 503)
        return json_response({})

    async def predict(
        self, scope: Scope, receive: Receive, send: Send, endpoint: str | None = None
    ) -> None:
        current = self.holder.current
        if current is None:
            response = error_response("model is loading", 503, ErrorCode.DOWNSTREAM)
            await response(scope, receive, send)
            return
        await self.pipeline.handle(current.model, scope, receive, send, endpoint)

    async def set_environment(self, request: Request) -> Response:
        if self.environment is None:
            return error_response("environment changes are not enabled on this replica", 404)
        status, body = await self.environment.update(await request.body())
        return json_response(body, status)

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
    """Predict (or an OpenAI-style `endpoint`) as a raw ASGI endpoint (starlette calls
    non-function endpoints as ASGI apps), because streams and passed-through Responses
    send for themselves."""

    def __init__(self, replica: Replica, endpoint: str | None = None) -> None:
        self._replica = replica
        self._endpoint = endpoint

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._replica.predict(scope, receive, send, self._endpoint)


PREDICT_PATH = f"/v1/models/{MODEL_NAME}:predict"


class ReplicaApp:
    """The replica's ASGI app: predict on PREDICT_PATH first, everything else through
    `starlette`. The scope gets what Starlette's routing would have put in it."""

    def __init__(self, predict: _PredictEndpoint, starlette: Starlette) -> None:
        self.predict = predict
        self.starlette = starlette

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            REQUEST_ID.set(from_headers(scope["headers"]))  # this request's task only
        if scope["type"] == "http" and scope["path"] == PREDICT_PATH and scope["method"] == "POST":
            scope["app"] = self.starlette
            scope["router"] = self.starlette.router
            scope["endpoint"] = self.predict
            scope["path_params"] = {"model_name": MODEL_NAME}
            await self.predict(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def build_app(replica: Replica) -> ReplicaApp:
    predict = _PredictEndpoint(replica)
    return ReplicaApp(predict, _routes(replica, predict))


def _routes(replica: Replica, predict: _PredictEndpoint) -> Starlette:
    return Starlette(
        routes=[
            # Before the readiness route: "{model_name}" would also match "model:predict".
            Route("/v1/models/{model_name}:predict", predict, methods=["POST"]),
            Route("/v1/models/{model_name}/loaded", replica.loaded, methods=["GET"]),
            Route("/v1/models/{model_name}", replica.readiness, methods=["GET"]),
            Route("/", replica.liveness, methods=["GET"]),
            *(
                Route(path, _PredictEndpoint(replica, name), methods=["POST"])
                for name, path in ENDPOINTS.items()
            ),
            # Truss's aliases for SageMaker hosting.
            Route("/ping", replica.loaded, methods=["GET"]),
            Route("/invocations", predict, methods=["POST"]),
            Route("/brace/reload", replica.reload, methods=["POST"]),
            Route("/brace/environment", replica.set_environment, methods=["POST"]),
        ]
    )

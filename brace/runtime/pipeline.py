"""One predict request: parse, preprocess -> predict -> postprocess, respond.

As in Truss's server: the body is JSON (400 if not), unless nothing takes the inputs;
sync methods run in a thread pool and async ones are awaited; `predict_concurrency`
bounds how many predicts run at once (preprocess and postprocess run outside it). What
predict returns decides the response:
  - a generator (sync or async): streamed chunk by chunk (streaming.py), holding the
    predict slot until the stream ends; postprocess is not applied. With
    `Accept: application/json` the chunks are joined into one JSON string instead.
  - a starlette Response: sent as it is (also inside the predict slot, since a
    StreamingResponse is still running the model).
  - anything else: postprocess (if any), then JSON.
Any exception from the model answers 500 `{"error": "Internal Server Error (in
model)."}` and logs the traceback cut to the user's frames; the replica keeps serving.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
import logging
from collections.abc import Sequence
from concurrent.futures import Executor
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from brace.runtime.loader import LoadedModel
from brace.runtime.signatures import Method
from brace.runtime.streaming import ChunkStream, gather, is_stream
from brace.runtime.tracebacks import cut_traceback

log = logging.getLogger("brace.runtime")

MODEL_ERROR = b'{"error": "Internal Server Error (in model)."}'


def json_response(value: Any, status_code: int = 200) -> Response:
    return Response(json.dumps(value).encode(), status_code, media_type="application/json")


def error_response(message: str, status_code: int) -> Response:
    return json_response({"error": message}, status_code)


def wants_joined_stream(request: Request) -> bool:
    # Truss's rule; the OpenAI SDK sends this Accept header but expects a stream.
    if "openai" in request.headers.get("user-agent", "").lower():
        return False
    return request.headers.get("accept") == "application/json"


async def invoke(method: Method, inputs: Any, request: Request | None, executor: Executor) -> Any:
    """Call one of the user's methods the way its definition asks to be called."""
    args = method.arguments(inputs, request)
    if method.is_generator:
        return method.function(*args)  # iterated later, chunk by chunk
    if method.is_async:
        return await method.function(*args)
    loop = asyncio.get_running_loop()
    result = await loop.run_in_executor(executor, functools.partial(method.function, *args))
    if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
        result = await result
    return result


class _TrackedSend:
    """Remembers whether the response started, so an error after that is not answered."""

    __slots__ = ("send", "started")

    def __init__(self, send: Send) -> None:
        self.send = send
        self.started = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


class Pipeline:
    def __init__(
        self, predict_concurrency: int, executor: Executor, user_roots: Sequence[str]
    ) -> None:
        self.semaphore = asyncio.Semaphore(predict_concurrency)
        self.executor = executor
        self.user_roots = tuple(user_roots)

    def log_model_error(self, exc: BaseException, where: str = "") -> None:
        log.error("Exception in model%s:\n%s", where, cut_traceback(exc, self.user_roots))

    def _log_stream_error(self, exc: BaseException) -> None:
        self.log_model_error(exc, " (mid-stream; the response is truncated)")

    async def handle(self, model: LoadedModel, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        inputs: Any = None
        if not model.methods.skip_input_parsing:
            try:
                inputs = json.loads(await request.body())
            except ClientDisconnect:
                return  # nobody to answer
            except ValueError as exc:
                await error_response(f"Invalid JSON payload: {exc}", 400)(scope, receive, send)
                return
        tracked = _TrackedSend(send)
        try:
            response = await self._run(model, inputs, request, tracked)
        except Exception as exc:
            self.log_model_error(exc)
            if tracked.started:
                return  # mid-response: leave it incomplete, uvicorn closes the connection
            response = Response(MODEL_ERROR, 500, media_type="application/json")
        if response is not None:
            await response(scope, receive, send)

    async def _run(
        self, model: LoadedModel, inputs: Any, request: Request, send: _TrackedSend
    ) -> Response | None:
        """The model's answer as a Response, or None when it was already sent."""
        methods = model.methods
        if methods.preprocess is not None:
            inputs = await invoke(methods.preprocess, inputs, request, self.executor)
        async with self.semaphore:
            result = await invoke(methods.predict, inputs, request, self.executor)
            if is_stream(result):
                if wants_joined_stream(request):
                    return json_response(await gather(result, self.executor))
                stream = ChunkStream(result, self.executor, self._log_stream_error)
                await stream(request.scope, request.receive, send)
                return None
            if isinstance(result, Response):
                await result(request.scope, request.receive, send)
                return None
        if methods.postprocess is not None:
            result = await invoke(methods.postprocess, result, request, self.executor)
        return json_response(result)

"""One request to the model: parse, preprocess -> predict -> postprocess, respond.

As in Truss's server: the body is JSON (400 if not; a pydantic model when the method
is annotated so, payloads.py), unless nothing takes the inputs; sync methods run in a
thread pool and async ones are awaited; `predict_concurrency` bounds how many predicts
run at once (preprocess and postprocess run outside it). What predict returns decides
the response:
  - a generator (sync or async): streamed chunk by chunk (streaming.py), holding the
    predict slot until the stream ends. With `Accept: application/json` the chunks are
    joined into one JSON string instead.
  - a starlette Response: sent as it is (also inside the predict slot, since a
    StreamingResponse is still running the model); one with a status of 300 or more
    gets Baseten's error headers.
  - anything else: postprocess (if any), then JSON (pydantic models and numpy values
    included).
A stream or a Response from predict with a `postprocess` defined is a model error, as
in Truss. A request that had to wait for a predict slot is dropped, unanswered, when
its client left meanwhile (the gateway closes the connection of a client that gave up):
its predict never runs. A predict that runs is not interrupted (a sync one runs in a
thread, which cannot be stopped); a stream stops at its next chunk (streaming.py).
The OpenAI-style endpoints (`/v1/chat/completions`, ...) call the model's method of
that name the same way, without pre/postprocess and outside the predict slot.

Errors, with Truss's bodies: an `HTTPException` (FastAPI's, or Starlette's which it
extends) answers its status with `{"error": detail}`; any other exception from the
model answers 500 `{"error": "Internal Server Error (in model/chainlet)."}`; a result
with no JSON form answers 500 `{"error": "Unhandled exception: TypeError: ..."}`. Each
is logged with the traceback cut to the user's frames; the replica keeps serving.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
from collections.abc import Generator, Sequence
from concurrent.futures import Executor
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from brace.runtime.loader import LoadedModel
from brace.runtime.payloads import (
    ErrorCode,
    InputParsingError,
    encode_result,
    error_headers,
    error_response,
    parse_into,
    parse_json,
)
from brace.runtime.signatures import Method, ModelMethods
from brace.runtime.streaming import ChunkStream, gather, is_stream
from brace.runtime.tracebacks import cut_traceback

log = logging.getLogger("brace.runtime")

MODEL_ERROR_MESSAGE = "Internal Server Error (in model/chainlet)."


def model_error() -> Response:
    return error_response(MODEL_ERROR_MESSAGE, 500, ErrorCode.DOWNSTREAM)


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
    # In a copy of this context: the request id for the records it logs (requestid.py).
    call = functools.partial(contextvars.copy_context().run, method.function, *args)
    result = await loop.run_in_executor(executor, call)
    if inspect.isawaitable(result):  # a sync wrapper around a coroutine function
        result = await result
    return result


def _is_fastapi(exc: BaseException) -> bool:
    return any(cls.__module__.startswith("fastapi") for cls in type(exc).__mro__)


class _UnencodableResult(Exception):
    """The model's result has no JSON form (Truss: 500 "Unhandled exception: ...")."""

    def __init__(self, error: TypeError) -> None:
        super().__init__(f"Unhandled exception: {type(error).__name__}: {error}")


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


def _result_response(result: Any) -> Response:
    try:
        body = encode_result(result)
    except TypeError as error:
        raise _UnencodableResult(error) from error
    return Response(body, media_type="application/json")


def _with_error_headers(response: Response) -> Response:
    """A user's Response that is an error gets Baseten's headers (as in Truss)."""
    if response.status_code >= 300:
        response.headers.update(error_headers(ErrorCode.CLIENT))
    return response


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

    async def _inputs(self, methods: ModelMethods, request: Request) -> Any:
        """The parsed body (None when nothing takes it); InputParsingError if it does
        not parse."""
        if methods.skip_input_parsing:
            return None
        body = await request.body()
        if methods.input_model is not None:
            return parse_into(methods.input_model, body)
        return parse_json(body)

    async def handle(
        self,
        model: LoadedModel,
        scope: Scope,
        receive: Receive,
        send: Send,
        endpoint: str | None = None,
    ) -> None:
        """Answer one request: predict's chain, or the model's method `endpoint`."""
        request = Request(scope, receive)
        method = None
        if endpoint is not None:
            method = model.methods.endpoint(endpoint)
            if method is None:
                message = f"`{endpoint}` must only be called if model has it."
                await error_response(message, 404, ErrorCode.CLIENT)(scope, receive, send)
                return
        try:
            inputs = await self._inputs(model.methods, request)
        except ClientDisconnect:
            return  # nobody to answer
        except InputParsingError as error:
            await error_response(str(error), 400, ErrorCode.CLIENT)(scope, receive, send)
            return
        tracked = _TrackedSend(send)
        try:
            if method is None:
                response = await self._predict(model.methods, inputs, request, tracked)
            else:
                response = await self._endpoint(method, inputs, request, tracked)
        except Exception as exc:
            if tracked.started:  # mid-response: leave it incomplete, uvicorn closes it
                self.log_model_error(exc)
                return
            response = self._error(exc)
        if response is not None:
            await response(scope, receive, send)

    def _error(self, exc: Exception) -> Response:
        """The answer to a failure of the model (logged here)."""
        if isinstance(exc, HTTPException):
            self.log_model_error(exc, " (HTTPException)")
            if not _is_fastapi(exc):
                log.warning(
                    "Truss's server answers 500 for starlette.exceptions.HTTPException; "
                    "raise fastapi.HTTPException to get status %d on Baseten too",
                    exc.status_code,
                )
            return error_response(exc.detail, exc.status_code, ErrorCode.DOWNSTREAM)
        if isinstance(exc, _UnencodableResult):
            self.log_model_error(exc.__cause__ or exc, " (its result has no JSON form)")
            return error_response(str(exc), 500, ErrorCode.UNEXPECTED)
        self.log_model_error(exc)
        return model_error()

    async def _predict(
        self, methods: ModelMethods, inputs: Any, request: Request, send: _TrackedSend
    ) -> Response | None:
        """predict's answer as a Response, or None when it was already sent."""
        if methods.preprocess is not None:
            inputs = await invoke(methods.preprocess, inputs, request, self.executor)
        semaphore = self.semaphore
        waited = semaphore.locked()
        async with semaphore:
            if waited and await request.is_disconnected():
                return None  # its client left while it waited for a slot: nobody to answer
            result = await invoke(methods.predict, inputs, request, self.executor)
            if methods.postprocess is not None and (
                is_stream(result) or isinstance(result, Response)
            ):
                _close(result)
                kind = "a generator (a stream)" if is_stream(result) else "a Response"
                raise TypeError(
                    f"predict returned {kind}, so there is nothing for postprocess to "
                    "process; do all processing in predict, or remove postprocess"
                )
            if await self._send_special(result, request, send):
                return None
        if methods.postprocess is not None:
            result = await invoke(methods.postprocess, result, request, self.executor)
        return _result_response(result)

    async def _endpoint(
        self, method: Method, inputs: Any, request: Request, send: _TrackedSend
    ) -> Response | None:
        result = await invoke(method, inputs, request, self.executor)
        if await self._send_special(result, request, send):
            return None
        return _result_response(result)

    async def _send_special(self, result: Any, request: Request, send: _TrackedSend) -> bool:
        """Send a stream or a Response; False (nothing sent) when `result` is neither."""
        response: Response | ChunkStream
        if is_stream(result):
            if wants_joined_stream(request):
                response = _result_response(await gather(result, self.executor))
            else:
                response = ChunkStream(result, self.executor, self._log_stream_error)
        elif isinstance(result, Response):
            response = _with_error_headers(result)
        else:
            return False
        await response(request.scope, request.receive, send)
        return True


def _close(result: Any) -> None:
    if isinstance(result, Generator):
        result.close()

"""The chunked response for a generator `predict`: each chunk is sent as it is made.

Sync generators are advanced one `next()` at a time in the model's thread pool, so a
slow step never blocks the event loop; async generators are iterated in place. `str`
chunks are sent UTF-8 encoded, bytes as they are (any other chunk ends the stream as a model
error); joined for `Accept: application/json`, any chunk is taken as its `str()`, as
Truss's server does. The stream stops early when the
client disconnects (the generator is closed, so the model stops working for nobody).

If the model raises mid-stream, the error is logged and the response is left
*incomplete*: no terminating chunk is sent and uvicorn closes the connection, so the
client (and the gateway) can tell a truncated stream from a finished one. Truss ends
such a stream cleanly, which hides the failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Generator
from concurrent.futures import Executor
from typing import Any

from starlette.types import Message, Receive, Scope, Send

_DONE = object()
STREAM_HEADERS = [(b"content-type", b"application/octet-stream")]


def is_stream(value: object) -> bool:
    return isinstance(value, (Generator, AsyncGenerator))


def encode_chunk(chunk: object) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode()
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    raise TypeError(f"predict yielded {type(chunk).__name__}; a stream yields str or bytes")


async def _in_threads(
    generator: Generator[Any, Any, Any], executor: Executor
) -> AsyncIterator[Any]:
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()  # the request id for its records (requestid.py)
    try:
        while True:
            step = functools.partial(context.run, next, generator, _DONE)
            chunk = await loop.run_in_executor(executor, step)
            if chunk is _DONE:
                return
            yield chunk
    finally:
        # Raises "generator already executing" if a cancelled next() still runs in its
        # thread; the generator then finishes that step and is collected.
        with contextlib.suppress(ValueError):
            generator.close()


def iterate(stream: object, executor: Executor) -> AsyncIterator[Any]:
    """The chunks of a sync or async generator, as an async iterator."""
    if isinstance(stream, AsyncGenerator):
        return stream
    if isinstance(stream, Generator):
        return _in_threads(stream, executor)
    raise TypeError(f"not a generator: {type(stream).__name__}")


def gathered_chunk(chunk: object) -> bytes:
    """A chunk as `gather` joins it: bytes as they are, anything else as its `str()`
    UTF-8 encoded (Truss's `_gather_generator`: a model yielding ints answers "0123")."""
    if isinstance(chunk, (bytes, bytearray, memoryview)):
        return bytes(chunk)
    return str(chunk).encode()


async def gather(stream: object, executor: Executor) -> str:
    """All chunks joined (for `Accept: application/json`), then decoded as UTF-8 once,
    as Truss does (so a character split across chunks stays whole); bytes that are not
    UTF-8 become U+FFFD, where Truss's server fails with 500."""
    parts = [gathered_chunk(chunk) async for chunk in iterate(stream, executor)]
    return b"".join(parts).decode(errors="replace")


async def _aclose(iterator: AsyncIterator[Any]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        with contextlib.suppress(Exception):
            await close()


async def _until_disconnect(receive: Receive) -> None:
    message: Message = {"type": ""}
    while message["type"] != "http.disconnect":
        message = await receive()


class ChunkStream:
    """An ASGI response streaming `stream`; `on_error` is told about model errors."""

    def __init__(
        self, stream: object, executor: Executor, on_error: Callable[[BaseException], None]
    ) -> None:
        self._chunks = iterate(stream, executor)
        self._on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": STREAM_HEADERS})
        pump = asyncio.ensure_future(self._pump(send))
        watch = asyncio.ensure_future(_until_disconnect(receive))
        try:
            await asyncio.wait({pump, watch}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not pump.done():  # the client left (or we are cancelled): stop the model
                pump.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await pump
        if not pump.cancelled():
            pump.result()  # re-raise a failure to send; model errors were handled inside
        # A truncated stream returns without the final empty chunk (see module doc).

    async def _pump(self, send: Send) -> None:
        chunks = self._chunks
        try:
            while True:
                try:
                    body = encode_chunk(await anext(chunks))
                except StopAsyncIteration:
                    break
                except Exception as exc:
                    self._on_error(exc)
                    return
                if body:
                    await send({"type": "http.response.body", "body": body, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            await _aclose(chunks)

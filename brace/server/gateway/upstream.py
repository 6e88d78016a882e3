"""The upstream side of the gateway: one keep-alive connection to a replica (its Unix
socket or its TCP `host:port`).

An `UpstreamConnection` (pooled by `pool.UpstreamPool`) parses the response with
httptools and relays it to the client as it arrives: everything one `data_received`
produces (head, body pieces, chunk framing) leaves in one write, and the head of a
response with a Content-Length that arrives alone waits for the first body bytes
(uvicorn writes them separately), so a small response is one write to the client.
Chunked responses stay chunked (httptools hands over the decoded data and it is framed
again); a response with a Content-Length passes through byte for byte. When the client
cannot keep up, the client side pauses reading here (`pause_reading`); when the replica
cannot keep up with a request body, `pause_writing` pauses reading from the client.

If the connection closes before any response byte arrived, the gateway decides between
a second chance on a new connection (another replica, or this one when a reused
connection went stale) and a 502.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from time import monotonic
from typing import Protocol, cast

from httptools import HttpParserError, HttpResponseParser

from brace.server.gateway.exchange import REPLAY_LIMIT, Exchange, PoolSide
from brace.server.gateway.wire import (
    CHUNKED,
    CLOSE,
    CRLF,
    HOP_BY_HOP,
    LAST_CHUNK,
    STATUS_LINES,
    chunk_size,
    status_line,
)

log = logging.getLogger("brace.gateway")

JOIN_LIMIT = 1 << 16
"""Pieces adding up to less than this are joined into one buffer before writing; larger
ones go to `writelines`, which writes them with one writev and no copy."""

# How the response body is framed towards the client.
LENGTH = 0  # Content-Length from upstream, bytes pass through
RECHUNK = 1  # chunked to the client (upstream chunked, or close-delimited)
UNTIL_CLOSE = 2  # an HTTP/1.0 client: raw bytes, then close
EMPTY = 3  # no body (HEAD, 204, 304)


class UpstreamHooks(Protocol):
    """What the upstream side calls on the gateway (`proxy.Gateway`)."""

    @property
    def waiting(self) -> Mapping[str, object]:
        """Deployment id -> its requests held at the gateway (empty: none)."""
        ...

    def slot_freed(self, pool: PoolSide) -> None: ...

    def upstream_failed(self, ex: Exchange, path: str, reused: bool, replayable: bool) -> None:
        """The connection closed before any response byte."""
        ...

    def truncated(self, ex: Exchange) -> None:
        """The connection closed in the middle of a response."""
        ...


class UpstreamConnection(asyncio.Protocol):
    __slots__ = (
        "body_started",
        "done",
        "exchange",
        "framing",
        "gateway",
        "has_id",
        "has_length",
        "head",
        "informational",
        "keep_alive",
        "out",
        "parked_at",
        "parser",
        "pool",
        "reading",
        "received",
        "responding",
        "reused",
        "transport",
        "upstream_chunked",
    )

    transport: asyncio.Transport

    def __init__(self, gateway: UpstreamHooks, pool: PoolSide) -> None:
        self.gateway = gateway
        self.pool = pool
        self.parser = HttpResponseParser(self)
        self.exchange: Exchange | None = None
        self.reused = False
        self.received = False
        self.reading = True
        self.out: list[bytes] = []
        self.head: list[bytes] = []
        self.responding = False
        self.body_started = False
        self.framing = LENGTH
        self.has_id = False
        self.has_length = False
        self.upstream_chunked = False
        self.informational = False
        self.keep_alive = True
        self.done = False
        self.parked_at = 0.0
        """When it went back to its pool idle (monotonic seconds)."""

    # -- driven by the gateway and the client side -----------------------------------------

    def attach(self, ex: Exchange) -> None:
        self.exchange = ex
        ex.upstream = self
        if ex.client.write_paused:
            self.pause_reading()

    def send_pending(self, ex: Exchange) -> None:
        """Write the exchange's pending request bytes; keep them for a retry if small."""
        pending = ex.pending
        if len(pending) == 1:
            self.transport.write(pending[0])
        elif ex.pending_size <= JOIN_LIMIT:
            self.transport.write(b"".join(pending))
        else:
            self.transport.writelines(pending)
        if ex.replay_size >= 0:
            size = ex.replay_size + ex.pending_size
            if size > REPLAY_LIMIT:
                ex.replay, ex.replay_size = None, -1
            elif ex.replay is None:
                ex.replay, ex.replay_size = pending, size
            else:
                ex.replay += pending
                ex.replay_size = size
        ex.pending = []
        ex.pending_size = 0
        client = ex.client
        if not client.reading:
            client.update_reading()

    def pause_reading(self) -> None:
        if self.reading:
            self.reading = False
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.reading:
            self.reading = True
            self.transport.resume_reading()

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        ex = self.exchange
        if ex is None:
            self.transport.close()  # bytes nobody asked for: the connection is unusable
            return
        self.received = True
        try:
            self.parser.feed_data(data)
        except HttpParserError:
            log.warning("replica %s sent a malformed response", self.pool.path, exc_info=True)
            self.transport.close()  # connection_lost answers 502 or cuts the response
            return
        out = self.out
        if out and (self.body_started or self.done or self.framing != LENGTH):
            # The head of a response with a Content-Length waits for the first body bytes:
            # one write and one wake-up of the client instead of two (uvicorn writes head
            # and body separately). A streamed response's head goes at once.
            transport = ex.client.transport
            ex.response_started = True
            if len(out) == 1:
                transport.write(out[0])
            elif len(data) <= JOIN_LIMIT:
                transport.write(b"".join(out))  # one plain write: uvloop's fastest path
            else:
                transport.writelines(out)
            out.clear()
        if self.done:
            self._complete(ex)

    def connection_lost(self, exc: Exception | None) -> None:
        ex = self.exchange
        if ex is None:
            if self in self.pool.idle:
                self.pool.idle.remove(self)
            return
        self.exchange = None
        ex.upstream = None
        pool = self.pool
        freed = ex.pool is pool
        if freed:
            pool.active -= 1
            ex.pool = None
        out = self.out
        if (
            self.responding
            and self.framing in (RECHUNK, UNTIL_CLOSE)
            and not (self.upstream_chunked or self.has_length)
        ):
            # A close-delimited response (no length, not chunked) ends with the connection.
            if self.framing == RECHUNK:
                out.append(LAST_CHUNK)
            ex.client.transport.write(b"".join(out))
            out.clear()
            ex.response_started = True
            ex.client.finish(ex)
        elif not ex.response_started:
            out.clear()
            replayable = not self.received and ex.replay_size >= 0
            self.gateway.upstream_failed(ex, self.pool.path, self.reused, replayable)
        else:
            self.gateway.truncated(ex)
        gateway = self.gateway
        if freed and gateway.waiting:
            gateway.slot_freed(pool)

    def pause_writing(self) -> None:
        ex = self.exchange
        if ex is not None:
            ex.client.upstream_full = True
            ex.client.update_reading()

    def resume_writing(self) -> None:
        ex = self.exchange
        if ex is not None:
            ex.client.upstream_full = False
            ex.client.update_reading()

    # -- httptools callbacks ---------------------------------------------------------------

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower in HOP_BY_HOP:
            if lower == b"transfer-encoding":
                self.upstream_chunked = True
            return
        if lower == b"content-length":
            self.has_length = True
        elif lower == b"x-baseten-request-id":
            self.has_id = True
        self.head += (name, b": ", value, CRLF)

    def on_headers_complete(self) -> None:
        parser = self.parser
        status = parser.get_status_code()
        if status < 200:
            self.informational = True  # 100 Continue and the like: not for the client
            self._reset()
            return
        ex = self.exchange
        assert ex is not None
        ex.status = status
        self.keep_alive = parser.should_keep_alive()
        if ex.head_only or status == 204 or status == 304:
            framing = EMPTY
        elif self.has_length:
            framing = LENGTH
        elif ex.http11:
            framing = RECHUNK
        else:
            framing = UNTIL_CLOSE
            ex.keep_alive = False
        self.framing = framing
        self.responding = True
        head = self.head
        line = STATUS_LINES.get(status)
        head.insert(0, line if line is not None else status_line(status))
        if framing == RECHUNK:
            head.append(CHUNKED)
        if not self.has_id:
            head.append(ex.request_id)
        if not ex.keep_alive:
            head.append(CLOSE)
        head.append(CRLF)
        self.out.append(b"".join(head))
        if ex.head_only:
            # httptools cannot be told a response to HEAD has no body; this connection's
            # parser would wait for one, so the response ends here with the connection.
            self.keep_alive = False
            self.done = True

    def on_body(self, body: bytes) -> None:
        self.body_started = True
        if self.framing == RECHUNK:
            self.out += (chunk_size(body), body, CRLF)
        else:
            self.out.append(body)

    def on_message_complete(self) -> None:
        if self.informational:
            self.informational = False
            return
        if self.framing == RECHUNK:
            self.out.append(LAST_CHUNK)
        self.done = True

    # -- internals -------------------------------------------------------------------------

    def _complete(self, ex: Exchange) -> None:
        """The whole response went to the client: back to the pool, next exchange."""
        self.done = False
        self.exchange = None
        ex.upstream = None
        self.head = []
        self.responding = self.body_started = self.has_id = False
        self.has_length = self.upstream_chunked = False
        pool = self.pool
        freed = ex.pool is pool
        if freed:
            pool.active -= 1
            ex.pool = None
        if self.keep_alive and ex.request_complete and not pool.closed:
            self.reused = True
            self.received = False
            if not self.reading:
                self.reading = True
                self.transport.resume_reading()
            self.parked_at = monotonic()
            pool.idle.append(self)
        else:
            # Answered before the whole request was sent: the rest of the body goes nowhere.
            ex.discard = True
            ex.pending = []
            self.transport.close()
        gateway = self.gateway
        if freed and gateway.waiting:
            gateway.slot_freed(pool)  # a held request takes the slot (and this connection)
        ex.client.finish(ex)

    def _reset(self) -> None:
        """Ready for the next response head."""
        self.head = []
        self.responding = False
        self.body_started = False
        self.has_id = False
        self.has_length = False
        self.upstream_chunked = False

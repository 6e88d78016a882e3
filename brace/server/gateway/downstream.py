"""The client side of the gateway: one asyncio Protocol per client connection.

`request.RequestReader` parses the request stream in `data_received` and hands each
request whose head is complete to `request_ready`, which gives it to the gateway
(routed at once: no task, no coroutine). What the parser gathered for the active
request goes upstream in one write after each read.

Responses are written in request order: only the `active` exchange may write to the
client. A pipelined request that arrives while another is active waits in `queue` with
its body buffered, and reading from the client pauses until it is its turn. Reading
also pauses while the upstream socket is full (`upstream_full`) or while a request
waiting for a connection or a waking deployment has buffered `PENDING_LIMIT` bytes;
the other direction is `pause_writing`, which pauses the active upstream connection.

Connections stay open between requests unless the client sends `Connection: close` or
speaks HTTP/1.0. A request that does not parse, or that the reader refuses (its
bounds, `limits`), gets its answer after the responses still owed (`refuse`) and the
connection closes; `Gateway`'s sweep closes connections left idle. After such a last
answer the connection `Lingering` reads and drops what the client still sends before
closing, so that the client reads the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Protocol, cast

from brace.server.gateway.exchange import Exchange
from brace.server.gateway.limits import Limits
from brace.server.gateway.request import PENDING_LIMIT, RequestReader
from brace.server.gateway.wire import CONTINUE, error_response, json_response


class ClientHooks(Protocol):
    """What the client side calls on the gateway (`proxy.Gateway`)."""

    def route(self, ex: Exchange) -> None:
        """The request's head is parsed: send it on, or answer it."""
        ...

    def exchange_done(self, ex: Exchange) -> None: ...

    def abandon(self, ex: Exchange, status: int = ...) -> None:
        """The client went away before the exchange ended (`status`: how it is counted)."""
        ...

    def client_opened(self, client: ClientConnection) -> None: ...

    def client_closed(self, client: ClientConnection) -> None: ...


class ClientConnection(asyncio.Protocol):
    __slots__ = (
        "active",
        "closing",
        "feeding",
        "gateway",
        "last_words",
        "limits",
        "queue",
        "reader",
        "reading",
        "served",
        "starting",
        "swept",
        "transport",
        "upstream_full",
        "write_paused",
    )

    transport: asyncio.Transport

    def __init__(self, gateway: ClientHooks, limits: Limits) -> None:
        self.gateway = gateway
        self.limits = limits
        self.active: Exchange | None = None
        """The exchange whose response may be written now."""
        self.queue: deque[Exchange] = deque()
        self.reading = True
        self.upstream_full = False
        self.write_paused = False
        self.closing = False
        """No further request will be served: close once the last response is written."""
        self.feeding = False
        self.starting = False
        self.last_words = b""
        """An answer to write after the last response, before closing (a 400)."""
        self.served = 0
        self.swept = -1
        self.reader = RequestReader(self, limits)

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass
        self.gateway.client_opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.gateway.client_closed(self)
        active, self.active = self.active, None
        if active is not None and not active.finished:
            self.gateway.abandon(active)
        for ex in self.queue:
            ex.finished = True
        self.queue.clear()

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        # What the parser gathered for the active request goes upstream in one write (also
        # when what followed it did not parse: the request itself was whole).
        ex = self.active
        if ex is not None and ex.pending and ex.upstream is not None:
            ex.upstream.send_pending(ex)

    def eof_received(self) -> bool:
        """The client closed its side. A request whose answer has not begun is given up
        (499, and its replica connection closed, so the replica hears of it): a client
        that closes is one that left, as nginx decides (a half-closing client that still
        reads is rare in HTTP/1.1). An answer under way is still written."""
        self.closing = True
        if not self.reader.building.request_complete:
            return False  # the request can never complete: close, abandoning it
        # Keep the write side open only for the rest of an answer under way; otherwise
        # close, and `connection_lost` abandons the request (499).
        active = self.active
        return active is not None and active.response_started

    def pause_writing(self) -> None:
        self.write_paused = True
        ex = self.active
        if ex is not None and ex.upstream is not None:
            ex.upstream.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        ex = self.active
        if ex is not None and ex.upstream is not None:
            ex.upstream.resume_reading()

    # -- called by the reader --------------------------------------------------------------

    def request_ready(self, ex: Exchange) -> None:
        """A request's head is parsed and checked: routed now if it is its turn, else
        queued behind the exchange being answered."""
        if self.active is None:
            self.active = ex
            self.gateway.route(ex)
        else:
            self.queue.append(ex)
            self.update_reading()

    def stop(self) -> None:
        """Serve no further requests on this connection."""
        self.closing = True
        if self.active is None and not self.queue:
            self.transport.close()
        else:
            self.update_reading()

    def refuse(self, status: int, message: str) -> None:
        """Refuse the request being parsed (or the next one, whose head did not parse):
        answer `status` in turn, after the responses still owed, serve nothing more on
        this connection, and close it."""
        self.closing = True
        broken = self.reader.building
        if not broken.request_complete:  # else: the head of a new request broke
            broken.request_complete = True
            broken.discard = True
            broken.pending = []
            broken.pending_size = 0
            if broken.finished:  # answered early: nothing more to say
                self.transport.close()
                return
            if broken in self.queue:
                self.queue.remove(broken)
            elif broken is self.active:
                started = broken.response_started
                # The replica got part of it: drop that connection. Counted with the
                # status the client is told, unless its answer already began.
                self.gateway.abandon(broken, status)
                self.active = None
                if started:  # the answer is on its way and cannot change now
                    self.transport.close()
                    return
        answer = error_response(status, message, keep_alive=False)
        if self.active is None and not self.queue:
            self._linger(answer)
        else:
            self.last_words = answer  # after the responses still owed
            self.update_reading()

    # -- called by the gateway and the upstream side ---------------------------------------

    def send_continue(self, ex: Exchange) -> None:
        """Tell a client waiting on `Expect: 100-continue` to send its body."""
        if ex.expect_continue and not ex.continue_sent and not ex.request_complete:
            ex.continue_sent = True
            self.transport.write(CONTINUE)

    def answer_error(self, ex: Exchange, status: int, message: str) -> None:
        ex.status = status
        self.answer(ex, error_response(status, message, keep_alive=self._keeps_alive(ex)))

    def answer_json(self, ex: Exchange, status: int, payload: object) -> None:
        ex.status = status
        self.answer(ex, json_response(status, payload, keep_alive=self._keeps_alive(ex)))

    def answer(self, ex: Exchange, response: bytes) -> None:
        """Write a response the gateway made itself, whole, and finish the exchange."""
        ex.discard = True
        ex.pending = []
        ex.pending_size = 0
        ex.response_started = True
        if not self.transport.is_closing():
            self.transport.write(response)
        self.finish(ex)

    def finish(self, ex: Exchange) -> None:
        """The response of the active exchange is written: start the next one."""
        ex.finished = True
        ex.replay = None
        self.gateway.exchange_done(ex)
        self.active = None
        self.upstream_full = False
        self.served += 1
        if not ex.keep_alive or (self.closing and not self.queue):
            self.closing = True
            if self.last_words and ex.keep_alive:
                self._linger(self.last_words)
            elif ex.request_complete or (ex.expect_continue and not ex.continue_sent):
                self.transport.close()
            # else: on_message_complete closes once the rest of the body is read
            return
        if self.queue and not self.starting:
            self._start_queued()
        if not self.reading:
            self.update_reading()

    def update_reading(self) -> None:
        building = self.reader.building
        want = not (
            self.upstream_full
            or self.queue
            or (building.pending_size > PENDING_LIMIT and building.upstream is None)
            or (self.closing and building.request_complete)
        )
        if want is not self.reading and not self.transport.is_closing():
            self.reading = want
            if want:
                self.transport.resume_reading()
            else:
                self.transport.pause_reading()

    def close_if_idle(self) -> None:
        """Close a keep-alive connection that served nothing since the last sweep."""
        if (
            self.active is None
            and self.reader.building.request_complete
            and self.served == self.swept
        ):
            self.transport.close()
        self.swept = self.served

    def head_tick(self, ticks: int) -> None:
        """A request head too slow to arrive gets a 408 (`RequestReader.head_tick`)."""
        self.reader.head_tick(ticks)

    # -- internals -------------------------------------------------------------------------

    def _start_queued(self) -> None:
        """Route pipelined requests in turn; a loop, not recursion, since a local answer
        finishes an exchange at once and a client may pipeline thousands."""
        self.starting = True
        try:
            while self.queue and self.active is None and not self.transport.is_closing():
                nxt = self.queue.popleft()
                self.active = nxt
                self.gateway.route(nxt)
        finally:
            self.starting = False

    def _keeps_alive(self, ex: Exchange) -> bool:
        if not ex.request_complete and ex.expect_continue and not ex.continue_sent:
            # The client waits for 100 before sending its body; it may never send it,
            # so its next bytes cannot be told apart: close after this answer.
            ex.keep_alive = False
        return ex.keep_alive

    def _linger(self, answer: bytes) -> None:
        """Write the last answer, then hand the connection to `Lingering`."""
        transport = self.transport
        if transport.is_closing():
            return
        transport.write(answer)
        self.gateway.client_closed(self)
        transport.set_protocol(Lingering(transport, self.limits.linger))
        if not self.reading:
            self.reading = True
            transport.resume_reading()
        if transport.can_write_eof():
            transport.write_eof()


class Lingering(asyncio.Protocol):
    """A connection that got its last answer while the client may still be sending.

    Closing a socket with unread input makes the kernel reset the connection, and a
    client that is still sending (a body over the limit, say) would see the reset
    instead of the answer. So the write side is closed after the answer and input is
    read and dropped until the client closes its side, or for `seconds` at most.
    """

    def __init__(self, transport: asyncio.Transport, seconds: float) -> None:
        self.transport = transport
        self.timer = asyncio.get_running_loop().call_later(seconds, transport.close)

    def data_received(self, data: bytes) -> None:
        pass

    def eof_received(self) -> bool:
        self.timer.cancel()
        return False  # close

    def connection_lost(self, exc: Exception | None) -> None:
        self.timer.cancel()

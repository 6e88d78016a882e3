"""The client side of the gateway: one asyncio Protocol per client connection.

httptools parses the request stream in `data_received`; the callbacks fill an
`Exchange`, and `on_headers_complete` hands it to the `Gateway`, which routes it at
once (no task, no coroutine). Request body bytes collect in the exchange's `pending`
list during one `feed_data` call and go upstream in one write after it, so a small
request (head and body in one read) costs one upstream write.

Responses are written in request order: only the `active` exchange may write to the
client. A pipelined request that arrives while another is active waits in `queue` with
its body buffered, and reading from the client pauses until it is its turn. Reading
also pauses while the upstream socket is full (`upstream_full`) or while a request
waiting for a connection or a waking deployment has buffered `PENDING_LIMIT` bytes;
the other direction is `pause_writing`, which pauses the active upstream connection.

Connections stay open between requests unless the client sends `Connection: close` or
speaks HTTP/1.0. A request that does not parse gets a 400 (after the responses still
owed) and the connection closes; `Gateway`'s sweep closes connections left idle.

What a client can make the gateway hold is bounded (`limits.Limits`): the head's size
is counted as the parser hands it over and checked once it is complete (414, 431),
while a head that spans reads is also checked after each read, before the parser can
gather more (httptools keeps a header that is not complete yet); a declared body
length is checked before the request goes anywhere and a chunked body as it arrives
(413); `Gateway` ticks `head_tick` to time out heads that arrive too slowly (408). A
request asking for a WebSocket, or for another protocol with a body (which httptools
leaves unparsed), gets 501 at once. Every such refusal is answered in turn, and then
the connection `Lingering` reads and drops what the client still sends before closing,
so that the client reads the answer instead of a reset.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol, cast

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpRequestParser,
)

from brace.server.gateway.exchange import Exchange
from brace.server.gateway.limits import Limits
from brace.server.gateway.wire import (
    CONTINUE,
    CRLF,
    HOP_BY_HOP,
    LAST_CHUNK,
    REQUEST_ID,
    chunk_size,
    error_response,
    json_response,
)

log = logging.getLogger("brace.gateway")

PENDING_LIMIT = 1 << 20
"""Request bytes buffered for one exchange before the gateway stops reading the client."""

HEADER_LINE = 4
"""Bytes a header line has besides its name and value: `: ` and CRLF."""

HEADER_PIECES = 4
"""List items one forwarded header takes in `Exchange.headers`: name, `: `, value, CRLF."""


class Refused(Exception):
    """Raised in a parser callback to stop parsing a request that was refused."""


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
        "body_digits",
        "building",
        "closing",
        "feeding",
        "gateway",
        "head_open",
        "head_seen",
        "head_ticks",
        "last_words",
        "limits",
        "parser",
        "queue",
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
        self.body_digits = len(str(limits.max_body_bytes))
        self.parser = HttpRequestParser(self)
        self.building = Exchange(self)
        """The request being parsed (or the last one parsed, when `request_complete`)."""
        self.building.request_complete = True
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
        self.head_seen: Exchange | None = None
        """The incomplete request head `head_tick` saw last (None: one whose URL has not
        begun), and for how many ticks."""
        self.head_ticks = 0
        self.head_open = True
        """A head is under way whose URL has not begun: from the accept to the first
        request's URL, or from a later request's first byte to its URL."""

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
        building = self.building
        if building.request_complete and not self.head_open:  # a new head's first bytes
            self.head_open, self.head_seen, self.head_ticks = True, None, 0
        in_head = not building.request_complete and not building.method
        self.feeding = True
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            # Only a request without a body gets here (`_upgrade` refused the others):
            # it was served as plain HTTP/1.1, without its Upgrade header, and whatever
            # follows it on this connection is not HTTP.
            self.building.keep_alive = False
            self._stop()
        except HttpParserCallbackError as error:
            if not isinstance(error.__context__, Refused):
                log.exception("gateway bug while handling a request")
                self._refuse(500, "Internal Server Error")
        except HttpParserError:
            self._refuse(400, "Bad Request")
        finally:
            self.feeding = False
        if in_head and self.building is building and not building.request_complete:
            self._check_partial_head(building, len(data))
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
        if not self.building.request_complete:
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

    # -- httptools callbacks ---------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        # The first callback of a request (no on_message_begin: one Python call fewer).
        ex = self.building
        if ex.request_complete:
            self.building = ex = Exchange(self)
            if self.head_open:  # the head's time runs on from its first byte
                self.head_open = False
                if self.head_seen is None:
                    self.head_seen = ex
        ex.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        ex = self.building
        ex.head_bytes += len(name) + len(value) + 4  # HEADER_LINE, without a global look-up
        lower = name.lower()
        if lower in HOP_BY_HOP:
            if lower == b"transfer-encoding":
                ex.body_chunked = True
            elif lower == b"connection":
                ex.connection_header = True
            elif lower == b"expect":
                ex.expect_continue = value.lower() == b"100-continue"
            elif lower == b"upgrade":
                ex.upgrade = value
            return
        if lower == b"host":
            ex.host = value
        elif lower == b"content-length":
            ex.content_length = value
        elif lower == b"origin":
            ex.origin = value
        elif lower == b"authorization":
            ex.authorization = value
            ex.authorization_at = len(ex.headers)
        elif lower == REQUEST_ID:
            return  # the gateway names each request itself (Exchange.request_id)
        ex.headers += (name, b": ", value, CRLF)

    def on_headers_complete(self) -> None:
        ex = self.building
        limits = self.limits
        url_size = len(ex.url)
        if (
            url_size + ex.head_bytes > limits.max_head_bytes
            or url_size > limits.max_url_bytes
            or len(ex.headers) > HEADER_PIECES * limits.max_header_fields
        ):
            self._refuse_head(ex)
        if ex.upgrade is not None:
            self._upgrade(ex)
        length = ex.content_length
        # A length with fewer digits than the limit is below it: no int() needed.
        if (
            length is not None
            and len(length) >= self.body_digits
            and int(length) > limits.max_body_bytes
        ):
            self._refuse(413, self._body_too_large())
            raise Refused
        parser = self.parser
        ex.method = parser.get_method()
        if ex.connection_header or not parser.should_keep_alive():
            # Only an HTTP/1.1 request without a Connection header is surely 1.1 and
            # keep-alive; asking the version costs a string per call, so ask only here.
            ex.http11 = parser.get_http_version() == "1.1"
            ex.keep_alive = ex.http11 and parser.should_keep_alive()
        ex.head_only = ex.method == b"HEAD"
        if self.active is None:
            self.active = ex
            self.gateway.route(ex)
        else:
            self.queue.append(ex)
            self.update_reading()

    def on_body(self, body: bytes) -> None:
        ex = self.building
        if ex.discard:
            return
        if ex.body_chunked:
            ex.body_size += len(body)
            if ex.body_size > self.limits.max_body_bytes:
                self._refuse(413, self._body_too_large())
                raise Refused
            ex.pending += (chunk_size(body), body, CRLF)
        else:
            ex.pending.append(body)
        ex.pending_size += len(body)
        if ex.pending_size > PENDING_LIMIT and ex.upstream is None:
            self.update_reading()

    def on_message_complete(self) -> None:
        ex = self.building
        ex.request_complete = True
        if ex.body_chunked and not ex.discard:
            ex.pending.append(LAST_CHUNK)
        if ex.finished and (not ex.keep_alive or self.closing):
            self.transport.close()  # answered early; the body is read, now close

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
        building = self.building
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
        if self.active is None and self.building.request_complete and self.served == self.swept:
            self.transport.close()
        self.swept = self.served

    def head_tick(self, ticks: int) -> None:
        """Called by the gateway every `header_timeout / ticks` seconds: a request head
        still incomplete after more than `ticks` calls gets a 408 (so after between
        `header_timeout` and `header_timeout * (1 + 1 / ticks)` seconds), timed from the
        connection's accept for its first request and from the first byte for later
        ones, so a method sent one byte at a time is timed too. No timer and no clock
        read per request."""
        ex: Exchange | None = self.building
        if ex is not None and ex.request_complete:
            if not self.head_open or self.active is not None or self.queue:
                return  # between requests (the idle sweep's), or answering one
            ex = None  # a head whose URL has not begun
        elif ex is not None and (ex.method or ex.finished):
            return
        if ex is not self.head_seen:
            self.head_seen, self.head_ticks = ex, 0
        self.head_ticks += 1
        if self.head_ticks > ticks:
            timeout = self.limits.header_timeout
            self._refuse(408, f"the request head was not complete within {timeout:g} seconds")

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

    def _stop(self) -> None:
        """Serve no further requests on this connection."""
        self.closing = True
        if self.active is None and not self.queue:
            self.transport.close()
        else:
            self.update_reading()

    def _refuse(self, status: int, message: str) -> None:
        """Refuse the request being parsed (or the next one, whose head did not parse):
        answer `status` in turn, after the responses still owed, serve nothing more on
        this connection, and close it."""
        self.closing = True
        broken = self.building
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

    def _check_partial_head(self, ex: Exchange, size: int) -> None:
        """After a read that began inside a request head. httptools holds the header it
        is parsing until that header ends, so a head that spans reads is checked after
        each of them, not only once it is whole: by the bytes of the reads that fell
        entirely inside it and by what was parsed of it (both at most its true size)."""
        if ex.method:
            return  # the head was completed in this read and checked then
        ex.head_wire += size
        limits = self.limits
        if len(ex.url) > limits.max_url_bytes:
            self._refuse(414, self._url_too_long())
        elif (
            ex.head_wire > limits.max_head_bytes
            or len(ex.url) + ex.head_bytes > limits.max_head_bytes
            or len(ex.headers) > HEADER_PIECES * limits.max_header_fields
        ):
            self._refuse(431, self._head_too_large())

    def _refuse_head(self, ex: Exchange) -> None:
        if len(ex.url) > self.limits.max_url_bytes:
            self._refuse(414, self._url_too_long())
        else:
            self._refuse(431, self._head_too_large())
        raise Refused

    def _url_too_long(self) -> str:
        return f"the request URL is longer than {self.limits.max_url_bytes} bytes"

    def _head_too_large(self) -> str:
        limits = self.limits
        return (
            f"the request headers are larger than {limits.max_head_bytes} bytes "
            f"or more than {limits.max_header_fields} fields"
        )

    def _body_too_large(self) -> str:
        limit = self.limits.max_body_bytes
        return (
            f"the request body is larger than {limit} bytes "
            "(the server's limit: brace server --max-body-size)"
        )

    def _upgrade(self, ex: Exchange) -> None:
        """A request naming another protocol: refused at once when it is a WebSocket or
        carries a body (httptools would leave the body unparsed); otherwise served as
        plain HTTP/1.1, as RFC 9110 lets a server ignore Upgrade."""
        if not self.parser.should_upgrade():
            return  # Upgrade without `Connection: upgrade`: an ordinary request
        protocol = ex.upgrade.decode("latin-1").strip() if ex.upgrade else ""
        if "websocket" in protocol.lower():
            self._refuse(501, "WebSocket is not supported yet")
            raise Refused
        if ex.body_chunked or (ex.content_length is not None and int(ex.content_length) > 0):
            self._refuse(
                501,
                f"switching to {protocol!r} is not supported: send the request over "
                "HTTP/1.1 without an Upgrade header",
            )
            raise Refused


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

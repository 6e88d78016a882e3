"""Reading one client connection's requests: httptools parsing and the bounds checks.

`RequestReader.feed` hands a read to httptools; its callbacks fill an `Exchange`, and
once a head is complete the connection gets it (`Connection.request_ready`), which
routes it at once (no task, no coroutine). Request body bytes collect in the
exchange's `pending` list during one `feed` call and go upstream in one write after
it, so a small request (head and body in one read) costs one upstream write.

What a client can make the gateway hold is bounded (`limits.Limits`): the head's size
is counted as the parser hands it over and checked once it is complete (414, 431),
while a head that spans reads is also checked after each read, before the parser can
gather more (httptools keeps a header that is not complete yet); a declared body
length is checked before the request goes anywhere and a chunked body as it arrives
(413); the gateway ticks `head_tick` to time out heads that arrive too slowly (408). A
request asking for a WebSocket, or for another protocol with a body (which httptools
leaves unparsed), gets 501 at once. Each refusal goes to the connection
(`Connection.refuse`), which answers it in turn and closes.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Protocol

from httptools import (
    HttpParserCallbackError,
    HttpParserError,
    HttpParserUpgrade,
    HttpRequestParser,
)

from brace.server.gateway.exchange import ClientSide, Exchange
from brace.server.gateway.limits import Limits
from brace.server.gateway.wire import (
    CRLF,
    HOP_BY_HOP,
    LAST_CHUNK,
    REQUEST_ID,
    chunk_size,
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


class Connection(ClientSide, Protocol):
    """The client connection a reader reads for (`downstream.ClientConnection`)."""

    transport: asyncio.Transport
    active: Exchange | None
    """The exchange whose response may be written now."""
    queue: deque[Exchange]
    """Pipelined exchanges waiting for their turn."""
    closing: bool

    def request_ready(self, ex: Exchange) -> None:
        """The request's head is parsed and checked: route it, or queue it."""
        ...

    def refuse(self, status: int, message: str) -> None:
        """Refuse the request being read: answer `status` in turn, then close."""
        ...

    def stop(self) -> None:
        """Serve no further requests on this connection."""
        ...


class RequestReader:
    __slots__ = (
        "body_digits",
        "building",
        "conn",
        "head_open",
        "head_seen",
        "head_ticks",
        "limits",
        "parser",
    )

    def __init__(self, conn: Connection, limits: Limits) -> None:
        self.conn = conn
        self.limits = limits
        self.body_digits = len(str(limits.max_body_bytes))
        self.parser = HttpRequestParser(self)
        self.building = Exchange(conn)
        """The request being parsed (or the last one parsed, when `request_complete`)."""
        self.building.request_complete = True
        self.head_seen: Exchange | None = None
        """The incomplete request head `head_tick` saw last (None: one whose URL has not
        begun), and for how many ticks."""
        self.head_ticks = 0
        self.head_open = True
        """A head is under way whose URL has not begun: from the accept to the first
        request's URL, or from a later request's first byte to its URL."""

    def feed(self, data: bytes) -> None:
        """Parse one read (the connection is `feeding` meanwhile); a request that does
        not parse is refused (400)."""
        building = self.building
        if building.request_complete and not self.head_open:  # a new head's first bytes
            self.head_open, self.head_seen, self.head_ticks = True, None, 0
        in_head = not building.request_complete and not building.method
        conn = self.conn
        conn.feeding = True
        try:
            self.parser.feed_data(data)
        except HttpParserUpgrade:
            # Only a request without a body gets here (`_upgrade` refused the others):
            # it was served as plain HTTP/1.1, without its Upgrade header, and whatever
            # follows it on this connection is not HTTP.
            self.building.keep_alive = False
            conn.stop()
        except HttpParserCallbackError as error:
            if not isinstance(error.__context__, Refused):
                log.exception("gateway bug while handling a request")
                conn.refuse(500, "Internal Server Error")
        except HttpParserError:
            conn.refuse(400, "Bad Request")
        finally:
            conn.feeding = False
        if in_head and self.building is building and not building.request_complete:
            self._check_partial_head(building, len(data))

    def head_tick(self, ticks: int) -> None:
        """Called by the gateway every `header_timeout / ticks` seconds: a request head
        still incomplete after more than `ticks` calls gets a 408 (so after between
        `header_timeout` and `header_timeout * (1 + 1 / ticks)` seconds), timed from the
        connection's accept for its first request and from the first byte for later
        ones, so a method sent one byte at a time is timed too. No timer and no clock
        read per request."""
        ex: Exchange | None = self.building
        if ex is not None and ex.request_complete:
            conn = self.conn
            if not self.head_open or conn.active is not None or conn.queue:
                return  # between requests (the idle sweep's), or answering one
            ex = None  # a head whose URL has not begun
        elif ex is not None and (ex.method or ex.finished):
            return
        if ex is not self.head_seen:
            self.head_seen, self.head_ticks = ex, 0
        self.head_ticks += 1
        if self.head_ticks > ticks:
            timeout = self.limits.header_timeout
            self.conn.refuse(408, f"the request head was not complete within {timeout:g} seconds")

    # -- httptools callbacks ---------------------------------------------------------------

    def on_url(self, url: bytes) -> None:
        # The first callback of a request (no on_message_begin: one Python call fewer).
        ex = self.building
        if ex.request_complete:
            self.building = ex = Exchange(self.conn)
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
            self.conn.refuse(413, self._body_too_large())
            raise Refused
        parser = self.parser
        ex.method = parser.get_method()
        if ex.connection_header or not parser.should_keep_alive():
            # Only an HTTP/1.1 request without a Connection header is surely 1.1 and
            # keep-alive; asking the version costs a string per call, so ask only here.
            ex.http11 = parser.get_http_version() == "1.1"
            ex.keep_alive = ex.http11 and parser.should_keep_alive()
        ex.head_only = ex.method == b"HEAD"
        self.conn.request_ready(ex)

    def on_body(self, body: bytes) -> None:
        ex = self.building
        if ex.discard:
            return
        if ex.body_chunked:
            ex.body_size += len(body)
            if ex.body_size > self.limits.max_body_bytes:
                self.conn.refuse(413, self._body_too_large())
                raise Refused
            ex.pending += (chunk_size(body), body, CRLF)
        else:
            ex.pending.append(body)
        ex.pending_size += len(body)
        if ex.pending_size > PENDING_LIMIT and ex.upstream is None:
            self.conn.update_reading()

    def on_message_complete(self) -> None:
        ex = self.building
        ex.request_complete = True
        if ex.body_chunked and not ex.discard:
            ex.pending.append(LAST_CHUNK)
        if ex.finished and (not ex.keep_alive or self.conn.closing):
            self.conn.transport.close()  # answered early; the body is read, now close

    # -- the checks ------------------------------------------------------------------------

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
            self.conn.refuse(414, self._url_too_long())
        elif (
            ex.head_wire > limits.max_head_bytes
            or len(ex.url) + ex.head_bytes > limits.max_head_bytes
            or len(ex.headers) > HEADER_PIECES * limits.max_header_fields
        ):
            self.conn.refuse(431, self._head_too_large())

    def _refuse_head(self, ex: Exchange) -> None:
        if len(ex.url) > self.limits.max_url_bytes:
            self.conn.refuse(414, self._url_too_long())
        else:
            self.conn.refuse(431, self._head_too_large())
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
            self.conn.refuse(501, "WebSocket is not supported yet")
            raise Refused
        if ex.body_chunked or (ex.content_length is not None and int(ex.content_length) > 0):
            self.conn.refuse(
                501,
                f"switching to {protocol!r} is not supported: send the request over "
                "HTTP/1.1 without an Upgrade header",
            )
            raise Refused

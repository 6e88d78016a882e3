"""One request and its response as it crosses the gateway.

An `Exchange` is created when the client connection's parser sees a request's URL and
lives until its response is written (or the client goes away). It carries what both
sides need: the parsed request head, the request bytes not yet written upstream
(`pending`: while connecting, held for a waking deployment, or queued behind a
pipelined request), what was already written (`replay`, for the one second chance on a new
connection), and where the response stands. It is plain state (bar building its
upstream request head); the client side (`downstream`), the upstream side (`upstream`),
`pool` and the `Gateway` move it along. It knows them only as the small Protocols
below (`ClientSide`, `UpstreamSide`, `PoolSide`): what an exchange's neighbours call on
each other through it, so that none of those modules imports another in a circle.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from brace.server.gateway.wire import CHUNKED, CRLF, request_id_header

REPLAY_LIMIT = 1 << 20
"""Request bytes kept for a retry; a request with a larger body is not retried."""


class ClientSide(Protocol):
    """The client connection of an exchange (`downstream.ClientConnection`)."""

    transport: asyncio.Transport
    reading: bool
    feeding: bool
    """Its parser is running: what it gathered is written once the parser returns."""
    write_paused: bool
    upstream_full: bool
    """The replica cannot take more of the request body now."""

    def update_reading(self) -> None: ...

    def finish(self, ex: Exchange) -> None:
        """The exchange's whole response went to the client."""
        ...

    def answer_error(self, ex: Exchange, status: int, message: str) -> None: ...

    def answer_json(self, ex: Exchange, status: int, payload: object) -> None: ...

    def send_continue(self, ex: Exchange) -> None: ...


class UpstreamSide(Protocol):
    """A connection to a replica (`upstream.UpstreamConnection`)."""

    transport: asyncio.Transport
    exchange: Exchange | None
    parked_at: float
    """When it went back to its pool idle (monotonic seconds)."""

    def attach(self, ex: Exchange) -> None: ...

    def send_pending(self, ex: Exchange) -> None: ...

    def pause_reading(self) -> None: ...

    def resume_reading(self) -> None: ...


class PoolSide(Protocol):
    """The connections to one replica and its requests in flight (`pool.UpstreamPool`)."""

    path: str
    """The replica's address (a Unix socket path or `host:port`)."""
    active: int
    closed: bool
    idle: list[UpstreamSide]
    deployment_id: str | None
    first_byte_timeout: float


REPLICA_SECRET = b"x-brace-replica-secret"
"""The header that carries the server's secret to remote replicas (`brace.runtime.guard`)."""


def secret_line(secret: str | None) -> bytes:
    """The header line that carries `secret` to every replica (empty: no secret)."""
    return b"" if secret is None else b"%s: %s\r\n" % (REPLICA_SECRET, secret.encode())


class Exchange:
    __slots__ = (
        "alternative",
        "authorization",
        "authorization_at",
        "body_chunked",
        "body_size",
        "client",
        "connection_header",
        "content_length",
        "continue_sent",
        "deployment_id",
        "discard",
        "expect_continue",
        "finished",
        "head_bytes",
        "head_only",
        "head_wire",
        "headers",
        "held_at",
        "host",
        "http11",
        "keep_alive",
        "method",
        "origin",
        "pending",
        "pending_size",
        "pool",
        "replay",
        "replay_size",
        "request_complete",
        "request_id",
        "response_started",
        "retried",
        "started",
        "status",
        "upgrade",
        "upstream",
        "url",
        "waiting_since",
    )

    def __init__(self, client: ClientSide) -> None:
        self.client = client
        self.method = b""
        self.url = b""
        self.headers: list[bytes] = []
        """Forwardable request headers as consecutive name, b": ", value, CRLF pieces."""
        self.request_id = request_id_header()
        """This request's `x-baseten-request-id` header line: sent to the replica (whose
        log records for the request carry it) and to the client with the response."""
        self.host: bytes | None = None
        self.origin: bytes | None = None
        self.authorization: bytes | None = None
        self.authorization_at = -1
        """Where the Authorization header's pieces start in `headers` (-1: none)."""
        self.content_length: bytes | None = None
        self.upgrade: bytes | None = None
        """The Upgrade header's value (a hop-by-hop header: never forwarded)."""
        self.head_bytes = 0
        """Size of the header lines parsed so far, as `name: value` CRLF."""
        self.head_wire = 0
        """Bytes of the reads that fell entirely inside this request's head."""
        self.body_size = 0
        """Body bytes of a chunked request received so far (checked against the limit)."""
        self.body_chunked = False
        self.expect_continue = False
        self.continue_sent = False
        self.connection_header = False
        self.keep_alive = True
        self.http11 = True
        self.head_only = False
        self.request_complete = False
        self.discard = False
        """The request body goes nowhere: answered locally, or the response already ended."""
        self.deployment_id: str | None = None
        """Set when the exchange counts towards a deployment's outstanding requests."""
        self.alternative: str | None = None
        """The other deployment of an environment's split, for a request that no
        replica of its own deployment could take (nothing sent)."""
        self.pool: PoolSide | None = None
        self.upstream: UpstreamSide | None = None
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.replay: list[bytes] | None = None
        self.replay_size = 0
        self.retried = False
        """Sent again after its connection closed before any response byte."""
        self.response_started = False
        self.status = 0
        """The response's status once its head is known (0 before)."""
        self.started = 0.0
        """When the gateway routed it to a deployment (monotonic seconds), for the metrics."""
        self.finished = False
        self.held_at = 0.0
        """When it began to wait at the gateway (loop time; 0: it is not waiting)."""
        self.waiting_since = 0.0
        """When a sweep first saw it waiting for its replica's first byte (loop time;
        0: not seen yet)."""

    def start_request(self, path: bytes, extra: bytes = b"") -> None:
        """Put the upstream request head in front of whatever body is already pending;
        `extra`: header lines the gateway adds (its secret for remote replicas)."""
        host = b"" if self.host is not None else b"host: localhost\r\n"
        framing = CHUNKED if self.body_chunked else b""
        head = b"".join(
            (
                self.method,
                b" ",
                path,
                b" HTTP/1.1\r\n",
                *self.headers,
                self.request_id,
                extra,
                host,
                framing,
                CRLF,
            )
        )
        self.pending.insert(0, head)
        self.pending_size += len(head)

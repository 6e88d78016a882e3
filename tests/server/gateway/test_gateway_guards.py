"""What the gateway refuses, over real sockets: foreign Hosts and Origins, oversized or slow
requests, and protocol upgrades. Each refusal comes at once, as JSON, and no model runs.

The replicas count the requests that reach them, so a test can say that a refused
request never got there. Bounds are set small where the defaults would need much
traffic or time (see tests/server/gateway/test_limits.py for the defaults themselves).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from brace.server.gateway.limits import Limits
from tests.server.gateway.test_gateway import (
    MODEL,
    PREDICT,
    ASGIApp,
    Receive,
    Scope,
    Send,
    Servers,
    make_table,
    raw,
    request,
)
from tests.server.gateway.test_gateway import servers as servers


@dataclass
class Counting:
    """A replica that counts the requests it served and the body bytes it received."""

    requests: int = 0
    received: list[int] = field(default_factory=list)

    def app(self) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            size = 0
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    self.received.append(size)
                    return
                size += len(message.get("body", b""))
                if not message.get("more_body"):
                    break
            self.received.append(size)
            self.requests += 1
            body = json.dumps({"length": size}).encode()
            start = {"type": "http.response.start", "status": 200, "headers": []}
            await send(start)
            await send({"type": "http.response.body", "body": body})

        return app


@dataclass
class Guarded:
    port: int
    replica: Counting


def guarded(servers: Servers, **options: Any) -> Guarded:
    counting = Counting()
    path = servers.replica("counting", counting.app())
    internal = servers.replica("internal")
    running = servers.gateway(make_table({"prod": (path,)}), internal_uds=internal, **options)
    return Guarded(running.port, counting)


@pytest.fixture
def gateway(servers: Servers) -> Iterator[Guarded]:
    yield guarded(servers)


def head(*lines: str, method: str = "POST", path: str = PREDICT) -> bytes:
    """A request head with the given header lines (Host included by the caller)."""
    fields = "".join(f"{line}\r\n" for line in lines)
    return f"{method} {path} HTTP/1.1\r\n{fields}\r\n".encode()


def status_and_json(received: bytes) -> tuple[int, Any]:
    head_part, _, body = received.partition(b"\r\n\r\n")
    return int(head_part.split(b" ")[1]), json.loads(body)


# -- Host and Origin ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("127.0.0.1:{port}", id="loopback"),
        pytest.param("127.3.2.1", id="loopback-net"),
        pytest.param("localhost:{port}", id="localhost"),
        pytest.param("[::1]:{port}", id="ipv6-loopback"),
    ],
)
def test_local_hosts_are_served(gateway: Guarded, host: str) -> None:
    reply = request(gateway.port, PREDICT, headers={"Host": host.format(port=gateway.port)})
    assert reply.status == 200
    assert gateway.replica.requests == 1


def test_model_host_is_served(gateway: Guarded) -> None:
    host = f"model-{MODEL}.localhost:{gateway.port}"
    reply = request(gateway.port, "/production/predict", headers={"Host": host})
    assert reply.status == 200


@pytest.mark.parametrize(
    "host",
    [
        pytest.param("evil.example:{port}", id="rebound-name"),
        pytest.param("evil.example", id="rebound-name-no-port"),
        pytest.param("127.0.0.1.nip.io:{port}", id="name-resolving-to-loopback"),
        pytest.param("10.1.2.3:{port}", id="other-address"),
    ],
)
def test_dns_rebinding_hosts_are_refused_before_routing(gateway: Guarded, host: str) -> None:
    value = host.format(port=gateway.port)
    for path in (PREDICT, "/healthz"):
        reply = request(gateway.port, path, headers={"Host": value})
        assert reply.status == 400
        assert reply.json()["error"].startswith(f"Host {value!r} is not allowed")
        assert reply.headers["connection"] == "close"
    assert gateway.replica.requests == 0


def test_a_remembered_route_does_not_let_another_host_through(gateway: Guarded) -> None:
    assert request(gateway.port, PREDICT, headers={"Host": "localhost"}).status == 200
    assert request(gateway.port, PREDICT, headers={"Host": "evil.example"}).status == 400
    assert gateway.replica.requests == 1


@pytest.mark.parametrize(
    "origin",
    [
        pytest.param("http://evil.example", id="other-site"),
        pytest.param("http://localhost:3000", id="other-local-port"),
        pytest.param("null", id="sandboxed-or-file-page"),
    ],
)
def test_cross_origin_simple_post_does_not_run_the_model(gateway: Guarded, origin: str) -> None:
    """What a web page's `fetch(url, {method: "POST", mode: "no-cors", body})` sends."""
    headers = {"Host": f"127.0.0.1:{gateway.port}", "Origin": origin}
    for content_type in ("text/plain", "application/x-www-form-urlencoded"):
        reply = request(
            gateway.port, PREDICT, b"{}", headers={**headers, "Content-Type": content_type}
        )
        assert reply.status == 403
        assert reply.json()["error"].startswith("cross-origin requests are not allowed")
    assert gateway.replica.requests == 0


def test_same_origin_request_is_served(gateway: Guarded) -> None:
    host = f"127.0.0.1:{gateway.port}"
    reply = request(gateway.port, PREDICT, headers={"Host": host, "Origin": f"http://{host}"})
    assert reply.status == 200


def test_allowed_hosts_option(servers: Servers) -> None:
    allowed = guarded(servers, allowed_hosts=["mybox.lan"])
    assert request(allowed.port, PREDICT, headers={"Host": "MyBox.lan:80"}).status == 200
    assert request(allowed.port, PREDICT, headers={"Host": "other.lan"}).status == 400


# -- size bounds -------------------------------------------------------------------------


def test_long_url_gets_414(gateway: Guarded) -> None:
    path = PREDICT + "?" + "q" * 9000
    received = raw(gateway.port, head("Host: localhost", path=path))
    assert status_and_json(received) == (
        414,
        {"error": "the request URL is longer than 8192 bytes"},
    )
    assert gateway.replica.requests == 0


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param(["x-big: " + "a" * 70_000], id="one-big-header"),
        pytest.param([f"x-{i}: " + "a" * 1000 for i in range(70)], id="many-headers"),
        pytest.param([f"x-{i}: a" for i in range(101)], id="too-many-fields"),
    ],
)
def test_large_head_gets_431(gateway: Guarded, headers: list[str]) -> None:
    received = raw(gateway.port, head("Host: localhost", *headers))
    status, answer = status_and_json(received)
    assert status == 431
    assert answer == {
        "error": "the request headers are larger than 65536 bytes or more than 100 fields"
    }
    assert gateway.replica.requests == 0


def test_head_just_under_the_limit_is_served(gateway: Guarded) -> None:
    headers = [f"x-{i}: " + "a" * 1000 for i in range(60)]
    received = raw(gateway.port, head("Host: localhost", "Connection: close", *headers))
    assert received.startswith(b"HTTP/1.1 200")


def test_endless_header_is_cut_off_without_being_held(gateway: Guarded) -> None:
    """A header that never ends, sent in pieces: the 431 comes once the gateway has read
    a little more than the limit, not when the header ends (it would be held till then).
    What the client could send before the answer is that plus the kernel's buffers."""
    sent = 0
    answer = b""
    with socket.create_connection(("127.0.0.1", gateway.port), timeout=5) as sock:
        sock.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nx-big: ".encode())
        sock.setblocking(False)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and b"\r\n\r\n" not in answer and sent < 64 << 20:
            with contextlib.suppress(BlockingIOError):
                answer += sock.recv(65536)
            if not answer:
                try:
                    sent += sock.send(b"a" * 65536)
                except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                    time.sleep(0.001)
    assert answer.startswith(b"HTTP/1.1 431")
    assert sent < 24 << 20


def test_slow_head_times_out_with_408(servers: Servers) -> None:
    slow = guarded(servers, limits=Limits(header_timeout=0.4))
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", slow.port), timeout=5) as sock:
        sock.sendall(f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nx-slow".encode())
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    elapsed = time.monotonic() - started
    assert status_and_json(received) == (
        408,
        {"error": "the request head was not complete within 0.4 seconds"},
    )
    assert 0.4 <= elapsed < 1.5
    assert slow.replica.requests == 0
    assert request(slow.port, PREDICT).status == 200  # others are served meanwhile


def _drip(sock: socket.socket, data: bytes, pause: float) -> bytes:
    """Send `data` one byte at a time, `pause` seconds apart, until the gateway
    answers; what it answered."""
    sock.setblocking(False)
    received = b""
    for byte in data:
        try:
            sock.send(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            break
        time.sleep(pause)
        with contextlib.suppress(BlockingIOError):
            received += sock.recv(65536)
        if received:
            break
    sock.settimeout(5)
    with contextlib.suppress(ConnectionResetError):
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.mark.parametrize(
    "prefix",
    [
        pytest.param(b"", id="from-the-accept"),
        pytest.param(b"\r\n", id="after-a-blank-line"),
    ],
)
def test_a_method_sent_byte_by_byte_is_timed_from_the_accept(
    servers: Servers, prefix: bytes
) -> None:
    """The URL begins 1.25 s after the accept: the 0.3 s timeout must not wait for it."""
    slow = guarded(servers, limits=Limits(header_timeout=0.3))
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", slow.port), timeout=5) as sock:
        received = _drip(sock, prefix + f"POST {PREDICT} HTTP/1.1\r\n".encode(), 0.25)
    elapsed = time.monotonic() - started
    assert status_and_json(received) == (
        408,
        {"error": "the request head was not complete within 0.3 seconds"},
    )
    assert 0.3 <= elapsed < 1.0


def test_a_silent_connection_gets_408_after_the_head_timeout(servers: Servers) -> None:
    slow = guarded(servers, limits=Limits(header_timeout=0.3))
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", slow.port), timeout=5) as sock:
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert status_and_json(received)[0] == 408
    assert 0.3 <= time.monotonic() - started < 1.5


def test_a_later_request_s_head_is_timed_from_its_first_byte(servers: Servers) -> None:
    """Idle between requests is the idle sweep's; a head that has begun is timed."""
    slow = guarded(servers, limits=Limits(header_timeout=0.3))
    with socket.create_connection(("127.0.0.1", slow.port), timeout=5) as sock:
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{{}}".encode()
        )
        first = b""
        while b"\r\n\r\n" not in first:
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200")
        time.sleep(0.8)  # idle: longer than the head timeout, and still open
        started = time.monotonic()
        received = _drip(sock, f"POST {PREDICT} HTTP/1.1\r\n".encode(), 0.25)
    assert b"HTTP/1.1 408" in received
    assert 0.3 <= time.monotonic() - started < 1.0


def test_a_slow_model_is_not_a_slow_head(servers: Servers) -> None:
    """The timeout is on the request head, not on the answer."""
    slow = guarded(servers, limits=Limits(header_timeout=0.2))
    conn = http.client.HTTPConnection("127.0.0.1", slow.port, timeout=5)
    conn.request("POST", PREDICT, body=b"{}")
    time.sleep(0.5)  # idle between requests on a keep-alive connection: not a head
    conn.getresponse().read()
    conn.request("POST", PREDICT, body=b"{}")
    assert conn.getresponse().status == 200
    conn.close()


def test_declared_body_over_the_limit_gets_413_before_it_is_sent(servers: Servers) -> None:
    small = guarded(servers, limits=Limits(max_body_bytes=1000))
    with socket.create_connection(("127.0.0.1", small.port), timeout=5) as sock:
        sock.sendall(head("Host: localhost", "Content-Length: 200000000", "Expect: 100-continue"))
        received = sock.recv(65536)
    assert status_and_json(received) == (
        413,
        {
            "error": "the request body is larger than 1000 bytes "
            "(the server's limit: brace server --max-body-size)"
        },
    )
    assert small.replica.received == []


def test_client_sending_a_body_over_the_limit_reads_the_413(servers: Servers) -> None:
    """http.client sends the whole body before it reads: the gateway drains what comes
    after its answer, so the client gets the 413 rather than a reset connection."""
    small = guarded(servers, limits=Limits(max_body_bytes=1 << 20))
    reply = request(small.port, PREDICT, b"x" * (3 << 20))
    assert reply.status == 413
    assert small.replica.received == []


def test_body_at_the_limit_is_served(servers: Servers) -> None:
    small = guarded(servers, limits=Limits(max_body_bytes=1 << 20))
    assert request(small.port, PREDICT, b"x" * (1 << 20)).json() == {"length": 1 << 20}


def test_chunked_body_over_the_limit_is_cut_at_the_limit(servers: Servers) -> None:
    small = guarded(servers, limits=Limits(max_body_bytes=1 << 20))
    assert request(small.port, PREDICT).status == 200  # a pooled connection: the body flows
    chunks = (b"x" * 65536 for _ in range(48))  # 3 MiB
    conn = http.client.HTTPConnection("127.0.0.1", small.port, timeout=10)
    conn.request("POST", PREDICT, body=chunks, encode_chunked=True)
    response = conn.getresponse()
    assert (response.status, json.loads(response.read())["error"]) == (
        413,
        "the request body is larger than 1048576 bytes "
        "(the server's limit: brace server --max-body-size)",
    )
    conn.close()
    deadline = time.monotonic() + 5
    while len(small.replica.received) < 2:  # the replica sees its request end early
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert small.replica.requests == 1  # the first request only: the model did not run
    assert small.replica.received[1] <= 1 << 20


def test_chunked_body_under_the_limit_is_served(servers: Servers) -> None:
    small = guarded(servers, limits=Limits(max_body_bytes=1 << 20))
    chunks = (b"x" * 1000 for _ in range(100))
    conn = http.client.HTTPConnection("127.0.0.1", small.port, timeout=10)
    conn.request("POST", PREDICT, body=chunks, encode_chunked=True)
    assert json.loads(conn.getresponse().read()) == {"length": 100_000}
    conn.close()


# -- upgrades ----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_websocket_upgrade_gets_501_at_once(gateway: Guarded, method: str) -> None:
    started = time.monotonic()
    received = raw(
        gateway.port,
        head(
            "Host: localhost",
            "Connection: Upgrade",
            "Upgrade: websocket",
            "Sec-WebSocket-Version: 13",
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
            "Content-Length: 2",
            method=method,
        )
        + b"{}",
    )
    assert time.monotonic() - started < 1
    assert status_and_json(received) == (501, {"error": "WebSocket is not supported yet"})
    assert gateway.replica.requests == 0


def test_h2c_upgrade_with_a_body_gets_501_at_once(gateway: Guarded) -> None:
    """What `curl --http2 -d '{}' http://...` sends."""
    started = time.monotonic()
    received = raw(
        gateway.port,
        head(
            "Host: localhost",
            "Connection: Upgrade, HTTP2-Settings",
            "Upgrade: h2c",
            "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA",
            "Content-Length: 2",
        )
        + b"{}",
    )
    assert time.monotonic() - started < 1
    assert status_and_json(received) == (
        501,
        {
            "error": "switching to 'h2c' is not supported: send the request over HTTP/1.1 "
            "without an Upgrade header"
        },
    )
    assert gateway.replica.requests == 0


def test_h2c_upgrade_without_a_body_is_served_over_http11(gateway: Guarded) -> None:
    received = raw(
        gateway.port,
        head(
            "Host: localhost",
            "Connection: Upgrade, HTTP2-Settings",
            "Upgrade: h2c",
            "HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA",
            method="GET",
            path="/healthz",
        ),
    )
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert b'"who": "internal"' in received


def test_connect_gets_405(gateway: Guarded) -> None:
    received = raw(
        gateway.port,
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    )
    assert received.startswith(b"HTTP/1.1 4")
    assert gateway.replica.requests == 0

"""The gateway reaches replicas over TCP as well as Unix sockets (`backends.base.Address`).

Real sockets on 127.0.0.1: replicas are uvicorn servers of `test_gateway.echo_app` on a
TCP port, a dead replica is a port nobody listens on, and a silent one accepts the
connection, reads the request and never answers.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from brace.server.backends.base import tcp_address
from brace.server.gateway.pool import tune_tcp
from brace.server.gateway.routing import DeploymentRoute, ReplicaLimits, RoutingTable
from tests.server.gateway.test_gateway import (
    MODEL,
    PREDICT,
    Replica,
    Servers,
    echo_app,
    make_table,
    request,
)
from tests.server.gateway.test_gateway import servers as servers


def tcp_replica(servers: Servers, name: str, gate: threading.Event | None = None) -> str:
    """An echo replica on a free TCP port of 127.0.0.1; its address `127.0.0.1:port`."""
    config = uvicorn.Config(
        echo_app(name, gate),
        host="127.0.0.1",
        port=0,
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    done = asyncio.run_coroutine_threadsafe(server.serve(), servers.replicas_loop.loop)
    deadline = time.monotonic() + 5
    while not server.started:
        assert time.monotonic() < deadline, f"replica {name} did not start"
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    address = f"127.0.0.1:{port}"
    servers.replicas[name] = Replica(address, server, done)
    return address


def dead_address() -> str:
    """A TCP address on which nothing listens (connections are refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def silent() -> Iterator[tuple[str, list[socket.socket]]]:
    """A replica that accepts connections and reads requests, and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            accepted.append(conn)  # kept open, never read from or written to

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(5)
        listener.close()
        for conn in accepted:
            conn.close()


def limited(upstreams: tuple[str, ...], first_byte: float) -> RoutingTable:
    base = make_table({"prod": upstreams})
    limits = (ReplicaLimits(4, first_byte),) * len(upstreams)
    route = DeploymentRoute("prod", MODEL, True, upstreams, limits=limits)
    return RoutingTable(base.models, base.environments, base.development, {"prod": route})


@pytest.mark.parametrize(
    ("address", "parsed"),
    [
        pytest.param("127.0.0.1:8080", ("127.0.0.1", 8080), id="ipv4"),
        pytest.param("localhost:1", ("localhost", 1), id="name"),
        pytest.param("[::1]:9000", ("::1", 9000), id="ipv6"),
        pytest.param("/tmp/brace/r1.sock", None, id="unix-socket"),
        pytest.param("./r:1", None, id="relative-socket"),
        pytest.param("host:", None, id="no-port"),
        pytest.param(":80", None, id="no-host"),
    ],
)
def test_an_address_is_tcp_or_a_unix_socket(address: str, parsed: tuple[str, int] | None) -> None:
    assert tcp_address(address) == parsed


def test_a_tcp_connection_to_a_replica_has_nodelay_and_keepalive() -> None:
    with socket.socket() as sock:
        tune_tcp(sock)
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1


def test_predict_through_a_replica_over_tcp(servers: Servers) -> None:
    address = tcp_replica(servers, "tcp")
    running = servers.gateway(make_table({"prod": (address,)}))
    replies = [request(running.port, PREDICT, b'{"x": 1}') for _ in range(3)]
    assert [(r.status, r.json()["who"], r.json()["length"]) for r in replies] == [
        (200, "tcp", 8)
    ] * 3


def test_a_stream_over_tcp_arrives_as_it_is_sent(servers: Servers) -> None:
    gate = threading.Event()
    address = tcp_replica(servers, "streams", gate)
    running = servers.gateway(make_table({"prod": (address,)}))
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nhost: 127.0.0.1\r\nx-test-stream: 1\r\n"
            "content-length: 2\r\n\r\n{}".encode()
        )
        received = b""
        while b"first" not in received:  # before the replica sends the rest
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
        assert b"rest" not in received
        gate.set()
        while b"rest" not in received:
            chunk = sock.recv(65536)
            assert chunk, received
            received += chunk
    assert received.startswith(b"HTTP/1.1 200")


def test_a_dead_tcp_replica_costs_no_request(servers: Servers) -> None:
    alive = tcp_replica(servers, "alive")
    running = servers.gateway(make_table({"prod": (dead_address(), alive)}))
    replies = [request(running.port, PREDICT) for _ in range(4)]
    assert [(r.status, r.json()["who"]) for r in replies] == [(200, "alive")] * 4


def test_a_replica_that_accepts_and_never_answers_gets_504_in_time_then_is_avoided(
    servers: Servers, silent: tuple[str, list[socket.socket]]
) -> None:
    """A replica that vanished without a word (its connection accepted, no answer ever):
    504 within the deployment's first-byte timeout, then the other replica serves."""
    hung, accepted = silent
    well = tcp_replica(servers, "well")
    running = servers.gateway(limited((hung, well), first_byte=0.3))
    started = time.monotonic()
    reply = request(running.port, PREDICT, timeout=10)  # both idle: the first one, hung
    took = time.monotonic() - started
    assert accepted  # it was reached
    assert reply.status == 504
    assert 0.3 <= took < 1.5
    replies = [request(running.port, PREDICT, timeout=5) for _ in range(3)]
    assert [(r.status, r.json()["who"]) for r in replies] == [(200, "well")] * 3

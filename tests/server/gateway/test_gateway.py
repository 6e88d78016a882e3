"""The gateway over real sockets: uvicorn replicas on Unix sockets, clients over TCP.

The replicas (small ASGI apps) run in one background event loop, the gateway in
another (uvloop), and the tests talk to the gateway with http.client and raw sockets
from the test thread, as a user's client would.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import http.client
import json
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeVar

import pytest
import uvicorn
import uvloop

from brace.server.gateway.proxy import Gateway
from brace.server.gateway.routing import DeploymentRoute, EnvironmentRoute, RoutingTable
from brace.server.gateway.wire import REQUEST_ID

T = TypeVar("T")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

MODEL = "m1"
NAME = "my model"


# -- replicas ----------------------------------------------------------------------------


def pattern(size: int) -> bytes:
    """`size` bytes that are not all alike, so a reordering or a lost chunk shows."""
    block = bytes(range(256)) * 64
    return (block * (size // len(block) + 1))[:size]


def echo_app(name: str, gate: threading.Event | None = None) -> ASGIApp:
    """A replica that says who it is and what it got; test headers make it slow or big."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        assert scope["type"] == "http"
        headers = dict(scope["headers"])
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if b"x-test-sleep" in headers:
            await asyncio.sleep(float(headers[b"x-test-sleep"]))
        extra = [(b"x-baseten-request-id", b"from-replica")] if b"x-test-own-id" in headers else []
        if b"x-test-size" in headers:
            payload = pattern(int(headers[b"x-test-size"]))
            start = [(b"content-length", str(len(payload)).encode())]
            await send({"type": "http.response.start", "status": 200, "headers": start + extra})
            await send({"type": "http.response.body", "body": payload})
            return
        if b"x-test-stream" in headers:
            await send({"type": "http.response.start", "status": 200, "headers": extra})
            await send({"type": "http.response.body", "body": b"first\n", "more_body": True})
            for _ in range(500):  # until the test has seen the first chunk, at most 5 s
                if gate is not None and gate.is_set():
                    break
                await asyncio.sleep(0.01)
            await send({"type": "http.response.body", "body": b"rest\n"})
            return
        answer = {
            "who": name,
            "method": scope["method"],
            "path": scope["path"],
            "query": scope["query_string"].decode(),
            "host": headers.get(b"host", b"").decode(),
            "length": len(body),
            "md5": hashlib.md5(body).hexdigest(),
            "request_ids": [v.decode() for k, v in scope["headers"] if k == REQUEST_ID],
        }
        data = json.dumps(answer).encode()
        start = [(b"content-type", b"application/json"), *extra]
        await send({"type": "http.response.start", "status": 200, "headers": start})
        await send({"type": "http.response.body", "body": data})

    return app


class LoopThread:
    """An event loop running in a background thread."""

    def __init__(self, factory: Callable[[], asyncio.AbstractEventLoop]) -> None:
        self.loop = factory()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Awaitable[T], timeout: float = 10) -> T:
        async def wrapper() -> T:
            return await coro

        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout)

    def call(self, fn: Callable[[], T]) -> T:
        async def wrapper() -> T:
            return fn()

        return self.run(wrapper())

    def stop(self) -> None:
        async def cancel_all() -> None:
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        try:
            self.run(cancel_all(), timeout=5)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(5)
            self.loop.close()


@dataclass
class Replica:
    path: str
    server: uvicorn.Server
    done: Future[None]


@dataclass
class Flaky:
    """A raw replica that misbehaves. `stale`: answers one request per connection and
    closes on the next (a keep-alive connection gone stale); `mute`: closes on every
    request without a word; `truncate`: promises 1000 bytes, sends 10 and closes."""

    path: str
    mode: Literal["stale", "mute", "truncate"]
    connections: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        served = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                if served or self.mode == "mute":
                    break  # close without a word
                if self.mode == "truncate":
                    writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n0123456789")
                    await writer.drain()
                    break
                served += 1
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()


@dataclass
class Running:
    gateway: Gateway
    port: int
    loop: LoopThread

    def set_table(self, table: RoutingTable) -> None:
        self.gateway.set_table(table)  # from this thread: the gateway hops to its loop

    def outstanding(self, deployment_id: str) -> int:
        return self.loop.call(lambda: self.gateway.outstanding(deployment_id))

    def wait_outstanding(self, deployment_id: str, count: int, timeout: float = 5) -> None:
        """Wait until the deployment has `count` requests in flight."""
        deadline = time.monotonic() + timeout
        while self.outstanding(deployment_id) != count:
            assert time.monotonic() < deadline, f"{deployment_id} never had {count} in flight"
            time.sleep(0.005)


@dataclass
class Servers:
    tmp: Path
    replicas_loop: LoopThread = field(default_factory=lambda: LoopThread(asyncio.new_event_loop))
    replicas: dict[str, Replica] = field(default_factory=dict)
    gateways: list[Running] = field(default_factory=list)

    def replica(self, name: str, app: ASGIApp | None = None) -> str:
        path = str(self.tmp / f"{name}.sock")
        config = uvicorn.Config(
            app or echo_app(name),
            uds=path,
            lifespan="off",
            log_level="warning",
            access_log=False,
            timeout_graceful_shutdown=1,
        )
        server = uvicorn.Server(config)
        done = asyncio.run_coroutine_threadsafe(server.serve(), self.replicas_loop.loop)
        self.replicas[name] = Replica(path, server, done)
        deadline = time.monotonic() + 5
        while not server.started:
            assert time.monotonic() < deadline, f"replica {name} did not start"
            time.sleep(0.005)
        return path

    def flaky(self, name: str, mode: Literal["stale", "mute", "truncate"]) -> Flaky:
        flaky = Flaky(str(self.tmp / f"{name}.sock"), mode)

        async def start() -> None:
            await asyncio.start_unix_server(flaky.handle, flaky.path)

        self.replicas_loop.run(start())
        return flaky

    def stop_replica(self, name: str) -> None:
        replica = self.replicas.pop(name)
        replica.server.should_exit = True
        replica.done.result(10)

    def gateway(self, table: RoutingTable, **options: Any) -> Running:
        loop = LoopThread(uvloop.new_event_loop)
        gateway = Gateway(table, **options)
        server = loop.run(gateway.serve("127.0.0.1", 0))
        port = server.sockets[0].getsockname()[1]
        running = Running(gateway, port, loop)
        self.gateways.append(running)
        return running

    def close(self) -> None:
        for running in self.gateways:
            try:
                running.loop.call(running.gateway.close)
            finally:
                running.loop.stop()
        for replica in self.replicas.values():
            replica.server.should_exit = True
        for replica in self.replicas.values():
            with contextlib.suppress(Exception):
                replica.done.result(5)
        self.replicas_loop.stop()


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    started = Servers(tmp_path)
    try:
        yield started
    finally:
        started.close()


def make_table(
    deployments: dict[str, tuple[str, ...]],
    *,
    production: str | None = "prod",
    candidate: str | None = None,
    percent: int = 0,
    environments: dict[str, str] | None = None,
    development: str | None = None,
    inactive: tuple[str, ...] = (),
    failed: dict[str, str] | None = None,
) -> RoutingTable:
    envs = {(MODEL, "production"): EnvironmentRoute(production, candidate, percent)}
    for env_name, deployment_id in (environments or {}).items():
        envs[(MODEL, env_name)] = EnvironmentRoute(deployment_id)
    return RoutingTable(
        models={MODEL: MODEL, NAME: MODEL},
        environments=envs,
        development={MODEL: development} if development else {},
        deployments={
            deployment_id: DeploymentRoute(
                deployment_id,
                MODEL,
                deployment_id not in inactive and deployment_id not in (failed or {}),
                ups,
                (failed or {}).get(deployment_id),
            )
            for deployment_id, ups in deployments.items()
        },
    )


# -- clients -----------------------------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def request(
    port: int,
    path: str,
    body: bytes | None = b"{}",
    *,
    method: str = "POST",
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Reply:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, {k.lower(): v for k, v in response.getheaders()}, data)
    finally:
        conn.close()


def raw(port: int, data: bytes, timeout: float = 5) -> bytes:
    """Send bytes, read until the gateway closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
        return received


def recv_until(sock: socket.socket, marker: bytes) -> bytes:
    received = b""
    while marker not in received:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before {marker!r}: {received!r}"
        received += chunk
    return received


PREDICT = f"/model/{MODEL}/production/predict"


# -- a shared set-up for the tests that only read ----------------------------------------


@dataclass
class Standard:
    port: int
    running: Running
    wakes: list[str]


@pytest.fixture(scope="module")
def standard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Standard]:
    """prod on replica a, staging on b, development on c, an internal app, a sleeper."""
    started = Servers(tmp_path_factory.mktemp("gw"))
    try:
        a, b, c = started.replica("a"), started.replica("b"), started.replica("c")
        internal = started.replica("internal")
        table = make_table(
            {"prod": (a,), "stage": (b,), "dev": (c,), "asleep": (), "off": (a,)},
            environments={"staging": "stage"},
            development="dev",
            inactive=("off",),
        )
        wakes: list[str] = []
        running = started.gateway(table, internal_uds=internal, wake=wakes.append)
        yield Standard(running.port, running, wakes)
    finally:
        started.close()


@pytest.mark.parametrize(
    ("path", "host", "who"),
    [
        pytest.param(PREDICT, None, "a", id="production"),
        pytest.param(f"/model/{MODEL}/environments/production/predict", None, "a", id="env-prod"),
        pytest.param(f"/model/{MODEL}/environments/staging/predict", None, "b", id="environment"),
        pytest.param(f"/model/{MODEL}/development/predict", None, "c", id="development"),
        pytest.param(f"/model/{MODEL}/deployment/stage/predict", None, "b", id="deployment"),
        pytest.param("/model/my%20model/production/predict", None, "a", id="by-name"),
        pytest.param("/production/predict", f"model-{MODEL}.localhost", "a", id="host"),
        pytest.param(
            "/environments/staging/predict", f"model-{MODEL}.localhost:8765", "b", id="host-env"
        ),
        pytest.param("/development/predict", f"model-{MODEL}.localhost", "c", id="host-dev"),
    ],
)
def test_url_forms_reach_their_replica(
    standard: Standard, path: str, host: str | None, who: str
) -> None:
    reply = request(standard.port, path, b'{"x": 1}', headers={"Host": host} if host else None)
    assert reply.status == 200
    answer = reply.json()
    assert (answer["who"], answer["path"], answer["method"]) == (
        who,
        "/v1/models/model:predict",
        "POST",
    )
    assert answer["length"] == len(b'{"x": 1}')


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("/model/nope/production/predict", "Model nope not found", id="model"),
        pytest.param(
            f"/model/{MODEL}/environments/nope/predict",
            f"Environment nope not found for model {MODEL}",
            id="environment",
        ),
        pytest.param(
            f"/model/{MODEL}/deployment/gone/predict",
            f"Deployment gone not found for model {MODEL}",
            id="deployment",
        ),
        pytest.param(
            f"/model/{MODEL}/deployment/off/predict", "Deployment off is not active", id="inactive"
        ),
    ],
)
def test_not_found_is_json(standard: Standard, path: str, message: str) -> None:
    reply = request(standard.port, path)
    assert (reply.status, reply.json()) == (404, {"error": message})
    assert reply.headers["content-type"] == "application/json"


def test_get_on_predict_is_405(standard: Standard) -> None:
    reply = request(standard.port, PREDICT, None, method="GET")
    assert reply.status == 405
    assert reply.headers["allow"] == "POST"


def test_request_id_is_added_unless_the_replica_set_one(standard: Standard) -> None:
    ids = {request(standard.port, PREDICT).headers["x-baseten-request-id"] for _ in range(3)}
    assert len(ids) == 3
    assert all(len(i) == 32 and int(i, 16) >= 0 for i in ids)
    own = request(standard.port, PREDICT, headers={"x-test-own-id": "1"})
    assert own.headers["x-baseten-request-id"] == "from-replica"
    assert (
        "x-baseten-request-id" in request(standard.port, "/model/nope/production/predict").headers
    )


def test_the_replica_gets_the_request_id_the_client_gets(standard: Standard) -> None:
    # The replica tags its log records for the request with it (brace.runtime.requestid);
    # a client cannot choose it: the gateway names every request itself.
    for headers in ({}, {"x-baseten-request-id": "chosen-by-client"}):
        reply = request(standard.port, PREDICT, headers=headers)
        given = reply.headers["x-baseten-request-id"]
        assert reply.json()["request_ids"] == [given]
        assert given != "chosen-by-client"


def test_other_paths_go_to_the_internal_app(standard: Standard) -> None:
    reply = request(standard.port, "/healthz?deep=1", None, method="GET")
    assert reply.status == 200
    answer = reply.json()
    assert (answer["who"], answer["path"], answer["query"]) == ("internal", "/healthz", "deep=1")
    assert answer["host"] == f"127.0.0.1:{standard.port}"


def test_without_an_internal_app_other_paths_are_404(servers: Servers) -> None:
    running = servers.gateway(make_table({"prod": ()}))
    reply = request(running.port, "/healthz", None, method="GET")
    assert (reply.status, reply.json()) == (404, {"error": "Not Found"})


def test_wake_answers_202_and_calls_the_hook(standard: Standard) -> None:
    reply = request(standard.port, f"/model/{MODEL}/deployment/asleep/wake")
    assert (reply.status, reply.json()) == (202, {})
    assert "asleep" in standard.wakes


def test_large_bodies_pass_intact(standard: Standard) -> None:
    body = pattern(1 << 20)
    reply = request(standard.port, PREDICT, body)
    assert reply.json()["md5"] == hashlib.md5(body).hexdigest()
    chunks = (body[i : i + 100_000] for i in range(0, len(body), 100_000))
    conn = http.client.HTTPConnection("127.0.0.1", standard.port, timeout=10)
    conn.request("POST", PREDICT, body=chunks, encode_chunked=True)
    chunked = json.loads(conn.getresponse().read())
    conn.close()
    assert (chunked["length"], chunked["md5"]) == (len(body), hashlib.md5(body).hexdigest())
    big = request(standard.port, PREDICT, headers={"x-test-size": str(5 << 20)})
    assert big.status == 200
    assert big.body == pattern(5 << 20)


def test_expect_100_continue(standard: Standard) -> None:
    with socket.create_connection(("127.0.0.1", standard.port), timeout=5) as sock:
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5\r\n"
            "Expect: 100-continue\r\n\r\n".encode()
        )
        assert sock.recv(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert b'"length": 5' in recv_until(sock, b"\r\n0\r\n\r\n")


def test_keep_alive_serves_many_requests_on_one_connection(standard: Standard) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", standard.port, timeout=5)
    conn.connect()
    first_socket = conn.sock
    for i in range(50):
        conn.request("POST", PREDICT, body=json.dumps({"i": i}))
        response = conn.getresponse()
        assert response.status == 200
        response.read()
    assert conn.sock is first_socket
    conn.close()


def test_pipelined_requests_are_answered_in_order(standard: Standard) -> None:
    paths = [
        PREDICT,
        f"/model/{MODEL}/environments/staging/predict",
        "/model/nope/production/predict",
    ]
    data = b"".join(
        f"POST {p} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{{}}".encode()
        for p in paths
    )
    data += (
        b"POST /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    received = raw(standard.port, data)
    assert received.count(b"HTTP/1.1 ") == 4
    order = [received.index(marker) for marker in (b'"a"', b'"b"', b"Model nope", b'"internal"')]
    assert order == sorted(order)


def test_thousands_of_pipelined_answers(standard: Standard) -> None:
    one = (
        b"POST /model/nope/production/predict HTTP/1.1\r\nHost: localhost\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    last = one.replace(b"Host: localhost", b"Host: localhost\r\nConnection: close")
    received = raw(standard.port, one * 3000 + last)
    assert received.count(b"HTTP/1.1 404 Not Found") == 3001


def test_garbage_after_a_good_request_answers_the_good_one_then_400(standard: Standard) -> None:
    assert request(standard.port, PREDICT).status == 200  # a pooled connection to reuse
    good = f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\n\r\n{{}}".encode()
    received = raw(standard.port, good + b"\x00\x01 garbage\r\n\r\n", timeout=2)
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert b"HTTP/1.1 400 Bad Request" in received


def test_connection_close_and_http10_close_after_the_response(standard: Standard) -> None:
    close = raw(
        standard.port,
        f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        "Content-Length: 2\r\n\r\n{}".encode(),
    )
    assert close.startswith(b"HTTP/1.1 200")
    assert b"connection: close" in close.lower()
    old = raw(standard.port, f"POST {PREDICT} HTTP/1.0\r\nContent-Length: 2\r\n\r\n{{}}".encode())
    assert old.startswith(b"HTTP/1.1 200")
    assert old.endswith(b"}")  # not chunked: the body ends with the connection


def test_malformed_request_gets_400_and_close(standard: Standard) -> None:
    received = raw(standard.port, b"NOT HTTP AT ALL\r\n\r\n")
    assert received.startswith(b"HTTP/1.1 400")
    assert received.endswith(b'{"error":"Bad Request"}')


def test_streaming_response_arrives_before_the_replica_finishes(servers: Servers) -> None:
    gate = threading.Event()
    a = servers.replica("a", echo_app("a", gate))
    running = servers.gateway(make_table({"prod": (a,)}))
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nx-test-stream: 1\r\n"
            "Content-Length: 0\r\n\r\n".encode()
        )
        received = recv_until(sock, b"first\n")  # times out (fails) if the gateway buffers
        assert b"transfer-encoding: chunked" in received.lower()
        assert b"rest" not in received
        gate.set()
        received += recv_until(sock, b"\r\n0\r\n\r\n")
    assert received.endswith(b"6\r\nfirst\n\r\n5\r\nrest\n\r\n0\r\n\r\n")


def answers(port: int, paths: list[str]) -> list[str]:
    """Who answered each request, sent one after the other on one connection."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    seen = []
    for path in paths:
        conn.request("POST", path, body=b"{}")
        seen.append(json.loads(conn.getresponse().read())["who"])
    conn.close()
    return seen


def test_split_gives_the_candidate_exactly_its_share(servers: Servers) -> None:
    a, b = servers.replica("a"), servers.replica("b")
    table = make_table({"prod": (a,), "cand": (b,)}, candidate="cand", percent=30)
    running = servers.gateway(table)
    seen = answers(running.port, [PREDICT] * 1000)
    assert seen.count("b") == 300
    assert seen.count("a") == 700
    assert {seen[i : i + 100].count("b") for i in range(901)} == {30}  # every 100 in a row
    assert {seen[i : i + 10].count("b") for i in range(991)} == {3}  # spread evenly


def test_split_is_per_environment_whatever_the_url(servers: Servers) -> None:
    a, b = servers.replica("a"), servers.replica("b")
    table = make_table({"prod": (a,), "cand": (b,)}, candidate="cand", percent=50)
    running = servers.gateway(table)
    forms = [PREDICT, "/model/my%20model/environments/production/predict"]
    seen = answers(running.port, forms * 50)
    assert seen == ["a", "b"] * 50


def test_a_new_percentage_takes_over_with_the_next_request(servers: Servers) -> None:
    a, b = servers.replica("a"), servers.replica("b")
    running = servers.gateway(
        make_table({"prod": (a,), "cand": (b,)}, candidate="cand", percent=30)
    )
    seen = answers(running.port, [PREDICT] * 150)
    table = make_table({"prod": (a,), "cand": (b,)}, candidate="cand", percent=70)
    running.loop.call(lambda: running.gateway.set_table(table))
    seen += answers(running.port, [PREDICT] * 200)
    assert seen[:100].count("b") == 30
    assert seen[150:250].count("b") == 70
    assert seen[250:].count("b") == 70
    for i in range(251):  # across the change: the percentages in force, within 1
        expected = sum(30 if j < 150 else 70 for j in range(i, i + 100)) / 100
        assert abs(seen[i : i + 100].count("b") - expected) < 1


def test_least_outstanding_replica_gets_the_next_request(servers: Servers) -> None:
    a, b = servers.replica("a"), servers.replica("b")
    running = servers.gateway(make_table({"prod": (a, b)}))
    with ThreadPoolExecutor(1) as pool:
        slow = pool.submit(request, running.port, PREDICT, headers={"x-test-sleep": "0.5"})
        running.wait_outstanding("prod", 1)
        fast = request(running.port, PREDICT)
        assert {fast.json()["who"], slow.result().json()["who"]} == {"a", "b"}
    assert running.outstanding("prod") == 0


def test_concurrent_clients_all_get_their_own_answers(servers: Servers) -> None:
    a, b = servers.replica("a"), servers.replica("b")
    running = servers.gateway(make_table({"prod": (a, b)}))

    def client(number: int) -> set[str]:
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=10)
        seen = set()
        for i in range(25):
            body = pattern(number * 1000 + i)
            conn.request("POST", PREDICT, body=body)
            answer = json.loads(conn.getresponse().read())
            assert answer["md5"] == hashlib.md5(body).hexdigest()
            seen.add(answer["who"])
        conn.close()
        return seen

    with ThreadPoolExecutor(8) as pool:
        seen = set().union(*pool.map(client, range(8)))
    assert seen == {"a", "b"}
    assert running.outstanding("prod") == 0


def test_held_request_is_released_when_a_replica_becomes_ready(servers: Servers) -> None:
    wakes: list[str] = []
    running = servers.gateway(make_table({"prod": ()}), wake=wakes.append)
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(request, running.port, PREDICT, pattern(200_000))
        running.wait_outstanding("prod", 1)
        assert wakes == ["prod"]
        assert not held.done()
        a = servers.replica("a")
        running.set_table(make_table({"prod": (a,)}))
        reply = held.result(5)
    assert reply.status == 200
    assert reply.json()["md5"] == hashlib.md5(pattern(200_000)).hexdigest()


def test_hold_timeout_answers_504(servers: Servers) -> None:
    running = servers.gateway(make_table({"prod": ()}), hold_timeout=0.2)
    started = time.monotonic()
    reply = request(running.port, PREDICT)
    assert reply.status == 504
    assert reply.json() == {"error": "Deployment prod did not become ready within 0.2 seconds"}
    assert time.monotonic() - started < 2
    assert running.outstanding("prod") == 0


def _held(running: Running, table: RoutingTable) -> Reply:
    """Hold one request for prod, swap `table` in, and return the held request's answer."""
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(request, running.port, PREDICT)
        running.wait_outstanding("prod", 1)
        running.set_table(table)
        return held.result(5)


def test_held_request_gets_404_when_the_deployment_is_deactivated(servers: Servers) -> None:
    running = servers.gateway(make_table({"prod": ()}))
    reply = _held(running, make_table({"prod": ()}, inactive=("prod",)))
    assert (reply.status, reply.json()) == (404, {"error": "Deployment prod is not active"})


def test_held_request_gets_503_with_the_cause_when_the_deployment_fails(
    servers: Servers,
) -> None:
    running = servers.gateway(make_table({"prod": ()}))
    failed = make_table({"prod": ()}, failed={"prod": "the model failed to start 3 times"})
    reply = _held(running, failed)
    assert (reply.status, reply.json()) == (
        503,
        {"error": "Deployment prod cannot serve: the model failed to start 3 times"},
    )
    again = request(running.port, PREDICT)  # and so is the next request, at once
    assert (again.status, again.json()) == (reply.status, reply.json())


def test_stale_pooled_connection_is_retried_on_a_fresh_one(servers: Servers) -> None:
    flaky = servers.flaky("flaky", "stale")
    running = servers.gateway(make_table({"prod": (flaky.path,)}))
    for _ in range(3):
        reply = request(running.port, PREDICT)
        assert (reply.status, reply.body) == (200, b"ok")
    assert flaky.connections == 3  # every reuse failed and was retried once, fresh


def test_replica_that_never_answers_gives_502(servers: Servers) -> None:
    flaky = servers.flaky("mute", "mute")
    running = servers.gateway(make_table({"prod": (flaky.path,)}))
    reply = request(running.port, PREDICT, timeout=5)
    assert reply.status == 502
    assert "error" in reply.json()


def test_replica_stopped_between_requests(servers: Servers) -> None:
    a = servers.replica("a")
    running = servers.gateway(make_table({"prod": (a,)}))
    assert request(running.port, PREDICT).status == 200
    servers.stop_replica("a")
    assert request(running.port, PREDICT, timeout=5).status == 502  # nothing listens
    servers.replica("a")  # back on the same socket
    assert request(running.port, PREDICT, timeout=5).json()["who"] == "a"


def test_dead_replica_is_skipped_for_another_one(servers: Servers) -> None:
    a = servers.replica("a")
    running = servers.gateway(make_table({"prod": (str(servers.tmp / "dead.sock"), a)}))
    for _ in range(3):
        assert request(running.port, PREDICT).json()["who"] == "a"


def test_replica_dying_mid_response_cuts_the_client_off(servers: Servers) -> None:
    flaky = servers.flaky("cut", "truncate")
    running = servers.gateway(make_table({"prod": (flaky.path,)}))
    with pytest.raises(http.client.IncompleteRead):
        request(running.port, PREDICT, timeout=5)
    assert running.outstanding("prod") == 0


def test_client_leaving_mid_request_is_forgotten(servers: Servers) -> None:
    a = servers.replica("a")
    running = servers.gateway(make_table({"prod": (a,)}))
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nx-test-sleep: 0.3\r\n"
            "Content-Length: 2\r\n\r\n{}".encode()
        )
        running.wait_outstanding("prod", 1)
    running.wait_outstanding("prod", 0)
    assert request(running.port, PREDICT).json()["who"] == "a"

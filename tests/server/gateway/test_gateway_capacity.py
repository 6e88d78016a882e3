"""What the gateway knows of its replicas and its clients: a replica is sent at most its
`predict_concurrency` and a little more, the rest wait at the gateway for the first
free slot; a client that leaves is counted 499 and its replica is told; a replica
that does not begin to answer in time gets the request a 504; requests that arrive
before the first routing table wait for it.

The replicas are the in-process uvicorn servers of `test_gateway` (real HTTP over
Unix sockets), with apps that count what they are given.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import pytest

from brace.server.gateway.counters import CLIENT_CLOSED
from brace.server.gateway.pool import UNBOUNDED, replica_limit
from brace.server.gateway.routing import DeploymentRoute, ReplicaLimits, RoutingTable
from tests.server.gateway.test_gateway import (
    MODEL,
    PREDICT,
    ASGIApp,
    Receive,
    Running,
    Scope,
    Send,
    Servers,
    echo_app,
    make_table,
    request,
)
from tests.server.gateway.test_gateway import servers as servers
from tests.server.gateway.test_gateway_counting import snapshot, wait_finished


@dataclass
class Counting:
    """A replica app that answers who it is after `x-test-sleep` seconds and counts
    the requests it has at once; `told` counts requests whose client (the gateway)
    went away while it slept."""

    name: str
    now: int = 0
    most: int = 0
    served: int = 0
    told: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> ASGIApp:
        async def app(scope: Scope, receive: Receive, send: Send) -> None:
            headers = dict(scope["headers"])
            while (await receive()).get("more_body"):
                pass
            with self.lock:
                self.now += 1
                self.most = max(self.most, self.now)
            try:
                sleep = float(headers.get(b"x-test-sleep", b"0"))
                try:
                    message = await asyncio.wait_for(receive(), sleep)
                    if message["type"] == "http.disconnect":
                        self.told += 1
                        return
                except TimeoutError:
                    pass
                body = f'{{"who": "{self.name}"}}'.encode()
                start = [(b"content-length", str(len(body)).encode())]
                self.served += 1  # before the answer leaves: its client may look at once
                await send({"type": "http.response.start", "status": 200, "headers": start})
                await send({"type": "http.response.body", "body": body})
            finally:
                with self.lock:
                    self.now -= 1

        return app


def table(
    deployments: dict[str, tuple[str, ...]],
    concurrency: int = 1,
    first_byte: float = 1200.0,
    production: str = "prod",
) -> RoutingTable:
    """`make_table` with every replica's limits."""
    plain = make_table(deployments, production=production)
    limits = ReplicaLimits(concurrency, first_byte)
    routes = {
        deployment_id: DeploymentRoute(
            deployment_id, MODEL, True, route.upstreams, limits=(limits,) * len(route.upstreams)
        )
        for deployment_id, route in plain.deployments.items()
    }
    return RoutingTable(plain.models, plain.environments, plain.development, routes)


def replicas(servers: Servers, *names: str) -> tuple[list[Counting], tuple[str, ...]]:
    apps = [Counting(name) for name in names]
    return apps, tuple(servers.replica(app.name, app.app()) for app in apps)


def burst(running: Running, clients: int, sleep: float) -> list[tuple[int, str]]:
    """`clients` requests at once; each one's status and who answered."""

    def one(_: int) -> tuple[int, str]:
        reply = request(running.port, PREDICT, headers={"x-test-sleep": str(sleep)})
        return reply.status, reply.json().get("who", reply.json().get("error", ""))

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


# -- the limit ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("concurrency", "limit"),
    [(1, 2), (2, 3), (4, 5), (7, 8), (8, 10), (16, 20), (0, UNBOUNDED)],
)
def test_a_replica_is_handed_its_concurrency_and_a_little_more(
    concurrency: int, limit: int
) -> None:
    assert replica_limit(concurrency) == limit


def test_a_burst_goes_to_every_replica_and_none_gets_more_than_its_limit(
    servers: Servers,
) -> None:
    apps, paths = replicas(servers, "a", "b", "c")
    running = servers.gateway(table({"prod": paths}, concurrency=1))
    answers = burst(running, 12, 0.2)
    assert [status for status, _ in answers] == [200] * 12
    assert max(app.most for app in apps) == 2  # predict_concurrency 1, plus one
    # Each frees a slot every 0.2 s and takes the next waiting request: a fair share.
    assert min(app.served for app in apps) >= 3, [app.served for app in apps]
    assert running.outstanding("prod") == 0


def test_requests_held_for_a_waking_deployment_go_to_each_replica_as_it_becomes_ready(
    servers: Servers,
) -> None:
    apps, paths = replicas(servers, "a", "b", "c")
    running = servers.gateway(table({"prod": ()}))
    with ThreadPoolExecutor(1) as pool:
        answers = pool.submit(burst, running, 9, 0.3)
        running.wait_outstanding("prod", 9)
        running.set_table(table({"prod": paths[:1]}))  # the first replica is ready
        time.sleep(0.1)
        assert (apps[0].now, apps[0].most) == (2, 2)  # not all nine
        running.set_table(table({"prod": paths}))  # and then the two others
        assert [status for status, _ in answers.result(10)] == [200] * 9
    assert [app.most for app in apps] == [2, 2, 2]
    assert all(app.served >= 2 for app in apps), [app.served for app in apps]


def test_a_request_waiting_for_a_free_slot_gets_504_after_the_hold_timeout(
    servers: Servers,
) -> None:
    _, paths = replicas(servers, "a")
    running = servers.gateway(table({"prod": paths}), hold_timeout=0.3)
    answers = burst(running, 3, 1.0)
    assert sorted(status for status, _ in answers) == [200, 200, 504]
    [error] = [text for status, text in answers if status == 504]
    assert error == "Deployment prod had no replica free to take the request within 0.3 seconds"
    assert running.outstanding("prod") == 0


def test_the_requests_waiting_at_the_gateway_are_bounded(servers: Servers) -> None:
    _, paths = replicas(servers, "a")
    running = servers.gateway(table({"prod": paths}), hold_limit=2)
    answers = burst(running, 5, 0.5)  # 2 at the replica, 2 waiting, 1 refused
    assert sorted(status for status, _ in answers) == [200, 200, 200, 200, 503]
    [error] = [text for status, text in answers if status == 503]
    assert "has 2 requests waiting for a replica already" in error


def test_a_slot_freed_by_a_client_that_left_goes_to_a_waiting_request(servers: Servers) -> None:
    apps, paths = replicas(servers, "a")
    running = servers.gateway(table({"prod": paths}))
    leaving = [socket.create_connection(("127.0.0.1", running.port), timeout=5) for _ in range(2)]
    for sock in leaving:  # they fill both slots with long requests
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nx-test-sleep: 5\r\n"
            "Content-Length: 2\r\n\r\n{}".encode()
        )
    running.wait_outstanding("prod", 2)
    with ThreadPoolExecutor(1) as pool:
        waiting = pool.submit(request, running.port, PREDICT)
        running.wait_outstanding("prod", 3)
        for sock in leaving:
            sock.close()
        assert waiting.result(3).status == 200
    assert apps[0].served == 1


def test_the_management_app_and_replicas_without_a_known_concurrency_are_not_bounded(
    servers: Servers,
) -> None:
    apps, paths = replicas(servers, "a")
    running = servers.gateway(make_table({"prod": paths}))  # no limits in the table
    assert [status for status, _ in burst(running, 6, 0.2)] == [200] * 6
    assert apps[0].most == 6


# -- clients that leave ------------------------------------------------------------------


def test_a_client_that_closes_its_connection_is_counted_499_and_its_replica_is_told(
    servers: Servers,
) -> None:
    apps, paths = replicas(servers, "a")
    running = servers.gateway(table({"prod": paths}, concurrency=4))
    for _ in range(3):  # as a client with a 0.3 s timeout does: it closes (FIN)
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=0.3)
        conn.request("POST", PREDICT, body=b"{}", headers={"x-test-sleep": "2"})
        with pytest.raises(TimeoutError):
            conn.getresponse()
        conn.close()
    counts = wait_finished(running, "prod", 3).of("prod")
    assert dict(counts.statuses) == {CLIENT_CLOSED: 3}
    deadline = time.monotonic() + 3
    while apps[0].told < 3:
        assert time.monotonic() < deadline, apps[0]
        time.sleep(0.01)
    assert apps[0].served == 0


def test_a_client_that_half_closes_after_its_answer_began_still_gets_all_of_it(
    servers: Servers,
) -> None:
    gate = threading.Event()  # test_gateway's echo app: x-test-stream sends "first",
    a = servers.replica("a", echo_app("a", gate))  # then "rest" once the gate opens
    running = servers.gateway(make_table({"prod": (a,)}))
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nx-test-stream: 1\r\n"
            "Connection: close\r\nContent-Length: 2\r\n\r\n{}".encode()
        )
        received = b""
        while b"first" not in received:
            received += sock.recv(65536)
        sock.shutdown(socket.SHUT_WR)
        gate.set()
        while chunk := sock.recv(65536):
            received += chunk
    assert b"rest" in received
    assert dict(wait_finished(running, "prod", 1).of("prod").statuses) == {200: 1}


# -- the first byte ----------------------------------------------------------------------


def test_a_replica_that_does_not_begin_to_answer_in_time_gets_504_and_is_avoided(
    servers: Servers,
) -> None:
    apps, paths = replicas(servers, "hung", "well")
    running = servers.gateway(table({"prod": paths}, concurrency=4, first_byte=0.3))
    started = time.monotonic()
    reply = request(running.port, PREDICT, headers={"x-test-sleep": "3"})  # to "hung": first
    took = time.monotonic() - started
    assert reply.status == 504
    assert reply.json()["error"] == (
        "Gateway Timeout: the replica did not begin to answer within 0.3 seconds "
        "(model_metadata.brace.first_byte_timeout in the model's config.yaml)"
    )
    assert 0.3 <= took < 1.5
    # The replica is avoided like a failed one: the next requests go to the other one.
    assert [request(running.port, PREDICT).json()["who"] for _ in range(3)] == ["well"] * 3
    deadline = time.monotonic() + 3
    while apps[0].told < 1:  # and the hung replica was told the request is gone
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert dict(snapshot(running).of("prod").statuses) == {504: 1, 200: 3}


def test_a_slow_stream_that_began_in_time_is_not_cut(servers: Servers) -> None:
    gate = threading.Event()
    a = servers.replica("streams", echo_app("streams", gate))
    running = servers.gateway(table({"prod": (a,)}, concurrency=1, first_byte=0.3))
    opener = threading.Timer(1.0, gate.set)  # "rest" comes long after the timeout
    opener.start()
    try:
        reply = request(running.port, PREDICT, headers={"x-test-stream": "1"})
    finally:
        opener.cancel()
    assert (reply.status, reply.body) == (200, b"first\nrest\n")


# -- before the first routing table ------------------------------------------------------


def test_requests_before_the_first_routing_table_wait_for_it(servers: Servers) -> None:
    _, paths = replicas(servers, "a")
    running = servers.gateway(RoutingTable(), awaiting_table=True)
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(request, running.port, PREDICT) for _ in range(2)]
        time.sleep(0.3)
        assert not any(future.done() for future in held)
        # Not an inference path: answered at once, as always.
        assert request(running.port, "/healthz").status == 404
        running.set_table(table({"prod": paths}))
        assert [future.result(5).status for future in held] == [200, 200]
    # Once the table is there, an unknown model is 404 at once.
    assert request(running.port, "/model/nothing/production/predict").status == 404


def test_requests_before_the_first_routing_table_get_503_after_the_hold_timeout(
    servers: Servers,
) -> None:
    running = servers.gateway(RoutingTable(), awaiting_table=True, hold_timeout=0.3)
    reply = request(running.port, PREDICT)
    assert reply.status == 503
    assert reply.json() == {"error": "the server did not read its routing table within 0.3 seconds"}


def test_a_request_waiting_at_the_gateway_whose_client_leaves_never_reaches_a_replica(
    servers: Servers,
) -> None:
    apps, paths = replicas(servers, "a")
    running = servers.gateway(table({"prod": paths}))
    with ThreadPoolExecutor(2) as pool:
        busy = [pool.submit(request, running.port, PREDICT, headers={"x-test-sleep": "0.5"})]
        busy.append(pool.submit(request, running.port, PREDICT, headers={"x-test-sleep": "0.5"}))
        running.wait_outstanding("prod", 2)  # both slots taken
        conn = http.client.HTTPConnection("127.0.0.1", running.port, timeout=0.2)
        conn.request("POST", PREDICT, body=b"{}")
        with pytest.raises(TimeoutError):
            conn.getresponse()
        conn.close()  # it waited at the gateway, and leaves
        assert [future.result(5).status for future in busy] == [200, 200]
    counts = wait_finished(running, "prod", 3).of("prod")
    assert dict(counts.statuses) == {200: 2, CLIENT_CLOSED: 1}
    assert (apps[0].served, apps[0].told) == (2, 0)  # the replica never saw the third
    assert running.outstanding("prod") == 0


def test_requests_held_for_a_deployment_the_environment_no_longer_routes_to_go_where_it_does(
    servers: Servers,
) -> None:
    """A promotion switches production, or a cancel takes a candidate out, while
    requests wait for it: they go where their path leads now."""
    apps, paths = replicas(servers, "a")
    running = servers.gateway(table({"old": ()}, production="old"))
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(request, running.port, PREDICT) for _ in range(2)]
        running.wait_outstanding("old", 2)
        running.set_table(table({"old": (), "new": paths}, production="new"))
        assert [future.result(5).status for future in held] == [200, 200]
    assert apps[0].served == 2
    assert (running.outstanding("old"), running.outstanding("new")) == (0, 0)


def test_requests_waiting_for_a_free_slot_do_not_call_the_wake_hook(servers: Servers) -> None:
    """They are in flight for the autoscaler already; a wake would count one more
    request, and lower its average of the samples."""
    _, paths = replicas(servers, "a")
    wakes: list[str] = []
    running = servers.gateway(table({"prod": paths}), wake=wakes.append)
    assert [status for status, _ in burst(running, 5, 0.2)] == [200] * 5
    assert wakes == []

"""What the gateway counts for the metrics: every request routed to a deployment, once,
with the status its client got and how long it took."""

from __future__ import annotations

import asyncio
import socket
import struct
import time

from brace.server.gateway.counters import BOUNDS, CLIENT_CLOSED, Snapshot
from tests.server.gateway.test_gateway import (
    PREDICT,
    ASGIApp,
    Receive,
    Running,
    Scope,
    Send,
    Servers,
    make_table,
    request,
)
from tests.server.gateway.test_gateway import servers as servers


def status_app() -> ASGIApp:
    """A replica answering the status in `x-test-status`, after `x-test-sleep` seconds."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope["headers"])
        while (await receive()).get("more_body"):
            pass
        await asyncio.sleep(float(headers.get(b"x-test-sleep", b"0")))
        status = int(headers.get(b"x-test-status", b"200"))
        start = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": status, "headers": start})
        await send({"type": "http.response.body", "body": b"{}"})

    return app


def snapshot(running: Running) -> Snapshot:
    counters = running.gateway.counters
    assert counters is not None
    return running.loop.call(counters.snapshot)


def wait_finished(running: Running, deployment_id: str, requests: int) -> Snapshot:
    deadline = time.monotonic() + 5
    while (now := snapshot(running)).of(deployment_id).requests < requests:
        assert time.monotonic() < deadline, now
        time.sleep(0.005)
    return now


def test_statuses_and_durations_are_counted_per_deployment(servers: Servers) -> None:
    a = servers.replica("a", status_app())
    running = servers.gateway(make_table({"prod": (a,), "other": (a,)}))
    for status in (200, 200, 500, 404, 500, 200):
        reply = request(running.port, PREDICT, headers={"x-test-status": str(status)})
        assert reply.status == status
    slow = request(running.port, PREDICT, headers={"x-test-sleep": "0.06"})
    assert slow.status == 200
    request(running.port, "/model/m1/deployment/other/predict")
    counts = snapshot(running).of("prod")
    assert dict(counts.statuses) == {200: 4, 404: 1, 500: 2}
    assert (counts.requests, counts.errors) == (7, 2)
    slowest = max(i for i, n in enumerate(counts.buckets) if n)
    assert BOUNDS[slowest - 1] < 0.06 <= BOUNDS[slowest]
    assert 0.06 <= counts.seconds < 7
    assert dict(snapshot(running).of("other").statuses) == {200: 1}


def test_what_the_gateway_answers_itself_is_counted_with_its_status(servers: Servers) -> None:
    mute = servers.flaky("mute", "mute")
    running = servers.gateway(make_table({"prod": (mute.path,), "asleep": ()}), hold_timeout=0.1)
    assert request(running.port, PREDICT, timeout=5).status == 502
    assert request(running.port, "/model/m1/deployment/asleep/predict").status == 504
    assert request(running.port, "/model/m1/production/nothing").status == 404  # not routed
    now = snapshot(running)
    assert dict(now.of("prod").statuses) == {502: 1}
    assert dict(now.of("asleep").statuses) == {504: 1}
    # The hold timer runs on the loop's clock (uvloop's: milliseconds, read once per
    # iteration), so the wait measured by the counters may end just short of 0.1 s.
    assert now.of("asleep").seconds >= 0.09
    assert set(now.deployments) == {"prod", "asleep"}


def test_a_client_that_leaves_before_the_response_counts_as_499(servers: Servers) -> None:
    a = servers.replica("a", status_app())
    running = servers.gateway(make_table({"prod": (a,)}))
    with socket.create_connection(("127.0.0.1", running.port), timeout=5) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # reset
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: localhost\r\nx-test-sleep: 0.3\r\n"
            "Content-Length: 2\r\n\r\n{}".encode()
        )
        running.wait_outstanding("prod", 1)
    assert dict(wait_finished(running, "prod", 1).of("prod").statuses) == {CLIENT_CLOSED: 1}


def test_counting_can_be_turned_off(servers: Servers) -> None:
    a = servers.replica("a", status_app())
    running = servers.gateway(make_table({"prod": (a,)}), count_requests=False)
    assert running.gateway.counters is None
    assert request(running.port, PREDICT).status == 200
    assert running.outstanding("prod") == 0

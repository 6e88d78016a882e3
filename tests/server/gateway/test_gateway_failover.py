"""A replica that dies, or closes a connection without answering, costs no request that
another replica of the same deployment can serve.

The replica that dies is a real process (a small HTTP/1.1 server on a Unix socket)
killed with SIGKILL, between requests and in the middle of one; the others are the
in-process replicas of `test_gateway`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from brace.server.gateway import pool
from brace.server.gateway.exchange import REPLAY_LIMIT
from tests.server.gateway.test_gateway import PREDICT, Running, Servers, make_table, request
from tests.server.gateway.test_gateway import servers as servers

SERVER = r"""
import asyncio, json, sys

path, name, marker = sys.argv[1:4]

async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length, sleep = 0, 0.0
            for line in head.split(b"\r\n")[1:]:
                key, _, value = line.partition(b":")
                key = key.strip().lower()
                if key == b"content-length":
                    length = int(value)
                elif key == b"x-test-sleep":
                    sleep = float(value)
            await reader.readexactly(length)
            if sleep:
                open(marker, "w").close()
                await asyncio.sleep(sleep)
            body = json.dumps({"who": name}).encode()
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                         b"content-length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()

async def main():
    server = await asyncio.start_unix_server(handle, path)
    print("ready", flush=True)
    await server.serve_forever()

asyncio.run(main())
"""


class Process:
    """A replica in its own process, on `path`; `busy` appears when it got a request
    that asks it to sleep."""

    def __init__(self, tmp: Path, name: str) -> None:
        self.path = str(tmp / f"{name}.sock")
        self.busy = tmp / f"{name}.busy"
        self.popen = subprocess.Popen(
            [sys.executable, "-c", SERVER, self.path, name, str(self.busy)],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.popen.stdout is not None
        assert self.popen.stdout.readline() == "ready\n"

    def kill(self) -> None:
        if self.popen.poll() is None:
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(10)
        if self.popen.stdout is not None:
            self.popen.stdout.close()


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[Process]]:
    started: list[Process] = []
    try:
        yield started
    finally:
        for process in started:
            process.kill()


def spawn(processes: list[Process], tmp: Path, name: str) -> Process:
    process = Process(tmp, name)
    processes.append(process)
    return process


def who(port: int, **options: object) -> tuple[int, str | None]:
    reply = request(port, PREDICT, **options)  # type: ignore[arg-type]
    return reply.status, reply.json().get("who") if reply.status == 200 else None


def killable_and_steady(servers: Servers, processes: list[Process]) -> tuple[Process, Running]:
    """A deployment of two replicas: "b" in a process of its own, first in line (the
    one the tests kill), and "a"; and a gateway in front."""
    b = spawn(processes, servers.tmp, "b")
    a = servers.replica("a")
    return b, servers.gateway(make_table({"prod": (b.path, a)}))


def test_a_replica_killed_between_requests_costs_no_request(
    servers: Servers, processes: list[Process]
) -> None:
    b, running = killable_and_steady(servers, processes)
    assert [who(running.port) for _ in range(5)] == [(200, "b")] * 5  # b has a pooled conn
    b.kill()
    assert [who(running.port) for _ in range(20)] == [(200, "a")] * 20


def test_a_replica_killed_in_the_middle_of_a_request_is_replaced_for_it(
    servers: Servers, processes: list[Process]
) -> None:
    b, running = killable_and_steady(servers, processes)
    with ThreadPoolExecutor(1) as executor:
        slow = executor.submit(who, running.port, headers={"x-test-sleep": "5"})
        for _ in range(500):
            if b.busy.exists():
                break
            threading.Event().wait(0.01)
        assert b.busy.exists(), "the replica never got the request"
        b.kill()
        assert slow.result(10) == (200, "a")
    assert running.outstanding("prod") == 0


def test_a_replica_that_closes_without_answering_is_avoided(servers: Servers) -> None:
    mute = servers.flaky("mute", "mute")
    a = servers.replica("a")
    running = servers.gateway(make_table({"prod": (mute.path, a)}))
    assert [who(running.port) for _ in range(10)] == [(200, "a")] * 10
    assert mute.connections == 1  # tried once, then left alone


def test_avoiding_a_replica_ends_after_a_moment(
    servers: Servers, processes: list[Process], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pool, "AVOID_SECONDS", 0.2)
    b, running = killable_and_steady(servers, processes)
    assert who(running.port) == (200, "b")
    b.kill()
    assert who(running.port) == (200, "a")
    spawn(processes, servers.tmp, "b")  # back on the same socket
    threading.Event().wait(0.3)
    assert who(running.port) == (200, "b")


def test_during_a_split_the_request_stays_with_its_side(
    servers: Servers, processes: list[Process]
) -> None:
    dying = spawn(processes, servers.tmp, "dying")
    a, c = servers.replica("a"), servers.replica("c")
    table = make_table({"prod": (a,), "cand": (dying.path, c)}, candidate="cand", percent=50)
    running = servers.gateway(table)
    assert sorted(who(running.port)[1] or "" for _ in range(4)) == ["a", "a", "dying", "dying"]
    dying.kill()
    seen = [who(running.port) for _ in range(100)]
    assert seen.count((200, "c")) == 50
    assert seen.count((200, "a")) == 50


def test_a_request_too_large_to_keep_is_not_sent_twice(servers: Servers) -> None:
    mute = servers.flaky("mute", "mute")
    a = servers.replica("a")
    running = servers.gateway(make_table({"prod": (mute.path, a)}))
    reply = request(running.port, PREDICT, body=b"x" * (REPLAY_LIMIT + 1), timeout=10)
    assert reply.status == 502
    assert "did not answer" in reply.json()["error"]
    assert who(running.port) == (200, "a")


def test_the_only_replica_closing_without_answering_gives_502(servers: Servers) -> None:
    mute = servers.flaky("mute", "mute")
    running = servers.gateway(make_table({"prod": (mute.path,)}))
    assert request(running.port, PREDICT, timeout=5).status == 502
    assert request(running.port, PREDICT, timeout=5).status == 502  # avoided, yet the only one
    assert mute.connections == 2


def test_during_a_split_a_side_whose_only_replica_died_hands_its_requests_over(
    servers: Servers, processes: list[Process]
) -> None:
    """The candidate's only replica crashed and the routing table does not know yet:
    its share of the requests goes to the current deployment instead of failing."""
    dying = spawn(processes, servers.tmp, "dying")
    a = servers.replica("a")
    table = make_table({"prod": (a,), "cand": (dying.path,)}, candidate="cand", percent=50)
    running = servers.gateway(table)
    assert sorted(who(running.port)[1] or "" for _ in range(4)) == ["a", "a", "dying", "dying"]
    dying.kill()
    assert [who(running.port) for _ in range(20)] == [(200, "a")] * 20
    assert (running.outstanding("prod"), running.outstanding("cand")) == (0, 0)

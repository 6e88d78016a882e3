"""A replica reached over TCP: the control side knows it only by its address.

A real `python -m brace.runtime` launched on a TCP port (`Launch.port`) through the
`local` backend; `Replicas` probes it ready over TCP and tells it its environment over
TCP, as it does for a replica on a Unix socket (and as it will for one on another node).
"""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import urllib.request
from pathlib import Path

import uvloop

from brace.server.backends import supervisor
from brace.server.backends.base import Launch
from brace.server.control.replicas import Replicas, ReplicaState
from tests.conftest import MakeTruss

SETUP = """\
class Model:
    def __init__(self, **kwargs):
        self.calls = []

    def setup_environment(self, environment):
        self.calls.append(environment)

    def predict(self, model_input):
        return {"calls": self.calls}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def probed_and_told(truss: Path, tmp_path: Path) -> None:
    replicas = Replicas()
    port = free_port()
    launch = Launch(
        sys.executable,
        truss,
        tmp_path / "r1.sock",
        tmp_path / "r1.log",
        supervisor.replica_environment(tmp_path / "home", {}),
        port=port,
    )
    try:
        replica = replicas.start("r1", "d1", 1, launch)
        assert replica.upstream == f"127.0.0.1:{port}"
        for _ in range(600):
            await replicas.probe_starting()
            if replica.state is ReplicaState.READY:
                break
            await asyncio.sleep(0.05)
        assert replica.state is ReplicaState.READY, (tmp_path / "r1.log").read_text()
        assert not (tmp_path / "r1.sock").exists()  # reached over TCP, not a socket

        replicas.update_environments({"d1": "production"})
        await replicas.wait_stops()
        assert replica.environment == "production"
        url = f"http://127.0.0.1:{port}/v1/models/model:predict"
        answer = await asyncio.to_thread(
            lambda: urllib.request.urlopen(urllib.request.Request(url, b"{}"), timeout=5).read()
        )
        assert json.loads(answer) == {"calls": [{"name": "production"}]}
    finally:
        await replicas.stop_all()


def test_a_replica_on_tcp_is_probed_ready_and_told_its_environment(
    tmp_path: Path, make_truss: MakeTruss
) -> None:
    truss = make_truss("setup", model=SETUP)
    uvloop.run(probed_and_told(truss, tmp_path))


async def tcp_probe_has_no_delay() -> int | None:
    """A probe of a TCP address that answers: the status it reads."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    async with server:
        return await supervisor.probe(f"127.0.0.1:{port}")


def test_a_probe_speaks_tcp_to_a_host_and_port() -> None:
    assert uvloop.run(tcp_probe_has_no_delay()) == 503


def test_a_probe_of_a_closed_port_is_no_answer() -> None:
    assert uvloop.run(supervisor.probe(f"127.0.0.1:{free_port()}", timeout=0.5)) is None

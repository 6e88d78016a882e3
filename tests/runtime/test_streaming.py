"""Generator predicts: chunks go out as they are made, or joined for JSON clients."""

from __future__ import annotations

import http.client
import json
import time
from pathlib import Path

import pytest

from tests.runtime.conftest import Launcher, Replica, write_truss

STREAMS = """\
import time


class Model:
    def __init__(self, data_dir):
        self._data_dir = data_dir

    def predict(self, model_input):
        mode = model_input["mode"]
        if mode == "endless":
            try:
                while True:
                    yield "tick\\n"
                    time.sleep(0.02)
            finally:
                (self._data_dir / "closed").write_text("the generator was closed")
        elif mode == "timed":
            for index in range(3):
                if index:
                    time.sleep(0.3)
                yield f"{index} {time.time()}\\n"
        elif mode == "bytes":
            yield b"\\x00\\x01"
            yield "é"
        elif mode == "fail":
            yield "first\\n"
            yield "second\\n"
            raise RuntimeError("broke mid-stream")
        elif mode == "bad-chunk":
            yield "ok\\n"
            yield 42
        elif mode == "ints":
            yield from range(4)
        elif mode == "split":
            yield "é".encode()[:1]
            yield "é".encode()[1:]
"""

ASYNC_STREAM = """\
import asyncio


class Model:
    async def predict(self, model_input):
        for word in model_input["words"]:
            await asyncio.sleep(0.01)
            yield word + " "
"""


@pytest.fixture(scope="module")
def replicas(
    module_replicas: Launcher, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Replica]:
    root = tmp_path_factory.mktemp("streams")
    started = {
        "sync": module_replicas(
            write_truss(root / "sync", "model_name: s\n", STREAMS, {"data/.keep": ""}),
            wait=False,
        ),
        "async": module_replicas(
            write_truss(root / "async", "model_name: a\n", ASYNC_STREAM), wait=False
        ),
    }
    return {name: replica.wait_ready() for name, replica in started.items()}


def open_stream(
    replica: Replica, payload: object
) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    return replica.open("POST", "/v1/models/model:predict", json.dumps(payload).encode())


def test_chunks_arrive_before_the_generator_finishes(replicas: dict[str, Replica]) -> None:
    connection, response = open_stream(replicas["sync"], {"mode": "timed"})
    try:
        assert response.status == 200
        assert response.getheader("transfer-encoding") == "chunked"
        assert response.getheader("content-type") == "application/octet-stream"
        arrivals: list[tuple[float, bytes]] = []
        while chunk := response.read1():
            arrivals.append((time.time(), chunk))
    finally:
        connection.close()
    lines = b"".join(chunk for _, chunk in arrivals).decode().splitlines()
    produced = [float(line.split()[1]) for line in lines]
    assert [line.split()[0] for line in lines] == ["0", "1", "2"]
    # The first chunk was in the client's hands before the model made the last one.
    assert arrivals[0][0] < produced[-1]
    assert len(arrivals) >= 3


def test_accept_json_joins_the_chunks(replicas: dict[str, Replica]) -> None:
    reply = replicas["sync"].predict({"mode": "bytes"}, headers={"Accept": "application/json"})
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json() == "\x00\x01é"


@pytest.mark.parametrize(
    ("mode", "joined"),
    [
        pytest.param("ints", "0123", id="ints-as-str"),
        pytest.param("split", "é", id="a-character-split-across-chunks"),
    ],
)
def test_accept_json_joins_any_chunks_as_truss_does(
    replicas: dict[str, Replica], mode: str, joined: str
) -> None:
    """Truss's `_gather_generator` takes each chunk's `str()` and decodes the joined
    bytes once."""
    reply = replicas["sync"].predict({"mode": mode}, headers={"Accept": "application/json"})
    assert (reply.status, reply.json()) == (200, joined)


def test_str_chunks_are_utf8_and_bytes_pass_as_is(replicas: dict[str, Replica]) -> None:
    reply = replicas["sync"].predict({"mode": "bytes"})
    assert reply.body == b"\x00\x01" + "é".encode()


def test_async_generator_streams(replicas: dict[str, Replica]) -> None:
    reply = replicas["async"].predict({"words": ["a", "b", "c"]})
    assert (reply.status, reply.body) == (200, b"a b c ")
    joined = replicas["async"].predict({"words": ["x"]}, headers={"Accept": "application/json"})
    assert joined.json() == "x "


@pytest.mark.parametrize(
    ("mode", "sent", "error"),
    [
        pytest.param("fail", b"first\nsecond\n", "RuntimeError: broke mid-stream", id="raises"),
        pytest.param(
            "bad-chunk",
            b"ok\n",
            "TypeError: predict yielded int; a stream yields str or bytes",
            id="bad-chunk",
        ),
    ],
)
def test_error_mid_stream_truncates_the_response(
    replicas: dict[str, Replica], mode: str, sent: bytes, error: str
) -> None:
    replica = replicas["sync"]
    connection, response = open_stream(replica, {"mode": mode})
    try:
        assert response.status == 200
        with pytest.raises(http.client.IncompleteRead) as raised:
            response.read()
        assert raised.value.partial == sent
    finally:
        connection.close()
    log = replica.log()
    assert error in log
    assert (
        "brace/runtime"
        not in log[log.rindex("Exception in model (mid-stream; the response is truncated):") :]
    )
    assert replica.predict({"mode": "bytes"}).status == 200  # still serving


def test_client_leaving_stops_the_generator_and_frees_the_slot(
    replicas: dict[str, Replica],
) -> None:
    replica = replicas["sync"]
    marker = replica_data_dir(replica) / "closed"
    connection, response = open_stream(replica, {"mode": "endless"})
    assert response.read1().startswith(b"tick")
    response.close()
    connection.close()
    deadline = time.monotonic() + 5
    while not marker.exists():
        assert time.monotonic() < deadline, replica.log()
        time.sleep(0.01)
    # predict_concurrency is 1: the endless stream no longer holds the slot.
    assert replica.predict({"mode": "bytes"}).status == 200


def replica_data_dir(replica: Replica) -> Path:
    command = replica.process.args
    assert isinstance(command, list)
    return Path(command[command.index("--truss") + 1]) / "data"

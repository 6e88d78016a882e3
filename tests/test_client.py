"""What the CLI makes of whatever answers on the server's port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from brace.client import Address, health, request_stats
from brace.errors import ServerError
from brace.server.paths import ServerPaths


@pytest.fixture
def endless() -> Iterator[tuple[int, list[int]]]:
    """A listener that answers any request with a 200 whose body never ends (at most
    64 MiB, until the client goes away); yields its port and the bytes it managed to send."""
    listener = socket.create_server(("127.0.0.1", 0))
    sent = [0]

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n")
            piece = b" " * 65536
            try:
                while sent[0] < 64 << 20:
                    sent[0] += conn.send(piece)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1], sent
    finally:
        listener.close()
        thread.join(5)


def test_health_reads_a_bounded_answer(endless: tuple[int, list[int]]) -> None:
    port, sent = endless
    assert health(Address("127.0.0.1", port), timeout=5) is None
    assert sent[0] < 32 << 20


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(b'{"status": "ok"}', id="no-window"),
        pytest.param(b'{"window_seconds": 60, "deployments": []}', id="no-deployment"),
        pytest.param(b'{"window_seconds": "x", "deployments": [{}]}', id="window-not-a-number"),
        pytest.param(b"[1, 2]", id="a-list"),
        pytest.param(b"not json", id="not-json"),
    ],
)
def test_an_answer_that_is_not_brace_s_is_a_one_line_error(tmp_path: Path, answer: bytes) -> None:
    home = tmp_path / "home"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(ServerPaths(home).internal_socket))
    listener.listen(1)

    def serve() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            conn.sendall(
                b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                + str(len(answer)).encode()
                + b"\r\n\r\n"
                + answer
            )

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with pytest.raises(ServerError) as caught:
            request_stats(home, "key", "abc")
    finally:
        listener.close()
        thread.join(5)
    assert "\n" not in caught.value.message
    assert "brace server" in caught.value.message


def test_the_stats_key_goes_over_the_home_s_socket_only(tmp_path: Path) -> None:
    """No server: no socket in the home, and nothing is sent anywhere else."""
    with pytest.raises(ServerError) as caught:
        request_stats(tmp_path / "home", "key", "abc")
    assert "this home's brace server" in caught.value.message

"""What the CLI makes of whatever answers on the server's port."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest

from brace.server.client import Address, health


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

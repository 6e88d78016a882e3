"""A large body to the management API costs the server no memory: refused from its
Content-Length before it is read, and a chunked one as soon as it passes 1 MiB."""

from __future__ import annotations

import contextlib
import socket
import threading

import psutil
import pytest

from tests.integration.conftest import AUTH, Server

BODY = 90 << 20  # 90 MiB
PIECE = b" " * (1 << 20)
AT_ONCE = 4


def _send(port: int, chunked: bool, answers: list[bytes]) -> None:
    path = "/v1/models/nope/deployments/nope/autoscaling_settings"
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {BODY}"
    head = (
        f"PATCH {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: {AUTH['Authorization']}\r\nContent-Type: application/json\r\n"
        f"{framing}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head)
        with contextlib.suppress(OSError):  # the server may close once it answered
            for _ in range(BODY // len(PIECE)):
                sock.sendall(b"%x\r\n" % len(PIECE) + PIECE + b"\r\n" if chunked else PIECE)
            if chunked:
                sock.sendall(b"0\r\n\r\n")
        answer = b""
        with contextlib.suppress(OSError):
            while chunk := sock.recv(65536):
                answer += chunk
                if b"}" in answer:
                    break
        answers.append(answer)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_four_90_mib_bodies_at_once_cost_the_server_no_memory(
    server: Server, chunked: bool
) -> None:
    process = psutil.Process(server.process.pid)
    before = process.memory_info().rss
    peak = [before]
    done = threading.Event()

    def watch() -> None:
        while not done.wait(0.02):
            peak[0] = max(peak[0], process.memory_info().rss)

    watcher = threading.Thread(target=watch)
    watcher.start()
    answers: list[bytes] = []
    senders = [
        threading.Thread(target=_send, args=(server.port, chunked, answers)) for _ in range(AT_ONCE)
    ]
    try:
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join(60)
    finally:
        done.set()
        watcher.join()
    grown = (peak[0] - before) >> 20
    print(f"server RSS {before >> 20} MiB, peak {peak[0] >> 20} MiB (+{grown} MiB)")
    assert grown < 40, f"the server grew by {grown} MiB"
    assert len(answers) == AT_ONCE
    for answer in answers:
        assert answer.startswith((b"HTTP/1.1 400", b"HTTP/1.1 413")), answer[:200]
        assert b"larger than" in answer

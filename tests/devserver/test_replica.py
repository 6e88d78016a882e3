"""POST /brace/reload: what each answer means, and the call over a real Unix socket."""

from __future__ import annotations

import json
import socket
import tempfile
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

from brace.devserver.replica import ReloadAnswer, ReloadResult, parse_answer, reload_replica


def _body(data: Any) -> bytes:
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("status", "body", "answer"),
    [
        pytest.param(
            200,
            _body({"applied": True, "version": 3, "mode": "class-swap", "ms": 4.5}),
            ReloadAnswer(ReloadResult.APPLIED, version=3, mode="class-swap", ms=4.5),
            id="applied",
        ),
        pytest.param(
            200,
            _body({"applied": True, "version": 4, "mode": "new-instance", "ms": 1200}),
            ReloadAnswer(ReloadResult.APPLIED, version=4, mode="new-instance", ms=1200.0),
            id="applied-new-instance",
        ),
        pytest.param(
            200,
            _body({"applied": False, "version": 3, "mode": "unchanged", "ms": 1}),
            ReloadAnswer(ReloadResult.UNCHANGED, version=3, mode="unchanged"),
            id="unchanged",
        ),
        pytest.param(
            422,
            _body(
                {
                    "applied": False,
                    "version": 3,
                    "stage": "import",
                    "error": "SyntaxError: invalid syntax (model.py, line 4)",
                    "traceback": '  File "model.py", line 4\nSyntaxError: invalid syntax\n',
                }
            ),
            ReloadAnswer(
                ReloadResult.REJECTED,
                version=3,
                stage="import",
                error="SyntaxError: invalid syntax (model.py, line 4)",
                traceback='  File "model.py", line 4\nSyntaxError: invalid syntax\n',
            ),
            id="rejected",
        ),
        pytest.param(
            422,
            _body({"applied": False, "version": 2}),
            ReloadAnswer(ReloadResult.REJECTED, version=2, error="the new code failed to load"),
            id="rejected-without-detail",
        ),
        pytest.param(
            404,
            _body({"error": "Not Found"}),
            ReloadAnswer(
                ReloadResult.UNSUPPORTED,
                error="the replica has no live reload (POST /brace/reload: 404)",
            ),
            id="no-live-reload",
        ),
        pytest.param(
            503,
            _body({"applied": False, "version": None, "error": "the model failed to load"}),
            ReloadAnswer(ReloadResult.UNREACHABLE, error="the model failed to load"),
            id="first-load-failed",
        ),
        pytest.param(
            500,
            _body({"applied": False, "version": 2, "error": "reloading failed (a bug)"}),
            ReloadAnswer(
                ReloadResult.ERROR,
                version=2,
                error="the replica answered 500: reloading failed (a bug)",
            ),
            id="server-error",
        ),
        pytest.param(
            502,
            b"<html>bad gateway</html>",
            ReloadAnswer(
                ReloadResult.ERROR, error="the replica answered 502: <html>bad gateway</html>"
            ),
            id="not-json",
        ),
    ],
)
def test_parse_answer(status: int, body: bytes, answer: ReloadAnswer) -> None:
    assert parse_answer(status, body) == answer


class _UnixHTTPServer(HTTPServer):
    address_family = socket.AF_UNIX

    def server_bind(self) -> None:
        self.socket.bind(self.server_address)
        self.server_name, self.server_port = "replica", 0


@pytest.fixture
def socket_dir() -> Iterator[Path]:
    # Unix socket paths are short (107 bytes): not under pytest's deep tmp_path.
    with tempfile.TemporaryDirectory(prefix="brace-test-") as directory:
        yield Path(directory)


def _serve(path: Path, status: int, answer: dict[str, Any], seen: list[str]) -> HTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(f"{self.command} {self.path} {self.request_version}")
            body = _body(answer)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = _UnixHTTPServer(str(path), Handler)  # type: ignore[arg-type]
    threading.Thread(target=server.handle_request, daemon=True).start()
    return server


def test_reload_over_a_unix_socket(socket_dir: Path) -> None:
    path = socket_dir / "r.sock"
    seen: list[str] = []
    server = _serve(path, 200, {"applied": True, "version": 2, "mode": "class-swap", "ms": 3}, seen)
    try:
        answer = reload_replica(path, timeout=10)
    finally:
        server.server_close()
    assert answer == ReloadAnswer(ReloadResult.APPLIED, version=2, mode="class-swap", ms=3.0)
    assert seen == ["POST /brace/reload HTTP/1.1"]


def test_nothing_listening_is_unreachable(socket_dir: Path) -> None:
    answer = reload_replica(socket_dir / "missing.sock", timeout=1)
    assert answer.outcome is ReloadResult.UNREACHABLE
    bound = socket.socket(socket.AF_UNIX)  # bound, never listening: refused
    bound.bind(str(socket_dir / "bound.sock"))
    try:
        assert (
            reload_replica(socket_dir / "bound.sock", timeout=1).outcome is ReloadResult.UNREACHABLE
        )
    finally:
        bound.close()

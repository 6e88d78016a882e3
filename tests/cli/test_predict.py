"""`brace predict`: the target it picks, and one clear error for every way a call fails.

A fake server on the test's port plays the brace server (it answers /healthz for this
home) and misbehaves on purpose: error answers, streams cut short, connections closed
before an answer, garbage. Every failure must be one `Error:` line, a hint, and a
non-zero exit code; never a traceback.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from brace.home import ensure_private_dir
from brace.processes import process_started
from brace.server.paths import ServerPaths
from brace.server.record import ServerRecord, new_server_id, write_record
from brace.store import DeploymentStatus, Store
from tests.cli.conftest import (
    become_active,
    deployment,
    error_text,
    expect_error,
    expect_json_error,
    model_id,
    ok,
    set_status,
)
from tests.conftest import Cli

Behaviour = Callable[[BaseHTTPRequestHandler], None]


def answer(status: int, body: bytes, content_type: str = "application/json") -> Behaviour:
    def respond(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return respond


def cut_stream(handler: BaseHTTPRequestHandler) -> None:
    """A streamed answer whose connection closes before its last chunk (the model
    raised mid-stream: the gateway passes the truncation on)."""
    handler.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
    handler.wfile.write(b"6\r\nfirst\n\r\n7\r\nsecond\n\r\n")
    handler.wfile.flush()
    handler.close_connection = True


def hang_up(handler: BaseHTTPRequestHandler) -> None:
    """The server dies after reading the request: the connection closes unanswered."""
    handler.close_connection = True


def garbage(handler: BaseHTTPRequestHandler) -> None:
    handler.wfile.write(b"this is not HTTP\r\n\r\n")
    handler.close_connection = True


class FakeServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, port: int, home: Path) -> None:
        self.home = home
        self.behaviour: Behaviour = answer(200, b'{"ok": true}')
        self.paths: list[str] = []
        self.server_id = new_server_id()
        super().__init__(("127.0.0.1", port), _Handler)
        # Recorded as this home's server, as `brace server` records itself.
        pid = os.getpid()
        paths = ServerPaths(ensure_private_dir(home))
        write_record(
            paths, ServerRecord(pid, process_started(pid), "127.0.0.1", port, self.server_id)
        )


class _Handler(BaseHTTPRequestHandler):
    server: FakeServer

    def log_message(self, format: str, *args: object) -> None:  # quiet
        pass

    def do_GET(self) -> None:
        if self.path == "/healthz":
            body = json.dumps({"status": "ok", "server_id": self.server.server_id}).encode()
            answer(200, body)(self)
        else:
            answer(404, b"{}")(self)

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.paths.append(self.path)
        self.server.behaviour(self)


@pytest.fixture
def fake(home: Path) -> Iterator[FakeServer]:
    server = FakeServer(int(os.environ["BRACE_PORT"]), home)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        ServerPaths(home).state_file.unlink(missing_ok=True)


LOGS = "See the deployment's log: `brace logs deployment-1 -m hello`."


@pytest.mark.parametrize(
    ("behaviour", "code", "message", "hint"),
    [
        pytest.param(
            answer(500, b'{"error": "Internal Server Error (in model/chainlet)."}'),
            6,
            "production (deployment-1) of model hello answered 500: Internal Server Error "
            "(in model/chainlet).",
            LOGS,
            id="model-error",
        ),
        pytest.param(
            answer(400, b'{"error": "text must not be empty"}'),
            5,
            "production (deployment-1) of model hello answered 400: text must not be empty",
            None,
            id="http-exception",
        ),
        pytest.param(
            answer(422, b'{"error": {"field": "text"}}'),
            5,
            'production (deployment-1) of model hello answered 422: {"field": "text"}',
            None,
            id="structured-detail",
        ),
        pytest.param(
            answer(502, b"<html>bad gateway</html>", "text/html"),
            6,
            "production (deployment-1) of model hello answered 502: <html>bad gateway</html>",
            LOGS,
            id="not-json",
        ),
        pytest.param(
            answer(401, b'{"error": "missing API key"}'),
            3,
            "production (deployment-1) of model hello answered 401: missing API key",
            None,
            id="auth",
        ),
        pytest.param(
            cut_stream,
            6,
            "the answer from production (deployment-1) of model hello was cut short after 13 "
            "bytes (IncompleteRead)",
            "The model may have failed mid-stream, or its replica stopped; see "
            "`brace logs deployment-1 -m hello`.",
            id="cut-stream",
        ),
    ],
)
def test_failed_calls_are_one_clear_error(
    cli: Cli,
    world: Path,
    fake: FakeServer,
    behaviour: Behaviour,
    code: int,
    message: str,
    hint: str | None,
) -> None:
    fake.behaviour = behaviour
    result = cli("predict", "-e", "production", "-d", "{}")
    assert (result.exit_code, result.stderr) == (code, error_text(message, hint))
    if behaviour is cut_stream:
        assert result.stdout == "first\nsecond\n"  # what arrived, streamed as it came
    else:
        assert result.stdout == ""
    as_json = cli("predict", "-e", "production", "-d", "{}", "-o", "json")
    expect_json_error(as_json, code, message, hint)


def test_a_404_names_the_model_by_its_name(
    cli: Cli, world: Path, fake: FakeServer, store: Store
) -> None:
    hello = model_id(store)
    fake.behaviour = answer(404, json.dumps({"error": f"Model {hello} not found"}).encode())
    expect_error(
        cli("predict", "-e", "production", "-d", "{}"),
        4,
        "production (deployment-1) of model hello answered 404: Model hello not found",
        "List what runs with `brace deployments list`.",
    )


@pytest.mark.parametrize(
    ("behaviour", "reason"),
    [
        pytest.param(hang_up, "Remote end closed connection without response", id="hang-up"),
        pytest.param(garbage, "BadStatusLine", id="garbage"),
    ],
)
def test_a_connection_lost_before_any_answer(
    cli: Cli, world: Path, fake: FakeServer, behaviour: Behaviour, reason: str
) -> None:
    fake.behaviour = behaviour
    expect_error(
        cli("predict", "-e", "production", "-d", "{}"),
        6,
        "no answer from production (deployment-1) of model hello: the connection to the brace "
        f"server was lost ({reason})",
        "The server or the replica may have stopped; see `brace status` and "
        "`brace logs deployment-1 -m hello`.",
    )


def test_the_answer_streams_and_json_output_is_one_document(
    cli: Cli, world: Path, fake: FakeServer
) -> None:
    fake.behaviour = answer(200, b"plain text, no newline", "text/plain")
    assert ok(cli("predict", "-d", "{}")).stdout == "plain text, no newline\n"
    as_json = ok(cli("predict", "-d", "{}", "-o", "json"))
    assert as_json.stdout == '"plain text, no newline"\n'
    fake.behaviour = answer(200, b'{"x": 1}')
    assert ok(cli("predict", "-d", "{}", "-o", "json")).stdout == '{"x": 1}\n'


def test_without_a_target_production_then_development(
    cli: Cli, hello: Path, store: Store, fake: FakeServer
) -> None:
    ok(cli("push", hello))
    dev = ok(cli("predict", "-d", "{}"))
    assert dev.stderr == "Calling the development deployment of model hello.\n"
    hello_id = model_id(store)
    assert fake.paths[-1] == f"/model/{hello_id}/development/predict"
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    prod = ok(cli("predict", "-d", "{}"))
    assert prod.stderr == "Calling production (deployment-1) of model hello.\n"
    assert fake.paths[-1] == f"/model/{hello_id}/production/predict"
    named = ok(cli("predict", "-e", "production", "-d", "{}"))
    assert named.stderr == ""  # asked for by name: nothing to say


def test_targets_are_checked_in_the_store_first(
    cli: Cli, world: Path, store: Store, fake: FakeServer
) -> None:
    expect_error(
        cli("predict", "-e", "qa", "-d", "{}"),
        4,
        "model 'hello' has no environment 'qa'",
        "Environments: production, staging. "
        "Create one with `brace environments create qa -m hello`.",
    )
    expect_error(
        cli("predict", "-e", "staging", "-d", "{}"),
        4,
        "environment staging of model hello has no deployment",
        "Promote one: `brace promote DEPLOYMENT -m hello -e staging`.",
    )
    set_status(store, "deployment-2", DeploymentStatus.DEPLOY_FAILED)
    expect_error(
        cli("predict", "--deployment", "deployment-2", "-d", "{}"),
        5,
        "deployment deployment-2 of model hello is DEPLOY_FAILED: it cannot answer requests",
        "See why with `brace logs deployment-2 -m hello`, then push a fixed version.",
    )
    ok(cli("deactivate", "deployment-1"))
    expect_error(
        cli("predict", "-e", "production", "-d", "{}"),
        5,
        "production (deployment-1) of model hello is INACTIVE: it cannot answer requests",
        "Activate it with `brace activate deployment-1 -m hello`.",
    )
    assert fake.paths == []  # nothing was called


def test_a_deployment_by_name_calls_its_id(
    cli: Cli, world: Path, store: Store, fake: FakeServer
) -> None:
    ok(cli("predict", "--deployment", "deployment-2", "-d", "{}"))
    target = deployment(store, "deployment-2")
    assert fake.paths == [f"/model/{model_id(store)}/deployment/{target.id}/predict"]


def test_no_server_and_no_autostart(cli: Cli, world: Path) -> None:
    port = os.environ["BRACE_PORT"]
    with socket.socket() as probe:  # nothing listens on the test's port
        assert probe.connect_ex(("127.0.0.1", int(port))) != 0
    expect_error(
        cli("predict", "-e", "production", "-d", "{}"),
        6,
        f"no brace server is running at http://127.0.0.1:{port}",
        "Start one with `brace up` (BRACE_AUTOSTART=0 keeps commands from starting it).",
    )

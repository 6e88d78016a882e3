"""A replica with a secret answers only requests that carry it (brace.runtime.guard)."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from brace.runtime.guard import ENV_VAR, HEADER, guarded, take_secret
from brace.server.gateway.exchange import REPLICA_SECRET, secret_line


def app() -> Starlette:
    return Starlette(routes=[Route("/", lambda request: PlainTextResponse("model"))])


def echo_headers() -> Starlette:
    def headers(request: Request) -> JSONResponse:
        return JSONResponse(request.headers.getlist(HEADER))

    return Starlette(routes=[Route("/", headers)])


def test_a_request_without_the_secret_is_refused() -> None:
    client = TestClient(guarded(app(), "s3cret"))
    assert client.get("/").status_code == 403
    assert client.get("/", headers={HEADER: "wrong"}).status_code == 403
    answer = client.get("/", headers={HEADER: "s3cret"})
    assert (answer.status_code, answer.text) == (200, "model")


def test_the_model_never_sees_the_secret() -> None:
    client = TestClient(guarded(echo_headers(), "s3cret"))
    assert client.get("/", headers={HEADER: "s3cret"}).json() == []


def test_a_clients_own_secret_header_neither_opens_nor_shuts_the_door() -> None:
    """The gateway's line comes after the client's headers."""
    client = TestClient(guarded(echo_headers(), "s3cret"))
    forged = [(HEADER, "guess")]
    assert client.get("/", headers=forged).status_code == 403
    answer = client.get("/", headers=[*forged, (HEADER, "s3cret")])
    assert (answer.status_code, answer.json()) == (200, [])


def test_without_a_secret_the_door_is_open() -> None:
    assert TestClient(guarded(app(), None)).get("/").status_code == 200


def test_the_secret_leaves_the_environment_before_user_code() -> None:
    environ = {ENV_VAR: "s3cret", "OTHER": "1"}
    assert take_secret(environ) == "s3cret"
    assert environ == {"OTHER": "1"}


def test_the_gateway_sends_the_header_the_replica_reads() -> None:
    assert REPLICA_SECRET.decode() == HEADER
    assert secret_line("abc") == b"x-brace-replica-secret: abc\r\n"
    assert secret_line(None) == b""

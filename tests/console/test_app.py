"""The console in process: the real internal app and store, Starlette's test client.

Sign-in, the session cookie, the sign-in page for every path without a session, the
cross-site checks on every state change, and actions giving the services' refusals.
The browser tests (tests/integration/test_console.py) drive the same paths in Chromium.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from brace.server.app import internal_app
from brace.server.storeworker import StoreWorker
from brace.store import Deployment, Store

KEY = "console-key-0123456789"
ORIGIN = "http://testserver"


@pytest.fixture
def console(home: Path, store: Store) -> Iterator[TestClient]:
    worker = StoreWorker(home)
    try:
        with TestClient(internal_app("s", KEY, worker), follow_redirects=False) as client:
            yield client
    finally:
        worker.close()


def sign_in(client: TestClient, key: str = KEY, origin: str | None = ORIGIN) -> Any:
    headers = {"Origin": origin} if origin else {}
    return client.post(
        "/console/signin",
        content=f"key={key}&next=/console/usage",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


def csrf_of(client: TestClient) -> str:
    page = client.get("/console/usage").text
    marker = 'name="csrf-token" content="'
    return page[page.index(marker) + len(marker) :].split('"', 1)[0]


PATHS = [
    "/",
    "/console",
    "/console/usage",
    "/console/console.js",
    "/console/models/hello",
    "/console/models/hello/environments/production",
    "/console/models/hello/deployments/production",
]


@pytest.mark.parametrize("path", PATHS)
def test_without_a_session_every_path_answers_the_sign_in_page(
    console: TestClient, production: Deployment, path: str
) -> None:
    answer = console.get(path)
    assert answer.status_code == 401
    assert 'id="key"' in answer.text
    assert production.id not in answer.text and "hello" not in answer.text.replace(
        "/console/models/hello", ""
    )


@pytest.mark.parametrize(
    "path",
    [
        "/console/events/models/hello/environments/production",
        "/console/events/models/hello/deployments/production",
    ],
)
def test_without_a_session_the_live_streams_refuse(
    console: TestClient, production: Deployment, path: str
) -> None:
    answer = console.get(path)
    assert answer.status_code == 401
    assert production.id not in answer.text


def test_sign_in_sets_an_httponly_strict_cookie_and_goes_where_asked(console: TestClient) -> None:
    answer = sign_in(console)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/usage"
    cookie = answer.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "path=/" in cookie
    assert KEY not in answer.headers["set-cookie"] and KEY not in answer.headers["location"]
    assert console.get("/console/usage").status_code == 200


def test_a_wrong_key_is_refused_without_a_session(console: TestClient) -> None:
    answer = sign_in(console, key="wrong")
    assert answer.status_code == 401
    assert "set-cookie" not in answer.headers
    assert "That is not this server" in answer.text
    assert console.get("/console/usage").status_code == 401


@pytest.mark.parametrize("origin", ["http://evil.example", "null", None])
def test_a_sign_in_from_another_site_is_refused(console: TestClient, origin: str | None) -> None:
    answer = sign_in(console, origin=origin)
    assert answer.status_code == 403
    assert "set-cookie" not in answer.headers


@pytest.mark.parametrize(
    "path", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"]
)
def test_after_sign_in_only_paths_of_this_server_are_followed(
    console: TestClient, path: str
) -> None:
    answer = console.post(
        "/console/signin",
        data={"key": KEY, "next": path},
        headers={"Origin": ORIGIN},
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == "/"


def rename(client: TestClient, deployment: Deployment, headers: dict[str, str]) -> Any:
    body = {
        "action": "rename",
        "model": deployment.model_id,
        "deployment": deployment.id,
        "name": "renamed",
    }
    return client.post("/console/actions", json=body, headers=headers)


def test_an_action_needs_the_origin_and_the_csrf_token(
    console: TestClient, store: Store, production: Deployment
) -> None:
    sign_in(console)
    token = csrf_of(console)
    assert (
        rename(
            console, production, {"Origin": "http://evil.example", "X-CSRF-Token": token}
        ).status_code
        == 403
    )
    assert rename(console, production, {"X-CSRF-Token": token}).status_code == 403
    assert rename(console, production, {"Origin": ORIGIN}).status_code == 403
    assert rename(console, production, {"Origin": ORIGIN, "X-CSRF-Token": "x"}).status_code == 403
    with store.read() as tx:
        assert tx.deployment(production.id).name == production.name  # type: ignore[union-attr]
    answer = rename(console, production, {"Origin": ORIGIN, "X-CSRF-Token": token})
    assert answer.status_code == 200, answer.text
    with store.read() as tx:
        assert tx.deployment(production.id).name == "renamed"  # type: ignore[union-attr]


def test_an_action_without_a_session_is_refused(
    console: TestClient, production: Deployment
) -> None:
    answer = rename(console, production, {"Origin": ORIGIN, "X-CSRF-Token": "anything"})
    assert answer.status_code == 401


def act(client: TestClient, token: str, **body: Any) -> Any:
    return client.post(
        "/console/actions", json=body, headers={"Origin": ORIGIN, "X-CSRF-Token": token}
    )


def test_actions_give_the_services_refusals(console: TestClient, production: Deployment) -> None:
    sign_in(console)
    token = csrf_of(console)
    ids = {"model": production.model_id, "deployment": production.id}
    # The same validation as `brace deployments autoscaling` and PATCH .../autoscaling_settings.
    answer = act(
        console, token, action="autoscaling", settings={"min_replica": 5, "max_replica": 2}, **ids
    )
    assert answer.status_code == 400
    assert "min_replica" in answer.json()["error"]
    answer = act(console, token, action="autoscaling", settings={"max_replica": 3}, **ids)
    assert answer.status_code == 200 and "saved" in answer.json()["message"]
    # No promotion in progress: pausing is refused as by `brace rollout pause`.
    answer = act(
        console, token, action="pause", model=production.model_id, environment="production"
    )
    assert answer.status_code == 409
    assert answer.json()["error_code"] == "NO_PROMOTION"
    # Production cannot be deleted, as the CLI and the API say.
    answer = act(console, token, action="delete", **ids)
    assert answer.status_code == 409
    answer = act(console, token, action="launch", **ids)
    assert answer.status_code == 400


def test_sign_out_ends_the_session(console: TestClient) -> None:
    sign_in(console)
    answer = act(console, csrf_of(console), action="sign_out")
    assert answer.status_code == 200
    assert console.get("/console/usage").status_code == 401


def test_pages_escape_what_users_named(
    console: TestClient, production: Deployment, store: Store
) -> None:
    with store.transaction() as tx:
        tx.update_deployment(production, name="<script>alert(1)</script>")
    sign_in(console)
    for path in ("/", f"/console/models/{production.model_id}"):
        page = console.get(path)
        assert page.status_code == 200
        assert "<script>alert(1)</script>" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text


def test_the_rollout_stream_sends_the_panel(console: TestClient, production: Deployment) -> None:
    sign_in(console)
    path = f"/console/events/models/{production.model_id}/environments/production"
    with console.stream("GET", path) as answer:
        assert answer.headers["content-type"].startswith("text/event-stream")
        lines = answer.iter_lines()
        assert next(lines) == "event: panel"
        assert production.id in next(lines)

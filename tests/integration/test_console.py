"""The web console in a real headless Chromium against a real `brace server` with real
replicas: sign-in (a wrong key refused, the cookie HttpOnly and SameSite=Strict), a
pushed model on the Models page, a rolling promotion started from the CLI followed
live (split and step change with no reload), pause and resume pressed on the page and
seen by `brace rollout status -o json`, an action from another origin refused, and
the first paint of the Models page with 50 models.

Chromium is Debian's (`apt-get install -y chromium`), driven by Playwright through
`executable_path`. These tests are skipped only outside CI when it is not installed;
in CI (`CI` set) a missing browser fails them. Every browser, server, replica and
helper HTTP server is stopped even when a test fails.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from brace.store import AutoscalingSettings, Deployment, DeploymentStatus, Store
from tests.integration.conftest import KEY, Server, free_port, wait_until
from tests.integration.test_rollout import call, runtime_processes, write_model

CHROMIUM = os.environ.get("BRACE_CHROMIUM", "/usr/bin/chromium")

pytestmark = pytest.mark.skipif(
    not os.environ.get("CI") and not Path(CHROMIUM).exists(),
    reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium); never skipped in CI",
)

MODEL = "rolling"
FIRST_PAINT_LIMIT_MS = 300.0


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def url(server: Server, path: str = "/") -> str:
    return f"http://127.0.0.1:{server.port}{path}"


def sign_in(page: Any, server: Server, key: str = KEY, path: str = "/") -> Any:
    """Open `path`, get the sign-in page, submit `key`; the answer to the form."""
    page.goto(url(server, path))
    page.fill("#key", key)
    with page.expect_navigation() as navigation:
        page.click("button[type=submit]")
    return navigation.value


def push(server: Server, directory: Path, version: int = 1) -> dict[str, Any]:
    write_model(directory, version)
    pushed: dict[str, Any] = server.json("push", directory, "--promote", "--wait")
    return pushed


def test_sign_in_refuses_a_wrong_key_and_then_shows_the_pushed_model(
    server: Server, tmp_path: Path, browser: Any
) -> None:
    pushed = push(server, tmp_path / MODEL)
    context = browser.new_context()
    page = context.new_page()

    first = page.goto(url(server, f"/console/models/{pushed['model']['id']}"))
    assert first is not None and first.status == 401
    assert page.locator("#key").is_visible()
    assert pushed["deployment"]["id"] not in page.content()  # the sign-in page, no data

    refused = sign_in(page, server, key="not-the-key")
    assert refused is not None and refused.status == 401
    assert "not this server's API key" in page.content()
    assert context.cookies() == []

    signed = sign_in(page, server, path="/")
    assert signed is not None and signed.status == 200
    assert page.locator(f"section[data-model='{MODEL}']").is_visible()
    assert pushed["deployment"]["id"] in page.content()
    [cookie] = context.cookies()
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
    assert KEY not in page.url and KEY not in page.content()
    assert KEY not in json.dumps(page.evaluate("() => [document.cookie, {...localStorage}]"))
    context.close()


def rolling_production(server: Server, directory: Path, stabilization: int) -> str:
    """Production at 2 replicas of v1, rolling (surge 50 %); the model id."""
    pushed = push(server, directory)
    model_id: str = pushed["model"]["id"]
    settings = {
        "autoscaling_settings": {"min_replica": 2, "max_replica": 2},
        "promotion_settings": {
            "rolling_deploy": True,
            "rolling_deploy_config": {
                "stabilization_time_seconds": stabilization,
                "max_surge_percent": 50,
                "max_unavailable_percent": 0,
            },
        },
    }
    answer = call(server, "PATCH", f"/v1/models/{model_id}/environments/production", settings)
    assert answer.status == 200, answer.body
    wait_until(lambda: len(runtime_processes(server)) == 2, 60, "2 v1 replicas")
    return model_id


def rollout_status(server: Server) -> dict[str, Any]:
    status: dict[str, Any] = server.json("rollout", "status", "-m", MODEL)
    return status


def test_a_rolling_promotion_is_followed_live_and_paused_and_resumed_from_the_page(
    server: Server, tmp_path: Path, browser: Any
) -> None:
    model_id = rolling_production(server, tmp_path / MODEL, stabilization=3)
    page = browser.new_page()
    sign_in(page, server, path=f"/console/models/{model_id}/environments/production")
    assert "SUCCEEDED" in (page.locator("#rollout-status").text_content() or "")  # the push's
    page.evaluate("() => { window.notReloaded = true; }")

    write_model(tmp_path / MODEL, 2)
    candidate = server.json("push", tmp_path / MODEL, "--promote")["deployment"]["id"]

    seen: list[tuple[str, str]] = []

    def ramping() -> bool:
        if not page.locator("#rollout-percent").count():
            return False
        shown = (
            page.locator("#rollout-step").text_content() or "",
            page.locator("#rollout-percent").text_content() or "",
        )
        if not seen or seen[-1] != shown:
            seen.append(shown)
        return 0 < int(shown[1].rstrip("%")) < 100

    wait_until(ramping, 60, "the page to show part of the traffic on the new deployment")
    assert page.evaluate("() => window.notReloaded") is True
    assert len(seen) >= 2, seen  # the step and split changed on the page, with no reload
    assert re.fullmatch(r"step \d+ of \d+", seen[-1][0]), seen
    assert candidate in page.content()
    split = page.locator("#split rect.new").get_attribute("width")
    assert split is not None and 0 < int(split) < 100

    page.click("button[data-action=pause]")
    wait_until(
        lambda: rollout_status(server)["in_progress_promotion"]["status"] == "PAUSED",
        30,
        "brace rollout status to say PAUSED",
    )
    wait_until(
        lambda: "PAUSED" in (page.locator("#rollout-status").text_content() or ""),
        10,
        "the page to say PAUSED",
    )

    page.click("button[data-action=resume]")
    wait_until(
        lambda: (
            rollout_status(server)["in_progress_promotion"]["status"] in ("RAMPING_UP", "SUCCEEDED")
        ),
        30,
        "the promotion to go on",
    )
    wait_until(
        lambda: rollout_status(server)["in_progress_promotion"]["status"] == "SUCCEEDED",
        90,
        "the promotion to succeed",
    )
    wait_until(
        lambda: "SUCCEEDED" in (page.locator("#rollout-status").text_content() or ""),
        10,
        "the page to say SUCCEEDED",
    )
    assert page.evaluate("() => window.notReloaded") is True


class _Page(http.server.BaseHTTPRequestHandler):
    """Serves one page, on another origin, that tries a console action."""

    page = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def other_site(page: bytes) -> Iterator[int]:
    port = free_port()
    handler = type("Handler", (_Page,), {"page": page})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def post_action(
    server: Server, payload: dict[str, Any], headers: dict[str, str]
) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    connection.request("POST", "/console/actions", body=json.dumps(payload), headers=headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response


def test_a_console_action_from_another_origin_is_refused(
    server: Server, tmp_path: Path, browser: Any
) -> None:
    pushed = push(server, tmp_path / MODEL)
    model_id, deployment_id = pushed["model"]["id"], pushed["deployment"]["id"]
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server, path=f"/console/models/{model_id}")
    csrf = page.locator("meta[name=csrf-token]").get_attribute("content")
    assert csrf
    rename = {"action": "rename", "model": model_id, "deployment": deployment_id, "name": "taken"}

    # A page of another site, in the same signed-in browser, posts the action.
    target = f"http://127.0.0.1:{server.port}/console/actions"
    attack = (
        f"<script>fetch('{target}', {{method: 'POST', mode: 'no-cors', credentials: 'include',"
        f" headers: {{'Content-Type': 'text/plain'}}, body: '{json.dumps(rename)}'}})"
        ".then(() => document.title = 'sent', () => document.title = 'failed');</script>"
    ).encode()
    with other_site(attack) as port:
        page.goto(f"http://localhost:{port}/")
        wait_until(lambda: page.title() in ("sent", "failed"), 10, "the other page's request")
    name = call(server, "GET", f"/v1/models/{model_id}/deployments/{deployment_id}").json()["name"]
    assert name != "taken"

    # With the session's cookie and token but another Origin, and with neither token
    # nor Origin: refused too.
    [cookie] = context.cookies()
    session = f"{cookie['name']}={cookie['value']}"
    base = {"Cookie": session, "Content-Type": "application/json"}
    assert (
        post_action(
            server, rename, {**base, "X-CSRF-Token": csrf, "Origin": "http://evil.example"}
        ).status
        == 403
    )
    assert post_action(server, rename, {**base, "Origin": url(server, "")}).status == 403
    assert post_action(server, rename, {**base, "X-CSRF-Token": csrf}).status == 403
    # The same request from the console's own origin is what the page sends: accepted.
    answer = post_action(server, rename, {**base, "X-CSRF-Token": csrf, "Origin": url(server, "")})
    assert answer.status == 200
    name = call(server, "GET", f"/v1/models/{model_id}/deployments/{deployment_id}").json()["name"]
    assert name == "taken"
    context.close()


def fifty_models(home: Path) -> None:
    """50 models with an inactive deployment each, written to the server's store."""
    with Store(home) as store, store.transaction() as tx:
        for number in range(50):
            model = tx.insert_model(f"model-{number:02d}")
            tx.insert_deployment(
                Deployment(
                    id=f"dep{number:05d}",
                    model_id=model.id,
                    name="deployment-1",
                    is_development=False,
                    status=DeploymentStatus.INACTIVE,
                    autoscaling=AutoscalingSettings(),
                    created_at=tx.now(),
                )
            )


def first_paint_ms(context: Any, address: str) -> float:
    """Milliseconds from the start of navigation to the first contentful paint of
    `address`, in a fresh tab of `context`."""
    page = context.new_page()
    try:
        page.goto(address)
        paint = page.wait_for_function(
            "() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime"
        )
        return float(paint.json_value())
    finally:
        page.close()


def test_the_models_page_first_paints_under_300_ms_with_50_models(
    server: Server, browser: Any
) -> None:
    fifty_models(server.home)
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, server)
    assert page.locator("section.card").count() == 50
    # The best of three loads: the machine is shared, a paint is not slower than that.
    timings = [first_paint_ms(context, url(server, "/")) for _ in range(3)]
    assert min(timings) < FIRST_PAINT_LIMIT_MS, timings
    print(f"first paint with 50 models: {sorted(timings)} ms")
    context.close()


def test_phone_width_and_dark_scheme_need_no_sideways_scroll_of_the_page(
    server: Server, tmp_path: Path, browser: Any
) -> None:
    push(server, tmp_path / MODEL)
    context = browser.new_context(viewport={"width": 375, "height": 700}, color_scheme="dark")
    page = context.new_page()
    sign_in(page, server)
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    background = page.evaluate("() => getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(15, 17, 21)"
    # Keyboard: Tab reaches the first link of the navigation.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.tagName") in ("A", "BUTTON")
    context.close()


PRINTING = """\
class Model:
    def predict(self, model_input):
        print("handled", model_input["n"], flush=True)
        return {"n": model_input["n"]}
"""


def test_the_deployment_page_follows_its_log_and_shows_its_replicas_and_charts(
    server: Server, tmp_path: Path, browser: Any
) -> None:
    directory = tmp_path / "printer"
    (directory / "model").mkdir(parents=True)
    (directory / "config.yaml").write_text("model_name: printer\n")
    (directory / "model" / "model.py").write_text(PRINTING)
    pushed = server.json("push", directory, "--promote", "--wait")
    model_id, deployment_id = pushed["model"]["id"], pushed["deployment"]["id"]
    page = browser.new_page()
    sign_in(page, server, path=f"/console/models/{model_id}/deployments/{deployment_id}")
    page.evaluate("() => { window.notReloaded = true; }")
    assert "READY" in (page.locator("#panel").text_content() or "")

    for n in range(3):
        assert server.post("/model/printer/production/predict", {"n": 1000 + n}).status == 200
    wait_until(
        lambda: "handled 1002" in (page.locator("#log").text_content() or ""),
        15,
        "the page's log to show the new lines",
    )
    wait_until(
        lambda: page.locator("#panel svg.chart polyline").count() >= 1,
        15,
        "a chart of the requests",
    )
    assert page.evaluate("() => window.notReloaded") is True


def test_the_server_stops_promptly_with_a_live_page_open(
    server: Server, tmp_path: Path, browser: Any
) -> None:
    pushed = push(server, tmp_path / MODEL)
    page = browser.new_page()
    path = f"/console/models/{pushed['model']['id']}/environments/production"
    sign_in(page, server, path=path)
    page.evaluate("() => { document.getElementById('panel').textContent = ''; }")
    wait_until(lambda: page.locator("#rollout-status").count() == 1, 10, "a live update")
    started = time.monotonic()
    server.process.terminate()
    server.process.wait(timeout=20)
    assert time.monotonic() - started < 10


def test_the_model_page_edits_with_the_api_refusals_and_asks_before_deleting(
    server: Server, tmp_path: Path, browser: Any
) -> None:
    directory = tmp_path / MODEL
    pushed = push(server, directory)
    model_id = pushed["model"]["id"]
    write_model(directory, 2)
    spare = server.json("push", directory, "--publish")["deployment"]
    page = browser.new_page()
    sign_in(page, server, path=f"/console/models/{model_id}")
    card = page.locator(f"#deployment-{spare['id']}")

    card.locator("summary").click()
    card.locator("input[name=min_replica]").fill("5")
    card.locator("input[name=max_replica]").fill("2")
    card.locator("form[data-action=autoscaling] button").click()
    refused = call(
        server,
        "PATCH",
        f"/v1/models/{model_id}/deployments/{spare['id']}/autoscaling_settings",
        {"min_replica": 5, "max_replica": 2},
    ).json()["error"]
    wait_until(lambda: page.locator("#message").text_content() == refused, 10, "the refusal")

    card.locator("input[name=min_replica]").fill("0")
    card.locator("input[name=max_replica]").fill("3")
    card.locator("form[data-action=autoscaling] button").click()
    wait_until(
        lambda: (
            server.json("deployments", "show", spare["id"], "-m", MODEL)["autoscaling_settings"][
                "max_replica"
            ]
            == 3
        ),
        10,
        "max_replica 3",
    )

    page.once("dialog", lambda dialog: dialog.dismiss())
    card.locator("button[data-action=delete]").click()
    time.sleep(0.5)
    assert server.brace("deployments", "show", spare["id"], "-m", MODEL).returncode == 0
    page.once("dialog", lambda dialog: dialog.accept())
    card.locator("button[data-action=delete]").click()
    wait_until(
        lambda: server.brace("deployments", "show", spare["id"], "-m", MODEL).returncode == 4,
        10,
        "the deployment to be deleted",
    )

"""Regenerate docs/console-rollout.png, the README's picture of the live rollout view.

Run it as a new user would see the console: `python docs/screenshot.py`. It starts a
`brace server` on a free port with a fresh home in a temporary directory, pushes a
small model to production at 2 replicas with rolling promotions (surge 50 %,
stabilization 20 s), sends it a steady trickle of requests, promotes a second version
from the CLI, signs in to the console in headless Chromium (Debian's
`/usr/bin/chromium`, driven by Playwright) and takes the picture once half the traffic
has moved. Everything it started is stopped at the end, even on failure.

Usage: python docs/screenshot.py [--out docs/console-rollout.png] [--chromium PATH]
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

KEY = "screenshot-key"
MODEL = "sentiment"
CODE = """\
import random
import time


class Model:
    def predict(self, model_input):
        time.sleep(random.uniform(0.002, 0.02))
        return {{"label": "positive", "version": {version}}}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def brace(env: dict[str, str], *args: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "brace", *args, "-o", "json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"brace {' '.join(args)} failed: {done.stdout}{done.stderr}")
    return json.loads(done.stdout)


def request(port: int, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        payload = None if body is None else json.dumps(body)
        connection.request(method, path, payload, {"Authorization": f"Api-Key {KEY}"})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def wait(condition: Any, seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def write_model(directory: Path, version: int) -> None:
    (directory / "model").mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(
        f"model_name: {MODEL}\nruntime:\n  predict_concurrency: 4\n"
    )
    (directory / "model" / "model.py").write_text(CODE.format(version=version))


def traffic(port: int, stop: threading.Event) -> None:
    path = f"/model/{MODEL}/production/predict"
    while not stop.is_set():
        with contextlib.suppress(OSError):
            request(port, "POST", path, {"text": "I like it"})
        time.sleep(0.02)


def shoot(out: Path, chromium: str) -> None:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as scratch:
        home, directory, port = Path(scratch) / "home", Path(scratch) / MODEL, free_port()
        env = {**os.environ, "BRACE_HOME": str(home), "BRACE_PORT": str(port)}
        env.update(BRACE_API_KEY=KEY, BRACE_AUTOSTART="0")
        server = subprocess.Popen(
            [sys.executable, "-m", "brace", "server", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        stop = threading.Event()
        sender = threading.Thread(target=traffic, args=(port, stop), daemon=True)
        try:
            wait(lambda: _healthy(port), 30, "the server")
            write_model(directory, 1)
            pushed = brace(env, "push", str(directory), "--promote", "--wait")
            model_id = pushed["model"]["id"]
            settings = {
                "autoscaling_settings": {"min_replica": 2, "max_replica": 2},
                "promotion_settings": {
                    "rolling_deploy": True,
                    "rolling_deploy_config": {
                        "max_surge_percent": 50,
                        "stabilization_time_seconds": 20,
                    },
                },
            }
            environment = f"/v1/models/{model_id}/environments/production"
            status, body = request(port, "PATCH", environment, settings)
            assert status == 200, body
            sender.start()
            time.sleep(6)  # some traffic on v1 first
            write_model(directory, 2)
            brace(env, "push", str(directory), "--promote")

            def halfway() -> bool:
                answer = json.loads(request(port, "GET", environment)[1])
                promotion = answer.get("in_progress_promotion") or {}
                return 0 < (promotion.get("percent_traffic_to_new_version") or 0) < 100

            wait(halfway, 120, "half the traffic on the new deployment")
            time.sleep(4)  # requests on both sides over the step
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=chromium, args=["--no-sandbox"]
                )
                try:
                    page = browser.new_page(viewport={"width": 1000, "height": 760})
                    page.goto(
                        f"http://127.0.0.1:{port}/console/models/{model_id}/environments/production"
                    )
                    page.fill("#key", KEY)
                    with page.expect_navigation():
                        page.click("button[type=submit]")
                    time.sleep(1.5)  # a live update or two
                    out.parent.mkdir(parents=True, exist_ok=True)
                    page.screenshot(path=str(out), full_page=True)
                finally:
                    browser.close()
        finally:
            stop.set()
            if sender.is_alive():
                sender.join(timeout=10)
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
    print(f"wrote {out}")


def _healthy(port: int) -> bool:
    try:
        return request(port, "GET", "/healthz")[0] == 200
    except OSError:
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "console-rollout.png")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    options = parser.parse_args()
    shoot(options.out, options.chromium)


if __name__ == "__main__":
    main()

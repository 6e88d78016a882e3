"""Automatic rollback through a real server: a candidate that answers 500 to one
request in five is rolled back during its first step, under a steady request stream."""

from __future__ import annotations

import http.client
import json
import threading
import time
from pathlib import Path

from tests.conftest import MakeTruss
from tests.integration.conftest import AUTH, Server, wait_until

V1 = """\
class Model:
    def predict(self, model_input):
        return {"version": 1}
"""

FLAKY_V2 = """\
class Model:
    def __init__(self, **kwargs):
        self.calls = 0

    def predict(self, model_input):
        self.calls += 1
        if self.calls % 5 == 0:
            raise RuntimeError("one request in five fails")
        return {"version": 2}
"""


class Stream:
    """One client sending requests back to back: (time, status, version)."""

    def __init__(self, server: Server) -> None:
        self.port = server.port
        self.answers: list[tuple[float, int, int | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Stream:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(30)

    def _run(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        while not self._stop.is_set():
            connection.request("POST", "/model/rb/production/predict", body=b"{}", headers=AUTH)
            response = connection.getresponse()
            body = response.read()
            version = json.loads(body).get("version") if response.status == 200 else None
            self.answers.append((time.monotonic(), response.status, version))


def test_a_candidate_that_errs_is_rolled_back(server: Server, make_truss: MakeTruss) -> None:
    directory = make_truss("rb", model=V1)
    server.json("push", directory, "--promote", "--wait")
    server.json(
        "deployments", "autoscaling", "deployment-1", "-m", "rb",
        "--min-replica", "2", "--max-replica", "2",
    )  # fmt: skip
    server.json(
        "environments", "update", "production", "-m", "rb",
        "--rolling-deploy", "--max-surge-percent", "50", "--stabilization-time-seconds", "30",
        "--automatic-rollback", "--rollback-max-error-rate", "5",
        "--rollback-min-requests", "50",
    )  # fmt: skip
    wait_until(lambda: server.deployment(_id(server, "deployment-1")).active_replica_count == 2)
    (Path(directory) / "model" / "model.py").write_text(FLAKY_V2)
    with Stream(server) as stream:
        time.sleep(0.5)
        server.json("push", directory, "--promote", "--no-wait")
        promotion = wait_until(lambda: _ended(server), 60, "the promotion to end")
        failed_at = time.monotonic()
        time.sleep(1.5)
    assert promotion["status"] == "FAILED"
    message = promotion["error_message"]
    assert message.startswith("automatic rollback: "), message
    assert "requests to the candidate failed" in message and "> 5%" in message
    assert promotion["percent_traffic_to_new_version"] == 0
    # Every failure came from the candidate before the rollback; afterwards all is v1.
    failures = [a for a in stream.answers if a[1] != 200]
    assert failures and all(status == 500 for _, status, _ in failures)
    assert all(at <= failed_at for at, _, _ in failures)
    after = [version for at, status, version in stream.answers if at > failed_at + 0.5]
    assert after and set(after) == {1}
    assert sum(version == 2 for _, _, version in stream.answers) > 0


def _id(server: Server, name: str) -> str:
    return str(server.json("deployments", "show", name, "-m", "rb")["id"])


def _ended(server: Server) -> dict[str, object] | None:
    promotion = server.json("environments", "show", "production", "-m", "rb")[
        "in_progress_promotion"
    ]
    ended = promotion and promotion["status"] in ("SUCCEEDED", "FAILED", "CANCELED")
    return promotion if ended else None  # type: ignore[no-any-return]

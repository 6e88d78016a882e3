"""A state file holding settings no write would store (written by hand, or by an older
brace) never stops the server: it starts, serves the other deployments, and says which
one it cannot run and why."""

from __future__ import annotations

import http.client
import json
import os
import sqlite3
from pathlib import Path

from tests.conftest import MakeTruss
from tests.integration.conftest import (
    AUTH,
    KEY,
    free_port,
    run_brace,
    start_server,
    stop_server,
    wait_until,
)

HUGE = "1" + "0" * 4000  # 10^4000: valid JSON, a valid Python int, and nothing else

HOSTILE_AUTOSCALING = {
    "huge": f'{{"min_replica": {HUGE}, "max_replica": {HUGE}}}',
    "1e30": '{"min_replica": 0, "max_replica": 1000000000000000000000000000000}',
    "infinity": '{"max_replica": Infinity}',
    "1e400": '{"max_replica": 1e400}',
    "nan": '{"concurrency_target": NaN}',
    "string": '{"max_replica": "many"}',
    "not-json": "{",
    "list": "[1, 2]",
}
HOSTILE_PROMOTION = {
    "nan-ratio": '{"rolling_deploy": true, "rolling_deploy_config": {"max_surge_percent": 10},'
    ' "promotion_cleanup_strategy": "SCALE_TO_ZERO",'
    ' "automatic_rollback": {"max_p99_latency_ratio": NaN}}',
    "infinite-ratio": '{"automatic_rollback": {"max_p99_latency_ratio": Infinity}}',
}


def _get(port: int, path: str) -> tuple[int, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=AUTH)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_server_starts_on_a_store_of_hostile_values_and_serves_the_others(
    tmp_path: Path, make_truss: MakeTruss
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "BRACE_HOME": str(home), "BRACE_AUTOSTART": "0", "BRACE_API_KEY": KEY}

    def push(name: str) -> dict[str, str]:
        done = run_brace(env, "push", make_truss(name), "--publish", "-o", "json")
        assert done.returncode == 0, done.stderr
        answer = json.loads(done.stdout)
        return {"model": answer["model"]["id"], "deployment": answer["deployment"]["id"]}

    good = push("good")
    hostile = {case: push(f"bad-{case}") for case in [*HOSTILE_AUTOSCALING, *HOSTILE_PROMOTION]}
    with sqlite3.connect(home / "brace.db") as db:
        for case, text in HOSTILE_AUTOSCALING.items():
            ids = hostile[case]
            db.execute(
                "UPDATE deployments SET autoscaling = ? WHERE id = ?", (text, ids["deployment"])
            )
            db.execute(
                "UPDATE environments SET autoscaling = ? WHERE model_id = ?", (text, ids["model"])
            )
        for case, text in HOSTILE_PROMOTION.items():
            db.execute(
                "UPDATE environments SET promotion_settings = ? WHERE model_id = ?",
                (text, hostile[case]["model"]),
            )
    db.close()

    port = free_port()
    process = start_server(home, port)
    try:
        assert _predict(port, good) == (200, {"echo": {"n": 1}})

        for case in HOSTILE_AUTOSCALING:
            ids = hostile[case]
            status, answer = _get(
                port, f"/v1/models/{ids['model']}/deployments/{ids['deployment']}"
            )
            assert status == 200, (case, answer)
            wait_until(
                lambda ids=ids: (
                    _get(port, f"/v1/models/{ids['model']}/deployments/{ids['deployment']}")[1][
                        "status"
                    ]  # type: ignore[index]
                    == "DEPLOY_FAILED"
                ),
                30,
                f"{case} to be reported DEPLOY_FAILED",
            )
            log = (home / "logs" / f"{ids['deployment']}.log").read_text()
            assert "cannot run: the stored autoscaling settings cannot be used" in log, case
        server_log = (tmp_path / f"server-{port}.log").read_text()
        assert f"deployment {hostile['huge']['deployment']} " in server_log
        assert "min_replica must be 0 to 1000, got a number of about 4001 digits" in server_log
        assert HUGE not in server_log

        for case, ids in hostile.items():  # every environment still answers, as JSON
            status, answer = _get(port, f"/v1/models/{ids['model']}/environments")
            assert status == 200, (case, answer)
            done = run_brace(
                {**env, "BRACE_PORT": str(port)},
                "environments",
                "list",
                "-m",
                f"bad-{case}",
                "-o",
                "json",
            )
            assert done.returncode == 0, (case, done.stderr)
            assert "NaN" not in done.stdout and "Infinity" not in done.stdout
            json.loads(done.stdout)

        # The environment whose settings cannot be used takes no promotion until they
        # are set again; a PATCH of the deployment's autoscaling repairs it.
        ids = hostile["nan-ratio"]
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.request(
            "POST",
            f"/v1/models/{ids['model']}/environments/production/promote",
            body=json.dumps({"deployment_id": ids["deployment"]}),
            headers=AUTH,
        )
        response = connection.getresponse()
        refusal = json.loads(response.read())
        connection.close()
        assert (response.status, refusal["error_code"]) == (409, "SETTINGS_UNUSABLE"), refusal
        assert (
            "the stored promotion settings cannot be used: NaN is not a finite number"
            in refusal["error"]
        )
        ids = hostile["huge"]
        done = run_brace(
            {**env, "BRACE_PORT": str(port)},
            "deployments",
            "autoscaling",
            ids["deployment"],
            "-m",
            "bad-huge",
            "--min-replica",
            "1",
            "--max-replica",
            "1",
        )
        assert done.returncode == 0, done.stderr
        wait_until(
            lambda: (
                _get(port, f"/v1/models/{ids['model']}/deployments/{ids['deployment']}")[1][
                    "status"  # type: ignore[index]
                ]
                == "ACTIVE"
            ),
            30,
            "the repaired deployment to run again",
        )
        assert _predict(port, ids) == (200, {"echo": {"n": 1}})
    finally:
        stop_server(process, _replica_pids(home))


def _predict(port: int, ids: dict[str, str]) -> tuple[int, object]:
    """Once the server routes to the deployment (its first tick): the answer."""

    def answer() -> tuple[int, object] | None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            path = f"/model/{ids['model']}/deployment/{ids['deployment']}/predict"
            connection.request("POST", path, body=b'{"n": 1}', headers=AUTH)
            response = connection.getresponse()
            found = (response.status, json.loads(response.read()))
        finally:
            connection.close()
        return None if found[0] == 404 else found

    return wait_until(answer, 30, "the deployment to be routed")  # type: ignore[no-any-return]


def _replica_pids(home: Path) -> list[int]:
    with sqlite3.connect(home / "brace.db") as db:
        pids = [row[0] for row in db.execute("SELECT pid FROM replicas")]
    db.close()
    return pids

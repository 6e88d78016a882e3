"""Usage with a real server: requests and replica-seconds reach the store while it
runs, survive a restart, stay listed once the deployment is deleted, and the console's
Usage page shows what `brace usage -o json` says."""

from __future__ import annotations

import http.client
import re
from pathlib import Path
from typing import Any

from tests.integration.conftest import KEY, Server, start_server, stop_server, wait_until
from tests.integration.test_rollout import write_model


def rows_of(server: Server, deployment_id: str) -> list[dict[str, Any]]:
    shown = server.json("usage", "--days", "1")
    return [row for row in shown["usage"] if row["deployment_id"] == deployment_id]


def console_usage_page(server: Server) -> str:
    """Sign in with the key over HTTP and fetch the Usage page."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        origin = f"http://127.0.0.1:{server.port}"
        connection.request(
            "POST",
            "/console/signin",
            body=f"key={KEY}&next=/console/usage",
            headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": origin},
        )
        answer = connection.getresponse()
        answer.read()
        assert answer.status == 303
        cookie = answer.getheader("set-cookie", "").split(";", 1)[0]
        connection.request("GET", "/console/usage?days=1", headers={"Cookie": cookie})
        page = connection.getresponse()
        assert page.status == 200
        return page.read().decode()
    finally:
        connection.close()


def test_usage_is_kept_across_a_restart_and_after_deletion(server: Server, tmp_path: Path) -> None:
    directory = write_model(tmp_path / "metered", 1)
    pushed = server.json("push", directory, "--promote", "--wait")
    model, first = pushed["model"]["name"], pushed["deployment"]["id"]
    for _ in range(5):
        assert server.post(f"/model/{model}/production/predict", {}).status == 200

    [row] = wait_until(
        lambda: (rows := rows_of(server, first)) and rows[0]["requests"] == 5 and rows,
        30,
        "brace usage to count the 5 requests",
    )
    assert row["replica_seconds"] > 0 and row["resources"] == "cpu=1 memory=2Gi"
    assert not row["deleted"]
    page = console_usage_page(server)
    assert first in page
    assert re.search(r"<b>5</b> requests", page), page

    stop_server(server.process, server.replica_pids())
    [stopped] = rows_of(server, first)
    assert stopped["requests"] == 5 and stopped["replica_seconds"] >= row["replica_seconds"]
    server.process = start_server(server.home, server.port)

    # A second deployment takes production; the first one is deleted: still listed.
    write_model(directory, 2)
    server.json("push", directory, "--promote", "--wait")
    assert server.brace("delete", first, "-m", model, "--yes").returncode == 0
    [kept] = rows_of(server, first)
    assert kept["deleted"] and kept["requests"] == 5
    assert kept["replica_seconds"] >= stopped["replica_seconds"]

"""Inference never waits for the state file: another process holding SQLite's write lock
delays the server's bookkeeping, not a predict."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time

from tests.conftest import MakeTruss
from tests.integration.conftest import AUTH, Server

HOLD_SECONDS = 5.0

HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
connection.execute("COMMIT")
"""


def test_predicts_answer_while_another_process_holds_the_write_lock(
    server: Server, make_truss: MakeTruss
) -> None:
    served = server.json("push", make_truss("hello"), "--wait")["model"]["id"]
    other = server.json("push", make_truss("other"), "--wait")["deployment"]["id"]
    [other_replica] = [r for r in _replicas(server) if r[0] == other]
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(server.home / "brace.db"), str(HOLD_SECONDS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "locked\n"
        # The server now has something to write (a replica to forget, a status to set),
        # and must wait for the lock to do it.
        os.killpg(other_replica[1], signal.SIGKILL)
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        latencies = []
        while holder.poll() is None:
            started = time.monotonic()
            connection.request(
                "POST", f"/model/{served}/development/predict", body=b'{"n": 1}', headers=AUTH
            )
            response = connection.getresponse()
            body = response.read()
            latencies.append(time.monotonic() - started)
            assert (response.status, json.loads(body)) == (200, {"echo": {"n": 1}})
        connection.close()
    finally:
        holder.kill()
        holder.wait()
    assert len(latencies) > 50
    assert max(latencies) < 0.1, sorted(latencies)[-5:]
    # Once the lock is free, the server catches up: the killed replica is replaced.
    server.wait_status(other, "ACTIVE")


def _replicas(server: Server) -> list[tuple[str, int]]:
    from brace.store import Store

    with Store(server.home) as store, store.read() as tx:
        return [(r.deployment_id, r.pid) for r in tx.replicas()]

"""A replica's launch and its store row."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from brace.config import load_truss
from brace.server.backends.base import Remote
from brace.server.backends.supervisor import ENVIRONMENT_VARIABLE
from brace.server.control.launch import replica_launch, replica_record
from brace.server.control.replicas import ReplicaState
from brace.server.control.runs import Runnable
from tests.conftest import MakeTruss
from tests.server.control.replicas_for_tests import deployment, replica


def test_replica_launch(home: Path, make_truss: MakeTruss) -> None:
    truss_dir = make_truss(
        "hello", config="model_name: hello\nenvironment_variables:\n  GREETING: hi\n"
    )
    runnable = Runnable("/venv/bin/python", load_truss(truss_dir))
    socket, log_file = home / "r.sock", home / "d.log"
    launch = replica_launch(home, socket, log_file, runnable, "production")
    assert (launch.python, launch.truss_dir, launch.socket, launch.log_file) == (
        "/venv/bin/python",
        truss_dir,
        socket,
        log_file,
    )
    assert launch.env["GREETING"] == "hi"
    assert json.loads(launch.env[ENVIRONMENT_VARIABLE]) == {"name": "production"}
    outside = replica_launch(home, socket, log_file, runnable, None)
    assert json.loads(outside.env[ENVIRONMENT_VARIABLE]) is None


def test_replica_record() -> None:
    started = replica("r1", ReplicaState.STARTING, revision=3)
    record = replica_record(started, "2026-01-01T00:00:00.000000Z", 4000, 12.5)
    assert (record.id, record.deployment_id, record.revision, record.socket) == (
        "r1",
        "d",
        3,
        "/tmp/r1.sock",
    )
    assert (record.pid, record.process_started, record.started_at) == (
        4000,
        12.5,
        "2026-01-01T00:00:00.000000Z",
    )


def test_a_published_revision_may_run_on_another_node(home: Path, make_truss: MakeTruss) -> None:
    truss_dir = make_truss(
        "hello",
        config=(
            "model_name: hello\nrequirements:\n  - pyyaml\nsecrets:\n  token: null\n"
            "resources:\n  cpu: 500m\n  memory: 1Gi\n"
        ),
    )
    runnable = Runnable("/venv/bin/python", load_truss(truss_dir))
    published = replace(deployment(id="d7"), snapshot="0123abcd")
    launch = replica_launch(home, home / "r.sock", home / "d.log", runnable, None, published)
    assert launch.remote == Remote(
        deployment_id="d7",
        snapshot="0123abcd",
        requirements=("pyyaml",),
        request={"CPU": 0.5, "memory": float(2**30)},
        secrets=("token",),
    )
    development = replace(published, snapshot=None, is_development=True)
    here = replica_launch(home, home / "r.sock", home / "d.log", runnable, None, development)
    assert here.remote is None  # live reload patches files on this machine

"""Many real `brace` processes changing one home at once: nothing lost, nothing torn.

Every process is started before any is waited for, so their transactions really
overlap; SQLite's write lock (BEGIN IMMEDIATE) and busy timeout must queue them.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from brace.store import Store
from brace.store.db import DB_FILE
from tests.cli.conftest import become_active, deployment, deployment_names, model_id, ok
from tests.conftest import Cli

PARALLEL = 20


@dataclass(frozen=True)
class Finished:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


def run_at_once(home: Path, commands: Sequence[Sequence[str | Path]]) -> list[Finished]:
    """Start `python -m brace ARGS` for every command, then wait for all of them."""
    env = {**os.environ, "BRACE_HOME": str(home)}
    processes: list[tuple[list[str], subprocess.Popen[str]]] = []
    try:
        for command in commands:
            args = [str(arg) for arg in command]
            process = subprocess.Popen(
                [sys.executable, "-m", "brace", *args],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            processes.append((args, process))
        finished = []
        for args, process in processes:
            stdout, stderr = process.communicate(timeout=120)
            finished.append(Finished(args, process.returncode, stdout, stderr))
        return finished
    finally:
        for _, process in processes:
            if process.poll() is None:
                process.kill()
            process.wait()


def assert_all_ok(finished: list[Finished]) -> None:
    failures = [f for f in finished if f.returncode != 0]
    assert failures == []


def assert_intact(home: Path) -> None:
    with sqlite3.connect(home / DB_FILE) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []


def test_parallel_publishes_into_a_fresh_home(hello: Path, home: Path) -> None:
    finished = run_at_once(home, [["push", hello, "--publish", "-o", "json"]] * PARALLEL)
    assert_all_ok(finished)
    bodies = [f.json()["deployment"] for f in finished]
    assert len({b["id"] for b in bodies}) == PARALLEL
    expected = {f"deployment-{n}" for n in range(1, PARALLEL + 1)}
    assert {b["name"] for b in bodies} == expected
    assert len({f.json()["model"]["id"] for f in finished}) == 1

    assert_intact(home)
    with Store(home) as store:
        names = deployment_names(store)
        assert sorted(names) == sorted(expected)
        ids = {deployment(store, name).id for name in names}
    assert ids == {b["id"] for b in bodies}


def test_parallel_environment_creation(cli: Cli, hello: Path, home: Path) -> None:
    ok(cli("push", hello))
    names = [f"env-{n}" for n in range(1, PARALLEL + 1)]
    finished = run_at_once(home, [["environments", "create", name, "-o", "json"] for name in names])
    assert_all_ok(finished)
    assert sorted(f.json()["name"] for f in finished) == sorted(names)

    assert_intact(home)
    listed = cli("environments", "list", "-o", "json").json()["environments"]
    assert sorted(e["name"] for e in listed) == sorted(["production", *names])


def test_parallel_autoscaling_updates_and_publishes(cli: Cli, hello: Path, home: Path) -> None:
    half = PARALLEL // 2
    for _ in range(half):
        ok(cli("push", hello, "--publish"))
    updates: list[list[str | Path]] = [
        [
            "deployments",
            "autoscaling",
            f"deployment-{n}",
            "--max-replica",
            str(n + 1),
            "--scale-down-delay",
            str(n),
            "-o",
            "json",
        ]
        for n in range(1, half + 1)
    ]
    publishes: list[list[str | Path]] = [["push", hello, "--publish", "-o", "json"]] * half
    mixed = [command for pair in zip(updates, publishes, strict=True) for command in pair]
    finished = run_at_once(home, mixed)
    assert_all_ok(finished)
    assert [f.json()["status"] for f in finished if f.args[0] == "deployments"] == [
        "ACCEPTED"
    ] * half

    assert_intact(home)
    with Store(home) as store:
        names = deployment_names(store)
        assert sorted(names) == sorted(f"deployment-{n}" for n in range(1, PARALLEL + 1))
        for n in range(1, half + 1):
            settings = deployment(store, f"deployment-{n}").autoscaling
            assert (settings.max_replica, settings.scale_down_delay) == (n + 1, n)
        for n in range(half + 1, PARALLEL + 1):
            settings = deployment(store, f"deployment-{n}").autoscaling
            assert (settings.max_replica, settings.scale_down_delay) == (1, 900)
        assert model_id(store)


@pytest.mark.parametrize("rolling", [True, False], ids=["rolling", "waiting"])
def test_parallel_promotions_of_one_environment_leave_one_winner(
    cli: Cli, hello: Path, home: Path, store: Store, rolling: bool
) -> None:
    """Racing promotions (rolling, or non-rolling ones waiting for their DEPLOYING
    candidate): exactly one starts, the others are refused (exit 5)."""
    ok(cli("push", hello, "--promote"))
    become_active(store, "deployment-1")
    for _ in range(PARALLEL):
        ok(cli("push", hello, "--publish"))
    if rolling:
        ok(cli("environments", "update", "production", "--rolling-deploy"))
    finished = run_at_once(
        home, [["promote", f"deployment-{n}", "-o", "json"] for n in range(2, PARALLEL + 2)]
    )
    codes = sorted(f.returncode for f in finished)
    assert codes == [0] + [5] * (PARALLEL - 1)
    refused = [f for f in finished if f.returncode == 5]
    assert all(
        f.json()["error"].startswith("a promotion to production is already") for f in refused
    )
    winner = next(f for f in finished if f.returncode == 0).json()

    assert_intact(home)
    status = cli("rollout", "status", "-o", "json").json()
    assert status["candidate_deployment"]["id"] == winner["id"]
    assert status["current_deployment"]["id"] == deployment(store, "deployment-1").id
    assert status["in_progress_promotion"]["status"] == "RELEASING"
    assert status["in_progress_promotion"]["rolling_deploy"] is rolling
    with store.read() as tx:
        assert len(tx.active_promotions()) == 1

"""`brace up`, `status`, `down` as a user runs them: background server, then stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from functools import partial
from pathlib import Path

import psutil

from tests.conftest import MakeTruss
from tests.integration.conftest import alive, free_port, run_brace, start_server, wait_until


def running(brace: Callable[..., subprocess.CompletedProcess[str]]) -> bool:
    """What `brace status -o json` says (it exits 0 whether a server runs or not)."""
    status = brace("status", "-o", "json")
    assert status.returncode == 0, status.stderr
    return bool(json.loads(status.stdout)["running"])


def test_up_status_down(tmp_path: Path, make_truss: MakeTruss) -> None:
    env = {**os.environ, "BRACE_HOME": str(tmp_path / "home"), "BRACE_PORT": str(free_port())}
    brace = partial(run_brace, env)

    assert not running(brace)
    try:
        up = brace("up", "-o", "json")
        assert up.returncode == 0, up.stderr
        started = json.loads(up.stdout)
        assert started["started"] is True and started["url"].endswith(env["BRACE_PORT"])
        again = json.loads(brace("up", "-o", "json").stdout)
        assert again == {**started, "started": False}
        pushed = brace("push", make_truss("hello"), "--wait", "-o", "json")
        assert pushed.returncode == 0, pushed.stderr
        status = json.loads(brace("status", "-o", "json").stdout)
        assert status["running"] is True and status["replicas"] == 1
        assert status["backend"] == "local"  # one node: this machine, with the replica
        [node] = status["nodes"]
        assert (node["address"], node["alive"], len(node["replicas"])) == ("local", True, 1)
        predicted = brace("predict", "--development", "-d", '{"n": 1}')
        assert json.loads(predicted.stdout) == {"echo": {"n": 1}}
    finally:
        down = brace("down", "-o", "json")
    assert down.returncode == 0, down.stderr
    stopped = json.loads(down.stdout)
    assert stopped["stopped"] is True
    wait_until(lambda: not alive(stopped["pid"]), 10, "the server to exit")
    assert not running(brace)
    assert json.loads(brace("down", "-o", "json").stdout)["stopped"] is False


def test_predict_starts_the_server_and_says_so(tmp_path: Path, make_truss: MakeTruss) -> None:
    env = {**os.environ, "BRACE_HOME": str(tmp_path / "home"), "BRACE_PORT": str(free_port())}
    brace = partial(run_brace, env)

    try:
        assert brace("push", make_truss("hello")).returncode == 0
        assert brace("down").returncode == 0
        predicted = brace("predict", "--development", "-d", '{"n": 2}')
        assert predicted.returncode == 0, predicted.stderr
        assert "Starting the brace server" in predicted.stderr
        assert json.loads(predicted.stdout) == {"echo": {"n": 2}}
    finally:
        brace("down")


def test_commands_that_create_something_to_run_start_the_server(
    tmp_path: Path, make_truss: MakeTruss
) -> None:
    """push, promote and activate record something only a server runs: with none
    running, they start one in the background and say so (deactivate does not)."""
    env = {**os.environ, "BRACE_HOME": str(tmp_path / "home"), "BRACE_PORT": str(free_port())}
    env.pop("BRACE_AUTOSTART", None)
    model = make_truss("hello")
    starting = "Starting the brace server at http://127.0.0.1:" + env["BRACE_PORT"]
    brace = partial(run_brace, env)

    def starts_the_server(*args: str | os.PathLike[str]) -> None:
        assert not running(brace)  # none runs
        done = brace(*args)
        assert done.returncode == 0, done.stderr
        assert starting in done.stderr
        assert running(brace)
        assert brace("down").returncode == 0

    try:
        starts_the_server("push", model)
        starts_the_server("push", model, "--publish")
        starts_the_server("promote", "deployment-1", "--wait")
        deactivated = brace("deactivate", "development")
        assert (deactivated.returncode, deactivated.stderr) == (0, "")
        assert not running(brace)  # deactivating needs no server
        starts_the_server("activate", "development")
        # With BRACE_AUTOSTART=0 they only record, and say nothing.
        env["BRACE_AUTOSTART"] = "0"
        quiet = brace("push", model, "--publish")
        assert (quiet.returncode, quiet.stderr) == (0, "")
        assert not running(brace)
    finally:
        brace("down")


def test_a_brace_folder_in_the_working_directory_does_not_shadow_brace(
    tmp_path: Path, make_truss: MakeTruss
) -> None:
    """The server and the replicas start with -P: a checkout named brace/ in the cwd
    (or in the model's directory) is not imported instead of the installed brace."""
    work = tmp_path / "work"
    (work / "brace").mkdir(parents=True)
    model = make_truss("hello")
    (model / "brace").mkdir()
    env = {**os.environ, "BRACE_HOME": str(tmp_path / "home"), "BRACE_PORT": str(free_port())}

    def brace(*args: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-P", "-m", "brace", *map(str, args)],
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=120,
        )

    try:
        assert brace("push", model, "--wait").returncode == 0
        predicted = brace("predict", "--development", "-d", '{"n": 3}')
        assert predicted.returncode == 0, predicted.stderr
        assert json.loads(predicted.stdout) == {"echo": {"n": 3}}
    finally:
        brace("down")


def test_a_killed_server_left_as_a_zombie_is_not_running(tmp_path: Path) -> None:
    """A server killed with SIGKILL stays a zombie while the process that started it
    runs on (a `push --wait` that is still waiting, an init that does not reap). Its
    record names a pid that still exists, with the right start time; it must be seen
    as stale: `up` starts a new server, `down` says none was running."""
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = {**os.environ, "BRACE_HOME": str(home), "BRACE_PORT": str(port)}
    brace = partial(run_brace, env)

    killed = start_server(home, port)  # a child of this test, which does not reap it yet
    try:
        killed.send_signal(signal.SIGKILL)
        wait_until(lambda: psutil.Process(killed.pid).status() == psutil.STATUS_ZOMBIE, 10)
        assert json.loads((home / "server.json").read_text())["pid"] == killed.pid

        assert json.loads(brace("down", "-o", "json").stdout) == {"stopped": False, "pid": None}
        up = brace("up", "-o", "json")
        assert up.returncode == 0, up.stderr
        started = json.loads(up.stdout)
        assert started["started"] is True and started["pid"] != killed.pid
        status = brace("status", "-o", "json")
        assert json.loads(status.stdout)["pid"] == started["pid"]
    finally:
        down = brace("down", "-o", "json")
        killed.wait()
    assert json.loads(down.stdout)["stopped"] is True
    wait_until(lambda: not alive(started["pid"]), 10, "the new server to exit")

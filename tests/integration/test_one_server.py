"""One home, one server: two servers started at the same moment never both run, and
commands that need the server at the same moment all use the one that started."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from brace.server.paths import ServerPaths
from brace.server.record import read_record
from brace.store import Store
from tests.conftest import MakeTruss
from tests.integration.conftest import KEY, free_port, stop_server, wait_until


def _server(home: Path, port: int) -> subprocess.Popen[str]:
    env = {**os.environ, "BRACE_API_KEY": KEY, "BRACE_HOME": str(home)}
    return subprocess.Popen(
        [sys.executable, "-m", "brace", "server", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        start_new_session=True,
    )


@pytest.mark.parametrize("trial", range(5))
def test_two_servers_started_at_once_one_runs_and_the_other_names_it(
    tmp_path: Path, trial: int
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    servers = [_server(home, free_port()), _server(home, free_port())]
    try:
        wait_until(lambda: any(s.poll() is not None for s in servers), 30, "one server to exit")
        [loser] = [s for s in servers if s.poll() is not None]
        [winner] = [s for s in servers if s is not loser]
        assert loser.returncode == 6
        assert loser.stdout is not None
        output = loser.stdout.read()
        assert f"already running (pid {winner.pid})" in output, output
        record = wait_until(lambda: read_record(ServerPaths(home)), 30, "the server's record")
        assert record.pid == winner.pid
        time.sleep(0.3)
        assert winner.poll() is None
    finally:
        for process in servers:
            stop_server(process)  # type: ignore[arg-type]
            if process.stdout is not None:
                process.stdout.close()


PUSHES = 20


def test_commands_that_need_the_server_at_once_all_use_the_one_that_started(
    tmp_path: Path, make_truss: MakeTruss
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    port = free_port()
    env = {
        **os.environ,
        "BRACE_HOME": str(home),
        "BRACE_PORT": str(port),
        "BRACE_API_KEY": KEY,
        "BRACE_AUTOSTART": "1",
    }
    trusses = [make_truss(f"m{index}") for index in range(PUSHES)]
    pushes = [
        subprocess.Popen(
            [sys.executable, "-m", "brace", "push", str(truss), "--publish", "-o", "json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for truss in trusses
    ]
    try:
        results = [(p.wait(timeout=120), *p.communicate()) for p in pushes]
        failed = [(code, err) for code, _, err in results if code != 0]
        assert not failed, failed[:3]
        ids = {json.loads(out)["deployment"]["id"] for _, out, _ in results}
        assert len(ids) == PUSHES
        with Store(home) as store, store.read() as tx:
            assert {d.id for d in tx.deployments() if not d.is_development} == ids
        record = read_record(ServerPaths(home))
        assert record is not None and record.port == port
    finally:
        for process in pushes:
            if process.poll() is None:
                process.kill()
            process.communicate()
        record = read_record(ServerPaths(home))
        if record is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(record.pid, signal.SIGTERM)
            wait_until(lambda: read_record(ServerPaths(home)) is None, 30, "the server to stop")
        with Store(home) as store, store.read() as tx:
            for replica in tx.replicas():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(replica.pid, signal.SIGKILL)


def test_a_lock_file_that_cannot_be_opened_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "server.lock").symlink_to(tmp_path / "elsewhere")
    done = subprocess.run(
        [sys.executable, "-m", "brace", "server", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env={**os.environ, "BRACE_HOME": str(home), "BRACE_API_KEY": KEY},
        timeout=60,
    )
    assert done.returncode == 6, done.stderr
    assert "server.lock: cannot open the lock file" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "elsewhere").exists()

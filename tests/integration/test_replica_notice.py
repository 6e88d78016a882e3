"""A real replica tells the server it is ready, and its end shows at once.

The replica is `python -m brace.runtime` on examples/hello, started by `Replicas` as the
server starts it; `on_notice` must fire when the model serves (the readiness probe then
answers 200) and again when the process is killed, and the notice pipe is closed once
the replica is reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import sys
from pathlib import Path

import uvloop

from brace.server.backends import supervisor
from brace.server.backends.base import Launch
from brace.server.control.replicas import Replicas

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "hello"


def open_pipes() -> set[str]:
    """This process's open pipes, as /proc names them (pipe:[inode])."""
    targets = set()
    for name in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the directory's own descriptor, gone by now
            targets.add(os.readlink(f"/proc/self/fd/{name}"))
    return {target for target in targets if target.startswith("pipe:")}


async def notices(tmp_path: Path) -> None:
    truss = tmp_path / "hello"
    shutil.copytree(EXAMPLE, truss)
    noticed = asyncio.Event()
    replicas = Replicas(on_notice=noticed.set)
    socket = tmp_path / "r1.sock"
    launch = Launch(
        sys.executable,
        truss,
        socket,
        tmp_path / "r1.log",
        supervisor.replica_environment(tmp_path / "home", {}),
    )
    before = open_pipes()
    try:
        replica = replicas.start("r1", "d1", 1, launch)
        assert replica.process.notices is not None
        assert len(open_pipes() - before) == 1
        await asyncio.wait_for(noticed.wait(), 30)
        noticed.clear()
        assert await supervisor.probe(str(socket)) == 200, (tmp_path / "r1.log").read_text()

        os.kill(replica.process.pid, signal.SIGKILL)
        await asyncio.wait_for(noticed.wait(), 5)
        for _ in range(500):
            exited = replicas.reap()
            if exited:
                break
            await asyncio.sleep(0.01)
        assert [(e.replica.id, e.code) for e in exited] == [("r1", -signal.SIGKILL)]
        assert open_pipes() <= before  # the notice pipe is closed
    finally:
        await replicas.stop_all()


def test_a_replica_says_it_is_ready_and_its_end_shows_at_once(tmp_path: Path) -> None:
    uvloop.run(notices(tmp_path))

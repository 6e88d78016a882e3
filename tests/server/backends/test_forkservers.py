"""Preloaded fork servers with real processes: a model's third-party imports are
imported before the fork, a preload that fails or starts a thread leaves the model to
start the ordinary way, each environment's fork server takes only its own replicas
with it, and idle ones end within the limit.

The "third-party" modules are small packages written to a directory on PYTHONPATH
(set for the base fork server and every launch alike): each records the pid of the
process that imported it, so a replica can tell whether it was imported before its
fork."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import venv
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import uvloop

from brace.runtime import virtualenvs as envs
from brace.server.backends import forkserver, forkservers, supervisor
from brace.server.backends.base import Launch
from brace.server.backends.forked import ForkedProcess
from brace.server.backends.forkservers import ForkServers
from brace.server.backends.local import OsProcess, spawn
from brace.server.control.replicas import Replica, Replicas
from tests.conftest import MakeTruss
from tests.server.backends.test_forkserver import predict, until

T = TypeVar("T")

PACKAGES = {
    # Imported by the model at top level: which process imported it?
    "heavymod/__init__.py": "import os\nIMPORTED_BY = os.getpid()\n",
    # Starts a thread when imported (a BLAS pool not held to one thread).
    "threadmod/__init__.py": (
        "import os, threading, time\n"
        "IMPORTED_BY = os.getpid()\n"
        "threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    ),
    # Starts its pool unless told one thread, as OpenBLAS does (its own variable first).
    "poolmod/__init__.py": (
        "import os, threading, time\n"
        "IMPORTED_BY = os.getpid()\n"
        "env = os.environ\n"
        "if env.get('OPENBLAS_NUM_THREADS', env.get('OMP_NUM_THREADS')) != '1':\n"
        "    threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()\n"
    ),
    # Crashes the interpreter unless imported in a model's directory.
    "crashmod/__init__.py": (
        "import os, signal\n"
        "if not os.path.exists('config.yaml'):\n"
        "    os.kill(os.getpid(), signal.SIGSEGV)\n"
        "IMPORTED_BY = os.getpid()\n"
    ),
    # Takes its time unless imported in a model's directory.
    "slowmod/__init__.py": (
        "import os, time\n"
        "if not os.path.exists('config.yaml'):\n"
        "    time.sleep(60)\n"
        "IMPORTED_BY = os.getpid()\n"
    ),
    # Imports only in a model's directory (it reads the config at import time).
    "dirmod/__init__.py": (
        "import os\n"
        "if not os.path.exists('config.yaml'):\n"
        "    raise ImportError('dirmod needs a config.yaml in the working directory')\n"
        "IMPORTED_BY = os.getpid()\n"
    ),
}


def model_importing(module: str) -> str:
    return f"""\
import os
import {module}


class Model:
    def __init__(self, **kwargs):
        pass

    def predict(self, request):
        return {{
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "imported_by": {module}.IMPORTED_BY,
        }}
"""


LIGHT = """\
import json
import os


class Model:
    def predict(self, request):
        return json.loads(json.dumps({"pid": os.getpid(), "ppid": os.getppid()}))
"""


class Rig:
    def __init__(self, tmp: Path, make_truss: MakeTruss, **options: Any) -> None:
        self.tmp = tmp
        self.make_truss = make_truss
        site = tmp / "site"
        for name, text in PACKAGES.items():
            (site / name).parent.mkdir(parents=True, exist_ok=True)
            (site / name).write_text(text)
        self.base_env = {
            **supervisor.replica_environment(tmp / "home", {}),
            "PYTHONPATH": str(site),
        }
        self.servers = ForkServers(
            sys.executable, self.base_env, tmp / "forkservers.log", **options
        )
        self.replicas = Replicas(spawn=lambda launch: spawn(launch, self.servers))
        self.count = 0

    def launch(self, truss: Path, **extra: str) -> Launch:
        self.count += 1
        name = f"r{self.count}"
        return Launch(
            sys.executable,
            truss,
            self.tmp / f"{name}.sock",
            self.tmp / f"{name}.log",
            {**self.base_env, **extra},
        )

    async def ready(self) -> None:
        self.servers.start()
        await until(lambda: self.servers.base.ready, 30, "the base fork server")

    async def serving(self, truss: Path, **extra: str) -> tuple[Replica, dict[str, Any]]:
        launch = self.launch(truss, **extra)
        replica = self.replicas.start(launch.socket.stem, "d1", 1, launch)
        answer = await predict(launch.socket)
        return replica, answer

    async def preloaded_ready(self) -> None:
        await until(
            lambda: all(s.ready or s.refused for s in self.servers.preloaded.values()),
            30,
            "the preloaded fork servers",
        )

    async def close(self) -> None:
        await self.replicas.stop_all()
        self.servers.close()
        await forkserver.ended()  # the loop does not wait: a worker thread does


def run(
    make_truss: MakeTruss, tmp: Path, scenario: Callable[[Rig], Awaitable[T]], **options: Any
) -> T:
    async def main() -> T:
        rig = Rig(tmp, make_truss, **options)
        try:
            return await scenario(rig)
        finally:
            await rig.close()

    return uvloop.run(main())


def test_a_models_third_party_imports_are_imported_before_its_fork(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    truss = make_truss("heavy", model=model_importing("heavymod"))

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        _, answer = await rig.serving(truss)  # the ordinary way, meanwhile
        assert answer["imported_by"] == answer["pid"]
        await rig.preloaded_ready()
        [server] = rig.servers.preloaded.values()
        assert server.preload == ("heavymod",) and server.ready
        replica, answer = await rig.serving(truss)
        assert isinstance(replica.process.process, ForkedProcess)
        assert answer["ppid"] == server.pid  # forked by the preloaded fork server
        assert answer["imported_by"] == server.pid != answer["pid"]  # before the fork

    run(make_truss, tmp_path, scenario)


def test_a_model_whose_preload_import_fails_still_starts(
    make_truss: MakeTruss, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert not Path("config.yaml").exists()  # dirmod fails where the fork servers run
    truss = make_truss("dir", model=model_importing("dirmod"))

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        await rig.serving(truss)
        await rig.preloaded_ready()
        [server] = rig.servers.preloaded.values()
        assert server.refused is not None and "dirmod" in server.refused
        assert server.pid is None  # it ended
        replica, answer = await rig.serving(truss)  # from the base fork server
        assert isinstance(replica.process.process, ForkedProcess)
        assert answer["ppid"] == rig.servers.base.pid
        assert answer["imported_by"] == answer["pid"]

    run(make_truss, tmp_path, scenario)
    assert "dirmod needs a config.yaml" in caplog.text


def test_an_import_that_kills_the_fork_server_is_not_tried_again(
    make_truss: MakeTruss, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forkserver, "RESTART_DELAY", 0.05)
    truss = make_truss("crash", model=model_importing("crashmod"))

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        await rig.serving(truss)
        await rig.preloaded_ready()
        [server] = rig.servers.preloaded.values()
        assert server.refused == "it ended while importing crashmod"
        await asyncio.sleep(0.3)
        assert server.pid is None and not server.ready  # not started again
        _, answer = await rig.serving(truss)
        assert answer["ppid"] == rig.servers.base.pid
        assert answer["imported_by"] == answer["pid"]

    run(make_truss, tmp_path, scenario)


def test_an_import_that_hangs_is_refused_after_the_timeout(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    now = [0.0]
    truss = make_truss("slow", model=model_importing("slowmod"))

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        await rig.serving(truss)
        [server] = rig.servers.preloaded.values()
        now[0] += forkservers.PRELOAD_TIMEOUT - 1
        rig.servers.sweep()
        assert server.refused is None and server.pid is not None  # still importing
        now[0] += 1
        rig.servers.sweep()
        assert server.refused is not None and "longer than" in server.refused
        assert server.pid is None
        _, answer = await rig.serving(truss)
        assert answer["ppid"] == rig.servers.base.pid

    run(make_truss, tmp_path, scenario, clock=lambda: now[0])


def test_an_import_that_starts_a_thread_is_not_preloaded(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    truss = make_truss("threads", model=model_importing("threadmod"))

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        await rig.serving(truss)
        await rig.preloaded_ready()
        [server] = rig.servers.preloaded.values()
        assert server.refused is not None and "started 1 thread" in server.refused
        _, answer = await rig.serving(truss)
        assert answer["ppid"] == rig.servers.base.pid
        assert answer["imported_by"] == answer["pid"]

    run(make_truss, tmp_path, scenario)


def test_thread_pools_are_held_to_one_thread_unless_the_model_sets_them(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    truss = make_truss("pool", model=model_importing("poolmod"))

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        await rig.serving(truss)
        await rig.serving(truss, OMP_NUM_THREADS="2")  # another key: its own environment
        await rig.preloaded_ready()
        by_threads = {
            dict(key[2]).get("OMP_NUM_THREADS"): s for key, s in rig.servers.preloaded.items()
        }
        assert by_threads[None].ready and by_threads[None].refused is None
        assert by_threads["2"].refused is not None
        _, answer = await rig.serving(truss)
        assert answer["imported_by"] == by_threads[None].pid == answer["ppid"]
        assert "OMP_NUM_THREADS" not in json.dumps(answer)

    run(make_truss, tmp_path, scenario)


def test_killing_one_environments_fork_server_spares_the_replicas_of_others(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    heavy = make_truss("heavy", model=model_importing("heavymod"))
    light = make_truss("light", model=LIGHT)

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        await rig.serving(heavy)
        await rig.preloaded_ready()
        [server] = rig.servers.preloaded.values()
        forked, answer = await rig.serving(heavy)
        assert answer["ppid"] == server.pid
        other, answer = await rig.serving(light)
        assert answer["ppid"] == rig.servers.base.pid
        pid = server.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        await until(lambda: forked.process.poll() is not None, 10, "the forked replica's end")
        await asyncio.sleep(0.2)
        assert other.process.poll() is None
        assert (await predict(other.socket))["pid"] == other.process.pid
        # And the other way round: the base one's death spares the preloaded ones'.
        await until(lambda: server.ready, 30, "the preloaded fork server to come back")
        forked, answer = await rig.serving(heavy)
        assert answer["ppid"] == server.pid != pid
        base_pid = rig.servers.base.pid
        assert base_pid is not None
        os.kill(base_pid, signal.SIGKILL)
        await until(lambda: other.process.poll() is not None, 10, "the base replica's end")
        await asyncio.sleep(0.2)
        assert forked.process.poll() is None
        assert (await predict(forked.socket))["pid"] == forked.process.pid

    run(make_truss, tmp_path, scenario)


def test_idle_preloaded_fork_servers_end_and_their_number_is_bounded(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    now = [0.0]
    heavy = make_truss("heavy", model=model_importing("heavymod"))
    pool = make_truss("pool", model=model_importing("poolmod"))

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        await rig.serving(heavy)
        await rig.preloaded_ready()
        [first] = rig.servers.preloaded.values()
        await rig.serving(heavy)
        # At the limit (1) with the first one busy: no second one, the ordinary way.
        _, answer = await rig.serving(pool)
        assert list(rig.servers.preloaded.values()) == [first]
        assert answer["ppid"] == rig.servers.base.pid
        now[0] += 10_000
        rig.servers.sweep()
        assert first.pid is not None  # busy: not idle however long
        await rig.replicas.stop_all()
        rig.replicas.reap()
        await until(lambda: first.children == 0, 10, "the replica's end to be reported")
        now[0] += 50
        rig.servers.sweep()
        assert first.pid is not None  # idle for 50 s of 100
        # A new key at the limit ends the idle one.
        await rig.serving(pool)
        await rig.preloaded_ready()
        [second] = rig.servers.preloaded.values()
        assert second is not first and second.preload == ("poolmod",)
        assert first.pid is None
        now[0] += 100
        rig.servers.sweep()
        assert not rig.servers.preloaded and second.pid is None

    run(make_truss, tmp_path, scenario, clock=lambda: now[0], limit=1, idle_timeout=100)


def test_a_new_interpreter_when_the_model_has_its_own_python(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    """A Python no fork server runs yet (a requirements virtualenv) starts as a new
    interpreter the first time, and gets a preloaded fork server of its own."""
    truss = make_truss("heavy", model=model_importing("heavymod"))
    env = tmp_path / "env"  # as brace.runtime.virtualenvs builds one, without requirements
    venv.EnvBuilder(symlinks=True).create(env)
    (envs._site_packages(env) / envs.LAYER).write_text(envs.brace_layer())
    python = envs.environment_python(env)

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        launch = rig.launch(truss)
        launch = Launch(str(python), launch.truss_dir, launch.socket, launch.log_file, launch.env)
        replica = rig.replicas.start("v1", "d1", 1, launch)
        assert isinstance(replica.process.process, OsProcess)
        await predict(launch.socket)
        await rig.preloaded_ready()
        [server] = rig.servers.preloaded.values()
        assert server.python == str(python) and server.ready
        launch = Launch(str(python), truss, tmp_path / "v2.sock", launch.log_file, launch.env)
        replica = rig.replicas.start("v2", "d1", 1, launch)
        answer = await predict(launch.socket)
        assert answer["ppid"] == server.pid == answer["imported_by"]

    run(make_truss, tmp_path, scenario)

"""The fork server with real processes: a forked replica is the replica `python -m
brace.runtime` would have started (same session rules, stdin, log, directory,
environment, arguments, readiness notice), its end is reported with its status, and a
fork server that dies takes its replicas with it and comes back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import psutil
import pytest
import uvloop

from brace.processes import replica_arguments
from brace.server.backends import forkserver, supervisor
from brace.server.backends.base import Launch
from brace.server.backends.forked import ForkedProcess
from brace.server.backends.forkserver import ForkServer
from brace.server.backends.local import OsProcess, spawn
from brace.server.control.replicas import Replicas
from tests.conftest import MakeTruss

T = TypeVar("T")

REPORTER = """\
import os, sys


class Model:
    def __init__(self, **kwargs):
        pass

    def load(self):
        if os.environ.get("FAIL_LOAD"):
            raise RuntimeError("load failed on purpose")

    def predict(self, request):
        fds = {}
        for name in os.listdir("/proc/self/fd"):
            try:
                fds[name] = os.readlink(f"/proc/self/fd/{name}")
            except OSError:
                pass
        return {
            "pid": os.getpid(),
            "ppid": os.getppid(),
            "pgid": os.getpgid(0),
            "sid": os.getsid(0),
            "cwd": os.getcwd(),
            "env": dict(os.environ),
            "argv": sys.argv,
            "fds": fds,
        }
"""


class Rig:
    def __init__(self, tmp: Path, make_truss: MakeTruss) -> None:
        self.tmp = tmp
        self.truss = make_truss("reporter", model=REPORTER)
        self.home = tmp / "home"
        self.exits = 0
        self.fork_server = ForkServer(
            sys.executable,
            supervisor.replica_environment(self.home, {}),
            tmp / "forkserver.log",
            self.exited,
        )
        self.noticed = asyncio.Event()
        self.replicas = Replicas(
            spawn=lambda launch: spawn(launch, self.fork_server),
            on_notice=self.noticed.set,
        )

    def exited(self) -> None:
        self.exits += 1

    def launch(self, name: str, **extra: str) -> Launch:
        return Launch(
            sys.executable,
            self.truss,
            self.tmp / f"{name}.sock",
            self.tmp / f"{name}.log",
            supervisor.replica_environment(self.home, extra),
        )

    async def ready(self) -> None:
        self.fork_server.start()
        await until(lambda: self.fork_server.ready, 30, "the fork server to be ready")

    async def serving(self, name: str, **extra: str) -> tuple[Any, dict[str, Any]]:
        launch = self.launch(name, **extra)
        replica = self.replicas.start(name, "d1", 1, launch)
        await until(
            lambda: replica.process.poll() is not None or os.path.exists(launch.socket),
            30,
            "the replica to listen",
        )
        answer = await predict(launch.socket)
        return replica, answer

    async def close(self) -> None:
        await self.replicas.stop_all()
        self.fork_server.close()
        await forkserver.ended()  # the loop does not wait: a worker thread does


async def until(condition: Callable[[], object], timeout: float, what: str) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.01)


async def predict(path: Path) -> dict[str, Any]:
    for _ in range(3000):
        status, body = await _post(path)
        if status == 200:
            return json.loads(body)  # type: ignore[no-any-return]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no predict answered on {path}")


async def _post(path: Path) -> tuple[int, bytes]:
    try:
        reader, writer = await asyncio.open_unix_connection(str(path))
    except OSError:
        return 0, b""
    try:
        writer.write(
            b"POST /v1/models/model:predict HTTP/1.1\r\nHost: r\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
        )
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split()[1]) if head else 0
    if b"chunked" in head.lower():
        body = _unchunk(body)
    return status, body


def _unchunk(body: bytes) -> bytes:
    out = b""
    while body:
        size_line, _, rest = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            break
        out += rest[:size]
        body = rest[size + 2 :]
    return out


def run(make_truss: MakeTruss, tmp: Path, scenario: Callable[[Rig], Awaitable[T]]) -> T:
    async def main() -> T:
        rig = Rig(tmp, make_truss)
        try:
            return await scenario(rig)
        finally:
            await rig.close()

    return uvloop.run(main())


def test_a_forked_replica_is_the_replica_a_new_interpreter_would_be(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.ready()
        replica, answer = await rig.serving("r1", MODEL_SETTING="forked")
        assert isinstance(replica.process.process, ForkedProcess)
        assert answer["pid"] == replica.process.pid
        forkserver_pid = answer["ppid"]
        assert forkserver_pid != os.getpid()
        with open(f"/proc/{forkserver_pid}/cmdline", "rb") as cmdline:
            assert b"brace.runtime.forkserver" in cmdline.read()
        assert answer["pgid"] == answer["sid"] == answer["pid"]  # its own session
        assert answer["cwd"] == str(rig.truss)
        expected = rig.launch("r1", MODEL_SETTING="forked").env
        env = answer["env"]
        assert env == dict(expected)  # exactly what it was given, no more
        assert env["MODEL_SETTING"] == "forked"
        assert answer["argv"][0].endswith(os.path.join("brace", "runtime", "__main__.py"))
        assert answer["argv"][1:] == supervisor.runtime_arguments(rig.truss, rig.tmp / "r1.sock")
        with open(f"/proc/{answer['pid']}/cmdline") as cmdline:  # what ps shows
            shown = cmdline.read().split("\0")
        assert replica_arguments(shown) == answer["argv"][1:]
        fds = answer["fds"]
        assert fds["0"] == "/dev/null"
        assert fds["1"] == fds["2"] == str(rig.tmp / "r1.log")
        forkserver_pid_fds = os.listdir(f"/proc/{forkserver_pid}/fd")
        theirs = {os.readlink(f"/proc/{forkserver_pid}/fd/{n}") for n in forkserver_pid_fds}
        shared = {t for n, t in fds.items() if t in theirs and int(n) > 2}
        # Every epoll descriptor reads the same (the replica's event loop has one: the
        # fork server's selector would be a second), and so does /dev/null.
        assert shared <= {"anon_inode:[eventpoll]", "/dev/null"}, fds
        assert sum(t == "anon_inode:[eventpoll]" for t in fds.values()) == 1, fds
        assert "Serving" in (rig.tmp / "r1.log").read_text()

    run(make_truss, tmp_path, scenario)


def test_its_end_is_reported_with_its_status(make_truss: MakeTruss, tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.ready()
        replica, _ = await rig.serving("r1")
        os.kill(replica.process.pid, signal.SIGKILL)
        await until(lambda: replica.process.poll() is not None, 10, "the exit to be reported")
        assert replica.process.poll() == -signal.SIGKILL
        assert rig.exits == 1
        assert [(e.replica.id, e.code) for e in rig.replicas.reap()] == [("r1", -9)]

        failing = rig.replicas.start("r2", "d1", 1, rig.launch("r2", FAIL_LOAD="1"))
        assert isinstance(failing.process.process, ForkedProcess)
        await until(lambda: failing.process.poll() is not None, 30, "the failed load's exit")
        assert failing.process.poll() == 1  # as `python -m brace.runtime` exits
        assert "load failed on purpose" in (rig.tmp / "r2.log").read_text()

    run(make_truss, tmp_path, scenario)


def test_a_stopped_replica_ends_and_the_ready_notice_comes_through(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.ready()
        rig.noticed.clear()
        replica, _ = await rig.serving("r1")
        await asyncio.wait_for(rig.noticed.wait(), 10)  # READY=1 through the fork
        await asyncio.to_thread(replica.process.stop)
        await until(lambda: replica.process.poll() is not None, 10, "the stop")
        assert replica.process.poll() == 0  # TERM: a clean exit

    run(make_truss, tmp_path, scenario)


@pytest.mark.parametrize("variable", ["PYTHONPATH", "PYTHONHASHSEED"])
def test_interpreter_variables_of_its_own_mean_a_new_interpreter(
    make_truss: MakeTruss, tmp_path: Path, variable: str
) -> None:
    async def scenario(rig: Rig) -> None:
        await rig.ready()
        replica, answer = await rig.serving("r1", **{variable: "0"})
        assert isinstance(replica.process.process, OsProcess)
        assert answer["env"][variable] == "0"

    run(make_truss, tmp_path, scenario)


def test_before_the_fork_server_is_ready_replicas_start_as_new_interpreters(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    async def scenario(rig: Rig) -> None:
        rig.fork_server.start()
        replica, _ = await rig.serving("r1")  # it is still importing
        assert isinstance(replica.process.process, OsProcess)
        await until(lambda: rig.fork_server.ready, 30, "the fork server to be ready")
        replica, _ = await rig.serving("r2")
        assert isinstance(replica.process.process, ForkedProcess)

    run(make_truss, tmp_path, scenario)


def test_a_dead_fork_server_takes_its_replicas_and_comes_back(
    make_truss: MakeTruss, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(forkserver, "RESTART_DELAY", 0.05)

    async def scenario(rig: Rig) -> None:
        await rig.ready()
        replica, answer = await rig.serving("r1")
        os.kill(answer["ppid"], signal.SIGKILL)
        await until(lambda: replica.process.poll() is not None, 10, "the replica's end")
        assert replica.process.poll() == -signal.SIGKILL
        await until(
            lambda: not supervisor.is_same_process(replica.process.pid, replica.process.started),
            10,
            "the replica process to be gone",
        )
        assert rig.exits >= 1
        rig.replicas.reap()
        replica, _ = await rig.serving("r2")  # a new interpreter until it is back
        assert isinstance(replica.process.process, OsProcess)
        await until(lambda: rig.fork_server.ready, 30, "the fork server to be back")
        replica, answer = await rig.serving("r3")
        assert isinstance(replica.process.process, ForkedProcess)

    run(make_truss, tmp_path, scenario)


def test_closing_it_leaves_no_process(make_truss: MakeTruss, tmp_path: Path) -> None:
    async def scenario(rig: Rig) -> int:
        await rig.ready()
        _, answer = await rig.serving("r1")
        await rig.close()
        return int(answer["ppid"])

    forkserver_pid = run(make_truss, tmp_path, scenario)
    assert not os.path.exists(f"/proc/{forkserver_pid}") or _zombie_or_gone(forkserver_pid)


def _zombie_or_gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_a_fork_server_whose_server_went_away_ends_quietly(tmp_path: Path) -> None:
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    with theirs:
        process = subprocess.Popen(
            [sys.executable, "-P", "-m", "brace.runtime.forkserver"],
            stdin=theirs.fileno(),
            stderr=subprocess.PIPE,
            env=supervisor.replica_environment(tmp_path / "home", {}),
        )
    ours.close()  # before it could say it is ready
    try:
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0
    assert b"Traceback" not in stderr, stderr.decode()


def test_a_fork_server_that_cannot_start_leaves_replicas_to_new_interpreters(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    async def scenario(rig: Rig) -> None:
        rig.fork_server.python = str(tmp_path / "no-such-python")
        rig.fork_server.start()  # logged, not raised
        assert not rig.fork_server.ready
        replica, answer = await rig.serving("r1")
        assert isinstance(replica.process.process, OsProcess)
        assert answer["pid"] == replica.process.pid

    run(make_truss, tmp_path, scenario)


def test_a_stopped_fork_server_holds_up_nothing_and_kills_nothing(
    make_truss: MakeTruss, tmp_path: Path
) -> None:
    """`kill -STOP` of the fork server, then a launch: the launch returns at once (the
    loop is never held), goes to a new interpreter after `reply_timeout`, the forked
    replica keeps serving, and once the fork server runs again the replica it forks for
    the launch given up on is killed and launches are forked again."""

    async def scenario(rig: Rig) -> None:
        rig.fork_server.reply_timeout = 0.2
        await rig.ready()
        first, answer = await rig.serving("r1")
        fork_server = answer["ppid"]
        os.kill(fork_server, signal.SIGSTOP)
        try:
            began = time.monotonic()
            second = rig.replicas.start("r2", "d1", 1, rig.launch("r2"))
            assert time.monotonic() - began < 0.05  # no wait for the fork's reply
            assert isinstance(second.process.process, ForkedProcess)  # asked, not answered
            await until(lambda: isinstance(second.process.process, OsProcess), 5, "the fallback")
            third = rig.replicas.start("r3", "d1", 1, rig.launch("r3"))  # not asked again
            assert isinstance(third.process.process, OsProcess)
            assert (await predict(rig.tmp / "r1.sock"))["pid"] == first.process.pid
        finally:
            os.kill(fork_server, signal.SIGCONT)
        assert (await predict(rig.tmp / "r2.sock"))["pid"] == second.process.pid
        await until(lambda: rig.fork_server.serves(rig.launch("r4")), 10, "it to speak again")
        fourth, answer = await rig.serving("r4")
        assert isinstance(fourth.process.process, ForkedProcess)
        assert first.process.poll() is None  # never killed
        forked = {c.pid for c in psutil.Process(fork_server).children()}
        assert forked == {first.process.pid, fourth.process.pid}  # the unwanted one is gone
        assert (await predict(rig.tmp / "r2.sock"))["pid"] == second.process.pid

    run(make_truss, tmp_path, scenario)


async def loop_lag(stop: asyncio.Event, period: float = 0.005) -> float:
    """The longest the loop was late to wake a sleeper (seconds) until `stop` is set."""
    loop = asyncio.get_running_loop()
    longest = 0.0
    while not stop.is_set():
        began = loop.time()
        await asyncio.sleep(period)
        longest = max(longest, loop.time() - began - period)
    return longest


def test_a_stopped_fork_server_never_holds_the_loop(make_truss: MakeTruss, tmp_path: Path) -> None:
    """`kill -STOP` of the fork server, then a launch and the fork server's end: neither
    waits on the event loop (before, the launch waited `REPLY_TIMEOUT` for the reply,
    and the end up to 2 s for the exit). The loop's longest lateness stays far below
    both; the replica still starts (a new interpreter), the fork server still ends."""

    async def scenario(rig: Rig) -> tuple[float, float, float]:
        rig.fork_server.reply_timeout = 0.25
        await rig.ready()
        fork_server = rig.fork_server.pid
        assert fork_server is not None
        stop = asyncio.Event()
        lag = asyncio.ensure_future(loop_lag(stop))
        os.kill(fork_server, signal.SIGSTOP)
        try:
            began = time.monotonic()
            replica = rig.replicas.start("r1", "d1", 1, rig.launch("r1"))
            launching = time.monotonic() - began
            await until(lambda: isinstance(replica.process.process, OsProcess), 5, "fallback")
            began = time.monotonic()
            rig.fork_server.close()
            ending = time.monotonic() - began
            await asyncio.sleep(0.3)
            stop.set()
            longest = await lag
        finally:
            os.kill(fork_server, signal.SIGCONT)
        await forkserver.ended()
        assert not psutil.pid_exists(fork_server) or _zombie_or_gone(fork_server)
        assert (await predict(rig.tmp / "r1.sock"))["pid"] == replica.process.pid
        return launching, ending, longest

    launching, ending, longest = run(make_truss, tmp_path, scenario)
    print(
        f"launch {launching * 1000:.1f} ms, end {ending * 1000:.1f} ms, "
        f"loop lag {longest * 1000:.1f} ms"
    )
    assert launching < 0.1
    assert ending < 0.1
    assert longest < 0.2

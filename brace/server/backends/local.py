"""The `local` backend: replicas as processes on this machine.

A replica is forked by a fork server (`forkservers.ForkServers`) when one can serve its
launch, else started as a new interpreter (`supervisor.spawn_replica`). Either way it
gets the write end of a pipe on which it says it is ready and which closes when it ends
(`brace.runtime.notify`); the read end is the handle's `notices`. A fork's launch never
waits on the event loop: the handle holds a `ForkedProcess` whose pid comes with the
fork server's reply, and if no reply comes in time the same handle starts the replica
as a new interpreter instead (`forkserver`). Its address is the launch's Unix socket,
or `127.0.0.1:port` for a launch with a TCP port.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from typing import Protocol

from brace.polling import poll
from brace.server.backends import supervisor
from brace.server.backends.base import STOP_GRACE, Address, Launch, ReplicaHandle
from brace.server.backends.forked import ForkedProcess
from brace.server.backends.forkserver import REPLY_TIMEOUT


class OsProcess:
    """A replica started as a new interpreter (`supervisor.spawn_replica`)."""

    def __init__(self, popen: subprocess.Popen[bytes]) -> None:
        self._popen = popen
        self.pid = popen.pid
        self.started = supervisor.process_started(popen.pid)
        self.notices: int | None = None

    def poll(self) -> int | None:
        return self._popen.poll()

    def stop(self, grace: float = STOP_GRACE) -> None:
        supervisor.stop_process_group(self.pid, self.started, grace)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self._popen.wait(timeout=1)

    def kill(self) -> None:
        supervisor.kill_group(self.pid, signal.SIGKILL)


class Forker(Protocol):
    """What forks replicas (`forkserver.ForkServer`, `forkservers.ForkServers`)."""

    def spawn(self, launch: Launch, ready_fd: int | None) -> ForkedProcess | None:
        """A forked replica for `launch` (its pid may come later), or None when it
        cannot fork one now."""
        ...

    def start(self) -> None: ...

    def close(self) -> None: ...


class LocalHandle:
    """A local replica (the `base.ReplicaHandle` protocol): a forked process, or a new
    interpreter (from the start, or once the fork server did not answer in time)."""

    def __init__(self, launch: Launch, notices: int, ready: int) -> None:
        self.launch = launch
        self.address: Address = launch.address
        self.node: str | None = None
        self.notices: int | None = notices
        self._ready: int | None = ready
        """The pipe's write end, kept until a process has its copy."""
        self.process: OsProcess | ForkedProcess | None = None

    @property
    def pid(self) -> int:
        return 0 if self.process is None else self.process.pid

    @property
    def started(self) -> float:
        return 0.0 if self.process is None else self.process.started

    def poll(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self, grace: float = STOP_GRACE) -> None:
        # A fork whose reply is still to come: wait for it (or its fallback) first.
        poll(lambda: (not self._forking()) or None, REPLY_TIMEOUT + 1.0, interval=0.01)
        if self.process is not None:
            self.process.stop(grace)

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()

    def interpreter(self) -> None:
        """Start the replica as a new interpreter (on the loop: a fork and an exec)."""
        launch = self.launch
        try:
            self.process = OsProcess(
                supervisor.spawn_replica(
                    launch.python,
                    launch.truss_dir,
                    launch.socket,
                    launch.log_file,
                    launch.env,
                    self._ready,
                    launch.port,
                )
            )
        finally:
            self.release()

    def release(self) -> None:
        """Close the server's copy of the pipe's write end (a process has its own)."""
        ready, self._ready = self._ready, None
        if ready is not None:
            os.close(ready)

    def _forking(self) -> bool:
        return isinstance(self.process, ForkedProcess) and self.process.pending


def spawn(launch: Launch, forker: Forker | None = None) -> LocalHandle:
    """Start a replica: forked by `forker` when it can, else a new interpreter."""
    notices, ready = os.pipe()
    handle = LocalHandle(launch, notices, ready)
    try:
        forked = forker.spawn(launch, ready) if forker is not None else None
        if forked is None:
            handle.interpreter()
        else:
            handle.process = forked
            forked.settled = handle.release
            forked.fallback = handle.interpreter
    except BaseException:
        handle.release()
        os.close(notices)
        raise
    return handle


class LocalBackend:
    """Replicas on this machine (the `base.Backend` protocol), forked by `forker` when
    it can (None: always new interpreters)."""

    def __init__(self, forker: Forker | None = None) -> None:
        self.forker = forker

    def start(self) -> None:
        if self.forker is not None:
            self.forker.start()

    def launch(self, launch: Launch) -> ReplicaHandle:
        return spawn(launch, self.forker)

    def close(self) -> None:
        if self.forker is not None:
            self.forker.close()

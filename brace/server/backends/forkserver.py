"""The server's end of the fork server (`brace.runtime.forkserver`): replicas in a few
milliseconds instead of an interpreter start and its imports.

`ForkServer.start` launches the fork server in the background; until it says it is
ready, and whenever it cannot serve a launch, `spawn` returns None and the caller
starts the replica as a new interpreter (`replicas.spawn_os_process`), which is also
the way for a replica of another Python (a model with its own requirements) and for
an environment whose `PYTHON*` variables differ from the fork server's (they act when
an interpreter starts), unless a fork server of that Python preloads the model's
imports (`preload`; `forkservers.ForkServers` keeps those). A forked replica is a
`ForkedProcess`: the fork server is its parent and reports its exit status here. If
the fork server dies its replicas die with it (they are told to: PR_SET_PDEATHSIG) and
are reported ended (-SIGKILL), and a new fork server starts after `RESTART_DELAY`.

A fork server that is alive but silent (stopped with `kill -STOP`, or starved of CPU)
is not lost: after `REPLY_TIMEOUT` without a reply the launch goes to a new interpreter,
the fork server is asked for nothing more until it sends a message again, and a replica
it forks for a launch given up on is killed at once. Its replicas keep serving: one
stuck process never takes the others down.

Everything here runs on the server's event loop, bar `ForkedProcess.stop` (a worker
thread, as `Replicas.stop` calls it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import select
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brace.deathsig import die_with_parent
from brace.logs import open_for_append
from brace.server.backends import supervisor

if TYPE_CHECKING:
    from brace.server.control.replicas import Launch

log = logging.getLogger("brace.server")

MESSAGE_LIMIT = 1 << 20
"""The largest message either side sends, in bytes (brace.runtime.forkserver)."""
REPLY_TIMEOUT = 0.25
"""Seconds to wait for the fork server to say it forked (it takes milliseconds), on
the event loop, before the launch goes to a new interpreter and the fork server is left
alone until it speaks again."""
RESTART_DELAY = 1.0
"""Seconds before a lost fork server is started again; doubled (up to a minute) each
time one is lost before it was ready."""


class ForkedProcess:
    """A replica forked by the fork server (the `replicas.Process` protocol)."""

    def __init__(self, pid: int, started: float) -> None:
        self.pid = pid
        self.started = started
        self.notices: int | None = None
        self.code: int | None = None
        """Its exit status once the fork server reported it (negative: the signal)."""

    def poll(self) -> int | None:
        return self.code

    def stop(self, grace: float = supervisor.STOP_GRACE) -> None:
        supervisor.stop_process_group(self.pid, self.started, grace)


class ForkServer:
    """The fork server of one Python interpreter, and the replicas it forked."""

    def __init__(
        self,
        python: str,
        env: Mapping[str, str],
        log_file: Path,
        on_exit: Callable[[], None] = lambda: None,
        reply_timeout: float = REPLY_TIMEOUT,
        preload: tuple[str, ...] = (),
    ) -> None:
        """`env`: the fork server's environment (a replica's, without a model's
        variables); `log_file`: where its own output goes; `on_exit`: called when a
        forked replica ended; `reply_timeout`: seconds a launch waits for the fork;
        `preload`: modules it imports besides brace's (`brace.runtime.preload`)."""
        self.python = python
        self.env = dict(env)
        self.log_file = log_file
        self.on_exit = on_exit
        self.preload = preload
        self.loaded: frozenset[str] = frozenset()
        """The top-level names in its sys.modules once it is ready."""
        self.refused: str | None = None
        """Why it refused to serve (a preload failed or started a thread): it ended and
        does not start again."""
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = False
        self._children: dict[int, ForkedProcess] = {}
        self._early: dict[int, int] = {}
        """Exit statuses reported before the fork's own reply was read."""
        self._unready_losses = 0
        self._restart: asyncio.TimerHandle | None = None
        self.reply_timeout = reply_timeout
        self._silent = False
        """It did not answer a launch in time and has not spoken since."""
        self._owed = 0
        """Replies to launches given up on, still to come."""
        self._unwanted: set[int] = set()
        """Replicas forked for launches given up on (killed; their exits ignored)."""

    @property
    def ready(self) -> bool:
        return self._ready

    @property
    def pid(self) -> int | None:
        """The fork server's own pid while it runs."""
        return None if self._process is None else self._process.pid

    @property
    def children(self) -> int:
        """The replicas it forked that have not ended yet."""
        return len(self._children)

    def start(self) -> None:
        """Launch the fork server (it imports for a moment, then says it is ready)."""
        if self._process is not None or self.refused is not None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            fd = open_for_append(self.log_file)
            try:
                self._process = subprocess.Popen(
                    [self.python, "-P", "-m", "brace.runtime.forkserver", *self.preload],
                    stdin=theirs.fileno(),
                    stdout=fd,
                    stderr=subprocess.STDOUT,
                    env=self.env,
                    start_new_session=True,
                    preexec_fn=die_with_parent,
                    close_fds=True,
                )
            finally:
                os.close(fd)
        except OSError as error:
            log.warning("cannot start the fork server (%s): replicas start as new processes", error)
            ours.close()
            return
        finally:
            theirs.close()
        ours.setblocking(False)
        self._control = ours
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(ours, self._on_readable)

    def serves(self, launch: Launch) -> bool:
        """Whether a launch can be forked: same Python, same PYTHON* variables."""
        return (
            self._ready
            and not self._silent
            and launch.python == self.python
            and _interpreter_variables(launch.env) == _interpreter_variables(self.env)
        )

    def spawn(self, launch: Launch, ready_fd: int | None) -> ForkedProcess | None:
        """Fork a replica for `launch` (its readiness pipe's write end: `ready_fd`, which
        stays the caller's to close); None when the fork server cannot."""
        control = self._control
        if control is None or not self.serves(launch):
            return None
        request = {
            "argv": supervisor.runtime_arguments(launch.truss_dir, launch.socket),
            "cwd": str(launch.truss_dir),
            "env": dict(launch.env),
        }
        launch.socket.unlink(missing_ok=True)
        fd = open_for_append(launch.log_file)
        try:
            fds = [fd] if ready_fd is None else [fd, ready_fd]
            socket.send_fds(control, [json.dumps(request).encode()], fds)
            reply = self._wait_reply(control)
        except OSError as error:
            log.warning("the fork server cannot start a replica (%s); starting it anew", error)
            self._lost()
            return None
        finally:
            os.close(fd)
        if reply is _SILENT:
            log.warning(
                "the fork server did not answer within %g s: replicas start as new "
                "processes until it answers again",
                self.reply_timeout,
            )
            self._silent = True
            self._owed += 1
            return None
        if reply is None or "started" not in reply:
            log.warning("the fork server did not start a replica: %s", reply)
            if reply is None:
                self._lost()
            return None
        pid = int(reply["started"])
        started = 0.0  # gone already: nothing to stop
        with contextlib.suppress(Exception):
            started = supervisor.process_started(pid)
        process = ForkedProcess(pid, started)
        process.code = self._early.pop(pid, None)
        if process.code is None:
            self._children[pid] = process
        return process

    def close(self) -> None:
        """Stop the fork server (its replicas die with it: stop them first)."""
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None
        self._end(signal.SIGTERM)

    # internals

    def _wait_reply(self, control: socket.socket) -> dict[str, Any] | None:
        """Read messages until the fork's reply (exit reports on the way, and replies
        to launches given up on, are handled); None when the fork server is gone,
        `_SILENT` when it did not answer in time."""
        deadline = time.monotonic() + self.reply_timeout
        while (left := deadline - time.monotonic()) > 0:
            readable, _, _ = select.select([control], [], [], left)
            if not readable:
                continue
            message = self._receive(control)
            if message is None:
                return None
            if ("started" in message or "error" in message) and not self._owed:
                return message
            self._handle(message)
        return _SILENT

    def _receive(self, control: socket.socket) -> dict[str, Any] | None:
        """One message; None when the fork server is gone."""
        try:
            data = control.recv(MESSAGE_LIMIT)
        except BlockingIOError:
            return {}
        except OSError:
            return None
        return json.loads(data) if data else None

    def _on_readable(self) -> None:
        control = self._control
        if control is None:
            return
        message = self._receive(control)
        if message is None:
            log.warning("the fork server ended; replicas start as new processes until it is back")
            self._lost()
            self.on_exit()
        else:
            self._handle(message)

    def _handle(self, message: dict[str, Any]) -> None:
        if message:
            self._silent = False  # it speaks again
        if ("started" in message or "error" in message) and self._owed:
            # The reply to a launch given up on: that replica runs as a new
            # interpreter already, so this one goes.
            self._owed -= 1
            if "started" in message:
                pid = int(message["started"])
                self._unwanted.add(pid)
                supervisor.kill_group(pid, signal.SIGKILL)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)  # before its setsid, if it comes to that
            return
        if message.get("ready"):
            self._ready = True
            self._unready_losses = 0
            self.loaded = frozenset(message.get("loaded", ()))
        elif "refused" in message:
            self.refused = str(message["refused"])
            log.warning(
                "the fork server preloading %s refused (%s); those replicas start the ordinary way",
                ", ".join(self.preload),
                self.refused,
            )
            self._end(signal.SIGTERM)
        elif "exited" in message:
            pid, code = int(message["exited"]), int(message["code"])
            if pid in self._unwanted:
                self._unwanted.discard(pid)
                return
            child = self._children.pop(pid, None)
            if child is None:
                self._early[pid] = code
            else:
                child.code = code
                self.on_exit()

    def _lost(self) -> None:
        """The fork server is gone or useless: its replicas are dead (or about to be);
        a new one starts after a delay, unless it died while preloading (an import that
        crashes the interpreter would crash every new one too: refused)."""
        if self.preload and not self._ready and self.refused is None:
            self.refused = f"it ended while importing {', '.join(self.preload)}"
            log.warning("the fork server preloading %s %s", ", ".join(self.preload), self.refused)
        if not self._ready:
            self._unready_losses += 1
        if self.refused is not None:
            self._end(signal.SIGKILL)
            return
        delay = min(60.0, RESTART_DELAY * 2 ** min(self._unready_losses, 6))
        if self._loop is not None and self._restart is None:
            self._restart = self._loop.call_later(delay, self._start_again)
        self._end(signal.SIGKILL)
        for child in self._children.values():
            if supervisor.is_same_process(child.pid, child.started):
                supervisor.kill_group(child.pid, signal.SIGKILL)
            child.code = -signal.SIGKILL
        self._children.clear()
        self._early.clear()
        self._unwanted.clear()
        self._owed = 0
        self._silent = False

    def _end(self, sig: signal.Signals) -> None:
        """Close the socket and end the fork server: `sig`, then KILL after 2 s."""
        process, self._process = self._process, None
        self._shut()
        if process is not None:
            supervisor.kill_group(process.pid, sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=2)
            if process.poll() is None:
                supervisor.kill_group(process.pid, signal.SIGKILL)
                process.wait()

    def _start_again(self) -> None:
        self._restart = None
        self.start()

    def _shut(self) -> None:
        control, self._control = self._control, None
        self._ready = False
        if control is not None:
            if self._loop is not None:
                self._loop.remove_reader(control)
            control.close()


_SILENT: dict[str, Any] = {}
"""`_wait_reply`'s answer when the fork server said nothing in time."""


def _interpreter_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}

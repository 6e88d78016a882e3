"""The server's end of the fork server (`brace.runtime.forkserver`): replicas in a few
milliseconds instead of an interpreter start and its imports.

`ForkServer.start` launches the fork server in the background; until it says it is
ready, and whenever it cannot serve a launch, `spawn` returns None and the caller
starts the replica as a new interpreter (`local.spawn`), which is also
the way for a replica of another Python (a model with its own requirements) and for
an environment whose `PYTHON*` variables differ from the fork server's (they act when
an interpreter starts), unless a fork server of that Python preloads the model's
imports (`preload`; `forkservers.ForkServers` keeps those). A forked replica is a
`ForkedProcess`: the fork server is its parent and reports its exit status here. If
the fork server dies its replicas die with it (they are told to: PR_SET_PDEATHSIG) and
are reported ended (-SIGKILL), and a new fork server starts after `RESTART_DELAY`.

A launch never waits on the event loop: `spawn` sends the request and returns a
`ForkedProcess` at once, its pid still unknown; the fork server's reply is read by the
loop's reader callback (`_on_readable`), which gives the process its pid. A fork server
that is alive but silent (stopped with `kill -STOP`, or starved of CPU) is not lost:
after `REPLY_TIMEOUT` without a reply the launch is given up (its `fallback` starts the
replica as a new interpreter), the fork server is asked for nothing more until it sends
a message again, and a replica it forks for a launch given up on is killed at once.
Ending a fork server (`close`, a refusal, a loss) signals it and leaves the wait for its
exit (KILL after `END_GRACE`) to a worker thread. Its replicas keep serving: one stuck
process never takes the others down.

Everything here runs on the server's event loop, bar `ForkedProcess.stop` (a worker
thread, as `Replicas.stop` calls it) and the wait for an ending fork server's exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import threading
from collections import deque
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from brace.deathsig import die_with_parent
from brace.logs import open_for_append
from brace.runtime.forkserver import MESSAGE_LIMIT
from brace.server.backends import supervisor
from brace.server.backends.forked import ForkedProcess

if TYPE_CHECKING:
    from brace.server.backends.base import Launch

log = logging.getLogger("brace.server")

REPLY_TIMEOUT = 0.25
"""Seconds a launch waits (not on the event loop: a timer) for the fork server to say
it forked (it takes milliseconds), before the launch goes to a new interpreter and the
fork server is left alone until it speaks again."""
END_GRACE = 2.0
"""Seconds an ending fork server has after TERM before it is killed (a worker thread waits)."""
RESTART_DELAY = 1.0
"""Seconds before a lost fork server is started again; doubled (up to a minute) each
time one is lost before it was ready."""


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
        self._pending: deque[tuple[ForkedProcess, asyncio.TimerHandle | None]] = deque()
        """Launches sent and not answered yet, in order (it answers in order), each
        with its reply timer."""
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
        """Ask for a replica for `launch` (its readiness pipe's write end: `ready_fd`,
        which stays the caller's to close once the process `settled` or fell back);
        None when the fork server cannot take it now. Returns at once: the process has
        its pid once the reply is read; without one in `reply_timeout` seconds its
        `fallback` runs."""
        control = self._control
        if control is None or self._loop is None or not self.serves(launch):
            return None
        request = {
            "argv": supervisor.runtime_arguments(launch.truss_dir, launch.socket, launch.port),
            "cwd": str(launch.truss_dir),
            "env": dict(launch.env),
        }
        launch.socket.unlink(missing_ok=True)
        fd = open_for_append(launch.log_file)
        try:
            fds = [fd] if ready_fd is None else [fd, ready_fd]
            socket.send_fds(control, [json.dumps(request).encode()], fds)
        except BlockingIOError:
            return None  # its queue is full: it is not reading (stopped, or swamped)
        except OSError as error:
            log.warning("the fork server cannot start a replica (%s); starting it anew", error)
            self._lost()
            return None
        finally:
            os.close(fd)
        process = ForkedProcess()
        timer = self._loop.call_later(self.reply_timeout, self._reply_late, process)
        self._pending.append((process, timer))
        return process

    def close(self) -> None:
        """Stop the fork server (its replicas die with it: stop them first)."""
        if self._restart is not None:
            self._restart.cancel()
            self._restart = None
        self._end(signal.SIGTERM)

    # internals

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
        if "started" in message or "error" in message:
            self._replied(message)
        elif message.get("ready"):
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

    def _replied(self, message: dict[str, Any]) -> None:
        """The reply to the oldest launch under way."""
        if not self._pending:
            return
        process, timer = self._pending.popleft()
        if timer is not None:
            timer.cancel()
        if "started" not in message:
            if not process.given_up:
                log.warning("the fork server did not start a replica: %s", message)
                self._give_up(process)
            return
        pid = int(message["started"])
        if process.given_up or process.abandoned:
            # That replica runs as a new interpreter already, or was stopped: this goes.
            self._unwanted.add(pid)
            supervisor.kill_group(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # before its setsid, if it comes to that
            if process.abandoned and not process.given_up:
                process.code = -signal.SIGKILL
                self.on_exit()
            return
        with contextlib.suppress(Exception):  # gone already: nothing to stop
            process.started = supervisor.process_started(pid)
        process.pid = pid
        process.code = self._early.pop(pid, None)
        if process.code is None:
            self._children[pid] = process
        process.settled()

    def _reply_late(self, process: ForkedProcess) -> None:
        """No reply in time: the launch goes elsewhere, the fork server is left alone."""
        if not process.pending:
            return
        log.warning(
            "the fork server did not answer within %g s: replicas start as new "
            "processes until it answers again",
            self.reply_timeout,
        )
        self._silent = True
        self._give_up(process)

    def _give_up(self, process: ForkedProcess) -> None:
        process.given_up = True
        if process.abandoned:
            process.code = -signal.SIGKILL  # stopped before it ran: nothing to start
            self.on_exit()
        else:
            process.fallback()

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
        self._silent = False

    def _end(self, sig: signal.Signals) -> None:
        """Close the socket and end the fork server: `sig` now, then (in a worker
        thread: the loop never waits on it) KILL after `END_GRACE` seconds."""
        process, self._process = self._process, None
        self._shut()
        if process is not None:
            supervisor.kill_group(process.pid, sig)
            ending = threading.Thread(
                target=_finish, args=(process,), name="brace-fork-server-end", daemon=True
            )
            _ENDING.add(ending)
            ending.start()

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
        pending, self._pending = self._pending, deque()
        for process, timer in pending:  # no reply will come
            if timer is not None:
                timer.cancel()
            if not process.given_up:
                self._give_up(process)


_ENDING: set[threading.Thread] = set()
"""The worker threads waiting for ending fork servers."""


async def ended() -> None:
    """Wait (without holding the loop) until every fork server ended so far is gone."""
    for thread in list(_ENDING):
        await asyncio.to_thread(thread.join)


def _finish(process: subprocess.Popen[bytes]) -> None:
    """Wait for an ending fork server (a worker thread): KILL after `END_GRACE` seconds."""
    try:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=END_GRACE)
        if process.poll() is None:
            supervisor.kill_group(process.pid, signal.SIGKILL)
            process.wait()
    finally:
        _ENDING.discard(threading.current_thread())


def _interpreter_variables(env: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in env.items() if k.startswith("PYTHON")}

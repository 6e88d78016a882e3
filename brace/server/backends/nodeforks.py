"""The agent's fork server: replicas on a node that start without paying for imports.

A node's agent (`agent`) starts replicas of models without requirements of their own
by asking one `python -P -m brace.runtime.forkserver` (started once, on the agent's
spawner thread, so it dies with the agent) to fork them, as the server's own fork
server does on its machine (`backends.forkserver` is its asyncio client; this one is
the agent's, on threads). Same messages: a fork request with the replica's output
and notice pipes (SCM_RIGHTS), `{"started": PID}` or `{"error": ...}` in order, and
`{"exited": PID, "code": CODE}` when a child ends. If the fork server cannot start or
dies, the agent starts replicas as new interpreters instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import socket
import subprocess
import sys
import threading
from collections.abc import Mapping
from typing import Any

from brace.deathsig import die_with_parent
from brace.processes import RUNTIME_MODULE
from brace.runtime.forkserver import MESSAGE_LIMIT

READY_TIMEOUT = 30.0
"""Seconds the fork server has to import brace, uvicorn and Starlette."""
REPLY_TIMEOUT = 5.0
FORK_SERVER_VARIABLES = ("PATH", "HOME", "LANG", "TMPDIR", "VIRTUAL_ENV")
"""The agent's variables the fork server keeps (its children get their own env)."""


class ForkServerGone(Exception):
    """The fork server did not start, or ended."""


class NodeForkServer:
    """A client of one fork server; `fork` blocks until it answers (a worker thread)."""

    def __init__(self, python: str = sys.executable) -> None:
        """Start the fork server (raises ForkServerGone if it is not ready in time)."""
        self.control, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {
            k: v
            for k, v in os.environ.items()
            if k in FORK_SERVER_VARIABLES or k.startswith(("LC_", "PYTHON"))
        }
        try:
            self.process = subprocess.Popen(
                [python, "-P", "-m", f"{RUNTIME_MODULE}.forkserver"],
                stdin=theirs.fileno(),
                stdout=subprocess.DEVNULL,
                env=env,
                preexec_fn=die_with_parent if sys.platform == "linux" else None,
            )
        finally:
            theirs.close()
        self.control.settimeout(READY_TIMEOUT)
        try:
            ready = json.loads(self.control.recv(MESSAGE_LIMIT) or b"{}")
        except (OSError, ValueError):
            ready = {}
        if not ready.get("ready"):
            self.close()
            raise ForkServerGone("the node's fork server did not start")
        self.control.settimeout(None)
        self._lock = threading.Lock()
        self._replies: queue.Queue[dict[str, Any]] = queue.Queue()
        self._exits: dict[int, int] = {}
        self._exited = threading.Condition()
        self.gone = False
        threading.Thread(target=self._read, name="brace-forks", daemon=True).start()

    def fork(self, argv: list[str], cwd: str, env: Mapping[str, str], fds: list[int]) -> int:
        """Fork a replica running `python -m brace.runtime ARGV` in `cwd` with exactly
        `env`; `fds`: its output (stdout and stderr) and its notice pipe. Its pid."""
        message = json.dumps({"argv": argv, "cwd": cwd, "env": dict(env)}).encode()
        with self._lock:
            if self.gone:
                raise ForkServerGone("the node's fork server ended")
            try:
                socket.send_fds(self.control, [message], fds)
                reply = self._replies.get(timeout=REPLY_TIMEOUT)
            except (OSError, queue.Empty):
                raise ForkServerGone("the node's fork server did not answer") from None
        if "started" not in reply:
            raise ForkServerGone(str(reply.get("error", "the node's fork server failed")))
        return int(reply["started"])

    def wait(self, pid: int, timeout: float | None = None) -> int | None:
        """The exit status of child `pid` once it ended (None after `timeout` seconds);
        a child of a fork server that died counts as killed."""
        with self._exited:
            self._exited.wait_for(lambda: pid in self._exits or self.gone, timeout)
            return self._exits.get(pid, -9 if self.gone else None)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.control.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)

    def _read(self) -> None:
        while True:
            try:
                data = self.control.recv(MESSAGE_LIMIT)
                message = json.loads(data) if data else None
            except (OSError, ValueError):
                message = None
            if message is None:
                with self._exited:
                    self.gone = True
                    self._exited.notify_all()
                self._replies.put({"error": "the node's fork server ended"})
                return
            if "exited" in message:
                with self._exited:
                    self._exits[int(message["exited"])] = int(message["code"])
                    self._exited.notify_all()
            else:
                self._replies.put(message)

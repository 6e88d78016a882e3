"""A replica on a Ray node, as the server holds it (the `base.ReplicaHandle` protocol).

The node's agent (`agent`) runs the process; this handle mirrors it from the agent's
events (`apply_event`): its address, its readiness (both written to the notice pipe, as
a local replica's notices are, so the controller acts at once), its output lines
(appended to the deployment's log, tagged `replica@node` by the replica itself) and
its exit status (which closes the pipe). Stopping and killing go through the backend
(`cluster`), which speaks to the agent.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Callable
from pathlib import Path

from brace.logs import DeploymentLog, open_for_append
from brace.runtime.secrets import ENV_PREFIXES as SECRET_PREFIXES
from brace.runtime.secrets import Secrets
from brace.server.backends.base import STOP_GRACE, Address, Launch

LOST = -9
"""The exit status of a replica whose node or agent was lost."""
REFUSED = 75
"""The exit status of a replica that could not be placed (EX_TEMPFAIL)."""


class RayHandle:
    """A replica on a node (the `base.ReplicaHandle` protocol). `node` is the node's
    address (empty until placed); `pid` stays 0: the process is not on this machine."""

    pid = 0
    started = 0.0

    def __init__(
        self,
        launch: Launch,
        stop: Callable[[RayHandle, float], None],
        kill: Callable[[RayHandle], None],
        ended: Callable[[RayHandle], None] = lambda handle: None,
    ) -> None:
        """`stop`, `kill`: the backend's, through the node's agent; `ended`: called once
        when it ends (the backend gives its reserved resources back)."""
        self.launch = launch
        self._stop = stop
        self._kill = kill
        self._ended = ended
        self.reservation: object = None
        """Ray's record of its resources (`reservation.Reservation`), once placed."""
        self.address: Address = ""
        self.node: str | None = ""
        self.node_id = ""
        self.remote_pid = 0
        self.code: int | None = None
        self.abandoned = False
        self.notices: int | None
        self.notices, self._write = os.pipe()
        self._lock = threading.Lock()

    def poll(self) -> int | None:
        return self.code

    def signal(self) -> None:
        """Wake the controller (its address or readiness changed)."""
        with self._lock, contextlib.suppress(OSError):
            if self._write >= 0:
                os.write(self._write, b"!")

    def end(self, code: int) -> None:
        """It ended with `code`: close the notice pipe (the controller sees it at once)."""
        with self._lock:
            first = self.code is None
            if first:
                self.code = code
            if self._write >= 0:
                os.close(self._write)
                self._write = -1
        if first:
            self._ended(self)

    def log(self, line: str) -> None:
        fd = open_for_append(self.launch.log_file)
        try:
            os.write(fd, (line.rstrip("\n") + "\n").encode(errors="replace"))
        finally:
            os.close(fd)

    def refuse(self, replica_id: str, reason: str) -> None:
        """End it unstarted: a line of the server's in the deployment's log, then the
        reason as an error line (the deployment's status quotes the last one)."""
        DeploymentLog(self.launch.log_file).write(f"replica {replica_id} was not started")
        self.log(f"PlacementError: replica {replica_id}: {reason}")
        self.end(REFUSED)

    def stop(self, grace: float = STOP_GRACE) -> None:
        """TERM, `grace` seconds, KILL, through its node's agent (blocks)."""
        self._stop(self, grace)

    def kill(self) -> None:
        self._kill(self)


def apply_event(handle: RayHandle, kind: str, value: str) -> None:
    """One event of the agent's, for this replica."""
    if kind == "address":
        handle.address = value
        handle.signal()
    elif kind == "ready":
        handle.signal()
    elif kind == "log":
        handle.log(value)
    elif kind == "exit":
        handle.end(int(value))


def secret_values(launch: Launch) -> dict[str, str]:
    """The model's secrets as the variables the replica reads first
    (`BRACE_SECRET_<name>`), looked up as a replica here looks them up (its
    environment, then the files `brace secrets set` saved in brace's home, which the
    node does not have); a secret with no value is left out, so the replica says so
    when the model asks for it. Only called once the backend allowed secrets to go to
    this cluster."""
    assert launch.remote is not None
    home = launch.env.get("BRACE_HOME")
    found = Secrets(dict.fromkeys(launch.remote.secrets), Path(home) if home else None, launch.env)
    values = {}
    for name in launch.remote.secrets:
        with contextlib.suppress(KeyError):  # SecretNotFound
            values[SECRET_PREFIXES[0] + name] = found[name]
    return values

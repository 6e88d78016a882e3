"""A replica forked by a fork server, as the server sees it (`forkserver`).

Its pid is not known when the launch returns: the fork server's reply, read on the
event loop, gives it (`settled`), or the launch is given up and `fallback` starts the
replica another way (`local.LocalHandle`). Its exit status comes from the fork server
(its parent), not from a wait here.
"""

from __future__ import annotations

import signal
from collections.abc import Callable

from brace.server.backends import supervisor


class ForkedProcess:
    """A replica forked by the fork server; `pid` is 0 until the fork server's reply
    was read (`pending`)."""

    def __init__(self, pid: int = 0, started: float = 0.0) -> None:
        self.pid = pid
        self.started = started
        self.code: int | None = None
        """Its exit status once the fork server reported it (negative: the signal)."""
        self.given_up = False
        """No reply in time (or the fork server failed it): `fallback` ran instead."""
        self.abandoned = False
        """Stopped before its pid was known: killed when the reply comes."""
        self.fallback: Callable[[], None] = lambda: None
        """Called on the loop when the launch is given up (start it another way)."""
        self.settled: Callable[[], None] = lambda: None
        """Called on the loop when the fork server's reply gave it its pid."""

    @property
    def pending(self) -> bool:
        return self.pid == 0 and not self.given_up and self.code is None

    def poll(self) -> int | None:
        return self.code

    def stop(self, grace: float = supervisor.STOP_GRACE) -> None:
        if self.pid == 0:
            self.abandoned = True  # killed as soon as its pid is known
            return
        supervisor.stop_process_group(self.pid, self.started, grace)

    def kill(self) -> None:
        if self.pid == 0:
            self.abandoned = True
            return
        supervisor.kill_group(self.pid, signal.SIGKILL)

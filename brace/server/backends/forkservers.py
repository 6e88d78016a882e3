"""The server's fork servers: brace's own, and one per model environment that has
already imported the model's third-party modules.

A replica forked from the base fork server starts in ~20 ms, then imports what its
model imports (numpy and pandas: most of a second). So for a model whose files import
third-party modules at top level (`brace.runtime.preload.model_imports`, read from the
source), the server starts a second fork server that imports them too, keyed by what
makes the imports come out the same: the Python (brace's own, or the model's
requirements virtualenv), the modules, and the environment variables (the model's
`environment_variables` included; they can change what an import does). Models with
the same key share one.

The preloaded fork server starts on the first launch of its key (that replica starts
the ordinary way: from the base fork server, or as a new interpreter for a
virtualenv's Python) and serves every later launch, a wake from zero included. The
ordinary way is also what a launch gets while it is not ready, after it refused (an
import failed, started a thread, killed it, or took longer than `PRELOAD_TIMEOUT`),
and when the limit is reached.

Memory: a preloaded fork server holds its imports (numpy and pandas: 95 MB RSS here;
`bench/cold_start.py` prints it). At most `PRELOADED_LIMIT` run at once; a new key
beyond that ends the one idle longest (no replica of its own), or starts none if every
one has replicas. One ends by itself after `IDLE_TIMEOUT` seconds without a replica
(counted from its last replica's end, or its start).

Everything here runs on the server's event loop.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from brace.runtime.preload import CachedImports
from brace.server.backends import supervisor
from brace.server.backends.base import Launch
from brace.server.backends.forked import ForkedProcess
from brace.server.backends.forkserver import ForkServer

log = logging.getLogger("brace.server")

PRELOADED_LIMIT = 4
"""Preloaded fork servers running at once, at most (the base one aside)."""
IDLE_TIMEOUT = 3600.0
"""Seconds a preloaded fork server without replicas lives on (a sleeping model's wake
stays fast for that long after its last replica ended)."""
PRELOAD_TIMEOUT = 120.0
"""Seconds a preloaded fork server may take to import before it is refused (an import
that hangs must not hold its memory and its place in the limit)."""
SWEEP_INTERVAL = 30.0
"""Seconds between checks for idle preloaded fork servers."""

Key = tuple[str, tuple[str, ...], frozenset[tuple[str, str]]]
"""(Python, modules, environment) of a preloaded fork server."""

PER_LAUNCH = frozenset({supervisor.ENVIRONMENT_VARIABLE})
"""Variables that differ between launches of one model and act after start-up only."""


class ForkServers:
    """The base fork server and the preloaded ones (the spawn side of
    `local.spawn`)."""

    def __init__(
        self,
        python: str,
        env: Mapping[str, str],
        log_file: Path,
        *,
        imports: Callable[[Path], tuple[str, ...]] | None = None,
        clock: Callable[[], float] = time.monotonic,
        limit: int = PRELOADED_LIMIT,
        idle_timeout: float = IDLE_TIMEOUT,
        on_exit: Callable[[], None] = lambda: None,
    ) -> None:
        """`python`, `env`: the base fork server's (brace's own interpreter, a
        replica's environment without a model's variables); `log_file`: where fork
        servers write; `imports`: a model directory's modules to preload
        (`preload.CachedImports` by default); `on_exit`: called when a forked replica
        ended."""
        self.log_file = log_file
        self.on_exit = on_exit
        """Called when a forked replica ended."""
        self.base = ForkServer(python, env, log_file, lambda: self.on_exit())
        self.imports = imports or CachedImports()
        self.clock = clock
        self.limit = limit
        self.idle_timeout = idle_timeout
        self.preloaded: dict[Key, ForkServer] = {}
        self._idle_since: dict[Key, float] = {}
        self._started: dict[Key, float] = {}
        self._sweeper: asyncio.TimerHandle | None = None

    def start(self) -> None:
        """Start the base fork server and the sweep for idle preloaded ones."""
        self.base.start()
        if self._sweeper is None:
            self._sweeper = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)

    def spawn(self, launch: Launch, ready_fd: int | None) -> ForkedProcess | None:
        """Fork a replica for `launch`: from its preloaded fork server when that is
        ready, else from the base one; None when neither can (a new interpreter)."""
        server = self._preloaded_for(launch)
        if server is not None and server.ready:
            forked = server.spawn(launch, ready_fd)
            if forked is not None:
                return forked
        return self.base.spawn(launch, ready_fd)

    def sweep(self) -> None:
        """End the preloaded fork servers idle for `idle_timeout` seconds, and refuse
        those still importing after `PRELOAD_TIMEOUT`."""
        now = self.clock()
        for key, server in list(self.preloaded.items()):
            if server.refused is None and self._idle(key, server, now) >= self.idle_timeout:
                self._end(key)
            else:
                self._check_slow(key, server, now)

    def close(self) -> None:
        """Stop every fork server (their replicas die with them: stop those first)."""
        if self._sweeper is not None:
            self._sweeper.cancel()
            self._sweeper = None
        for key in list(self.preloaded):
            self._end(key)
        self.base.close()

    # internals

    def _preloaded_for(self, launch: Launch) -> ForkServer | None:
        if not self.base.ready:
            return None  # what brace itself loads is not known yet
        modules = tuple(
            name
            for name in self.imports(launch.truss_dir)
            if name.partition(".")[0] not in self.base.loaded
        )
        if not modules:
            return None
        env = {k: v for k, v in launch.env.items() if k not in PER_LAUNCH}
        key: Key = (launch.python, modules, frozenset(env.items()))
        server = self.preloaded.get(key)
        if server is not None:
            self._check_slow(key, server, self.clock())
            return server if server.refused is None else None
        if not self._make_room():
            return None

        def exited() -> None:
            self._idle_since[key] = self.clock()
            self.on_exit()

        server = ForkServer(launch.python, env, self.log_file, exited, preload=modules)
        self.preloaded[key] = server
        self._idle_since[key] = self._started[key] = self.clock()
        log.info("starting a fork server preloading %s", ", ".join(modules))
        server.start()
        return server

    def _make_room(self) -> bool:
        running = {k: s for k, s in self.preloaded.items() if s.refused is None}
        if len(running) < self.limit:
            return True
        now = self.clock()
        idle = [(self._idle(k, s, now), k) for k, s in running.items() if s.children == 0]
        if not idle:
            return False
        self._end(max(idle)[1])
        return True

    def _check_slow(self, key: Key, server: ForkServer, now: float) -> None:
        if server.ready or server.refused is not None:
            return
        if now - self._started.get(key, now) >= PRELOAD_TIMEOUT:
            server.refused = f"importing took longer than {PRELOAD_TIMEOUT:.0f} s"
            log.warning(
                "the fork server preloading %s refused (%s)",
                ", ".join(server.preload),
                server.refused,
            )
            server.close()

    def _idle(self, key: Key, server: ForkServer, now: float) -> float:
        """Seconds `server` has had no replica (0 while it has one)."""
        return 0.0 if server.children else now - self._idle_since.get(key, now)

    def _end(self, key: Key) -> None:
        server = self.preloaded.pop(key)
        self._idle_since.pop(key, None)
        self._started.pop(key, None)
        log.info("ending the idle fork server preloading %s", ", ".join(server.preload))
        server.close()

    def _sweep(self) -> None:
        self._sweeper = asyncio.get_running_loop().call_later(SWEEP_INTERVAL, self._sweep)
        self.sweep()

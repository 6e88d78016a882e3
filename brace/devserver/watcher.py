"""The watch loop: wait for saved changes, apply each batch, report what happened.

watchfiles hands over changes in debounced batches (a burst of saves is one batch),
and keeps collecting while a batch is being applied, so a change that lands during a
reload is the next batch, applied right after. For each batch (`handle`):

- config.yaml or the requirements file changed: load it (invalid: say why, apply
  nothing) and compare it with the config the replica runs. Fields that need a new
  process (environment variables, secrets, runtime, resources, requirements) are applied
  by pushing the development deployment again and waiting until the new replica serves;
  the old replica serves until then. Fields brace cannot apply are reported.
- model code, packages or data changed: `POST /brace/reload` on the replica(s) of the
  current revision. A failed reload leaves the last good code serving; the next save
  is tried normally. No replica (scaled to zero, starting): the change is recorded,
  since the next start reads the live directory.

Everything outside this module is a constructor parameter with a real default: where
changes come from, how a replica is reloaded, how config is read, the deployment, the
clocks. The tests drive the loop with a list of batches and a fake replica.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Protocol

from brace.config import Truss, load_truss
from brace.devserver.classify import (
    Batch,
    ChangeKind,
    ConfigSnapshot,
    Layout,
    classify,
    diff_config,
    remarks,
    replacement_reason,
    sort_changes,
)
from brace.devserver.events import Event, EventKind
from brace.devserver.replica import ReloadAnswer, ReloadResult, reload_replica
from brace.devserver.target import DeploymentState
from brace.errors import BraceError

# watchfiles' `step` (ms) sets the latency floor: a batch is handed over once a step
# passes with no new change, so noticing a save takes one to two steps. bench/reload.py,
# from the write to the first answer of the new code (p50, 2 cores, under load): 43 ms
# at step 20, 23-37 ms at 10, 22 ms at 5; the idle watch process used 0.7%, 1.0% and
# 1.4% of a core.
STEP_MS = 10
# How long watchfiles keeps extending one batch while changes keep coming.
DEBOUNCE_MS = 400
# With nothing changing, watchfiles still hands over an empty batch this often: the
# first one says the watch is live, later ones retry a reload that found its replica
# starting.
HEARTBEAT_MS = 200

Changes = Iterable[set[tuple[Any, str]]]
ChangeSource = Callable[[tuple[Path, ...], Callable[[str], bool], threading.Event], Changes]
Reloader = Callable[[Path], ReloadAnswer]


class WatchedDeployment(Protocol):
    """The development deployment (target.DevelopmentTarget, or a fake in tests)."""

    def state(self) -> DeploymentState: ...

    def push(self) -> int: ...

    def wait(self, revision: int, on_status: Callable[[str], None]) -> DeploymentState: ...


def watch_changes(
    roots: tuple[Path, ...], keep: Callable[[str], bool], stop: threading.Event
) -> Changes:
    """watchfiles' batches of (change, path) under `roots`, plus an empty batch per
    heartbeat with nothing changing."""
    import watchfiles

    return watchfiles.watch(
        *roots,
        watch_filter=lambda change, path: keep(path),
        step=STEP_MS,
        debounce=DEBOUNCE_MS,
        rust_timeout=HEARTBEAT_MS,
        yield_on_timeout=True,
        stop_event=stop,
    )


def read_config(directory: Path) -> Truss:
    return load_truss(directory, check_model=False)


class Watcher:
    def __init__(
        self,
        truss: Truss,
        target: WatchedDeployment,
        emit: Callable[[Event], None],
        *,
        model_name: str,
        changes: ChangeSource = watch_changes,
        reload: Reloader = reload_replica,
        read: Callable[[Path], Truss] = read_config,
        clock: Callable[[], float] = time.perf_counter,
        wall: Callable[[], float] = time.time,
        secrets_saved: Callable[[tuple[str, ...], float], list[str]] = lambda names, since: [],
    ) -> None:
        self.root = truss.path
        self.target = target
        self._emit = emit
        self.model_name = model_name
        self.changes = changes
        self.reload = reload
        self.read = read
        self.clock = clock
        self.wall = wall
        self.layout = Layout.of(truss)
        self.seen = ConfigSnapshot.of(truss)  # the newest valid config
        self.applied = self.seen  # the config the running replica was started with
        self.replica_failed = False  # the last start failed: every change pushes again
        self.retry_paths: tuple[str, ...] = ()  # a reload found its replica starting
        self.secrets_saved = secrets_saved
        """Which of these secrets were saved after this time (services.secrets.saved_since)."""
        self.replica_started: float | None = None  # wall time the serving replica was ready
        self.secrets_told: set[str] = set()  # saved secrets already reported for that replica

    # reporting

    def emit(self, kind: EventKind, paths: tuple[str, ...] = (), **values: Any) -> None:
        self._emit(Event(kind, self.wall(), paths, **values))

    def _elapsed_ms(self, start: float) -> float:
        return (self.clock() - start) * 1000

    # the loop

    def run(
        self,
        revision: int,
        on_status: Callable[[str], None] = lambda status: None,
        stop: threading.Event | None = None,
    ) -> None:
        """Wait for `revision` to serve, then apply changes until `stop` (or Ctrl-C)."""
        stop = stop or threading.Event()
        start, began = self.clock(), self.wall()
        try:
            ready = self.target.wait(revision, on_status)
        except BraceError as error:
            self.replica_failed = True
            self.emit(
                EventKind.REPLACE_FAILED,
                message=error.message,
                hint="Fix it and save: the next change starts the deployment again.",
            )
        else:
            self._replica_ready(began)
            self.emit(
                EventKind.READY,
                message=f"development deployment of model {self.model_name}",
                ms=self._elapsed_ms(start),
                revision=ready.revision,
            )
        first = True
        while not stop.is_set():
            roots = self.layout.watch_roots
            live = False
            for changes in self.changes(roots, self.wanted, stop):
                if not live:  # watchfiles answered: from now on no change is missed
                    live = True
                    if first:
                        first = False
                        self._catch_up()
                    self.emit(EventKind.WATCHING, tuple(str(r) for r in roots))
                self.handle(path for _, path in changes)
                if self.layout.watch_roots != roots or stop.is_set():
                    break  # config.yaml moved the code: watch the new directories
            else:
                return

    def _catch_up(self) -> None:
        """Apply what was saved between the push and the watch going live (an edit made
        while the deployment started); say nothing if that was nothing."""
        try:
            changed = bool(diff_config(self.seen, ConfigSnapshot.of(self.read(self.root))))
        except (BraceError, OSError):
            changed = True  # let `handle` say what is wrong with it
        if changed:
            self.handle([str(self.layout.config_file)])
        elif not self.replica_failed:
            self._reload((self.layout.display(self.layout.code_dirs[0]) + "/",), quiet=True)

    def wanted(self, path: str) -> bool:
        """watchfiles' filter: only what can matter to the model."""
        return classify(path, self.layout) is not ChangeKind.IGNORED

    def _replica_ready(self, began: float) -> None:
        """A replica serves that started after `began` (wall time): it read the secrets
        saved before then."""
        self.replica_started = began
        self.secrets_told = set()

    def check_secrets(self) -> None:
        """Say once per secret when one the config declares was saved after the serving
        replica started: what the model read at load still is the old value."""
        if self.replica_started is None:
            return
        declared = tuple(self.applied.config.secrets)
        try:
            saved = self.secrets_saved(declared, self.replica_started)
        except BraceError:
            return  # an unreadable folder: the replica's own lookup says why
        for name in saved:
            if name in self.secrets_told:
                continue
            self.secrets_told.add(name)
            self.emit(
                EventKind.SECRET_SAVED,
                message=f"secret {name} was saved after the replica started: what the "
                "model read at load is the old value until the replica starts again",
                hint=f"Restart it: brace deactivate development -m {self.model_name} && "
                f"brace activate development -m {self.model_name}",
            )

    def handle(self, paths: Iterable[str]) -> None:
        """Apply one batch of changed paths (absolute); an empty batch (a heartbeat)
        also checks the saved secrets."""
        self.check_secrets()
        # A created directory is no change by itself; the files written into it are.
        batch = sort_changes((p for p in paths if not os.path.isdir(p)), self.layout)
        if not batch:
            if self.retry_paths:
                self._reload(self.retry_paths, quiet=True)
            return
        config_ok = True
        if batch.config:
            config_ok = self._read_config(batch)
        pending = diff_config(self.applied, self.seen)
        if config_ok and (self.replica_failed or pending.needs_replica):
            self._replace(batch.paths, pending.replica_fields, replacement_reason(pending))
        elif batch.reload:
            self._reload(batch.reload, data=bool(batch.data))

    # config.yaml

    def _read_config(self, batch: Batch) -> bool:
        """Load the changed config and say what changed; False if it is invalid."""
        try:
            truss = self.read(self.root)
            snapshot = ConfigSnapshot.of(truss)
        except BraceError as error:
            self.emit(
                EventKind.CONFIG_INVALID, batch.config, message=error.message, hint=error.hint
            )
            return False
        except OSError as error:  # the requirements file vanished between check and read
            self.emit(EventKind.CONFIG_INVALID, batch.config, message=str(error))
            return False
        diff = diff_config(self.seen, snapshot)
        if not diff and not batch.reload:
            self.emit(EventKind.UNCHANGED, batch.config)
        for remark in remarks(diff, snapshot.notices, snapshot.config, self.model_name):
            kind = EventKind.CONFIG_CHANGED if remark.applied else EventKind.NOT_APPLIED
            self.emit(kind, batch.config, fields=remark.fields, message=remark.message)
        self.seen = snapshot
        self.layout = Layout.of(truss)
        return True

    # a new replica

    def _replace(self, paths: tuple[str, ...], fields: tuple[str, ...], why: str) -> None:
        self.emit(EventKind.REPLACING, paths, fields=fields, message=why)
        start, began = self.clock(), self.wall()
        try:
            revision = self.target.push()
            state = self.target.wait(revision, lambda status: None)
        except BraceError as error:
            self.replica_failed = True
            self.emit(
                EventKind.REPLACE_FAILED,
                paths,
                message=error.message,
                hint="It is tried again at the next saved change.",
            )
            return
        self.applied = self.seen
        self.replica_failed = False
        self.retry_paths = ()
        self._replica_ready(began)
        self.emit(EventKind.REPLACED, paths, ms=self._elapsed_ms(start), revision=state.revision)

    # a reload in the running replica

    def _reload(self, paths: tuple[str, ...], *, data: bool = False, quiet: bool = False) -> None:
        state = self.target.state()
        sockets = state.sockets
        if not sockets:
            self.retry_paths = ()  # the next start reads the live directory anyway
            if not quiet:
                self.emit(EventKind.RECORDED, paths, message=state.idle_reason())
            return
        start = self.clock()
        answers = [self.reload(socket) for socket in sockets]
        ms = self._elapsed_ms(start)
        answer = min(answers, key=lambda a: _PRECEDENCE[a.outcome])
        self.retry_paths = paths if answer.outcome is ReloadResult.UNREACHABLE else ()
        if answer.outcome is ReloadResult.APPLIED:
            self.emit(
                EventKind.RELOADED,
                paths,
                ms=ms,
                version=answer.version,
                mode=answer.mode,
                replica_ms=answer.ms,
            )
        elif quiet:
            if answer.outcome is ReloadResult.REJECTED:
                self._reload_failed(paths, answer)
        elif answer.outcome is ReloadResult.UNCHANGED and data:
            # The replica compares the code only; load() must run again to read data/.
            self._replace(paths, (), _DATA_CHANGED)
        elif answer.outcome is ReloadResult.UNCHANGED:
            self.emit(EventKind.UNCHANGED, paths, version=answer.version)
        elif answer.outcome is ReloadResult.UNREACHABLE:
            self.emit(
                EventKind.RECORDED,
                paths,
                message="the replica is starting: it loads the newest code (retrying the reload)",
            )
        elif answer.outcome is ReloadResult.UNSUPPORTED:
            self._replace(paths, (), _NO_LIVE_RELOAD)
        else:
            self._reload_failed(paths, answer)

    def _reload_failed(self, paths: tuple[str, ...], answer: ReloadAnswer) -> None:
        self.emit(
            EventKind.RELOAD_FAILED,
            paths,
            message=answer.error,
            stage=answer.stage,
            version=answer.version,
            traceback=answer.traceback,
        )


_DATA_CHANGED = "data changed: starting a new replica, whose load() reads it"
_NO_LIVE_RELOAD = "the replica has no live reload: starting a new replica"

# With several replicas, the answer to report: the worst one.
_PRECEDENCE = {
    ReloadResult.REJECTED: 0,
    ReloadResult.ERROR: 1,
    ReloadResult.UNSUPPORTED: 2,
    ReloadResult.UNREACHABLE: 3,
    ReloadResult.APPLIED: 4,
    ReloadResult.UNCHANGED: 5,
}

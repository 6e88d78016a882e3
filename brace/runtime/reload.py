"""Live reload inside the replica: `POST /brace/reload` applies the code now on disk.

The watcher (brace/devserver) calls it after a save; the answer comes when the new code
serves, or when it is clear that it will not. One reload, in a thread of its own:
  1. wait for the first load to end; hash the user's sources (usercode.py); if they
     match what the current version was built from, answer "unchanged" and stop;
  2. evict the user's modules and import the model file again, from its text;
  3. if the new class would build the instance exactly as the live one was built
     (keepstate.py), give the live instance the new class: "class-swap", weights kept;
     otherwise construct a new instance and run its load() while the old one keeps
     serving: "new-instance";
  4. hash the sources again: if a file changed meanwhile (an editor or a fast watcher
     caught it half-written), start over, once;
  5. swap the holder. The next request takes the new model; requests already running
     finish on the model they took (app.py reads the holder once per request).
Any failure puts the old modules back and leaves the holder alone: the old version keeps
serving and its number does not move (Truss moves its version on a failed patch, and
then rejects the next good one). The error names its stage, with a traceback cut to
the user's frames.

Reloads run one at a time. A request that arrives while one runs waits for the next
one, which starts after the running one ends and so reads the newest text; every
request waiting for that next reload shares it.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import TypeAlias

from brace.config import Truss
from brace.errors import BraceError
from brace.runtime.environment import EnvironmentState
from brace.runtime.holder import Current, ModelHolder
from brace.runtime.keepstate import can_assign_class, may_keep_instance
from brace.runtime.layout import ModelLayout
from brace.runtime.loader import (
    ImportedModel,
    LoadedModel,
    LoadError,
    Stage,
    build_model,
    import_model,
    swap_class,
)
from brace.runtime.tracebacks import BRACE_PACKAGE, cut_traceback, user_frames
from brace.runtime.usercode import Sources, UserCode

log = logging.getLogger("brace.runtime")

ATTEMPTS = 2  # the second only when a source file changed during the first


class Mode(Enum):
    CLASS_SWAP = "class-swap"  # same instance, new class: what load() made is kept
    NEW_INSTANCE = "new-instance"  # __init__ and load() ran again
    UNCHANGED = "unchanged"  # the sources are those of the current version


@dataclass(frozen=True)
class Reloaded:
    version: int
    mode: Mode
    done_at: float  # clock reading when the new code began to serve (or nothing changed)


@dataclass(frozen=True)
class ReloadFailed:
    version: int  # the one still serving
    stage: Stage
    error: str  # one line
    traceback: str  # cut to the user's frames


@dataclass(frozen=True)
class NotLoaded:
    """There is nothing to reload: the first load failed (the replica is exiting)."""


Outcome: TypeAlias = Reloaded | ReloadFailed | NotLoaded


def reply(outcome: Outcome, requested_at: float) -> tuple[int, dict[str, object]]:
    """The HTTP status and JSON body for one request that asked at `requested_at`."""
    if isinstance(outcome, Reloaded):
        return 200, {
            "applied": outcome.mode is not Mode.UNCHANGED,
            "version": outcome.version,
            "mode": outcome.mode.value,
            "ms": round(max(0.0, outcome.done_at - requested_at) * 1000, 3),
        }
    if isinstance(outcome, ReloadFailed):
        return 422, {
            "applied": False,
            "version": outcome.version,
            "stage": outcome.stage.name.lower(),
            "error": outcome.error,
            "traceback": outcome.traceback,
        }
    return 503, {"applied": False, "version": None, "error": "the model failed to load"}


def one_line(exc: BaseException, user_roots: tuple[str, ...], root: str) -> str:
    """`ValueError: bad weights (model/model.py, line 12)`: the error and where it rose."""
    if isinstance(exc, BraceError):
        return exc.message
    text = str(exc).strip()
    line = f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
    if isinstance(exc, SyntaxError):
        return line  # its message already says file and line
    frames = user_frames(traceback.extract_tb(exc.__traceback__), user_roots, (BRACE_PACKAGE,))
    if not frames:
        return line
    where = frames[-1]
    return f"{line} ({os.path.relpath(where.filename, root)}, line {where.lineno})"


def describe_failure(
    error: LoadError, version: int, user_roots: tuple[str, ...], root: str
) -> ReloadFailed:
    cause = error.__cause__ or error
    if isinstance(cause, BraceError):  # brace's own verdict on the model: message and hint
        trace = cause.message + (f"\n{cause.hint}" if cause.hint else "")
    else:
        trace = cut_traceback(cause, user_roots)
    return ReloadFailed(version, error.stage, one_line(cause, user_roots, root), trace)


@dataclass(frozen=True)
class _ClassSwap:
    imported: ImportedModel


@dataclass(frozen=True)
class _NewInstance:
    model: LoadedModel


@dataclass
class _Batch:
    """The requests that one reload will answer."""

    requested_at: float  # the earliest of them
    outcome: asyncio.Future[Outcome]


class Reloader:
    def __init__(
        self,
        truss: Truss,
        layout: ModelLayout,
        holder: ModelHolder,
        secrets: Mapping[str, str],
        *,
        environment: EnvironmentState | None = None,
        clock: Callable[[], float] = time.perf_counter,
        redact: Callable[[str], str] = lambda text: text,
    ) -> None:
        self.truss = truss
        self.layout = layout
        self.holder = holder
        self.secrets = secrets
        self.environment = environment or EnvironmentState()
        self.code = UserCode.of(layout)
        self._clock = clock
        self._redact = redact  # secret values out of the answer (redact.py)
        # One change to the model at a time: reloads, and environment changes
        # (environment.py), which share this lock.
        self.lock = asyncio.Lock()
        self._next: _Batch | None = None  # requested, not started
        self._tasks: set[asyncio.Task[None]] = set()

    async def reload(self) -> tuple[int, dict[str, object]]:
        """Reload (or join the reload about to start); returns status and JSON body."""
        requested_at = self._clock()
        batch = self._next
        if batch is None:
            loop = asyncio.get_running_loop()
            batch = self._next = _Batch(requested_at, loop.create_future())
            task = asyncio.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Shielded: a client that hangs up does not stop a reload others wait for.
        outcome = await asyncio.shield(batch.outcome)
        return reply(outcome, requested_at)

    async def _run(self, batch: _Batch) -> None:
        async with self.lock:
            if self._next is batch:
                self._next = None  # from now on, new requests wait for the reload after
            loop = asyncio.get_running_loop()
            done: asyncio.Future[Outcome] = loop.create_future()

            def work() -> None:
                try:
                    outcome = self.reload_now(batch.requested_at, loop)
                except BaseException as exc:
                    log.exception("Reload failed (a bug in brace)")
                    loop.call_soon_threadsafe(_settle, done, None, exc)
                else:
                    loop.call_soon_threadsafe(_settle, done, outcome, None)

            # A daemon thread, not an executor: a load() that never returns must not
            # keep the process from exiting.
            threading.Thread(target=work, name="brace-reload", daemon=True).start()
            try:
                batch.outcome.set_result(await done)
            except Exception as exc:
                batch.outcome.set_exception(exc)

    def reload_now(self, requested_at: float, loop: asyncio.AbstractEventLoop) -> Outcome:
        """One reload, start to end (blocking; never on the event loop)."""
        current = self.holder.wait_settled()
        if current is None:
            return NotLoaded()
        sources = self.code.fingerprint()
        if sources == current.sources:
            log.info("Reload: nothing changed since version %d", current.version)
            return Reloaded(current.version, Mode.UNCHANGED, self._clock())
        evicted = self.code.evict()
        try:
            model, mode, sources = self._build(current, sources, loop)
        except LoadError as exc:
            self.code.restore(evicted)
            failed = describe_failure(
                exc, current.version, self.layout.user_roots, str(self.layout.root)
            )
            failed = replace(
                failed, error=self._redact(failed.error), traceback=self._redact(failed.traceback)
            )
            log.error(
                "Reload failed (%s): %s\n%s",
                failed.stage.name.lower(),
                failed.error,
                failed.traceback,
            )
            return failed
        except BaseException:
            self.code.restore(evicted)
            raise
        swapped = self.holder.swap(model, sources)
        done_at = self._clock()
        log.info(
            "Reloaded in %.0f ms (version %d, %s)",
            (done_at - requested_at) * 1000,
            swapped.version,
            mode.value,
        )
        return Reloaded(swapped.version, mode, done_at)

    def _build(
        self, current: Current, sources: Sources, loop: asyncio.AbstractEventLoop
    ) -> tuple[LoadedModel, Mode, Sources]:
        """The new model, how it was made, and the sources it was made from."""
        for attempt in range(1, ATTEMPTS + 1):
            importlib.invalidate_caches()  # new files in the package directories
            failure: LoadError | None = None
            try:
                candidate = self._prepare(current, loop)
            except LoadError as exc:
                failure = exc
            now = self.code.fingerprint()
            if attempt < ATTEMPTS and now != sources:
                log.info("Source files changed while reloading; reloading again")
                sources = now
                self.code.evict()
                continue
            if failure is not None:
                raise failure
            if isinstance(candidate, _NewInstance):
                return candidate.model, Mode.NEW_INSTANCE, sources
            model = swap_class(current.model, candidate.imported, self.layout)
            return model, Mode.CLASS_SWAP, sources
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _prepare(
        self, current: Current, loop: asyncio.AbstractEventLoop
    ) -> _ClassSwap | _NewInstance:
        imported = import_model(self.truss, self.layout)
        old_class, new_class = type(current.model.instance), imported.model_class
        if _keeps_instance(old_class, new_class):
            return _ClassSwap(imported)
        model = build_model(
            self.truss,
            self.layout,
            self.secrets,
            imported,
            environment=self.environment.current,
            loop=loop,
        )
        return _NewInstance(model)


def _keeps_instance(old: type, new: type) -> bool:
    try:
        return may_keep_instance(old, new) and can_assign_class(old, new)
    except Exception:  # an object that would not be inspected: play safe
        log.debug("Comparing the model classes failed", exc_info=True)
        return False


def _settle(
    future: asyncio.Future[Outcome], outcome: Outcome | None, error: BaseException | None
) -> None:
    if future.done():
        return
    if error is not None:
        future.set_exception(error)
    else:
        assert outcome is not None
        future.set_result(outcome)

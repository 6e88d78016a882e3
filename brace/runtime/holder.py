"""The one place requests find the model: the current `LoadedModel` and its version.

Requests read `holder.current` once and use that snapshot for their whole pipeline, so
a swap in the middle of a request never mixes two models. The reloader (reload.py)
builds a new model while the current one keeps serving, then calls `swap`; a failed
reload calls nothing, so the version only moves forward when new code actually serves
(unlike Truss, which advances its hash on a failed patch). Each version remembers the
source it was built from, which is how a reload knows that nothing changed.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import Enum

from brace.runtime.loader import LoadedModel
from brace.runtime.usercode import Sources


class Phase(Enum):
    LOADING = "loading"  # no model yet; the first load is running
    READY = "ready"  # a model is serving
    FAILED = "failed"  # the first load failed; the process is exiting


@dataclass(frozen=True)
class Current:
    model: LoadedModel
    version: int  # 1 for the first model, +1 per successful swap
    sources: Sources = ()  # the user's source files this version was built from


class ModelHolder:
    def __init__(self) -> None:
        self._current: Current | None = None
        self._failed = False
        self._lock = threading.Lock()  # serializes writers; readers need no lock
        self._settled = threading.Event()  # set once the first load succeeded or failed

    @property
    def current(self) -> Current | None:
        # One attribute read: atomic under the GIL, and Current is immutable.
        return self._current

    @property
    def phase(self) -> Phase:
        if self._current is not None:
            return Phase.READY
        return Phase.FAILED if self._failed else Phase.LOADING

    def swap(self, model: LoadedModel, sources: Sources = ()) -> Current:
        """Make `model` the one requests use from now on; returns it with its version."""
        with self._lock:
            version = 1 if self._current is None else self._current.version + 1
            self._current = Current(model, version, sources)
            self._settled.set()
            return self._current

    def mark_failed(self) -> None:
        """The first load failed. (A failed reload must not call this: keep serving.)"""
        with self._lock:
            if self._current is None:
                self._failed = True
            self._settled.set()

    def wait_settled(self, timeout: float | None = None) -> Current | None:
        """Block (in a thread) until the first load ended; the current model, if any."""
        self._settled.wait(timeout)
        return self._current

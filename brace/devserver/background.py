"""A daemon thread that runs while a `with` block does: the watch's helpers."""

from __future__ import annotations

import threading
from types import TracebackType
from typing import Self


class BackgroundThread:
    """Runs `_run` in a daemon thread named `name` from `__enter__`; `__exit__` sets
    `_stop` (a threading.Event `_run` watches) and waits up to `join_timeout` seconds."""

    def __init__(self, name: str, *, join_timeout: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._join_timeout = join_timeout

    def _run(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join(timeout=self._join_timeout)

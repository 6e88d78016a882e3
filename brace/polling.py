"""One way to wait for something: ask again until it answers or a deadline passes.

Used wherever brace waits on another process (a server to answer, a process to exit,
a deployment to serve). The clock and the sleep are parameters, so tests drive time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    probe: Callable[[], T | None],
    timeout: float,
    interval: float = 0.05,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T | None:
    """Call `probe` every `interval` seconds until it returns something other than None,
    and return that; return None once `timeout` seconds have passed (after a last call).

    `probe` may raise to end the wait early; the exception propagates.
    """
    deadline = clock() + timeout
    while True:
        answer = probe()
        if answer is not None:
            return answer
        if clock() >= deadline:
            return None
        sleep(interval)

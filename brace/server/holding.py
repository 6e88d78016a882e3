"""Requests held at the gateway for a deployment that has no ready replica yet.

A deployment scaled to zero, or still starting, is never refused because it was asleep
(DESIGN.md, Autoscaling): its requests wait here, each with a timer, while the gateway
asks the controller to wake it. `Gateway.set_table` takes them out again when the
deployment gains a replica (or is gone); the timer answers 503 otherwise. The wake hook
is called on the first held request and then at most once per `WAKE_INTERVAL` while
requests keep arriving, so a burst does not become a burst of wake calls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from brace.server.exchange import Exchange

WAKE_INTERVAL = 1.0
"""While requests are held for a deployment, call the wake hook at most this often."""


class HeldRequests:
    def __init__(self, timeout: float, expired: Callable[[Exchange], None]) -> None:
        self.timeout = timeout
        self._expired = expired
        self._waiting: dict[str, list[Exchange]] = {}
        self._woken: dict[str, float] = {}

    def add(self, ex: Exchange, deployment_id: str, loop: asyncio.AbstractEventLoop) -> bool:
        """Hold `ex`; True when the wake hook should be called now."""
        self._waiting.setdefault(deployment_id, []).append(ex)
        ex.hold_timer = loop.call_later(self.timeout, self._expire, ex, deployment_id)
        now = loop.time()
        last = self._woken.get(deployment_id)
        if last is not None and now - last < WAKE_INTERVAL:
            return False
        self._woken[deployment_id] = now
        return True

    def remove(self, ex: Exchange, deployment_id: str) -> None:
        """Forget a held request (its client left): no answer, no timer."""
        if ex.hold_timer is None:
            return
        ex.hold_timer.cancel()
        ex.hold_timer = None
        self._forget(ex, deployment_id)

    def deployments(self) -> list[str]:
        return list(self._waiting)

    def release(self, deployment_id: str) -> list[Exchange]:
        """Take every request held for the deployment out, timers cancelled."""
        waiters = self._waiting.pop(deployment_id, [])
        for ex in waiters:
            if ex.hold_timer is not None:
                ex.hold_timer.cancel()
                ex.hold_timer = None
        return waiters

    def clear(self) -> None:
        for deployment_id in self.deployments():
            self.release(deployment_id)

    def _expire(self, ex: Exchange, deployment_id: str) -> None:
        ex.hold_timer = None
        self._forget(ex, deployment_id)
        self._expired(ex)

    def _forget(self, ex: Exchange, deployment_id: str) -> None:
        waiters = self._waiting.get(deployment_id)
        if waiters is not None and ex in waiters:
            waiters.remove(ex)
            if not waiters:
                del self._waiting[deployment_id]

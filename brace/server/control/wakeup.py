"""The controller's wake-up call: what the gateway (a request held for an asleep
deployment, `.../wake`), the replicas (a readiness notice, an exit) and the fork
servers (a forked replica ended) call to have the controller reconcile now instead of
at its next tick.

It exists before any of them, so each is given it at construction: the gateway and
the controller's autoscaler need each other's hooks, and this is the one both hold.
"""

from __future__ import annotations

import asyncio
import contextlib


class Wakeup:
    def __init__(self) -> None:
        self._event = asyncio.Event()
        self._deployments: list[str] = []

    def __call__(self, deployment_id: str | None = None) -> None:
        """Reconcile now; with a deployment, wake it (demand for it, now)."""
        if deployment_id is not None:
            self._deployments.append(deployment_id)
        self._event.set()

    def woken(self) -> list[str]:
        """The deployments asked to wake since the last call, in order."""
        woken, self._deployments = self._deployments, []
        return woken

    async def wait(self, timeout: float) -> None:
        """Until the next call, or `timeout` seconds; then clear it."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout)
        self._event.clear()

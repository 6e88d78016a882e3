"""Requests waiting at the gateway: for a deployment with no ready replica yet, for a
free slot on one of its replicas, or for the server's first routing table.

A deployment scaled to zero, or still starting, is never refused because it was asleep
(DESIGN.md, Autoscaling): its requests wait here, each with a timer, while the gateway
asks the controller to wake it. The same queue keeps the requests no replica of a
deployment has a free slot for (`pool.replica_limit`): the gateway hands each, first
come first served, to the first replica that frees a slot or becomes ready (Knative's
activator does the same). `Gateway.set_table` and a finished request take them out
again; `expire`, which the gateway calls a few times a second, answers the ones that
waited `timeout` seconds (no timer per request: a queue is in arrival order, so only
its oldest requests are looked at). Held requests count as in flight, so they are the
autoscaler's demand.

The wake hook is called on the first held request and then at most once per
`WAKE_INTERVAL` while requests keep arriving, so a burst does not become a burst of
wake calls. At most `HOLD_LIMIT` requests wait per deployment (Knative's activator
queue depth); the next ones are refused.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from brace.server.gateway.exchange import Exchange

WAKE_INTERVAL = 1.0
"""While requests are held for a deployment, call the wake hook at most this often."""

HOLD_LIMIT = 10_000
"""Most requests held per deployment (Knative's activator queues as many per revision)."""


class HeldRequests:
    def __init__(
        self, timeout: float, expired: Callable[[Exchange, str], None], limit: int = HOLD_LIMIT
    ) -> None:
        """`expired(exchange, key)` answers a request held `timeout` seconds (`expire`)."""
        self.timeout = timeout
        self.limit = limit
        self._expired = expired
        self.waiting: dict[str, deque[Exchange]] = {}
        """Key (a deployment id) -> its held requests, oldest first; no empty queue."""
        self._woken: dict[str, float] = {}

    def full(self, key: str) -> bool:
        waiters = self.waiting.get(key)
        return waiters is not None and len(waiters) >= self.limit

    def add(self, ex: Exchange, key: str, now: float, wake: bool = True) -> bool:
        """Hold `ex` from `now` (the loop's clock, > 0); True when the wake hook should
        be called now. `wake`: the deployment has no ready replica (a request waiting
        for a free slot needs no wake: it is in flight for the autoscaler already)."""
        waiters = self.waiting.get(key)
        if waiters is None:
            waiters = self.waiting[key] = deque()
        waiters.append(ex)
        ex.held_at = now
        if not wake:
            return False
        last = self._woken.get(key)
        if last is not None and now - last < WAKE_INTERVAL:
            return False
        self._woken[key] = now
        return True

    def first(self, key: str) -> Exchange | None:
        """The request held longest for `key` (still held), or None."""
        waiters = self.waiting.get(key)
        return waiters[0] if waiters else None

    def remove(self, ex: Exchange, key: str) -> None:
        """Take `ex` out (its client left, or it was sent on): no answer."""
        if not ex.held_at:
            return
        ex.held_at = 0.0
        self._forget(ex, key)

    def held_for(self) -> list[str]:
        return list(self.waiting)

    def counts(self) -> dict[str, int]:
        """Key -> how many requests are held for it."""
        return {key: len(waiters) for key, waiters in self.waiting.items()}

    def release(self, key: str) -> list[Exchange]:
        """Take every request held for `key` out, oldest first."""
        waiters = self.waiting.pop(key, ())
        for ex in waiters:
            ex.held_at = 0.0
        return list(waiters)

    def clear(self) -> None:
        for key in self.held_for():
            self.release(key)

    def expire(self, now: float) -> None:
        """Answer (`expired`) the requests held since `timeout` seconds before `now`."""
        deadline = now - self.timeout
        for key in [k for k, waiters in self.waiting.items() if waiters[0].held_at <= deadline]:
            waiters = self.waiting.get(key)
            while waiters and waiters[0].held_at <= deadline:
                ex = waiters.popleft()
                ex.held_at = 0.0
                if not waiters:
                    del self.waiting[key]
                self._expired(ex, key)
                waiters = self.waiting.get(key)

    def _forget(self, ex: Exchange, key: str) -> None:
        waiters = self.waiting.get(key)
        if waiters is None:
            return
        if waiters[0] is ex:
            waiters.popleft()
        else:
            try:
                waiters.remove(ex)
            except ValueError:
                return
        if not waiters:
            del self.waiting[key]

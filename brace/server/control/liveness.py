"""Liveness of ready replicas: a replica that stops answering is replaced. Pure decisions.

A READY replica's readiness route (`GET /v1/models/model`) is probed every
`Liveness.period` seconds, each probe waiting at most that long; after `failures`
probes in a row that got no 200 (no answer, a refused connection, a timeout: a process
stopped with `kill -STOP`, or hung in a deadlock), the replica is out of the routing
table and killed, and the exit counts as a crash for the restart policy, which starts
another. Kubernetes' liveness probe does the same (`periodSeconds`, `timeoutSeconds`,
`failureThreshold`, by default 10 s, 1 s and 3); here one setting, `timeout`, is the
time a replica may stay silent, split into `failures` probes.
"""

from __future__ import annotations

from dataclasses import dataclass

LIVENESS_TIMEOUT = 15.0
"""Seconds a ready replica may go without answering a liveness probe (the default)."""
REMOTE_LIVENESS_TIMEOUT = 3.0
"""The default with replicas on other nodes: a probe about every second, out after
three misses. Ray itself declares a node dead only after 14.5 s (killed) or 64 s
(network cut) with its default settings."""


@dataclass(frozen=True)
class Liveness:
    timeout: float = LIVENESS_TIMEOUT
    """Seconds of silence after which a ready replica is replaced (> 0)."""
    failures: int = 3
    """Failed probes in a row that make `timeout`."""

    @property
    def period(self) -> float:
        """Seconds between probes of one replica, and the longest one probe waits."""
        return self.timeout / self.failures


@dataclass(frozen=True)
class LiveCheck:
    """One ready replica's liveness so far."""

    failed: int = 0
    """Probes in a row that got no 200."""
    next_probe: float = 0.0
    """Clock reading (seconds) from which the next probe is due."""


def due(check: LiveCheck, now: float) -> bool:
    return now >= check.next_probe


def probed(settings: Liveness, check: LiveCheck, now: float) -> LiveCheck:
    """The check once a probe starts at `now` (clock seconds): the next one is due a
    period later."""
    return LiveCheck(check.failed, now + settings.period)


def after_probe(check: LiveCheck, status: int | None) -> LiveCheck:
    """The check after a probe that got `status` (None: no answer within the period)."""
    return LiveCheck(0 if status == 200 else check.failed + 1, check.next_probe)


def unresponsive(settings: Liveness, check: LiveCheck) -> bool:
    """The replica has missed enough probes in a row to be replaced."""
    return check.failed >= settings.failures

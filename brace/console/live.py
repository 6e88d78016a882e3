"""What the running server lends the console beyond the store and the metrics: its
replicas one by one, each deployment's restarts, the wake hook, and the event that
says the server is stopping (live streams end on it, so the server stops at once)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ReplicaInfo:
    id: str
    deployment_id: str
    revision: int
    state: str
    """STARTING, LOADING, READY, DRAINING or STOPPING."""
    pid: int
    started: float
    """When its process started, seconds since the epoch."""


def _none() -> list[ReplicaInfo]:
    return []


def _no_restarts(deployment_id: str) -> int:
    return 0


def _no_wake(deployment_id: str) -> None:
    return None


@dataclass
class Live:
    replicas: Callable[[], list[ReplicaInfo]] = _none
    restarts: Callable[[str], int] = _no_restarts
    """Deployment id -> replica exits it did not ask for, since its revision started."""
    wake: Callable[[str], None] = _no_wake
    stopping: asyncio.Event = field(default_factory=asyncio.Event)

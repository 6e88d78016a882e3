"""Metering: the server adds its deployments' usage to the store every few seconds.

Every `USAGE_INTERVAL` seconds the meter takes a `Sample` (how many replica processes
each deployment runs, in any state, and how many requests the gateway finished for it
so far) and adds what happened since the previous sample to the `usage` table
(`brace.store.usage`): replica-seconds are the mean of the two replica counts times
the seconds between the samples (the trapezoid rule), requests the difference of the
counters. An interval is booked on the UTC day it ends. On the way out the server
takes one last sample, so a clean stop loses nothing; a crash loses at most one
interval. `brace usage` and the console's Usage page read the table.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from brace.config import Resources, load_truss
from brace.errors import BraceError
from brace.server.storeworker import StoreWorker
from brace.services.snapshots import snapshot_path
from brace.store import Deployment, Tx
from brace.store.usage import UsageRow, add_usage

USAGE_INTERVAL = 5.0
"""Seconds between samples."""

UNKNOWN_RESOURCES = "unknown"


@dataclass(frozen=True)
class Sample:
    at: float
    """Wall-clock seconds since the epoch."""
    replicas: Mapping[str, int]
    """Deployment id -> replica processes running (every state)."""
    requests: Mapping[str, int]
    """Deployment id -> requests finished since the server started."""


@dataclass(frozen=True)
class Used:
    replica_seconds: float
    requests: int


def usage_between(before: Sample, after: Sample) -> dict[str, Used]:
    """What each deployment used between two samples (those that used nothing are
    left out). A counter that went down (a new server) counts from zero."""
    seconds = max(0.0, after.at - before.at)
    used: dict[str, Used] = {}
    for deployment_id in before.replicas.keys() | after.replicas.keys() | after.requests.keys():
        mean = (before.replicas.get(deployment_id, 0) + after.replicas.get(deployment_id, 0)) / 2
        now = after.requests.get(deployment_id, 0)
        then = before.requests.get(deployment_id, 0)
        requests = now - then if now >= then else now
        if (mean > 0 and seconds > 0) or requests > 0:
            used[deployment_id] = Used(mean * seconds, requests)
    return used


def utc_day(at: float) -> str:
    """YYYY-MM-DD of `at` (seconds since the epoch) in UTC."""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d")


def resources_label(resources: Resources) -> str:
    """`cpu=1 memory=2Gi`, plus `accelerator=...` when the config asks for one."""
    label = f"cpu={resources.cpu} memory={resources.memory}"
    return f"{label} accelerator={resources.accelerator}" if resources.accelerator else label


def read_resources(directory: Path) -> str:
    """The resources label of the model in `directory` (`unknown` when its config
    cannot be read now: a development deployment being edited, say)."""
    try:
        return resources_label(load_truss(directory, check_model=False).config.resources)
    except (BraceError, OSError):
        return UNKNOWN_RESOURCES


@dataclass
class _Known:
    model_id: str
    model_name: str
    deployment_name: str
    resources: str


@dataclass
class Meter:
    """Turns samples into usage rows; remembers each deployment's names and resources,
    so an interval that ends after the deployment was deleted is still booked."""

    home: Path
    read_resources: Callable[[Path], str] = read_resources
    _known: dict[str, _Known] = field(default_factory=dict)
    _resources: dict[tuple[str, int], str] = field(default_factory=dict)

    def book(self, tx: Tx, before: Sample, after: Sample) -> list[UsageRow]:
        """Add the usage between two samples to the store, in `tx`; the rows added."""
        day = utc_day(after.at)
        rows = []
        for deployment_id, used in sorted(usage_between(before, after).items()):
            known = self._learn(tx, deployment_id)
            if known is None:
                continue  # never seen in the store: nothing to name it by
            rows.append(
                UsageRow(
                    day,
                    deployment_id,
                    known.resources,
                    known.model_id,
                    known.model_name,
                    known.deployment_name,
                    used.replica_seconds,
                    used.requests,
                )
            )
        add_usage(tx, rows)
        return rows

    def _learn(self, tx: Tx, deployment_id: str) -> _Known | None:
        deployment = tx.deployment(deployment_id)
        if deployment is None:
            return self._known.get(deployment_id)
        model = tx.model(deployment.model_id)
        key = (deployment.id, deployment.revision)
        resources = self._resources.get(key)
        if resources is None:
            directory = self._directory(deployment)
            resources = self.read_resources(directory) if directory else UNKNOWN_RESOURCES
            self._resources[key] = resources
        known = _Known(
            deployment.model_id,
            model.name if model is not None else deployment.model_id,
            deployment.name,
            resources,
        )
        self._known[deployment_id] = known
        return known

    def _directory(self, deployment: Deployment) -> Path | None:
        if deployment.snapshot is not None:
            return snapshot_path(self.home, deployment.snapshot)
        return Path(deployment.source_dir) if deployment.source_dir else None


Sampler = Callable[[], Sample]


async def keep_usage(
    sample: Sampler,
    store: StoreWorker,
    stop: asyncio.Event,
    interval: float = USAGE_INTERVAL,
) -> None:
    """Book usage every `interval` seconds until `stop` is set, then once more."""
    meter = Meter(store.home)
    before = sample()
    stopping = False
    while not stopping:
        try:
            await asyncio.wait_for(stop.wait(), interval)
            stopping = True
        except TimeoutError:
            pass
        after = sample()
        try:
            await store.write(partial(meter.book, before=before, after=after))
        except BraceError:
            continue  # the store is busy or the disk full: this interval counts next time
        before = after


def sampler(
    replicas: Callable[[], Mapping[str, Mapping[tuple[str, str], int]]],
    requests: Callable[[], Mapping[str, int]],
    clock: Callable[[], float] = time.time,
) -> Sampler:
    """A `Sampler` over the server's replica states and request counters (call it on
    the event loop, where they change)."""

    def take() -> Sample:
        running = {d: sum(states.values()) for d, states in replicas().items()}
        return Sample(clock(), running, dict(requests()))

    return take

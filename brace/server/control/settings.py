"""The controller's settings in one record (`brace server` passes the liveness bounds;
the rest are the defaults, or small ones in tests)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from brace.rollout.driver import PROGRESS_DEADLINE
from brace.server.control.liveness import Liveness
from brace.server.control.restarts import RestartPolicy


@dataclass(frozen=True)
class ControllerSettings:
    """`poll_interval`, `probe_interval` (while a replica starts) and `drain_timeout`
    are in seconds; so is `progress_deadline`, the longest a rolling promotion waits
    for its candidate's replicas. `liveness`: how long a ready replica may stop
    answering before it is replaced. `resync_interval`: seconds between two full reads
    of the store, the safety net that catches a change whose signal was lost (a tick
    decides only for the deployments something happened to, and those not settled).
    `start_concurrency`: at most this many replicas start (spawned, not ready yet) at
    once; the default is the number of cores."""

    policy: RestartPolicy = field(default_factory=RestartPolicy)
    progress_deadline: float = PROGRESS_DEADLINE
    poll_interval: float = 0.1
    probe_interval: float = 0.05
    drain_timeout: float = 30.0
    liveness: Liveness = field(default_factory=Liveness)
    resync_interval: float = 5.0
    start_concurrency: int = field(default_factory=lambda: os.cpu_count() or 1)

"""The autoscaler: samples each deployment's load and keeps its recommendation.

Load comes from the gateway: requests in flight per deployment (held ones included,
so a sleeping deployment's waiting requests are demand) and a running count of
arrivals, so a request that started and ended between two samples still counts as
one in flight. `sample()` runs every `SAMPLE_INTERVAL` seconds; `recommendations()`
runs on each controller tick and feeds `targets.replica_targets`. The sizing itself
is the pure `sizing.size`.

Demand also comes from outside the gateway: a wake (`.../wake`, or the first request
held for a sleeping deployment) counts as one request in flight at that moment, and
a deployment kept awake (`brace watch` holds the development deployment awake through
its `awake_until` in the store) never goes below one replica.

No request is lost at the instant a deployment goes to zero (DESIGN.md, Autoscaling).
A decision to scale to zero is taken on the gateway's arrivals up to that instant: a
request that arrived since the last sample defers it. After it, a new arrival is
demand, and so is every request held at the gateway (`held`), whatever took the
deployment to zero (this sizing, a rollout step, a cleanup, a server stop) and
whatever happened to the samples since: a held request wakes the deployment at every
sample until it is served.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from brace.server.control.observed import stopped
from brace.server.control.sizing import size
from brace.store.records import Deployment
from brace.store.statuses import DeploymentStatus

SAMPLE_INTERVAL = 0.1
"""Seconds between load samples."""

Load = Callable[[], Mapping[str, tuple[int, int]]]
"""Deployment id -> (requests in flight now, arrivals so far)."""

Held = Callable[[], Mapping[str, int]]
"""Deployment id -> requests held at the gateway now (waiting for a ready replica)."""


@dataclass
class _Scale:
    current: int
    lower_since: float | None = None
    status_seen: DeploymentStatus | None = None
    samples: deque[tuple[float, float]] = field(default_factory=deque)
    """(clock reading, requests in flight) over the window."""
    window: float = 60.0
    """The deployment's `autoscaling_window` (seconds) at the last recommendation."""
    average: float = 0.0
    """The samples' average at the last recommendation."""
    arrivals: int = 0
    planned: bool = False
    """A rolling promotion's plan set its replicas at the last tick (`hold`)."""
    slept_on_demand: bool = False
    """At zero because the sizing here found no demand (not a rollout's plan or a
    cleanup): what is sampled after that decision is new demand."""


class Autoscaler:
    def __init__(self, load: Load, clock: Callable[[], float], held: Held = dict) -> None:
        self.load = load
        self.clock = clock
        self.held = held
        self._scales: dict[str, _Scale] = {}
        self._arrivals: dict[str, int] = {}
        self._planned: set[str] = set()
        self._demanded: set[str] = set()

    def sample(self) -> None:
        """Record every deployment's load now (those the gateway has seen requests for)."""
        now = self.clock()
        held = self.held()
        for deployment_id, (in_flight, arrivals) in self.load().items():
            scale = self._scales.get(deployment_id)
            if scale is None:
                continue
            arrived = arrivals != scale.arrivals
            scale.arrivals = arrivals
            if scale.current == 0:
                # Asleep: only new requests and held ones wake it, not the last ones of
                # replicas that are draining.
                waiting = float(held.get(deployment_id, 0))
                value = max(waiting, 1.0 if arrived else 0.0)
                if value:
                    self._demanded.add(deployment_id)
            else:
                value = max(float(in_flight), 1.0 if arrived else 0.0)
            scale.samples.append((now, value))
            # Between recommendations (a sleeping deployment gets none until demand
            # comes) the window keeps only what a recommendation would look at.
            while scale.samples[0][0] < now - scale.window:
                scale.samples.popleft()

    def wake(self, deployment_id: str) -> None:
        """Demand from outside a request count: one request in flight, now."""
        scale = self._scales.get(deployment_id)
        if scale is not None:
            scale.samples.append((self.clock(), 1.0))
            self._demanded.add(deployment_id)

    def demand_pending(self) -> bool:
        """Whether demand came for a sleeping deployment since the last `demanded()`."""
        return bool(self._demanded)

    def demanded(self) -> set[str]:
        """The sleeping deployments that demand came for since the last call (a wake, a
        new or held request): the controller decides for them at its next tick."""
        demanded, self._demanded = self._demanded, set()
        return demanded

    def forget(self, deployment_ids: Iterable[str]) -> None:
        """Drop what is kept for deployments that are gone (deleted)."""
        for deployment_id in deployment_ids:
            self._scales.pop(deployment_id, None)
            self._planned.discard(deployment_id)

    def recommendations(
        self, deployments: Iterable[Deployment], awake: Callable[[Deployment], bool]
    ) -> dict[str, int]:
        """Each of `deployments`' recommended replica count (none for stopped ones);
        what is kept for other deployments stays as it is.

        `awake(deployment)` says whether something keeps it awake now."""
        now = self.clock()
        known = {}
        for deployment in deployments:
            if stopped(deployment.status):
                self._scales.pop(deployment.id, None)
                continue
            scale = self._scales.get(deployment.id) or self._first_sight(deployment)
            settings = deployment.autoscaling
            status = deployment.status
            if status is DeploymentStatus.SCALED_TO_ZERO and scale.planned:
                # At 0 by a rollout's plan (the outgoing side at its last step), not
                # put to sleep: the rollout holds it there, and once it ends the
                # cleanup decides (SCALE_TO_ZERO puts it to sleep, KEEP restarts it).
                known[deployment.id] = scale
                continue
            if (
                status is DeploymentStatus.SCALED_TO_ZERO
                and scale.status_seen not in (None, DeploymentStatus.SCALED_TO_ZERO)
                and not scale.slept_on_demand
            ):
                # Put to sleep by someone else (a rollout's cleanup or cancel): the
                # demand it had while it served is not a reason to wake it; only new
                # requests are, and held ones (`sample`). When the sizing here took it
                # to zero, what was sampled since that decision is new demand: kept.
                scale.current, scale.lower_since = 0, None
                scale.samples.clear()
                # Requests routed to it before it was put to sleep (the last ones of
                # its traffic share) are not new ones either.
                scale.arrivals = self.load().get(deployment.id, (0, scale.arrivals))[1]
            scale.status_seen = status
            scale.window = settings.autoscaling_window
            window = scale.samples
            while window and window[0][0] < now - settings.autoscaling_window:
                window.popleft()
            samples = [value for _, value in window]
            scale.average = sum(samples) / len(samples) if samples else 0.0
            if awake(deployment):
                samples.append(1.0)
            sizing = size(settings, samples, scale.current, scale.lower_since, now)
            if sizing.replicas == 0 and scale.current > 0 and self._arrived(deployment.id, scale):
                # Requests came since the last sample: not idle after all.
                sizing = size(settings, [1.0], scale.current, None, now)
            if sizing.replicas == 0 and scale.current > 0:
                scale.slept_on_demand = True
            elif sizing.replicas > 0:
                scale.slept_on_demand = False
            scale.current, scale.lower_since = sizing.replicas, sizing.lower_since
            known[deployment.id] = scale
        self._scales.update(known)
        return {deployment_id: scale.current for deployment_id, scale in known.items()}

    def _arrived(self, deployment_id: str, scale: _Scale) -> bool:
        """Whether requests arrived for the deployment since its last sample, or are
        held for it now: read at the instant of a decision to scale it to zero."""
        arrivals = self.load().get(deployment_id, (0, scale.arrivals))[1]
        return arrivals != scale.arrivals or self.held().get(deployment_id, 0) > 0

    def average_in_flight(self, deployment_id: str) -> float:
        """The deployment's requests in flight, averaged over its window at the last
        `recommendations` (0 when unknown): its demand, before any min/max."""
        scale = self._scales.get(deployment_id)
        return scale.average if scale is not None else 0.0

    def hold(self, plans: Mapping[str, int]) -> None:
        """A rolling promotion sets these deployments' replicas (deployment id ->
        count): the autoscaler goes on from there once it ends, with no scale-down
        delay under way."""
        for deployment_id in self._planned - set(plans):
            if (known := self._scales.get(deployment_id)) is not None:
                known.planned = False
        self._planned = set()
        for deployment_id, replicas in plans.items():
            scale = self._scales.get(deployment_id)
            if scale is not None:
                scale.current, scale.lower_since, scale.planned = replicas, None, True
                scale.slept_on_demand = False
                self._planned.add(deployment_id)

    def _first_sight(self, deployment: Deployment) -> _Scale:
        """A deployment this server has not sized yet: a new one starts; one left asleep
        (a clean stop, a cleanup) starts what its settings ask for at the least."""
        settings = deployment.autoscaling
        if deployment.status is DeploymentStatus.SCALED_TO_ZERO:
            return _Scale(current=min(settings.min_replica, settings.max_replica))
        return _Scale(current=min(max(1, settings.min_replica), settings.max_replica))

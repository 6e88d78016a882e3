"""The autoscaler's bookkeeping: samples over the window, wakes, leases, sleeps."""

from __future__ import annotations

from dataclasses import dataclass, field

from brace.server.control.autoscaler import Autoscaler
from brace.store.records import AutoscalingSettings, Deployment
from brace.store.statuses import DeploymentStatus as D

FAST = AutoscalingSettings(min_replica=0, max_replica=3, autoscaling_window=2, scale_down_delay=5)


def _deployment(status: D = D.ACTIVE, settings: AutoscalingSettings = FAST) -> Deployment:
    return Deployment("d", "m", "deployment-1", False, status, settings, "2026")


@dataclass
class Gateway:
    """The load the gateway reports: (in flight, arrivals so far) by deployment."""

    counts: dict[str, tuple[int, int]] = field(default_factory=dict)
    now: float = 0.0

    def load(self) -> dict[str, tuple[int, int]]:
        return dict(self.counts)

    def clock(self) -> float:
        return self.now


def _never(deployment: Deployment) -> bool:
    return False


def _autoscaler() -> tuple[Autoscaler, Gateway]:
    gateway = Gateway()
    return Autoscaler(gateway.load, gateway.clock), gateway


def test_a_new_deployment_starts_one_replica_then_sleeps_after_the_delay() -> None:
    autoscaler, gateway = _autoscaler()
    assert autoscaler.recommendations([_deployment(D.DEPLOYING)], _never) == {"d": 1}
    for second in range(1, 12):
        gateway.now = float(second)
        autoscaler.sample()
        recommended = autoscaler.recommendations([_deployment()], _never)["d"]
        assert recommended == (1 if second < 5 else 0), second


def test_load_scales_up_and_arrivals_between_samples_count() -> None:
    autoscaler, gateway = _autoscaler()
    autoscaler.recommendations([_deployment()], _never)
    gateway.counts["d"] = (2, 2)
    autoscaler.sample()
    assert autoscaler.recommendations([_deployment()], _never) == {"d": 3}
    # Short requests that start and end between samples still keep one replica awake.
    gateway.counts["d"] = (0, 3)
    for second in range(1, 20):
        gateway.now = float(second)
        gateway.counts["d"] = (0, 3 + second)
        autoscaler.sample()
        recommended = autoscaler.recommendations([_deployment()], _never)["d"]
    assert recommended == 2  # ceil(1 / 0.7): one request in flight, at 70 %


def test_a_wake_is_demand() -> None:
    autoscaler, _ = _autoscaler()
    asleep = _deployment(D.SCALED_TO_ZERO)
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}
    autoscaler.wake("d")
    assert autoscaler.recommendations([asleep], _never) == {"d": 2}


def test_a_kept_awake_deployment_never_sleeps() -> None:
    autoscaler, gateway = _autoscaler()
    autoscaler.recommendations([_deployment()], _never)
    for second in range(1, 30):
        gateway.now = float(second)
        autoscaler.sample()
        assert autoscaler.recommendations([_deployment()], lambda d: True)["d"] >= 1


def test_put_to_sleep_by_a_cleanup_it_stays_asleep_despite_min_replica() -> None:
    settings = AutoscalingSettings(min_replica=1, max_replica=2)
    autoscaler, _ = _autoscaler()
    assert autoscaler.recommendations([_deployment(D.ACTIVE, settings)], _never) == {"d": 1}
    asleep = _deployment(D.SCALED_TO_ZERO, settings)
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}
    autoscaler.wake("d")
    assert autoscaler.recommendations([asleep], _never) == {"d": 2}


def test_a_server_start_wakes_what_min_replica_asks_for() -> None:
    """A clean stop leaves deployments SCALED_TO_ZERO; the next server starts
    `min_replica` of them, and none of those with min_replica 0."""
    autoscaler, _ = _autoscaler()
    keep_one = _deployment(D.SCALED_TO_ZERO, AutoscalingSettings(min_replica=1))
    assert autoscaler.recommendations([keep_one], _never) == {"d": 1}
    autoscaler, _ = _autoscaler()
    assert autoscaler.recommendations([_deployment(D.SCALED_TO_ZERO)], _never) == {"d": 0}


def test_stopped_and_deleted_deployments_are_forgotten() -> None:
    autoscaler, gateway = _autoscaler()
    autoscaler.recommendations([_deployment()], _never)
    assert autoscaler.recommendations([_deployment(D.INACTIVE)], _never) == {}
    gateway.counts["d"] = (5, 5)
    autoscaler.sample()  # not tracked any more: ignored
    assert autoscaler.recommendations([], _never) == {}


def test_put_to_sleep_after_serving_it_is_not_woken_by_its_old_demand() -> None:
    """A rollout's cleanup puts the previous deployment to sleep right after it served:
    the load it had is not a reason to wake it again."""
    autoscaler, gateway = _autoscaler()
    autoscaler.recommendations([_deployment()], _never)
    gateway.counts["d"] = (2, 50)
    autoscaler.sample()
    assert autoscaler.recommendations([_deployment()], _never) == {"d": 3}
    assert autoscaler.average_in_flight("d") == 2.0
    gateway.counts["d"] = (0, 50)
    asleep = _deployment(D.SCALED_TO_ZERO)
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}
    gateway.now = 0.5
    autoscaler.sample()  # nothing new arrived
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}


def test_asleep_only_new_requests_wake_it_not_draining_ones() -> None:
    autoscaler, gateway = _autoscaler()
    autoscaler.recommendations([_deployment()], _never)
    gateway.counts["d"] = (1, 7)
    autoscaler.sample()
    asleep = _deployment(D.SCALED_TO_ZERO)
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}
    for tick in range(1, 4):  # a request still finishing on a draining replica
        gateway.now = tick * 0.1
        autoscaler.sample()
        assert autoscaler.recommendations([asleep], _never) == {"d": 0}
    gateway.counts["d"] = (1, 8)  # a new one
    autoscaler.sample()
    assert autoscaler.recommendations([asleep], _never)["d"] >= 1


def test_requests_routed_to_it_before_it_was_put_to_sleep_do_not_wake_it() -> None:
    autoscaler, gateway = _autoscaler()
    autoscaler.recommendations([_deployment()], _never)
    gateway.counts["d"] = (1, 10)
    autoscaler.sample()
    autoscaler.recommendations([_deployment()], _never)
    gateway.counts["d"] = (0, 12)  # two more arrived just before the cleanup
    asleep = _deployment(D.SCALED_TO_ZERO)
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}
    gateway.now = 0.1
    autoscaler.sample()
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}


# A decision to scale to zero and the requests around it (DESIGN.md: no request is lost
# at the instant a deployment goes to zero).


@dataclass
class Holding(Gateway):
    """The gateway with its held requests: (in flight, arrivals) and held, by deployment."""

    waiting: dict[str, int] = field(default_factory=dict)

    def held(self) -> dict[str, int]:
        return dict(self.waiting)


def _holding() -> tuple[Autoscaler, Holding]:
    gateway = Holding()
    return Autoscaler(gateway.load, gateway.clock, gateway.held), gateway


def _idle_until_zero(
    autoscaler: Autoscaler, gateway: Gateway, settings: AutoscalingSettings
) -> float:
    """Serve one request, then stay idle until the autoscaler decides on zero; when."""
    autoscaler.recommendations([_deployment(D.ACTIVE, settings)], _never)
    gateway.counts["d"] = (1, 1)
    autoscaler.sample()
    gateway.counts["d"] = (0, 1)
    second = 0.0
    while True:
        second += 0.5
        gateway.now = second
        autoscaler.sample()
        if autoscaler.recommendations([_deployment(D.ACTIVE, settings)], _never)["d"] == 0:
            return second


def test_a_request_held_after_the_decision_to_scale_to_zero_wakes_it() -> None:
    """The lost wake-up: the request arrives once the last replica left the routing table
    and is held; its wake is a sample, and then the store says SCALED_TO_ZERO."""
    settings = AutoscalingSettings(
        min_replica=0, max_replica=1, autoscaling_window=1, scale_down_delay=1
    )
    autoscaler, gateway = _holding()
    now = _idle_until_zero(autoscaler, gateway, settings)
    gateway.counts["d"] = (1, 2)  # it arrives, and is held
    gateway.waiting["d"] = 1
    autoscaler.wake("d")
    asleep = _deployment(D.SCALED_TO_ZERO, settings)  # the tick that reports the sleep
    assert autoscaler.recommendations([asleep], _never) == {"d": 1}
    gateway.now = now + 0.1
    autoscaler.sample()
    assert autoscaler.recommendations([asleep], _never) == {"d": 1}


def test_a_request_held_is_demand_whatever_cleared_the_samples() -> None:
    """Put to sleep by a cleanup (samples cleared) while a request is held for it: the
    held request wakes it at the next sample."""
    autoscaler, gateway = _holding()
    autoscaler.recommendations([_deployment()], _never)
    gateway.counts["d"] = (1, 5)
    gateway.waiting["d"] = 1
    asleep = _deployment(D.SCALED_TO_ZERO)
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}  # the cleanup
    gateway.now = 0.1
    autoscaler.sample()  # no new arrival, but one held
    assert autoscaler.recommendations([asleep], _never)["d"] >= 1


def test_a_request_between_the_last_sample_and_the_decision_keeps_the_replica() -> None:
    settings = AutoscalingSettings(
        min_replica=0, max_replica=1, autoscaling_window=1, scale_down_delay=1
    )
    autoscaler, gateway = _holding()
    autoscaler.recommendations([_deployment(D.ACTIVE, settings)], _never)
    gateway.counts["d"] = (1, 1)
    autoscaler.sample()
    gateway.counts["d"] = (0, 1)
    for tick in range(1, 5):
        gateway.now = tick * 0.5
        autoscaler.sample()
    gateway.counts["d"] = (0, 2)  # arrived (and finished) after the last sample
    assert autoscaler.recommendations([_deployment(D.ACTIVE, settings)], _never) == {"d": 1}


def test_ramped_down_to_zero_by_a_rollout_its_old_demand_does_not_wake_it() -> None:
    """A cancel ramps the candidate down to 0 (the rollout's plan), then the store says
    SCALED_TO_ZERO: the load it had while it served is not demand."""
    autoscaler, gateway = _holding()
    autoscaler.recommendations([_deployment()], _never)
    gateway.counts["d"] = (3, 40)
    autoscaler.sample()
    autoscaler.hold({"d": 2})
    autoscaler.recommendations([_deployment()], _never)
    autoscaler.hold({"d": 0})  # the last step of the ramp-down
    gateway.counts["d"] = (0, 40)
    asleep = _deployment(D.SCALED_TO_ZERO)
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}
    gateway.now = 0.1
    autoscaler.sample()
    assert autoscaler.recommendations([asleep], _never) == {"d": 0}

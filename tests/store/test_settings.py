"""Autoscaling and promotion settings: partial updates, validated as a whole."""

from __future__ import annotations

from typing import Any

import pytest

from brace.cli.hints import hint_for
from brace.errors import InvalidError
from brace.store import (
    AutoscalingSettings,
    CleanupStrategy,
    PromotionSettings,
    RollingDeployConfig,
)
from brace.store.records import AutomaticRollback
from brace.store.settings import (
    update_autoscaling,
    update_promotion_settings,
    update_rollback,
    update_rolling_config,
)

DEFAULT = AutoscalingSettings()
SCALED = AutoscalingSettings(min_replica=2, max_replica=4)

# update_autoscaling


@pytest.mark.parametrize(
    ("current", "changes", "development", "expected"),
    [
        pytest.param(DEFAULT, {}, False, DEFAULT, id="nothing"),
        pytest.param(DEFAULT, {"min_replica": None}, False, DEFAULT, id="none-is-unset"),
        pytest.param(
            DEFAULT,
            {"min_replica": 1, "max_replica": 3},
            False,
            AutoscalingSettings(min_replica=1, max_replica=3),
            id="min-and-max",
        ),
        pytest.param(
            SCALED,
            {"concurrency_target": 8},
            False,
            AutoscalingSettings(min_replica=2, max_replica=4, concurrency_target=8),
            id="partial-keeps-others",
        ),
        pytest.param(
            SCALED,
            {"min_replica": 4},
            False,
            AutoscalingSettings(min_replica=4, max_replica=4),
            id="min-equals-max",
        ),
        pytest.param(
            DEFAULT,
            {"autoscaling_window": 1, "scale_down_delay": 0},
            False,
            AutoscalingSettings(autoscaling_window=1, scale_down_delay=0),
            id="small-windows-for-tests",
        ),
        pytest.param(
            DEFAULT,
            {"autoscaling_window": 3600, "scale_down_delay": 3600},
            False,
            AutoscalingSettings(autoscaling_window=3600, scale_down_delay=3600),
            id="largest-windows",
        ),
        pytest.param(
            DEFAULT,
            {"target_utilization_percentage": 100},
            False,
            AutoscalingSettings(target_utilization_percentage=100),
            id="utilization-100",
        ),
        pytest.param(
            DEFAULT,
            {"min_replica": 0, "max_replica": 1, "autoscaling_window": 10},
            True,
            AutoscalingSettings(autoscaling_window=10),
            id="development-window",
        ),
    ],
)
def test_update_autoscaling(
    current: AutoscalingSettings,
    changes: dict[str, Any],
    development: bool,
    expected: AutoscalingSettings,
) -> None:
    assert update_autoscaling(current, changes, development=development) == expected


@pytest.mark.parametrize(
    ("current", "changes", "development", "message"),
    [
        pytest.param(
            DEFAULT, {"min_replica": -1}, False, "min_replica must be 0 to 1000, got -1", id="min"
        ),
        pytest.param(
            DEFAULT, {"max_replica": 0}, False, "max_replica must be 1 to 1000, got 0", id="max"
        ),
        pytest.param(
            SCALED,
            {"max_replica": 1},
            False,
            "min_replica (2) must not exceed max_replica (1)",
            id="max-below-current-min",
        ),
        pytest.param(
            DEFAULT,
            {"autoscaling_window": 0},
            False,
            "autoscaling_window must be 1 to 3600, got 0",
            id="window-0",
        ),
        pytest.param(
            DEFAULT,
            {"autoscaling_window": 3601},
            False,
            "autoscaling_window must be 1 to 3600, got 3601",
            id="window-3601",
        ),
        pytest.param(
            DEFAULT,
            {"scale_down_delay": -1},
            False,
            "scale_down_delay must be 0 to 3600, got -1",
            id="delay-negative",
        ),
        pytest.param(
            DEFAULT,
            {"concurrency_target": 0},
            False,
            "concurrency_target must be 1 to 1000000, got 0",
            id="concurrency-0",
        ),
        pytest.param(
            DEFAULT,
            {"target_utilization_percentage": 101},
            False,
            "target_utilization_percentage must be 1 to 100, got 101",
            id="utilization-101",
        ),
        pytest.param(
            DEFAULT,
            {"max_replica": "3"},
            False,
            "max_replica must be a whole number, got '3'",
            id="string",
        ),
        pytest.param(
            DEFAULT,
            {"max_replica": True},
            False,
            "max_replica must be a whole number, got True",
            id="bool",
        ),
        pytest.param(
            DEFAULT,
            {"max_replica": 2.0},
            False,
            "max_replica must be a whole number, got 2.0",
            id="float",
        ),
        pytest.param(
            DEFAULT, {"replicas": 2}, False, "unknown autoscaling field: replicas", id="unknown"
        ),
        pytest.param(
            DEFAULT,
            {"a": 1, "b": 2},
            False,
            "unknown autoscaling fields: a, b",
            id="unknown-several",
        ),
        pytest.param(
            DEFAULT,
            {"min_replica": 1},
            True,
            "the development deployment always has min_replica 0 and max_replica 1",
            id="development-min",
        ),
        pytest.param(
            DEFAULT,
            {"max_replica": 2},
            True,
            "the development deployment always has min_replica 0 and max_replica 1",
            id="development-max",
        ),
    ],
)
def test_update_autoscaling_refused(
    current: AutoscalingSettings, changes: dict[str, Any], development: bool, message: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        update_autoscaling(current, changes, development=development)

    assert caught.value.message == message


def test_unknown_autoscaling_field_hint_lists_the_allowed() -> None:
    with pytest.raises(InvalidError) as caught:
        update_autoscaling(DEFAULT, {"replicas": 2})

    assert hint_for(caught.value) == (
        "Allowed: autoscaling_window, concurrency_target, max_replica, min_replica, "
        "scale_down_delay, target_utilization_percentage."
    )


# update_promotion_settings

ROLLING = PromotionSettings(rolling_deploy=True)


@pytest.mark.parametrize(
    ("current", "changes", "expected"),
    [
        pytest.param(PromotionSettings(), {}, PromotionSettings(), id="nothing"),
        pytest.param(PromotionSettings(), {"rolling_deploy": True}, ROLLING, id="enable"),
        pytest.param(ROLLING, {"rolling_deploy": False}, PromotionSettings(), id="disable"),
        pytest.param(ROLLING, {"rolling_deploy": None}, ROLLING, id="none-is-unset"),
        pytest.param(
            ROLLING,
            {"promotion_cleanup_strategy": "DEACTIVATE"},
            PromotionSettings(
                rolling_deploy=True, promotion_cleanup_strategy=CleanupStrategy.DEACTIVATE
            ),
            id="cleanup-keeps-rolling",
        ),
        pytest.param(
            ROLLING,
            {"rolling_deploy_config": {"max_surge_percent": 25}},
            PromotionSettings(
                rolling_deploy=True,
                rolling_deploy_config=RollingDeployConfig(max_surge_percent=25),
            ),
            id="config-keeps-rolling",
        ),
        pytest.param(
            PromotionSettings(),
            PromotionSettings(
                rolling_deploy=True,
                rolling_deploy_config=RollingDeployConfig(stabilization_time_seconds=5),
                promotion_cleanup_strategy=CleanupStrategy.KEEP,
            ).to_json(),
            PromotionSettings(
                rolling_deploy=True,
                rolling_deploy_config=RollingDeployConfig(stabilization_time_seconds=5),
                promotion_cleanup_strategy=CleanupStrategy.KEEP,
            ),
            id="round-trip-of-the-api-shape",
        ),
    ],
)
def test_update_promotion_settings(
    current: PromotionSettings, changes: dict[str, Any], expected: PromotionSettings
) -> None:
    assert update_promotion_settings(current, changes) == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {"rolling_deploy": "yes"},
            "rolling_deploy must be true or false, got 'yes'",
            id="rolling-not-bool",
        ),
        pytest.param(
            {"rolling_deploy": 1}, "rolling_deploy must be true or false, got 1", id="rolling-int"
        ),
        pytest.param(
            {"promotion_cleanup_strategy": "scale_to_zero"},
            "promotion_cleanup_strategy must be one of SCALE_TO_ZERO, KEEP, DEACTIVATE, "
            "got 'scale_to_zero'",
            id="cleanup-lowercase",
        ),
        pytest.param(
            {"rolling": True}, "unknown promotion_settings field: rolling", id="unknown-field"
        ),
        pytest.param(
            {"rolling_deploy_config": [10]},
            "rolling_deploy_config must be an object, got [10]",
            id="config-not-object",
        ),
        pytest.param(
            {"rolling_deploy_config": {"max_surge_percent": 10, "max_unavailable_percent": 5}},
            "max_surge_percent is 10 and max_unavailable_percent is 5: "
            "exactly one of them must be non-zero",
            id="config-both-non-zero",
        ),
    ],
)
def test_update_promotion_settings_refused(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidError) as caught:
        update_promotion_settings(PromotionSettings(), changes)

    assert caught.value.message == message


# update_rolling_config

SURGE = RollingDeployConfig()
UNAVAILABLE = RollingDeployConfig(max_surge_percent=0, max_unavailable_percent=20)


@pytest.mark.parametrize(
    ("current", "changes", "expected"),
    [
        pytest.param(SURGE, {}, SURGE, id="nothing"),
        pytest.param(
            SURGE, {"max_surge_percent": 25}, RollingDeployConfig(max_surge_percent=25), id="surge"
        ),
        pytest.param(
            SURGE,
            {"max_surge_percent": 0, "max_unavailable_percent": 20},
            UNAVAILABLE,
            id="switch-to-unavailable",
        ),
        pytest.param(
            UNAVAILABLE,
            {"max_surge_percent": 50, "max_unavailable_percent": 0},
            RollingDeployConfig(max_surge_percent=50),
            id="switch-to-surge-at-the-top",
        ),
        pytest.param(
            UNAVAILABLE,
            {"max_unavailable_percent": 50},
            RollingDeployConfig(max_surge_percent=0, max_unavailable_percent=50),
            id="unavailable-50",
        ),
        pytest.param(
            SURGE,
            {"stabilization_time_seconds": 3600, "replica_overhead_percent": 500},
            RollingDeployConfig(stabilization_time_seconds=3600, replica_overhead_percent=500),
            id="upper-bounds",
        ),
        pytest.param(
            SURGE,
            {"stabilization_time_seconds": 0, "replica_overhead_percent": 0},
            SURGE,
            id="lower-bounds",
        ),
        pytest.param(
            SURGE,
            {"rolling_deploy_strategy": "REPLICA", "max_surge_percent": 30},
            RollingDeployConfig(max_surge_percent=30),
            id="strategy-replica",
        ),
        pytest.param(SURGE, {"max_surge_percent": None}, SURGE, id="none-is-unset"),
        pytest.param(
            SURGE,
            {"max_unavailable_percent": 20},
            RollingDeployConfig(max_surge_percent=0, max_unavailable_percent=20),
            id="unavailable-alone-clears-surge",
        ),
        pytest.param(
            UNAVAILABLE,
            {"max_surge_percent": 30},
            RollingDeployConfig(max_surge_percent=30, max_unavailable_percent=0),
            id="surge-alone-clears-unavailable",
        ),
        pytest.param(
            UNAVAILABLE,
            {"max_surge_percent": 30, "max_unavailable_percent": 0},
            RollingDeployConfig(max_surge_percent=30, max_unavailable_percent=0),
            id="both-given-as-they-are",
        ),
    ],
)
def test_update_rolling_config(
    current: RollingDeployConfig, changes: dict[str, Any], expected: RollingDeployConfig
) -> None:
    assert update_rolling_config(current, changes) == expected


@pytest.mark.parametrize(
    ("current", "changes", "message"),
    [
        pytest.param(
            SURGE,
            {"max_surge_percent": 10, "max_unavailable_percent": 10},
            "max_surge_percent is 10 and max_unavailable_percent is 10: "
            "exactly one of them must be non-zero",
            id="both-non-zero",
        ),
        pytest.param(
            SURGE,
            {"max_surge_percent": 0},
            "max_surge_percent is 0 and max_unavailable_percent is 0: "
            "exactly one of them must be non-zero",
            id="both-zero",
        ),
        pytest.param(
            UNAVAILABLE,
            {"max_unavailable_percent": 0},
            "max_surge_percent is 0 and max_unavailable_percent is 0: "
            "exactly one of them must be non-zero",
            id="both-zero-from-unavailable",
        ),
        pytest.param(
            SURGE,
            {"max_surge_percent": 51},
            "max_surge_percent must be 0 to 50, got 51",
            id="surge-51",
        ),
        pytest.param(
            SURGE,
            {"max_surge_percent": -1},
            "max_surge_percent must be 0 to 50, got -1",
            id="surge-negative",
        ),
        pytest.param(
            UNAVAILABLE,
            {"max_unavailable_percent": 51},
            "max_unavailable_percent must be 0 to 50, got 51",
            id="unavailable-51",
        ),
        pytest.param(
            SURGE,
            {"stabilization_time_seconds": 3601},
            "stabilization_time_seconds must be 0 to 3600, got 3601",
            id="stabilization-3601",
        ),
        pytest.param(
            SURGE,
            {"stabilization_time_seconds": -1},
            "stabilization_time_seconds must be 0 to 3600, got -1",
            id="stabilization-negative",
        ),
        pytest.param(
            SURGE,
            {"replica_overhead_percent": 501},
            "replica_overhead_percent must be 0 to 500, got 501",
            id="overhead-501",
        ),
        pytest.param(
            SURGE,
            {"max_surge_percent": 12.5},
            "max_surge_percent must be a whole number, got 12.5",
            id="fraction",
        ),
        pytest.param(
            SURGE,
            {"rolling_deploy_strategy": "PERCENT"},
            "rolling_deploy_strategy must be REPLICA, got 'PERCENT'",
            id="strategy",
        ),
        pytest.param(
            SURGE,
            {"surge": 10},
            "unknown rolling_deploy_config field: surge",
            id="unknown-field",
        ),
    ],
)
def test_update_rolling_config_refused(
    current: RollingDeployConfig, changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidError) as caught:
        update_rolling_config(current, changes)

    assert caught.value.message == message


def test_both_or_neither_hint_shows_the_fix() -> None:
    with pytest.raises(InvalidError) as caught:
        update_rolling_config(SURGE, {"max_surge_percent": 0})

    assert hint_for(caught.value) is not None
    assert "--max-unavailable-percent 20" in hint_for(caught.value)


def test_refusal_exit_code_is_5() -> None:
    with pytest.raises(InvalidError) as caught:
        update_rolling_config(SURGE, {"max_surge_percent": 0})

    assert caught.value.exit_code == 5


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        pytest.param({"enabled": True}, AutomaticRollback(enabled=True), id="enable"),
        pytest.param(
            {"max_error_rate_percent": 10, "min_requests": 20},
            AutomaticRollback(max_error_rate_percent=10, min_requests=20),
            id="thresholds",
        ),
        pytest.param(
            {"max_p99_latency_ratio": 1.5}, AutomaticRollback(max_p99_latency_ratio=1.5), id="p99"
        ),
    ],
)
def test_automatic_rollback_updates(changes: dict[str, Any], expected: AutomaticRollback) -> None:
    assert update_rollback(AutomaticRollback(), changes) == expected


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param({"enabled": "yes"}, "enabled must be true or false, got 'yes'", id="enabled"),
        pytest.param(
            {"max_error_rate_percent": 101},
            "max_error_rate_percent must be 0 to 100, got 101",
            id="rate",
        ),
        pytest.param(
            {"min_requests": 0}, "min_requests must be 1 to 1000000000, got 0", id="requests"
        ),
        pytest.param(
            {"max_p99_latency_ratio": 0.5},
            "max_p99_latency_ratio must be 1 to 1000, got 0.5",
            id="ratio",
        ),
        pytest.param({"threshold": 1}, None, id="unknown"),
    ],
)
def test_automatic_rollback_refusals(changes: dict[str, Any], message: str | None) -> None:
    with pytest.raises(InvalidError) as caught:
        update_rollback(AutomaticRollback(), changes)
    if message is not None:
        assert caught.value.message == message

"""Validation of autoscaling and promotion settings: pure functions over records.

Updates are partial, as in Baseten's PATCH bodies ("All fields are optional, and we
only update ones passed in"): only the fields given change, a field or a section given
as `null` is left as it is (Baseten's schema types each field `integer | null`), and
the result is checked as a whole against `brace.ranges` (so `min_replica` may not pass
the new `max_replica`, and exactly one of surge and unavailable must be non-zero;
setting one of them non-zero alone sets the other to 0, as Baseten's configuration
widget does).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, replace
from typing import Any

from brace.errors import InvalidError
from brace.ranges import (
    AUTOSCALING_RANGES,
    FLOAT_RANGES,
    ROLLBACK_RANGES,
    ROLLING_RANGES,
    check_int,
    check_number,
)
from brace.store.records import (
    DEVELOPMENT_AUTOSCALING,
    AutomaticRollback,
    AutoscalingSettings,
    CleanupStrategy,
    PromotionSettings,
    RollingDeployConfig,
)


def _unknown(kind: str, changes: Mapping[str, Any], known: set[str]) -> None:
    extra = sorted(set(changes) - known)
    if extra:
        raise InvalidError(
            f"unknown {kind} field{'s' if len(extra) > 1 else ''}: {', '.join(extra)}",
            f"Allowed: {', '.join(sorted(known))}.",
        )


def update_autoscaling(
    current: AutoscalingSettings, changes: Mapping[str, Any], *, development: bool = False
) -> AutoscalingSettings:
    """`current` with `changes` applied, or InvalidError saying which value is wrong."""
    changes = {key: value for key, value in changes.items() if value is not None}
    _unknown("autoscaling", changes, {f.name for f in fields(AutoscalingSettings)})
    for name, value in changes.items():
        check_int(name, value, *AUTOSCALING_RANGES[name])
    settings = replace(current, **changes)
    if settings.min_replica > settings.max_replica:
        raise InvalidError(
            f"min_replica ({settings.min_replica}) must not exceed "
            f"max_replica ({settings.max_replica})"
        )
    if development and (
        settings.min_replica != DEVELOPMENT_AUTOSCALING.min_replica
        or settings.max_replica != DEVELOPMENT_AUTOSCALING.max_replica
    ):
        raise InvalidError(
            "the development deployment always has min_replica 0 and max_replica 1",
            code="DEVELOPMENT_REPLICAS",
        )
    return settings


def update_promotion_settings(
    current: PromotionSettings, changes: Mapping[str, Any]
) -> PromotionSettings:
    """Apply a partial `promotion_settings` body (the API's nesting) to `current`."""
    changes = {key: value for key, value in changes.items() if value is not None}
    _unknown(
        "promotion_settings",
        changes,
        {
            "rolling_deploy",
            "rolling_deploy_config",
            "promotion_cleanup_strategy",
            "automatic_rollback",
        },
    )
    settings = current
    if "rolling_deploy" in changes:
        value = changes["rolling_deploy"]
        if not isinstance(value, bool):
            raise InvalidError(f"rolling_deploy must be true or false, got {value!r}")
        settings = replace(settings, rolling_deploy=value)
    if "promotion_cleanup_strategy" in changes:
        value = changes["promotion_cleanup_strategy"]
        try:
            strategy = CleanupStrategy(value)
        except ValueError:
            allowed = ", ".join(s.value for s in CleanupStrategy)
            raise InvalidError(
                f"promotion_cleanup_strategy must be one of {allowed}, got {value!r}"
            ) from None
        settings = replace(settings, promotion_cleanup_strategy=strategy)
    if "rolling_deploy_config" in changes:
        settings = replace(
            settings,
            rolling_deploy_config=update_rolling_config(
                settings.rolling_deploy_config, changes["rolling_deploy_config"]
            ),
        )
    if "automatic_rollback" in changes:
        settings = replace(
            settings,
            automatic_rollback=update_rollback(
                settings.automatic_rollback, changes["automatic_rollback"]
            ),
        )
    return settings


def update_rollback(current: AutomaticRollback, changes: object) -> AutomaticRollback:
    """`automatic_rollback` with a partial update applied (brace's extension)."""
    if not isinstance(changes, Mapping):
        raise InvalidError(f"automatic_rollback must be an object, got {changes!r}")
    # null leaves a field as it is, except the ratio, whose null is a value: no check.
    values = {k: v for k, v in changes.items() if v is not None or k in FLOAT_RANGES}
    _unknown("automatic_rollback", values, {f.name for f in fields(AutomaticRollback)})
    if "enabled" in values and not isinstance(values["enabled"], bool):
        raise InvalidError(f"enabled must be true or false, got {values['enabled']!r}")
    for name, (low, high) in ROLLBACK_RANGES.items():
        if name in values:
            values[name] = check_int(name, values[name], low, high)
    for name, (low_ratio, high_ratio) in FLOAT_RANGES.items():
        if values.get(name) is not None:
            values[name] = check_number(name, values[name], low_ratio, high_ratio)
    return replace(current, **values)


_MODES = ("max_surge_percent", "max_unavailable_percent")


def switch_mode(changes: Mapping[str, Any]) -> dict[str, Any]:
    """`changes` with the other mode's percentage set to 0 when one of surge and
    unavailable is set non-zero alone: choosing a mode clears the other, as Baseten's
    configuration widget does (one of the two is always 0)."""
    values = dict(changes)
    for mode, other in (_MODES, _MODES[::-1]):
        if values.get(mode) and other not in values:
            values[other] = 0
    return values


def update_rolling_config(current: RollingDeployConfig, changes: object) -> RollingDeployConfig:
    if not isinstance(changes, Mapping):
        raise InvalidError(f"rolling_deploy_config must be an object, got {changes!r}")
    values = {key: value for key, value in changes.items() if value is not None}
    strategy = values.pop("rolling_deploy_strategy", "REPLICA")
    if strategy != "REPLICA":
        raise InvalidError(f"rolling_deploy_strategy must be REPLICA, got {strategy!r}")
    _unknown("rolling_deploy_config", values, set(ROLLING_RANGES))
    for name, value in values.items():
        check_int(name, value, *ROLLING_RANGES[name])
    config = replace(current, **switch_mode(values))
    surge, unavailable = config.max_surge_percent, config.max_unavailable_percent
    if (surge == 0) == (unavailable == 0):
        raise InvalidError(
            f"max_surge_percent is {surge} and max_unavailable_percent is {unavailable}: "
            "exactly one of them must be non-zero",
            code="SURGE_OR_UNAVAILABLE",
        )
    return config

"""Records to SQLite values and rows back to records, one function per table.

Settings stored as JSON are read through `stored` (a setting that no longer passes
the rules is kept, with the error beside it), enums as their values, booleans as 0/1.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import fields
from enum import Enum
from functools import lru_cache
from typing import Any

from brace.store.records import (
    AutoscalingSettings,
    Deployment,
    DeploymentStatus,
    Environment,
    Model,
    Promotion,
    PromotionSettings,
    PromotionStatus,
    RolloutAction,
)
from brace.store.stored import read_autoscaling, read_promotion_settings


def to_sql(value: object) -> object:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (AutoscalingSettings, PromotionSettings)):
        return json.dumps(value.to_json())
    return value


def columns(record: object) -> dict[str, object]:
    return {
        f.name: to_sql(getattr(record, f.name))
        for f in fields(record)  # type: ignore[arg-type]
        if f.metadata.get("stored", True)
    }


def model_from(row: sqlite3.Row) -> Model:
    return Model(id=row["id"], name=row["name"], created_at=row["created_at"])


ROW_CACHE = 16_384
"""Deployment rows whose record is kept: the server reads every row at each full read
of the store, and records are frozen, so a row read again as it was is not converted
again."""


def deployment_from(row: sqlite3.Row) -> Deployment:
    return _deployment_from(tuple(row.keys()), tuple(row))


@lru_cache(maxsize=ROW_CACHE)
def _deployment_from(names: tuple[str, ...], values: tuple[object, ...]) -> Deployment:
    row: dict[str, Any] = dict(zip(names, values, strict=True))
    development = bool(row["is_development"])
    autoscaling, error = read_autoscaling(row["autoscaling"], development=development)
    return Deployment(
        id=row["id"],
        model_id=row["model_id"],
        name=row["name"],
        is_development=development,
        status=DeploymentStatus(row["status"]),
        autoscaling=autoscaling,
        created_at=row["created_at"],
        source_dir=row["source_dir"],
        snapshot=row["snapshot"],
        revision=row["revision"],
        active_replica_count=row["active_replica_count"],
        serving_revision=row["serving_revision"],
        failed_revision=row["failed_revision"],
        recommended_replicas=row["recommended_replicas"],
        awake_until=row["awake_until"],
        settings_error=error,
    )


def environment_from(row: sqlite3.Row) -> Environment:
    autoscaling, autoscaling_error = read_autoscaling(row["autoscaling"])
    promotion_settings, promotion_error = read_promotion_settings(row["promotion_settings"])
    return Environment(
        model_id=row["model_id"],
        name=row["name"],
        created_at=row["created_at"],
        autoscaling=autoscaling,
        promotion_settings=promotion_settings,
        current_deployment_id=row["current_deployment_id"],
        settings_error="; ".join(e for e in (autoscaling_error, promotion_error) if e) or None,
    )


def promotion_from(row: sqlite3.Row) -> Promotion:
    action = row["requested_action"]
    return Promotion(
        id=row["id"],
        model_id=row["model_id"],
        environment=row["environment"],
        candidate_id=row["candidate_id"],
        previous_id=row["previous_id"],
        rolling=bool(row["rolling"]),
        status=PromotionStatus(row["status"]),
        percent_traffic=row["percent_traffic"],
        settings=read_promotion_settings(row["settings"])[0],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        error_message=row["error_message"],
        requested_action=RolloutAction(action) if action else None,
        base_replicas=row["base_replicas"],
        step=row["step"],
        step_applied_at=row["step_applied_at"],
        step_settled_at=row["step_settled_at"],
        ramp_down_at=row["ramp_down_at"],
        extra_previous=row["extra_previous"],
        extra_candidate=row["extra_candidate"],
    )

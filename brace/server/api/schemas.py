"""The JSON schemas of the management API's bodies and answers, after Baseten's.

`SCHEMAS` maps each name (`ModelV1`, `DeploymentV1`, `PromoteRequestV1`, ...) to its
JSON Schema; `spec.document()` puts them under `components.schemas`, and the API's
tests validate every answer against them. Enumerations are read from the store's
statuses, so a new status cannot be left out.
"""

from __future__ import annotations

from typing import Any

from brace.store.statuses import (
    CleanupStrategy,
    DeploymentStatus,
    PromotionStatus,
    RolloutAction,
)


def ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, {"type": "null"}]}


def _object(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {**required, **(optional or {})},
        "required": list(required),
        "additionalProperties": False,
    }


INT = {"type": "integer"}
STR = {"type": "string"}
BOOL = {"type": "boolean"}

AUTOSCALING_FIELDS = (
    "min_replica",
    "max_replica",
    "autoscaling_window",
    "scale_down_delay",
    "concurrency_target",
    "target_utilization_percentage",
)
ROLLING_FIELDS = (
    "max_surge_percent",
    "max_unavailable_percent",
    "stabilization_time_seconds",
    "replica_overhead_percent",
)

SCHEMAS: dict[str, dict[str, Any]] = {
    "ModelV1": _object(
        {
            "id": STR,
            "created_at": STR,
            "name": STR,
            "deployments_count": INT,
            "production_deployment_id": _nullable(STR),
            "development_deployment_id": _nullable(STR),
            "instance_type_name": STR,
            "team_name": STR,
        }
    ),
    "ModelsV1": _object({"models": {"type": "array", "items": ref("ModelV1")}}),
    "AutoscalingSettingsV1": _object(dict.fromkeys(AUTOSCALING_FIELDS, INT)),
    "DeploymentV1": _object(
        {
            "id": STR,
            "created_at": STR,
            "name": STR,
            "model_id": STR,
            "is_production": BOOL,
            "is_development": BOOL,
            "status": {"type": "string", "enum": [s.value for s in DeploymentStatus]},
            "active_replica_count": INT,
            "autoscaling_settings": ref("AutoscalingSettingsV1"),
            "instance_type_name": STR,
            "environment": _nullable(STR),
            "labels": _nullable({"type": "object"}),
        }
    ),
    "AutoscalingSettingsChangeV1": _object(
        {
            "previous_deployment_id": STR,
            "previous_autoscaling_settings": ref("AutoscalingSettingsV1"),
            "autoscaling_settings": ref("AutoscalingSettingsV1"),
            "differing_settings": {"type": "array", "items": {"enum": list(AUTOSCALING_FIELDS)}},
        }
    ),
    "DeploymentsV1": _object({"deployments": {"type": "array", "items": ref("DeploymentV1")}}),
    "RollingDeployConfigV1": _object(
        {"rolling_deploy_strategy": {"type": "string", "enum": ["REPLICA"]}}
        | dict.fromkeys(ROLLING_FIELDS, INT)
    ),
    "AutomaticRollbackV1": _object(
        {
            "enabled": BOOL,
            "max_error_rate_percent": INT,
            "min_requests": INT,
            "max_p99_latency_ratio": _nullable({"type": "number"}),
        }
    ),
    "PromotionSettingsV1": _object(
        {
            "rolling_deploy": BOOL,
            "rolling_deploy_config": ref("RollingDeployConfigV1"),
            "promotion_cleanup_strategy": {
                "type": "string",
                "enum": [s.value for s in CleanupStrategy],
            },
            # brace's extension (docs/lifecycle.md, "Automatic rollback").
            "automatic_rollback": ref("AutomaticRollbackV1"),
        }
    ),
    "InProgressPromotionV1": _object(
        {
            "status": {"type": "string", "enum": [s.value for s in PromotionStatus]},
            "percent_traffic_to_new_version": INT,
            "error_message": _nullable(STR),
            "rolling_deploy": BOOL,
            "pending_action": _nullable(
                {"type": "string", "enum": [a.value for a in RolloutAction]}
            ),
        }
    ),
    "InstanceTypeV1": _object(
        {
            "id": STR,
            "name": STR,
            "memory_limit_mib": INT,
            "millicpu_limit": INT,
            "gpu_count": INT,
            "gpu_type": _nullable(STR),
            "gpu_memory_limit_mib": _nullable(INT),
        }
    ),
    "EnvironmentV1": _object(
        {
            "name": STR,
            "created_at": STR,
            "model_id": STR,
            "current_deployment": _nullable(ref("DeploymentV1")),
            "candidate_deployment": _nullable(ref("DeploymentV1")),
            "in_progress_promotion": _nullable(ref("InProgressPromotionV1")),
            "autoscaling_settings": ref("AutoscalingSettingsV1"),
            "promotion_settings": ref("PromotionSettingsV1"),
            "instance_type": ref("InstanceTypeV1"),
        }
    ),
    "EnvironmentsV1": _object({"environments": {"type": "array", "items": ref("EnvironmentV1")}}),
    "ModelTombstoneV1": _object({"id": STR, "deleted": BOOL}),
    "DeploymentTombstoneV1": _object({"id": STR, "deleted": BOOL, "model_id": STR}),
    "EnvironmentTombstoneV1": _object({"name": STR, "model_id": STR, "deleted": BOOL}),
    "ActivateResponseV1": _object({"success": BOOL}),
    "DeactivateResponseV1": _object({"success": BOOL}),
    "UpdateAutoscalingSettingsResponseV1": _object(
        {"status": {"type": "string", "enum": ["ACCEPTED", "QUEUED", "UNCHANGED"]}, "message": STR}
    ),
    "UpdateEnvironmentResponseV1": _object(
        {
            "environment": ref("EnvironmentV1"),
            "status": {"type": "string", "enum": ["ACCEPTED", "QUEUED", "UNCHANGED"]},
            "message": STR,
        }
    ),
    "SignalPromotionResponseV1": _object({"success": BOOL}),
    "CancelPromotionResponseV1": _object(
        {"status": {"type": "string", "enum": ["CANCELED", "RAMPING_DOWN"]}, "message": STR}
    ),
    "LogV1": _object({"timestamp": STR, "message": STR, "replica": _nullable(STR)}),
    "GetLogsResponseV1": _object({"logs": {"type": "array", "items": ref("LogV1")}}),
    "GetLogsRequestV1": _object(
        {},
        {
            "start_epoch_millis": INT,
            "end_epoch_millis": INT,
            "min_level": {"type": "string", "enum": ["DEBUG", "INFO", "WARNING", "ERROR"]},
            "replica": STR,
            "request_id": STR,
            "search_pattern": STR,
            "includes": {"type": "array", "items": STR},
            "excludes": {"type": "array", "items": STR},
        },
    ),
    "DeploymentConfigV1": _object({"config": {"type": "object"}, "raw_config": STR}),
    "DownloadUrlV1": _object({"download_url": STR}),
    "SecretV1": _object({"name": STR, "created_at": STR}),
    "SecretsV1": _object({"secrets": {"type": "array", "items": ref("SecretV1")}}),
    "UpsertSecretRequestV1": _object({"name": STR, "value": STR}),
    "Error": _object({"error": STR, "error_code": STR}, {"details": {"type": "object"}}),
    # Request bodies: every field optional unless required; settings are partial.
    "UpdateDeploymentRequestV1": _object({"name": STR}),
    "PromoteRequestV1": _object(
        {}, {"scale_down_previous_production": BOOL, "preserve_env_instance_type": BOOL}
    ),
    "PromoteToEnvironmentRequestV1": _object(
        {"deployment_id": STR},
        {"scale_down_previous_deployment": BOOL, "preserve_env_instance_type": BOOL},
    ),
    "UpdateAutoscalingSettingsRequestV1": _object({}, dict.fromkeys(AUTOSCALING_FIELDS, INT)),
    "UpdatePromotionSettingsRequestV1": _object(
        {},
        {
            "rolling_deploy": BOOL,
            "rolling_deploy_config": _object({}, dict.fromkeys(ROLLING_FIELDS, INT)),
            "promotion_cleanup_strategy": {
                "type": "string",
                "enum": [s.value for s in CleanupStrategy],
            },
            "automatic_rollback": _object(
                {},
                {
                    "enabled": BOOL,
                    "max_error_rate_percent": INT,
                    "min_requests": INT,
                    "max_p99_latency_ratio": _nullable({"type": "number"}),
                },
            ),
        },
    ),
    "CreateEnvironmentRequestV1": _object(
        {"name": STR},
        {
            "autoscaling_settings": ref("UpdateAutoscalingSettingsRequestV1"),
            "promotion_settings": ref("UpdatePromotionSettingsRequestV1"),
        },
    ),
    "UpdateEnvironmentRequestV1": _object(
        {},
        {
            "autoscaling_settings": ref("UpdateAutoscalingSettingsRequestV1"),
            "promotion_settings": ref("UpdatePromotionSettingsRequestV1"),
        },
    ),
}
# A promotion's answer: the deployment, and (brace's addition) what its own autoscaling
# settings will change when they differ from the current deployment's.
SCHEMAS["PromoteResponseV1"] = {
    **SCHEMAS["DeploymentV1"],
    "properties": {
        **SCHEMAS["DeploymentV1"]["properties"],
        "autoscaling_settings_change": ref("AutoscalingSettingsChangeV1"),
    },
}

"""The OpenAPI 3.1 document of the management API, served at `GET /v1/spec`.

Written by hand after Baseten's management API, and kept true by tests: every route
of `routes.ROUTES` is in it and nothing else is, and the answers the tests get are
validated against these schemas (`tests/server/api/`).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from brace import __version__
from brace.store.statuses import (
    CleanupStrategy,
    DeploymentStatus,
    PromotionStatus,
    RolloutAction,
)

SPEC_PATH = "/v1/spec"


def _ref(name: str) -> dict[str, str]:
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
    "ModelsV1": _object({"models": {"type": "array", "items": _ref("ModelV1")}}),
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
            "autoscaling_settings": _ref("AutoscalingSettingsV1"),
            "instance_type_name": STR,
            "environment": _nullable(STR),
            "labels": _nullable({"type": "object"}),
        }
    ),
    "AutoscalingSettingsChangeV1": _object(
        {
            "previous_deployment_id": STR,
            "previous_autoscaling_settings": _ref("AutoscalingSettingsV1"),
            "autoscaling_settings": _ref("AutoscalingSettingsV1"),
            "differing_settings": {"type": "array", "items": {"enum": list(AUTOSCALING_FIELDS)}},
        }
    ),
    "DeploymentsV1": _object({"deployments": {"type": "array", "items": _ref("DeploymentV1")}}),
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
            "rolling_deploy_config": _ref("RollingDeployConfigV1"),
            "promotion_cleanup_strategy": {
                "type": "string",
                "enum": [s.value for s in CleanupStrategy],
            },
            # brace's extension (docs/lifecycle.md, "Automatic rollback").
            "automatic_rollback": _ref("AutomaticRollbackV1"),
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
            "current_deployment": _nullable(_ref("DeploymentV1")),
            "candidate_deployment": _nullable(_ref("DeploymentV1")),
            "in_progress_promotion": _nullable(_ref("InProgressPromotionV1")),
            "autoscaling_settings": _ref("AutoscalingSettingsV1"),
            "promotion_settings": _ref("PromotionSettingsV1"),
            "instance_type": _ref("InstanceTypeV1"),
        }
    ),
    "EnvironmentsV1": _object({"environments": {"type": "array", "items": _ref("EnvironmentV1")}}),
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
            "environment": _ref("EnvironmentV1"),
            "status": {"type": "string", "enum": ["ACCEPTED", "QUEUED", "UNCHANGED"]},
            "message": STR,
        }
    ),
    "SignalPromotionResponseV1": _object({"success": BOOL}),
    "CancelPromotionResponseV1": _object(
        {"status": {"type": "string", "enum": ["CANCELED", "RAMPING_DOWN"]}, "message": STR}
    ),
    "LogV1": _object({"timestamp": STR, "message": STR, "replica": _nullable(STR)}),
    "GetLogsResponseV1": _object({"logs": {"type": "array", "items": _ref("LogV1")}}),
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
    "SecretsV1": _object({"secrets": {"type": "array", "items": _ref("SecretV1")}}),
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
            "autoscaling_settings": _ref("UpdateAutoscalingSettingsRequestV1"),
            "promotion_settings": _ref("UpdatePromotionSettingsRequestV1"),
        },
    ),
    "UpdateEnvironmentRequestV1": _object(
        {},
        {
            "autoscaling_settings": _ref("UpdateAutoscalingSettingsRequestV1"),
            "promotion_settings": _ref("UpdatePromotionSettingsRequestV1"),
        },
    ),
}
# A promotion's answer: the deployment, and (brace's addition) what its own autoscaling
# settings will change when they differ from the current deployment's.
SCHEMAS["PromoteResponseV1"] = {
    **SCHEMAS["DeploymentV1"],
    "properties": {
        **SCHEMAS["DeploymentV1"]["properties"],
        "autoscaling_settings_change": _ref("AutoscalingSettingsChangeV1"),
    },
}

_ERRORS = {
    "400": "The body or a value in it is invalid",
    "401": "No valid API key",
    "404": "No such model, deployment or environment",
    "409": "A lifecycle rule refuses the action now",
}

# (method, path) -> (summary, request schema or None, success status, response schema)
OPERATIONS: dict[tuple[str, str], tuple[str, str | None, int, str]] = {
    ("GET", "/v1/models"): ("List models", None, 200, "ModelsV1"),
    ("GET", "/v1/models/{model_id}"): ("Get a model", None, 200, "ModelV1"),
    ("DELETE", "/v1/models/{model_id}"): (
        "Delete a model with its deployments and environments",
        None,
        200,
        "ModelTombstoneV1",
    ),
    ("GET", "/v1/models/{model_id}/deployments"): (
        "List a model's deployments",
        None,
        200,
        "DeploymentsV1",
    ),
    ("GET", "/v1/models/{model_id}/deployments/{deployment_id}"): (
        "Get a deployment (or `development`, `production`)",
        None,
        200,
        "DeploymentV1",
    ),
    ("DELETE", "/v1/models/{model_id}/deployments/{deployment_id}"): (
        "Delete a deployment",
        None,
        200,
        "DeploymentTombstoneV1",
    ),
    ("PATCH", "/v1/models/{model_id}/deployments/{deployment_id}"): (
        "Rename a deployment",
        "UpdateDeploymentRequestV1",
        200,
        "DeploymentV1",
    ),
    ("POST", "/v1/models/{model_id}/deployments/{deployment_id}/activate"): (
        "Activate a deployment",
        None,
        200,
        "ActivateResponseV1",
    ),
    ("POST", "/v1/models/{model_id}/deployments/{deployment_id}/deactivate"): (
        "Deactivate a deployment",
        None,
        200,
        "DeactivateResponseV1",
    ),
    ("POST", "/v1/models/{model_id}/deployments/{deployment_id}/promote"): (
        "Promote a deployment (or `development`: a new deployment from it) to production",
        "PromoteRequestV1",
        200,
        "PromoteResponseV1",
    ),
    ("PATCH", "/v1/models/{model_id}/deployments/{deployment_id}/autoscaling_settings"): (
        "Update a deployment's autoscaling settings",
        "UpdateAutoscalingSettingsRequestV1",
        200,
        "UpdateAutoscalingSettingsResponseV1",
    ),
    ("GET", "/v1/models/{model_id}/deployments/{deployment_id}/logs"): (
        "The last lines of a deployment's log",
        None,
        200,
        "GetLogsResponseV1",
    ),
    ("POST", "/v1/models/{model_id}/deployments/{deployment_id}/logs"): (
        "Search a deployment's log: newest first, filtered by time, level, replica, "
        "request id and text",
        "GetLogsRequestV1",
        200,
        "GetLogsResponseV1",
    ),
    ("GET", "/v1/models/{model_id}/deployments/{deployment_id}/config"): (
        "A deployment's config.yaml, parsed and as written",
        None,
        200,
        "DeploymentConfigV1",
    ),
    ("GET", "/v1/models/{model_id}/deployments/{deployment_id}/download"): (
        "A short-lived signed link to the deployment's Truss as a tar.gz archive",
        None,
        200,
        "DownloadUrlV1",
    ),
    ("GET", "/v1/secrets"): ("List secrets: names and dates, never values", None, 200, "SecretsV1"),
    ("POST", "/v1/secrets"): (
        "Create or replace a secret",
        "UpsertSecretRequestV1",
        200,
        "SecretV1",
    ),
    ("GET", "/v1/models/{model_id}/environments"): (
        "List a model's environments",
        None,
        200,
        "EnvironmentsV1",
    ),
    ("POST", "/v1/models/{model_id}/environments"): (
        "Create an environment",
        "CreateEnvironmentRequestV1",
        200,
        "EnvironmentV1",
    ),
    ("GET", "/v1/models/{model_id}/environments/{env_name}"): (
        "Get an environment",
        None,
        200,
        "EnvironmentV1",
    ),
    ("PATCH", "/v1/models/{model_id}/environments/{env_name}"): (
        "Update an environment's settings (partial updates are merged)",
        "UpdateEnvironmentRequestV1",
        200,
        "UpdateEnvironmentResponseV1",
    ),
    ("DELETE", "/v1/models/{model_id}/environments/{env_name}"): (
        "Delete an environment",
        None,
        200,
        "EnvironmentTombstoneV1",
    ),
    ("POST", "/v1/models/{model_id}/environments/{env_name}/promote"): (
        "Promote a deployment to the environment",
        "PromoteToEnvironmentRequestV1",
        200,
        "PromoteResponseV1",
    ),
    **{
        ("POST", f"/v1/models/{{model_id}}/environments/{{env_name}}/{action}"): (
            summary,
            None,
            200,
            response,
        )
        for action, summary, response in [
            ("pause_promotion", "Pause a rolling promotion", "SignalPromotionResponseV1"),
            ("resume_promotion", "Resume a paused rolling promotion", "SignalPromotionResponseV1"),
            (
                "cancel_promotion",
                "Cancel a promotion (gracefully when rolling)",
                "CancelPromotionResponseV1",
            ),
            ("force_cancel_promotion", "Cancel a promotion at once", "SignalPromotionResponseV1"),
            (
                "force_roll_forward_promotion",
                "Finish a rolling promotion at once",
                "SignalPromotionResponseV1",
            ),
            ("activate", "Activate the environment's deployment", "ActivateResponseV1"),
            ("deactivate", "Deactivate the environment's deployment", "DeactivateResponseV1"),
        ]
    },
}


_OPTIONAL_BODIES = frozenset({"PromoteRequestV1", "GetLogsRequestV1"})


def _parameters(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": STR}
        for name in ("model_id", "deployment_id", "env_name")
        if f"{{{name}}}" in path
    ]


def document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for (method, path), (summary, request, status, response) in OPERATIONS.items():
        operation: dict[str, Any] = {
            "summary": summary,
            "parameters": _parameters(path),
            "responses": {
                str(status): {
                    "description": "OK",
                    "content": {"application/json": {"schema": _ref(response)}},
                },
                **{
                    code: {
                        "description": text,
                        "content": {"application/json": {"schema": _ref("Error")}},
                    }
                    for code, text in _ERRORS.items()
                },
            },
        }
        if request is not None:
            operation["requestBody"] = {
                "required": request not in _OPTIONAL_BODIES,
                "content": {"application/json": {"schema": _ref(request)}},
            }
        paths.setdefault(path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "brace management API (Baseten's, served locally)",
            "version": __version__,
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {
                "ApiKeyAuth": {
                    "type": "apiKey",
                    "in": "header",
                    "name": "Authorization",
                    "description": "`Api-Key <key>` or `Bearer <key>` (`brace api-key`).",
                }
            },
        },
        "security": [{"ApiKeyAuth": []}],
        "paths": paths,
    }


async def _spec(request: Request) -> JSONResponse:
    return JSONResponse(document())


def spec_route() -> Route:
    return Route(SPEC_PATH, _spec, methods=["GET"])

"""The OpenAPI 3.1 document of the management API, served at `GET /v1/spec`.

Written by hand after Baseten's management API, and kept true by tests: every route
of `routes.ROUTES` is in it and nothing else is, and the answers the tests get are
validated against these schemas (`tests/server/api/`). The schemas themselves, one per
record and body, are `schemas.SCHEMAS`; this module holds the operations.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from brace import __version__
from brace.server.api.schemas import SCHEMAS, STR, ref

SPEC_PATH = "/v1/spec"


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
                    "content": {"application/json": {"schema": ref(response)}},
                },
                **{
                    code: {
                        "description": text,
                        "content": {"application/json": {"schema": ref("Error")}},
                    }
                    for code, text in _ERRORS.items()
                },
            },
        }
        if request is not None:
            operation["requestBody"] = {
                "required": request not in _OPTIONAL_BODIES,
                "content": {"application/json": {"schema": ref(request)}},
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

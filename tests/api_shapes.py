"""The key sets of the management API's JSON objects (Baseten's ModelV1, DeploymentV1, ...)."""

from __future__ import annotations

DEPLOYMENT_KEYS = {
    "id",
    "created_at",
    "name",
    "model_id",
    "is_production",
    "is_development",
    "status",
    "active_replica_count",
    "autoscaling_settings",
    "instance_type_name",
    "environment",
    "labels",
}
MODEL_KEYS = {
    "id",
    "created_at",
    "name",
    "deployments_count",
    "production_deployment_id",
    "development_deployment_id",
    "instance_type_name",
    "team_name",
}
ENVIRONMENT_KEYS = {
    "name",
    "created_at",
    "model_id",
    "current_deployment",
    "candidate_deployment",
    "in_progress_promotion",
    "autoscaling_settings",
    "promotion_settings",
    "instance_type",
}
PROMOTION_KEYS = {
    "status",
    "percent_traffic_to_new_version",
    "error_message",
    "rolling_deploy",
    "pending_action",
}
AUTOSCALING_KEYS = {
    "min_replica",
    "max_replica",
    "autoscaling_window",
    "scale_down_delay",
    "concurrency_target",
    "target_utilization_percentage",
}

"""Every management path: its success shape (validated against the OpenAPI document),
its refusals with status and error_code, and the key it requires."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from brace.errors import StateError
from brace.server.api import routes, trussclient
from brace.server.api.errors import error_body
from brace.server.api.spec import OPERATIONS, SPEC_PATH, document
from brace.server.app import internal_app
from brace.server.storeworker import StoreWorker
from brace.services.push import push
from brace.store import Deployment, DeploymentStatus, Store
from tests.server.api.conftest import KEY, conforms
from tests.services.conftest import become_active, enable_rolling

ROUTES = [*routes.ROUTES, *trussclient.ROUTES]


def _model(store: Store) -> str:
    with store.read() as tx:
        return tx.models()[0].id


def _refused(answer: object, status: int, code: str, error: str) -> None:
    assert answer.status_code == status, answer.text  # type: ignore[attr-defined]
    body = answer.json()  # type: ignore[attr-defined]
    assert (body["error"], body["error_code"]) == (error, code)
    conforms(body, "Error")


# auth


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="no-key"),
        pytest.param({"Authorization": "Api-Key wrong"}, id="wrong-key"),
        pytest.param({"Authorization": KEY}, id="no-scheme"),
    ],
)
def test_every_v1_path_needs_the_key(api: TestClient, headers: dict[str, str]) -> None:
    for route in ROUTES:
        path = route.path.format(model_id="m", deployment_id="d", env_name="e")
        for method in route.methods or ():
            if method == "HEAD":
                continue
            answer = api.request(method, path, headers={"Authorization": "", **headers})
            assert answer.status_code == 401, (method, path)
            assert answer.json()["error_code"] == "UNAUTHORIZED"


def test_bearer_works_and_health_needs_no_key(api: TestClient, production: Deployment) -> None:
    assert api.get("/v1/models", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200
    assert api.get("/healthz", headers={"Authorization": ""}).status_code == 200


# the spec


def test_the_spec_lists_exactly_the_routes(api: TestClient) -> None:
    served = {
        (method, route.path)
        for route in ROUTES
        for method in route.methods or ()
        if method != "HEAD"
    }
    assert served == set(OPERATIONS)
    answer = api.get(SPEC_PATH)
    assert answer.status_code == 200
    assert answer.json() == document()


# models


def test_models(api: TestClient, store: Store, production: Deployment) -> None:
    listed = api.get("/v1/models").json()
    conforms(listed, "ModelsV1")
    [model] = listed["models"]
    assert (model["name"], model["production_deployment_id"]) == ("hello", production.id)
    by_id = api.get(f"/v1/models/{model['id']}").json()
    conforms(by_id, "ModelV1")
    assert by_id == model
    _refused(api.get("/v1/models/nope"), 404, "MODEL_NOT_FOUND", "no model named 'nope'")
    deleted = api.delete(f"/v1/models/{model['id']}").json()
    conforms(deleted, "ModelTombstoneV1")
    assert deleted == {"id": model["id"], "deleted": True}
    assert api.get("/v1/models").json() == {"models": []}


# deployments


def test_deployments(api: TestClient, store: Store, production: Deployment) -> None:
    model_id = production.model_id
    base = f"/v1/models/{model_id}/deployments"
    listed = api.get(base).json()
    conforms(listed, "DeploymentsV1")
    assert [d["id"] for d in listed["deployments"]] == [production.id]
    for ref in (production.id, "production"):
        shown = api.get(f"{base}/{ref}").json()
        conforms(shown, "DeploymentV1")
        assert (shown["id"], shown["is_production"], shown["environment"]) == (
            production.id,
            True,
            "production",
        )
    _refused(
        api.get(f"{base}/development"),
        404,
        "NO_DEVELOPMENT",
        "model 'hello' has no development deployment",
    )


def test_rename_activate_deactivate_delete(
    api: TestClient, store: Store, production: Deployment, truss_dir: Path
) -> None:
    other = push(store, truss_dir, publish=True).deployment
    base = f"/v1/models/{production.model_id}/deployments/{other.id}"
    renamed = api.patch(base, json={"name": "v2"})
    assert renamed.status_code == 200
    conforms(renamed.json(), "DeploymentV1")
    assert renamed.json()["name"] == "v2"
    _refused(
        api.patch(base, json={"name": 2}),
        400,
        "INVALID_BODY",
        "the field 'name' must be a string, not int",
    )
    _refused(
        api.patch(base, json={"title": "x"}),
        400,
        "INVALID_BODY",
        "unknown field 'title'; allowed: name",
    )
    _refused(
        api.patch(base, content=b"[1"),
        400,
        "INVALID_BODY",
        api.patch(base, content=b"[1").json()["error"],
    )
    assert api.post(f"{base}/deactivate").json() == {"success": True}
    _refused(
        api.post(f"{base}/deactivate"),
        409,
        "CONFLICT",
        f"deployment v2 ({other.id}) is already INACTIVE",
    )
    assert api.post(f"{base}/activate").json() == {"success": True}
    deleted = api.delete(base).json()
    conforms(deleted, "DeploymentTombstoneV1")
    assert deleted == {"id": other.id, "deleted": True, "model_id": production.model_id}
    _refused(
        api.delete(f"/v1/models/{production.model_id}/deployments/{production.id}"),
        409,
        "CURRENT_DEPLOYMENT",
        f"deployment deployment-1 ({production.id}) is production's current deployment "
        "and cannot be deleted",
    )


def test_autoscaling_settings(api: TestClient, production: Deployment) -> None:
    path = f"/v1/models/{production.model_id}/deployments/{production.id}/autoscaling_settings"
    accepted = api.patch(path, json={"max_replica": 3, "scale_down_delay": 60})
    conforms(accepted.json(), "UpdateAutoscalingSettingsResponseV1")
    assert accepted.json()["status"] == "ACCEPTED"
    assert api.patch(path, json={"max_replica": 3}).json()["status"] == "UNCHANGED"
    shown = api.get(f"/v1/models/{production.model_id}/deployments/{production.id}").json()
    assert shown["autoscaling_settings"]["max_replica"] == 3
    invalid = api.patch(path, json={"min_replica": -1})
    assert (invalid.status_code, invalid.json()["error_code"]) == (400, "VALIDATION_ERROR")
    unknown = api.patch(path, json={"replicas": 2})
    assert (unknown.status_code, unknown.json()["error_code"]) == (400, "VALIDATION_ERROR")


def test_promote_a_published_deployment(
    api: TestClient, store: Store, production: Deployment, truss_dir: Path
) -> None:
    other = push(store, truss_dir, publish=True).deployment
    promoted = api.post(f"/v1/models/{production.model_id}/deployments/{other.id}/promote")
    assert promoted.status_code == 200, promoted.text
    conforms(promoted.json(), "DeploymentV1")  # same settings: Baseten's answer as it is
    environment = api.get(f"/v1/models/{production.model_id}/environments/production").json()
    conforms(environment, "EnvironmentV1")
    assert environment["candidate_deployment"]["id"] == other.id
    assert environment["in_progress_promotion"]["status"] == "RELEASING"
    _refused(
        api.post(f"/v1/models/{production.model_id}/deployments/{other.id}/promote"),
        409,
        "PROMOTION_IN_PROGRESS",
        api.post(f"/v1/models/{production.model_id}/deployments/{other.id}/promote").json()[
            "error"
        ],
    )


def test_promote_answer_says_the_candidate_keeps_other_autoscaling_settings(
    api: TestClient, store: Store, production: Deployment, truss_dir: Path
) -> None:
    base = f"/v1/models/{production.model_id}/deployments"
    pinned = {"min_replica": 2, "max_replica": 2}
    assert api.patch(f"{base}/{production.id}/autoscaling_settings", json=pinned).status_code == 200
    other = push(store, truss_dir, publish=True).deployment
    promoted = api.post(f"{base}/{other.id}/promote")
    assert promoted.status_code == 200, promoted.text
    conforms(promoted.json(), "PromoteResponseV1")
    change = promoted.json()["autoscaling_settings_change"]
    assert change["previous_deployment_id"] == production.id
    assert change["previous_autoscaling_settings"] == production.autoscaling.to_json() | pinned
    assert change["autoscaling_settings"] == other.autoscaling.to_json()
    assert change["differing_settings"] == ["min_replica", "max_replica"]


def test_promote_development_makes_a_new_deployment(
    api: TestClient, store: Store, production: Deployment, truss_dir: Path
) -> None:
    push(store, truss_dir)
    promoted = api.post(
        f"/v1/models/{production.model_id}/deployments/development/promote",
        json={"scale_down_previous_production": True},
    )
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["name"] == "deployment-2"
    assert promoted.json()["is_development"] is False


def test_logs(api: TestClient, store: Store, production: Deployment) -> None:
    log = store.home / "logs" / f"{production.id}.log"
    log.parent.mkdir(exist_ok=True)
    log.write_text("2026-01-02T03:04:05 [brace] status ACTIVE\nhello from load()\n")
    answer = api.get(f"/v1/models/{production.model_id}/deployments/{production.id}/logs")
    conforms(answer.json(), "GetLogsResponseV1")
    first, second = answer.json()["logs"]
    assert first["message"] == "2026-01-02T03:04:05 [brace] status ACTIVE"
    assert int(first["timestamp"]) > 1_700_000_000 * 10**9
    assert second == {"timestamp": "", "message": "hello from load()", "replica": None}


# environments


def test_environments(api: TestClient, store: Store, production: Deployment) -> None:
    base = f"/v1/models/{production.model_id}/environments"
    created = api.post(
        base,
        json={"name": "staging", "promotion_settings": {"rolling_deploy": True}},
    )
    assert created.status_code == 200, created.text
    conforms(created.json(), "EnvironmentV1")
    assert created.json()["promotion_settings"]["rolling_deploy"] is True
    listed = api.get(base).json()
    conforms(listed, "EnvironmentsV1")
    assert [e["name"] for e in listed["environments"]] == ["production", "staging"]
    _refused(
        api.post(base, json={"name": "staging"}),
        409,
        "ENVIRONMENT_EXISTS",
        "model 'hello' already has an environment 'staging'",
    )
    patched = api.patch(
        f"{base}/staging",
        json={
            "promotion_settings": {
                "rolling_deploy_config": {"max_surge_percent": 25},
                "promotion_cleanup_strategy": "KEEP",
            }
        },
    )
    assert patched.status_code == 200, patched.text
    conforms(patched.json(), "UpdateEnvironmentResponseV1")
    assert patched.json()["status"] == "ACCEPTED"
    settings = patched.json()["environment"]["promotion_settings"]
    # Partial updates are merged: rolling_deploy stays on.
    assert (settings["rolling_deploy"], settings["promotion_cleanup_strategy"]) == (True, "KEEP")
    assert settings["rolling_deploy_config"]["max_surge_percent"] == 25
    # Setting one mode's percentage alone clears the other (Baseten's widget does so).
    switched = api.patch(
        f"{base}/staging",
        json={"promotion_settings": {"rolling_deploy_config": {"max_unavailable_percent": 20}}},
    )
    config = switched.json()["environment"]["promotion_settings"]["rolling_deploy_config"]
    assert (config["max_surge_percent"], config["max_unavailable_percent"]) == (0, 20)
    invalid = api.patch(
        f"{base}/staging",
        json={
            "promotion_settings": {
                "rolling_deploy_config": {"max_surge_percent": 10, "max_unavailable_percent": 20}
            }
        },
    )
    assert (invalid.status_code, invalid.json()["error_code"]) == (400, "SURGE_OR_UNAVAILABLE")
    deleted = api.delete(f"{base}/staging").json()
    conforms(deleted, "EnvironmentTombstoneV1")
    _refused(
        api.get(f"{base}/staging"),
        404,
        "ENVIRONMENT_NOT_FOUND",
        "model 'hello' has no environment 'staging'",
    )
    production_delete = api.delete(f"{base}/production")
    assert (production_delete.status_code, production_delete.json()["error_code"]) == (
        409,
        "DELETE_PRODUCTION",
    )


def test_environment_promote_and_rollout_actions(
    api: TestClient, store: Store, production: Deployment, truss_dir: Path
) -> None:
    enable_rolling(store)
    candidate = push(store, truss_dir, publish=True).deployment
    base = f"/v1/models/{production.model_id}/environments/production"
    _refused(
        api.post(f"{base}/pause_promotion"),
        409,
        "NO_PROMOTION",
        "no promotion is in progress in production",
    )
    promoted = api.post(f"{base}/promote", json={"deployment_id": candidate.id})
    assert promoted.status_code == 200, promoted.text
    assert promoted.json()["id"] == candidate.id
    for action, status in [
        ("pause_promotion", "PAUSED"),
        ("resume_promotion", "RAMPING_UP"),
        ("cancel_promotion", "RAMPING_DOWN"),
        ("force_roll_forward_promotion", "SUCCEEDED"),
    ]:
        answer = api.post(f"{base}/{action}")
        assert answer.status_code == 200, (action, answer.text)
        if action == "cancel_promotion":
            conforms(answer.json(), "CancelPromotionResponseV1")
            assert answer.json()["status"] == status
        else:
            conforms(answer.json(), "SignalPromotionResponseV1")
            assert answer.json() == {"success": True}
        shown = api.get(base).json()["in_progress_promotion"]
        # Recorded for the controller (none runs here): the promotion object says so.
        assert (shown["status"], shown["pending_action"]) == ("RELEASING", _ACTIONS[action])
    missing = api.post(f"{base}/promote", json={})
    assert (missing.status_code, missing.json()["error"]) == (
        400,
        "the field 'deployment_id' is required",
    )


_ACTIONS = {
    "pause_promotion": "PAUSE",
    "resume_promotion": "RESUME",
    "cancel_promotion": "CANCEL",
    "force_roll_forward_promotion": "FORCE_ROLL_FORWARD",
}


def test_unknown_paths_and_methods_answer_json(api: TestClient) -> None:
    assert api.get("/v1/nothing").json()["error_code"] == "NOT_FOUND"
    wrong = api.put("/v1/models")
    assert (wrong.status_code, wrong.json()["error_code"]) == (405, "METHOD_NOT_ALLOWED")


def test_a_failed_deployment_reads_as_such(
    api: TestClient, store: Store, production: Deployment, truss_dir: Path
) -> None:
    other = push(store, truss_dir, publish=True).deployment
    with store.transaction() as tx:
        found = tx.deployment(other.id)
        assert found is not None
        tx.update_deployment(found, status=DeploymentStatus.DEPLOY_FAILED)
    shown = api.get(f"/v1/models/{production.model_id}/deployments/{other.id}").json()
    assert shown["status"] == "DEPLOY_FAILED"
    become_active(store, other.id)


def test_environment_activate_deactivate_and_name_filters(
    api: TestClient, store: Store, production: Deployment, truss_dir: Path
) -> None:
    base = f"/v1/models/{production.model_id}"
    assert api.post(f"{base}/environments/production/deactivate").json() == {"success": True}
    shown = api.get(f"{base}/deployments/{production.id}").json()
    assert shown["status"] == "INACTIVE"
    assert api.post(f"{base}/environments/production/activate").json() == {"success": True}
    api.post(f"{base}/environments", json={"name": "staging"})
    _refused(
        api.post(f"{base}/environments/staging/activate"),
        404,
        "NO_DEPLOYMENT",
        "environment 'staging' has no deployment",
    )
    push(store, truss_dir, publish=True)
    named = api.get(f"{base}/deployments", params={"name": "deployment-2"}).json()
    assert [d["name"] for d in named["deployments"]] == ["deployment-2"]
    assert api.get("/v1/models", params={"name": "other"}).json() == {"models": []}
    assert len(api.get("/v1/models", params={"name": "hello"}).json()["models"]) == 1


# faults


def test_errors_about_brace_files_name_no_path(home: Path) -> None:
    full = StateError(f"{home}/brace.db: the disk is full (database or disk is full)", "Free")
    assert error_body(full) == {
        "error": "brace.db: the disk is full (database or disk is full)",
        "error_code": "STATE_ERROR",
    }


def test_health_says_what_keeps_the_server_from_its_job(home: Path) -> None:
    worker = StoreWorker(home)
    problems = ["cannot write its state (brace.db: the disk is full)"]
    try:
        app = internal_app("test-server", KEY, worker, problems=lambda: problems)
        with TestClient(app) as client:
            assert client.get("/healthz").json()["problems"] == problems
            problems.clear()
            assert client.get("/healthz").json()["problems"] == []
    finally:
        worker.close()

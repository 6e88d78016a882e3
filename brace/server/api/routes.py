"""The management API's paths: each handler reads the request, makes one call to
`brace.services` in the store's thread, and answers with Baseten's JSON shape
(`brace.services.views`, the shapes `brace ... -o json` prints too).

Paths, bodies and answers follow Baseten's management API (docs/api.md);
`development` and `production` stand for those deployments of a model wherever a
deployment id goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from brace.errors import NotFoundError
from brace.logs import DeploymentLog, log_record
from brace.server.api import bodies
from brace.server.paths import ServerPaths
from brace.server.storeworker import StoreWorker
from brace.services import deployments, environments, models, rollout_actions, views
from brace.services.lookup import PRODUCTION, find_deployment, find_environment, find_model
from brace.services.promote import promote
from brace.store import PromotionStatus, RolloutAction, Store

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[JSONResponse]]

LOG_LINES = 1000
"""Most log lines `GET .../logs` returns (the last ones), as Baseten's `limit` allows."""


async def _run(request: Request, use: Callable[[Store], T]) -> T:
    worker: StoreWorker = request.app.state.store
    return await worker.call(use)


async def _body(request: Request, *names: str, required: bool = True) -> dict[str, Any]:
    """The JSON object body; with `names`, no other field is allowed."""
    body = bodies.parse(await bodies.read(request), required=required)
    if names:
        bodies.only(body, *names)
    return body


def _model_id(request: Request) -> str:
    return str(request.path_params["model_id"])


def _deployment_id(request: Request) -> str:
    return str(request.path_params["deployment_id"])


def _env_name(request: Request) -> str:
    return str(request.path_params["env_name"])


def _settings_answer(changed: bool) -> dict[str, str]:
    if changed:
        return {"status": "ACCEPTED", "message": "The new settings are being applied."}
    return {"status": "UNCHANGED", "message": "The settings are unchanged."}


# models


async def list_models(request: Request) -> JSONResponse:
    name = request.query_params.get("name")

    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            found = [m for m in tx.models() if name is None or m.name == name]
            return {"models": views.models_json(tx, found)}

    return JSONResponse(await _run(request, read))


async def get_model(request: Request) -> JSONResponse:
    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            return views.model_json(tx, find_model(tx, _model_id(request)))

    return JSONResponse(await _run(request, read))


async def delete_model(request: Request) -> JSONResponse:
    deleted = await _run(request, lambda store: models.delete(store, _model_id(request)))
    return JSONResponse({"id": deleted.id, "deleted": True})


# deployments


async def list_deployments(request: Request) -> JSONResponse:
    name = request.query_params.get("name")

    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            model = find_model(tx, _model_id(request))
            found = [d for d in tx.deployments(model.id) if name is None or d.name == name]
            return views.deployments_json(tx, found)

    return JSONResponse(await _run(request, read))


def _deployment_view(request: Request, ref: str | None = None) -> Callable[[Store], Any]:
    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            found = find_deployment(tx, ref or _deployment_id(request), _model_id(request))
            return views.deployment_json(tx, found)

    return read


async def get_deployment(request: Request) -> JSONResponse:
    return JSONResponse(await _run(request, _deployment_view(request)))


async def delete_deployment(request: Request) -> JSONResponse:
    deleted = await _run(
        request,
        lambda store: deployments.delete(store, _deployment_id(request), _model_id(request)),
    )
    return JSONResponse({"id": deleted.id, "deleted": True, "model_id": deleted.model_id})


async def update_deployment(request: Request) -> JSONResponse:
    body = await _body(request, "name")
    name = bodies.field(body, "name", str, required=True)
    assert name is not None
    renamed = await _run(
        request,
        lambda store: deployments.rename(store, _deployment_id(request), name, _model_id(request)),
    )
    return JSONResponse(await _run(request, _deployment_view(request, renamed.id)))


def _lifecycle(use: Callable[[Store, str, str], object]) -> Handler:
    """Activate or deactivate a deployment."""

    async def handle(request: Request) -> JSONResponse:
        await _body(request, required=False)  # none is needed; an unreadable one is a 400
        await _run(request, lambda store: use(store, _deployment_id(request), _model_id(request)))
        return JSONResponse({"success": True})

    return handle


async def promote_deployment(request: Request) -> JSONResponse:
    """To production. `scale_down_previous_production` and `preserve_env_instance_type`
    are checked and have nothing to act on here (docs/api.md)."""
    body = await _body(
        request, "scale_down_previous_production", "preserve_env_instance_type", required=False
    )
    bodies.field(body, "scale_down_previous_production", bool)
    bodies.field(body, "preserve_env_instance_type", bool)
    return await _promote(request, _deployment_id(request), PRODUCTION)


async def _promote(request: Request, ref: str, environment: str) -> JSONResponse:
    result = await _run(
        request,
        lambda store: promote(store, ref, model_ref=_model_id(request), environment=environment),
    )
    answer = await _run(request, _deployment_view(request, result.deployment.id))
    if result.autoscaling_change is not None:
        answer["autoscaling_settings_change"] = result.autoscaling_change.to_json()
    return JSONResponse(answer)


async def update_autoscaling(request: Request) -> JSONResponse:
    body = await _body(request)  # the services name an unknown or invalid setting
    _, changed = await _run(
        request,
        lambda store: deployments.set_autoscaling(
            store, _deployment_id(request), body, _model_id(request)
        ),
    )
    return JSONResponse(_settings_answer(changed))


async def deployment_logs(request: Request) -> JSONResponse:
    def read(store: Store) -> str:
        with store.read() as tx:
            return find_deployment(tx, _deployment_id(request), _model_id(request)).id

    found = await _run(request, read)
    worker: StoreWorker = request.app.state.store
    log = DeploymentLog(ServerPaths(worker.home).deployment_log(found))
    lines = await asyncio.to_thread(log.tail, LOG_LINES)
    return JSONResponse({"logs": [log_record(line) for line in lines]})


# environments


async def list_environments(request: Request) -> JSONResponse:
    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            model = find_model(tx, _model_id(request))
            found = tx.environments(model.id)
            return {"environments": [views.environment_json(tx, e) for e in found]}

    return JSONResponse(await _run(request, read))


def _environment_view(request: Request, name: str | None = None) -> Callable[[Store], Any]:
    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            model = find_model(tx, _model_id(request))
            found = find_environment(tx, model, name or _env_name(request))
            return views.environment_json(tx, found)

    return read


async def get_environment(request: Request) -> JSONResponse:
    return JSONResponse(await _run(request, _environment_view(request)))


def _settings(body: dict[str, Any]) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    return (
        bodies.field(body, "autoscaling_settings", dict),
        bodies.field(body, "promotion_settings", dict),
    )


async def create_environment(request: Request) -> JSONResponse:
    body = await _body(request, "name", "autoscaling_settings", "promotion_settings")
    name = bodies.field(body, "name", str, required=True)
    assert name is not None
    autoscaling, promotion_settings = _settings(body)
    await _run(
        request,
        lambda store: environments.create(
            store,
            name,
            _model_id(request),
            autoscaling=autoscaling,
            promotion_settings=promotion_settings,
        ),
    )
    return JSONResponse(await _run(request, _environment_view(request, name)))


async def update_environment(request: Request) -> JSONResponse:
    body = await _body(request, "autoscaling_settings", "promotion_settings")
    autoscaling, promotion_settings = _settings(body)
    _, changed = await _run(
        request,
        lambda store: environments.update(
            store,
            _env_name(request),
            _model_id(request),
            autoscaling=autoscaling,
            promotion_settings=promotion_settings,
        ),
    )
    environment = await _run(request, _environment_view(request))
    return JSONResponse({"environment": environment, **_settings_answer(changed)})


async def delete_environment(request: Request) -> JSONResponse:
    deleted = await _run(
        request, lambda store: environments.delete(store, _env_name(request), _model_id(request))
    )
    return JSONResponse({"name": deleted.name, "model_id": deleted.model_id, "deleted": True})


async def promote_to_environment(request: Request) -> JSONResponse:
    body = await _body(
        request, "deployment_id", "scale_down_previous_deployment", "preserve_env_instance_type"
    )
    deployment_id = bodies.field(body, "deployment_id", str, required=True)
    bodies.field(body, "scale_down_previous_deployment", bool)
    bodies.field(body, "preserve_env_instance_type", bool)
    assert deployment_id is not None
    return await _promote(request, deployment_id, _env_name(request))


def _rollout_action(action: RolloutAction) -> Handler:
    async def handle(request: Request) -> JSONResponse:
        await _body(request, required=False)
        _, leads_to = await _run(
            request,
            lambda store: rollout_actions.request(
                store, action, _model_id(request), _env_name(request)
            ),
        )
        if action is RolloutAction.CANCEL:
            return JSONResponse({"status": leads_to.value, "message": _CANCELED[leads_to]})
        return JSONResponse({"success": True})

    return handle


_CANCELED = {
    PromotionStatus.RAMPING_DOWN: (
        "From the end of the current step, traffic ramps back to the previous deployment "
        "step by step; until then in_progress_promotion.pending_action is CANCEL."
    ),
    PromotionStatus.CANCELED: (
        "The promotion is canceled at the controller's next pass; traffic stays on the "
        "current deployment."
    ),
}
_ACTION_PATHS = {
    "pause_promotion": RolloutAction.PAUSE,
    "resume_promotion": RolloutAction.RESUME,
    "cancel_promotion": RolloutAction.CANCEL,
    "force_cancel_promotion": RolloutAction.FORCE_CANCEL,
    "force_roll_forward_promotion": RolloutAction.FORCE_ROLL_FORWARD,
}


def _environment_lifecycle(use: Callable[[Store, str, str], object]) -> Handler:
    """Activate or deactivate the deployment an environment serves."""

    async def handle(request: Request) -> JSONResponse:
        await _body(request, required=False)

        def act(store: Store) -> None:
            with store.read() as tx:
                model = find_model(tx, _model_id(request))
                environment = find_environment(tx, model, _env_name(request))
            if environment.current_deployment_id is None:
                raise NotFoundError(
                    f"environment {environment.name!r} has no deployment",
                    code="NO_DEPLOYMENT",
                    facts={"environment": environment.name},
                )
            use(store, environment.current_deployment_id, model.id)

        await _run(request, act)
        return JSONResponse({"success": True})

    return handle


_MODEL = "/v1/models/{model_id}"
_DEPLOYMENT = _MODEL + "/deployments/{deployment_id}"
_ENVIRONMENT = _MODEL + "/environments/{env_name}"

ROUTES = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route(_MODEL, get_model, methods=["GET"]),
    Route(_MODEL, delete_model, methods=["DELETE"]),
    Route(_MODEL + "/deployments", list_deployments, methods=["GET"]),
    Route(_DEPLOYMENT, get_deployment, methods=["GET"]),
    Route(_DEPLOYMENT, delete_deployment, methods=["DELETE"]),
    Route(_DEPLOYMENT, update_deployment, methods=["PATCH"]),
    Route(_DEPLOYMENT + "/activate", _lifecycle(deployments.activate), methods=["POST"]),
    Route(_DEPLOYMENT + "/deactivate", _lifecycle(deployments.deactivate), methods=["POST"]),
    Route(_DEPLOYMENT + "/promote", promote_deployment, methods=["POST"]),
    Route(_DEPLOYMENT + "/autoscaling_settings", update_autoscaling, methods=["PATCH"]),
    Route(_DEPLOYMENT + "/logs", deployment_logs, methods=["GET"]),
    Route(_MODEL + "/environments", list_environments, methods=["GET"]),
    Route(_MODEL + "/environments", create_environment, methods=["POST"]),
    Route(_ENVIRONMENT, get_environment, methods=["GET"]),
    Route(_ENVIRONMENT, update_environment, methods=["PATCH"]),
    Route(_ENVIRONMENT, delete_environment, methods=["DELETE"]),
    Route(_ENVIRONMENT + "/promote", promote_to_environment, methods=["POST"]),
    *(
        Route(f"{_ENVIRONMENT}/{path}", _rollout_action(action), methods=["POST"])
        for path, action in _ACTION_PATHS.items()
    ),
    Route(
        _ENVIRONMENT + "/activate",
        _environment_lifecycle(deployments.activate),
        methods=["POST"],
    ),
    Route(
        _ENVIRONMENT + "/deactivate",
        _environment_lifecycle(deployments.deactivate),
        methods=["POST"],
    ),
]

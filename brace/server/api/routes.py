"""The management API's paths: each handler reads the request, makes one call to
`brace.services` in the store's thread, and answers with Baseten's JSON shape
(`brace.services.views`, the shapes `brace ... -o json` prints too).

Paths follow Baseten's management API (`/v1/models/...`); `development` and
`production` stand for those deployments of a model wherever a deployment id goes.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from brace.logs import DeploymentLog
from brace.server.api import bodies
from brace.server.paths import ServerPaths
from brace.server.storeworker import StoreWorker
from brace.services import deployments, environments, models, rollout, views
from brace.services.lookup import PRODUCTION, find_deployment, find_environment, find_model
from brace.services.promote import promote
from brace.store import PromotionStatus, RolloutAction, Store

T = TypeVar("T")
Handler = Callable[[Request], Awaitable[JSONResponse]]

LOG_LINES = 1000
"""Most log lines `GET .../logs` returns (the last ones)."""


async def _run(request: Request, use: Callable[[Store], T]) -> T:
    worker: StoreWorker = request.app.state.store
    return await worker.call(use)


async def _body(request: Request, *names: str, required: bool = True) -> dict[str, Any]:
    """The JSON object body; with `names`, no other field is allowed."""
    body = bodies.parse(await request.body(), required=required)
    if names:
        bodies.only(body, *names)
    return body


def _model_id(request: Request) -> str:
    return str(request.path_params["model_id"])


def _deployment_id(request: Request) -> str:
    return str(request.path_params["deployment_id"])


def _env_name(request: Request) -> str:
    return str(request.path_params["env_name"])


# models


async def list_models(request: Request) -> JSONResponse:
    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            return {"models": [views.model_json(tx, m) for m in tx.models()]}

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
    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            model = find_model(tx, _model_id(request))
            return views.deployments_json(tx, tx.deployments(model.id))

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


async def activate(request: Request) -> JSONResponse:
    await _run(
        request,
        lambda store: deployments.activate(store, _deployment_id(request), _model_id(request)),
    )
    return JSONResponse({"success": True})


async def deactivate(request: Request) -> JSONResponse:
    await _run(
        request,
        lambda store: deployments.deactivate(store, _deployment_id(request), _model_id(request)),
    )
    return JSONResponse({"success": True})


async def promote_deployment(request: Request) -> JSONResponse:
    body = await _body(request, "environment", "scale_down_previous_deployment", required=False)
    environment = bodies.field(body, "environment", str) or PRODUCTION
    bodies.field(body, "scale_down_previous_deployment", bool)
    return await _promote(request, _deployment_id(request), environment)


async def _promote(request: Request, ref: str, environment: str) -> JSONResponse:
    result = await _run(
        request,
        lambda store: promote(store, ref, model_ref=_model_id(request), environment=environment),
    )
    return JSONResponse(await _run(request, _deployment_view(request, result.deployment.id)))


async def update_autoscaling(request: Request) -> JSONResponse:
    body = await _body(request)  # the services name an unknown or invalid setting
    _, changed = await _run(
        request,
        lambda store: deployments.set_autoscaling(
            store, _deployment_id(request), body, _model_id(request)
        ),
    )
    if changed:
        return JSONResponse(
            {"status": "ACCEPTED", "message": "Autoscaling settings are being applied."}
        )
    return JSONResponse({"status": "UNCHANGED", "message": "Autoscaling settings are unchanged."})


async def deployment_logs(request: Request) -> JSONResponse:
    def read(store: Store) -> str:
        with store.read() as tx:
            return find_deployment(tx, _deployment_id(request), _model_id(request)).id

    found = await _run(request, read)
    worker: StoreWorker = request.app.state.store
    log = DeploymentLog(ServerPaths(worker.home).deployment_log(found))
    lines = await asyncio.to_thread(log.tail, LOG_LINES)
    return JSONResponse({"logs": [{"message": line} for line in lines]})


# environments


async def list_environments(request: Request) -> JSONResponse:
    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            model = find_model(tx, _model_id(request))
            return {
                "environments": [views.environment_json(tx, e) for e in tx.environments(model.id)]
            }

    return JSONResponse(await _run(request, read))


def _environment_view(request: Request, name: str | None = None) -> Callable[[Store], Any]:
    def read(store: Store) -> dict[str, Any]:
        with store.read() as tx:
            model = find_model(tx, _model_id(request))
            return views.environment_json(
                tx, find_environment(tx, model, name or _env_name(request))
            )

    return read


async def get_environment(request: Request) -> JSONResponse:
    return JSONResponse(await _run(request, _environment_view(request)))


async def create_environment(request: Request) -> JSONResponse:
    body = await _body(request, "name", "autoscaling_settings", "promotion_settings")
    name = bodies.field(body, "name", str, required=True)
    assert name is not None
    autoscaling = bodies.field(body, "autoscaling_settings", dict)
    settings = bodies.field(body, "promotion_settings", dict)
    await _run(
        request,
        lambda store: environments.create(
            store,
            name,
            _model_id(request),
            autoscaling=autoscaling,
            promotion_settings=settings,
        ),
    )
    return JSONResponse(await _run(request, _environment_view(request, name)), status_code=201)


async def update_environment(request: Request) -> JSONResponse:
    body = await _body(request, "autoscaling_settings", "promotion_settings")
    autoscaling = bodies.field(body, "autoscaling_settings", dict)
    settings = bodies.field(body, "promotion_settings", dict)
    await _run(
        request,
        lambda store: environments.update(
            store,
            _env_name(request),
            _model_id(request),
            autoscaling=autoscaling,
            promotion_settings=settings,
        ),
    )
    return JSONResponse(await _run(request, _environment_view(request)))


async def delete_environment(request: Request) -> JSONResponse:
    deleted = await _run(
        request, lambda store: environments.delete(store, _env_name(request), _model_id(request))
    )
    return JSONResponse({"name": deleted.name, "deleted": True, "model_id": deleted.model_id})


async def promote_to_environment(request: Request) -> JSONResponse:
    body = await _body(request, "deployment_id", "scale_down_previous_deployment")
    deployment_id = bodies.field(body, "deployment_id", str, required=True)
    bodies.field(body, "scale_down_previous_deployment", bool)
    assert deployment_id is not None
    return await _promote(request, deployment_id, _env_name(request))


def _rollout_action(action: RolloutAction) -> Handler:
    async def handle(request: Request) -> JSONResponse:
        _, leads_to = await _run(
            request,
            lambda store: rollout.request(store, action, _model_id(request), _env_name(request)),
        )
        return JSONResponse({"status": leads_to.value, "message": _ACTION_MESSAGES[leads_to]})

    return handle


_ACTION_MESSAGES = {
    PromotionStatus.PAUSED: "The promotion pauses after its current step.",
    PromotionStatus.RAMPING_UP: "The promotion resumes from where it paused.",
    PromotionStatus.RAMPING_DOWN: "Traffic ramps back to the previous deployment.",
    PromotionStatus.CANCELED: "The promotion is canceled: traffic stays where it was.",
    PromotionStatus.SUCCEEDED: "All traffic moves to the candidate deployment.",
}
_ACTION_PATHS = {
    "pause_promotion": RolloutAction.PAUSE,
    "resume_promotion": RolloutAction.RESUME,
    "cancel_promotion": RolloutAction.CANCEL,
    "force_cancel_promotion": RolloutAction.FORCE_CANCEL,
    "force_roll_forward_promotion": RolloutAction.FORCE_ROLL_FORWARD,
}


ROUTES = [
    Route("/v1/models", list_models, methods=["GET"]),
    Route("/v1/models/{model_id}", get_model, methods=["GET"]),
    Route("/v1/models/{model_id}", delete_model, methods=["DELETE"]),
    Route("/v1/models/{model_id}/deployments", list_deployments, methods=["GET"]),
    Route("/v1/models/{model_id}/deployments/{deployment_id}", get_deployment, methods=["GET"]),
    Route(
        "/v1/models/{model_id}/deployments/{deployment_id}",
        delete_deployment,
        methods=["DELETE"],
    ),
    Route(
        "/v1/models/{model_id}/deployments/{deployment_id}",
        update_deployment,
        methods=["PATCH"],
    ),
    Route("/v1/models/{model_id}/deployments/{deployment_id}/activate", activate, methods=["POST"]),
    Route(
        "/v1/models/{model_id}/deployments/{deployment_id}/deactivate",
        deactivate,
        methods=["POST"],
    ),
    Route(
        "/v1/models/{model_id}/deployments/{deployment_id}/promote",
        promote_deployment,
        methods=["POST"],
    ),
    Route(
        "/v1/models/{model_id}/deployments/{deployment_id}/autoscaling_settings",
        update_autoscaling,
        methods=["PATCH"],
    ),
    Route(
        "/v1/models/{model_id}/deployments/{deployment_id}/logs",
        deployment_logs,
        methods=["GET"],
    ),
    Route("/v1/models/{model_id}/environments", list_environments, methods=["GET"]),
    Route("/v1/models/{model_id}/environments", create_environment, methods=["POST"]),
    Route("/v1/models/{model_id}/environments/{env_name}", get_environment, methods=["GET"]),
    Route("/v1/models/{model_id}/environments/{env_name}", update_environment, methods=["PATCH"]),
    Route("/v1/models/{model_id}/environments/{env_name}", delete_environment, methods=["DELETE"]),
    Route(
        "/v1/models/{model_id}/environments/{env_name}/promote",
        promote_to_environment,
        methods=["POST"],
    ),
    *(
        Route(
            f"/v1/models/{{model_id}}/environments/{{env_name}}/{path}",
            _rollout_action(action),
            methods=["POST"],
        )
        for path, action in _ACTION_PATHS.items()
    ),
]

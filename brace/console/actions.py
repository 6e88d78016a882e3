"""`POST /console/actions`: every state change the console makes, as JSON.

An action must come from a page of this server with the session's CSRF token; it calls
the same services as the CLI and the API, so a refusal reads the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from brace.console.handling import (
    current_session,
    from_this_server,
    live_of,
    not_signed_in,
    refusal,
    sessions_of,
    store_of,
)
from brace.console.sessions import COOKIE
from brace.errors import BraceError, InvalidError, RefusedError
from brace.server.api import bodies
from brace.services import deployments, environments, models, rollout_actions
from brace.services.lookup import find_deployment
from brace.services.promote import promote
from brace.store import RolloutAction, Store

_ROLLOUT = {
    "pause": RolloutAction.PAUSE,
    "resume": RolloutAction.RESUME,
    "cancel": RolloutAction.CANCEL,
    "force_cancel": RolloutAction.FORCE_CANCEL,
    "force_roll_forward": RolloutAction.FORCE_ROLL_FORWARD,
}
_FIELDS = ("action", "model", "deployment", "environment", "name", "settings")


def _text(body: dict[str, Any], name: str) -> str:
    value = bodies.field(body, name, str, required=True)
    assert value is not None
    return value


async def actions(request: Request) -> Response:
    """One state change: `{"action": ..., "model": id, ...}` with `X-CSRF-Token`."""
    if not from_this_server(request):
        return JSONResponse(
            {"error": "console actions from another site are refused", "error_code": "FORBIDDEN"},
            status_code=403,
        )
    session = current_session(request)
    if session is None:
        return not_signed_in()
    if not session.csrf_matches(request.headers.get("x-csrf-token")):
        return JSONResponse(
            {
                "error": "the page's CSRF token is missing or stale: reload the page",
                "error_code": "FORBIDDEN",
            },
            status_code=403,
        )
    try:
        body = bodies.parse(await request.body())
        bodies.only(body, *_FIELDS)
        action = _text(body, "action")
        if action == "sign_out":
            sessions_of(request).end(session.token)
            response = JSONResponse({"message": "Signed out.", "go": "/console/signin"})
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
            return response
        message, go = await _act(request, action, body)
    except BraceError as error:
        return refusal(error)
    answer: dict[str, Any] = {"message": message}
    if go:
        answer["go"] = go
    return JSONResponse(answer)


async def _act(request: Request, action: str, body: dict[str, Any]) -> tuple[str, str | None]:
    """Do `action`; (message for the page, where to go next or None)."""
    store = store_of(request)
    model = _text(body, "model")

    async def run(use: Callable[[Store], Any]) -> Any:
        return await store.call(use)

    if action in _ROLLOUT:
        environment = _text(body, "environment")
        _, leads_to = await run(
            lambda s: rollout_actions.request(s, _ROLLOUT[action], model, environment)
        )
        said = action.replace("_", " ").capitalize()
        return f"{said} requested; it takes effect between steps (then {leads_to.value}).", None
    if action == "promotion_settings":
        environment = _text(body, "environment")
        settings = bodies.field(body, "settings", dict, required=True)
        _, changed = await run(
            lambda s: environments.update(s, environment, model, promotion_settings=settings)
        )
        return ("Promotion settings saved." if changed else "The settings are unchanged."), None
    if action == "delete_model":
        deleted = await run(lambda s: models.delete(s, model))
        return f"Model {deleted.name} deleted.", "/"
    deployment = _text(body, "deployment")
    if action == "promote":
        environment = _text(body, "environment")
        result = await run(
            lambda s: promote(s, deployment, model_ref=model, environment=environment)
        )
        return f"Promotion of {result.deployment.name} to {environment} started.", None
    if action == "activate":
        done = await run(lambda s: deployments.activate(s, deployment, model))
        return f"Deployment {done.name} is activating.", None
    if action == "deactivate":
        done = await run(lambda s: deployments.deactivate(s, deployment, model))
        return f"Deployment {done.name} is deactivating.", None
    if action == "delete":
        done = await run(lambda s: deployments.delete(s, deployment, model))
        return f"Deployment {done.name} deleted.", None
    if action == "rename":
        name = _text(body, "name")
        done = await run(lambda s: deployments.rename(s, deployment, name, model))
        return f"Deployment renamed to {done.name}.", None
    if action == "autoscaling":
        changes: dict[str, Any] = bodies.field(body, "settings", dict, required=True) or {}
        _, changed = await run(lambda s: deployments.set_autoscaling(s, deployment, changes, model))
        return ("Autoscaling settings saved." if changed else "The settings are unchanged."), None
    if action == "wake":
        found = await store.read(lambda tx: find_deployment(tx, deployment, model))
        if not found.status.serving:
            raise RefusedError(
                f"deployment {found.name} is {found.status.value}: only an active deployment "
                "wakes; activate it first",
                code="NOT_SERVING",
            )
        live_of(request).wake(found.id)
        return f"Deployment {found.name} is waking up.", None
    raise InvalidError(f"unknown action {action!r}", code="INVALID_BODY", facts={"field": "action"})

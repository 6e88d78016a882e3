"""The console's paths on the internal app: pages, live streams, actions, sign-in.

    GET  /                                          Models
    GET  /console/models/{model}                    a model
    GET  /console/models/{model}/environments/{env} an environment's rollout, live
    GET  /console/models/{model}/deployments/{dep}  a deployment, live
    GET  /console/usage                             usage per deployment and day
    GET  /console/events/...                        the live pages' server-sent events
    POST /console/actions                           every state change, JSON
    GET|POST /console/signin, POST via actions: sign_out
    GET  /console/console.js                        the pages' script

Without a live session every path but the sign-in form answers 401 with the sign-in
page (or, for events and actions, a JSON refusal), never data. Every POST must come
from a page of this server (`guard.same_origin`); actions also need the session's CSRF
token. Actions call the same services as the CLI and the API, so a refusal reads the
same; its message is shown on the page.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import (
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Route

from brace.console import data, html, html_model, html_rollout
from brace.console.actions import actions
from brace.console.events import deployment_events, rollout_events
from brace.console.guard import safe_next
from brace.console.handling import (
    current_session,
    deployment_reader,
    from_this_server,
    live_of,
    page_response,
    path_param,
    rollout_data,
    sessions_of,
    sign_in_page,
    signed_in,
    store_of,
    traffic_of,
)
from brace.console.live import Live
from brace.console.sessions import COOKIE, Session, Sessions
from brace.errors import InvalidError
from brace.logs import DeploymentLog
from brace.server.paths import ServerPaths
from brace.services.usage import DEFAULT_DAYS, usage_json

LOG_LINES = 200
"""Log lines a deployment page starts with."""
SIGN_IN_BODY = 4096
"""Bytes the sign-in form may have."""
REFUSED_PAUSE = 0.25
"""Seconds a wrong key waits for its answer (slows guessing)."""


# sign-in


async def sign_in_form(request: Request) -> Response:
    if current_session(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return sign_in_page(request.query_params.get("next") or "/", status=200)


async def sign_in(request: Request) -> Response:
    if not from_this_server(request):
        return JSONResponse(
            {"error": "sign-in from another site is refused", "error_code": "FORBIDDEN"},
            status_code=403,
        )
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > SIGN_IN_BODY:
            return sign_in_page("/", "The form is too large.", status=413)
    form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    given = (form.get("key") or [""])[0].strip()
    next_path = safe_next((form.get("next") or ["/"])[0])
    key: str = request.app.state.console_key
    if not given or not hmac.compare_digest(given.encode(), key.encode()):
        await asyncio.sleep(REFUSED_PAUSE)
        return sign_in_page(
            next_path, "That is not this server's API key. `brace api-key` prints it."
        )
    session = sessions_of(request).start()
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=int(sessions_of(request).seconds),
        path="/",
        httponly=True,
        samesite="strict",
    )
    return response


async def script(request: Request) -> Response:
    if current_session(request) is None:
        return sign_in_page("/")
    return Response(
        html.SCRIPT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


# pages


@signed_in
async def models_page(request: Request, session: Session) -> Response:
    traffic = traffic_of(request)
    found = await store_of(request).read(lambda tx: data.models_page(tx, traffic))
    return page_response("Models", html.models(found), session)


@signed_in
async def model_page(request: Request, session: Session) -> Response:
    traffic = traffic_of(request)
    found = await store_of(request).read(
        lambda tx: data.model_page(tx, path_param(request, "model"), traffic)
    )
    return page_response(found["model"]["name"], html_model.model(found), session)


def _rollout_events(request: Request) -> str:
    return (
        f"/console/events/models/{quote(path_param(request, 'model'), safe='')}"
        f"/environments/{quote(path_param(request, 'environment'), safe='')}"
    )


@signed_in
async def rollout_page(request: Request, session: Session) -> Response:
    found = await rollout_data(request)
    title = f"{found['model']['name']} · {found['environment']['name']}"
    return page_response(title, html_rollout.rollout(found), session, live=_rollout_events(request))


def _deployment_log(request: Request, deployment_id: str) -> DeploymentLog:
    return DeploymentLog(ServerPaths(store_of(request).home).deployment_log(deployment_id))


@signed_in
async def deployment_page(request: Request, session: Session) -> Response:
    found = await store_of(request).read(deployment_reader(request))
    live = data.deployment_live(traffic_of(request), live_of(request), found["id"])
    log = await asyncio.to_thread(_deployment_log(request, found["id"]).tail, LOG_LINES)
    events = (
        f"/console/events/models/{quote(found['model_id'], safe='')}"
        f"/deployments/{quote(found['id'], safe='')}"
    )
    return page_response(found["name"], html.deployment(found, live, log), session, live=events)


@signed_in
async def usage_page(request: Request, session: Session) -> Response:
    text = request.query_params.get("days")
    try:
        days = int(text) if text else DEFAULT_DAYS
    except ValueError:
        days = 0
    if not 1 <= days <= 3660:
        raise InvalidError(f"days must be a whole number from 1 to 3660, not {text!r}")
    found = await store_of(request).read(lambda tx: usage_json(tx, days))
    return page_response("Usage", html.usage(found), session)


_MODEL = "/console/models/{model}"
ROUTES = [
    Route("/", models_page, methods=["GET"]),
    Route("/console", models_page, methods=["GET"]),
    Route("/console/", models_page, methods=["GET"]),
    Route("/console/signin", sign_in_form, methods=["GET"]),
    Route("/console/signin", sign_in, methods=["POST"]),
    Route("/console/console.js", script, methods=["GET"]),
    Route("/console/usage", usage_page, methods=["GET"]),
    Route(_MODEL, model_page, methods=["GET"]),
    Route(_MODEL + "/environments/{environment}", rollout_page, methods=["GET"]),
    Route(_MODEL + "/deployments/{deployment}", deployment_page, methods=["GET"]),
    Route(
        "/console/events" + _MODEL[len("/console") :] + "/environments/{environment}",
        rollout_events,
        methods=["GET"],
    ),
    Route(
        "/console/events" + _MODEL[len("/console") :] + "/deployments/{deployment}",
        deployment_events,
        methods=["GET"],
    ),
    Route("/console/actions", actions, methods=["POST"]),
]


def install(
    state: Any, key: str, live: Live | None = None, clock: Callable[[], float] = time.monotonic
) -> None:
    """Give an app's `state` what the console's paths use: the key to sign in with,
    the sessions, and what the running server lends (`live`)."""
    state.console_key = key
    state.console_sessions = Sessions(clock)
    state.console_live = live if live is not None else Live()

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
import json
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.requests import Request
from starlette.responses import (
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from starlette.routing import Route

from brace.console import data, html
from brace.console.guard import safe_next, same_origin
from brace.console.live import Live
from brace.console.sessions import COOKIE, Session, Sessions
from brace.errors import BraceError, InvalidError, RefusedError
from brace.logs import DeploymentLog, LogTail
from brace.server.api import bodies
from brace.server.api.errors import error_body
from brace.server.metrics.endpoint import Sources
from brace.server.paths import ServerPaths
from brace.server.storeworker import StoreWorker
from brace.services import deployments, environments, models, rollout
from brace.services.lookup import find_deployment
from brace.services.promote import promote
from brace.services.usage import DEFAULT_DAYS, usage_json
from brace.store import RolloutAction, Store, Tx

ROLLOUT_EVERY = 0.5
"""Seconds between updates of the rollout view."""
DEPLOYMENT_EVERY = 1.0
"""Seconds between updates of the deployment page (charts, replicas, log)."""
LOG_LINES = 200
"""Log lines a deployment page starts with."""
SIGN_IN_BODY = 4096
"""Bytes the sign-in form may have."""
REFUSED_PAUSE = 0.25
"""Seconds a wrong key waits for its answer (slows guessing)."""

Page = Callable[[Request, Session], Awaitable[Response]]


# the parts of the app the console uses


def _sessions(request: Request) -> Sessions:
    found: Sessions = request.app.state.console_sessions
    return found


def _live(request: Request) -> Live:
    found: Live = request.app.state.console_live
    return found


def _store(request: Request) -> StoreWorker:
    found: StoreWorker = request.app.state.store
    return found


def _traffic(request: Request) -> data.Traffic:
    sources: Sources = request.app.state.sources
    return data.Traffic.take(sources)


def _session(request: Request) -> Session | None:
    return _sessions(request).find(request.cookies.get(COOKIE))


def _from_this_server(request: Request) -> bool:
    headers = request.headers
    return same_origin(headers.get("origin"), headers.get("referer"), headers.get("host"))


# responses


def _headers(nonce: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": (
            f"default-src 'none'; script-src 'nonce-{nonce}'; style-src 'nonce-{nonce}'; "
            "connect-src 'self'; img-src 'self'; form-action 'self'; "
            "frame-ancestors 'none'; base-uri 'none'"
        ),
        "X-Frame-Options": "DENY",
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store",
    }


def _page(
    title: str, body: str, session: Session | None, status: int = 200, live: str = ""
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    text = html.page(title, body, nonce=nonce, csrf=session.csrf if session else None, live=live)
    return HTMLResponse(text, status_code=status, headers=_headers(nonce))


def _sign_in_page(next_path: str, refused: str | None = None, status: int = 401) -> HTMLResponse:
    return _page("Sign in", html.sign_in(safe_next(next_path), refused), None, status)


def _refusal(error: BraceError) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=error.http_status)


def _not_signed_in() -> JSONResponse:
    return JSONResponse(
        {"error": "sign in to the console first", "error_code": "UNAUTHORIZED"}, status_code=401
    )


def signed_in(handler: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page that needs a session: without one, the sign-in page (401)."""

    async def page(request: Request) -> Response:
        session = _session(request)
        if session is None:
            path = request.url.path
            if request.url.query:
                path += "?" + request.url.query
            return _sign_in_page(path)
        try:
            return await handler(request, session)
        except BraceError as error:
            status = error.http_status
            body = f'<h1>{html.esc(error.message)}</h1><p><a href="/">Back to the models</a></p>'
            return _page("Not found" if status == 404 else "Refused", body, session, status)

    return page


# sign-in


async def sign_in_form(request: Request) -> Response:
    if _session(request) is not None:
        return RedirectResponse(safe_next(request.query_params.get("next")), status_code=303)
    return _sign_in_page(request.query_params.get("next") or "/", status=200)


async def sign_in(request: Request) -> Response:
    if not _from_this_server(request):
        return JSONResponse(
            {"error": "sign-in from another site is refused", "error_code": "FORBIDDEN"},
            status_code=403,
        )
    raw = b""
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > SIGN_IN_BODY:
            return _sign_in_page("/", "The form is too large.", status=413)
    form = parse_qs(raw.decode("utf-8", "replace"), keep_blank_values=True)
    given = (form.get("key") or [""])[0].strip()
    next_path = safe_next((form.get("next") or ["/"])[0])
    key: str = request.app.state.console_key
    if not given or not hmac.compare_digest(given.encode(), key.encode()):
        await asyncio.sleep(REFUSED_PAUSE)
        return _sign_in_page(
            next_path, "That is not this server's API key. `brace api-key` prints it."
        )
    session = _sessions(request).start()
    response = RedirectResponse(next_path, status_code=303)
    response.set_cookie(
        COOKIE,
        session.token,
        max_age=int(_sessions(request).seconds),
        path="/",
        httponly=True,
        samesite="strict",
    )
    return response


async def script(request: Request) -> Response:
    if _session(request) is None:
        return _sign_in_page("/")
    return Response(
        html.SCRIPT,
        media_type="text/javascript; charset=utf-8",
        headers={"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"},
    )


# pages


@signed_in
async def models_page(request: Request, session: Session) -> Response:
    traffic = _traffic(request)
    found = await _store(request).read(lambda tx: data.models_page(tx, traffic))
    return _page("Models", html.models(found), session)


def _param(request: Request, name: str) -> str:
    return str(request.path_params[name])


@signed_in
async def model_page(request: Request, session: Session) -> Response:
    traffic = _traffic(request)
    found = await _store(request).read(
        lambda tx: data.model_page(tx, _param(request, "model"), traffic)
    )
    return _page(found["model"]["name"], html.model(found), session)


def _rollout_events(request: Request) -> str:
    return (
        f"/console/events/models/{quote(_param(request, 'model'), safe='')}"
        f"/environments/{quote(_param(request, 'environment'), safe='')}"
    )


async def _rollout_data(request: Request) -> dict[str, Any]:
    traffic = _traffic(request)
    model, environment = _param(request, "model"), _param(request, "environment")
    return await _store(request).read(lambda tx: data.rollout_page(tx, model, environment, traffic))


@signed_in
async def rollout_page(request: Request, session: Session) -> Response:
    found = await _rollout_data(request)
    title = f"{found['model']['name']} · {found['environment']['name']}"
    return _page(title, html.rollout(found), session, live=_rollout_events(request))


def _deployment_log(request: Request, deployment_id: str) -> DeploymentLog:
    return DeploymentLog(ServerPaths(_store(request).home).deployment_log(deployment_id))


def _find_deployment(request: Request) -> Callable[[Tx], dict[str, Any]]:
    return lambda tx: data.deployment_page(
        tx, _param(request, "model"), _param(request, "deployment")
    )


@signed_in
async def deployment_page(request: Request, session: Session) -> Response:
    found = await _store(request).read(_find_deployment(request))
    live = data.deployment_live(_traffic(request), _live(request), found["id"])
    log = await asyncio.to_thread(_deployment_log(request, found["id"]).tail, LOG_LINES)
    events = (
        f"/console/events/models/{quote(found['model_id'], safe='')}"
        f"/deployments/{quote(found['id'], safe='')}"
    )
    return _page(found["name"], html.deployment(found, live, log), session, live=events)


@signed_in
async def usage_page(request: Request, session: Session) -> Response:
    text = request.query_params.get("days")
    try:
        days = int(text) if text else DEFAULT_DAYS
    except ValueError:
        days = 0
    if not 1 <= days <= 3660:
        raise InvalidError(f"days must be a whole number from 1 to 3660, not {text!r}")
    found = await _store(request).read(lambda tx: usage_json(tx, days))
    return _page("Usage", html.usage(found), session)


# live streams


def _event(name: str, payload: object) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


async def _stream(
    request: Request, every: float, produce: Callable[[], Awaitable[list[str]]]
) -> AsyncIterator[str]:
    """`produce`'s events every `every` seconds until the client goes away, the
    session ends (then a `signed_out` event) or the server stops."""
    live = _live(request)
    while True:
        if _session(request) is None:
            yield _event("signed_out", {})
            return
        try:
            for item in await produce():
                yield item
        except BraceError as error:
            yield _event("panel", {"html": f'<p class="error">{html.esc(error.message)}</p>'})
        try:
            await asyncio.wait_for(live.stopping.wait(), every)
            return
        except TimeoutError:
            pass


def _event_response(events: AsyncIterator[str]) -> StreamingResponse:
    return StreamingResponse(
        events,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


async def rollout_events(request: Request) -> Response:
    if _session(request) is None:
        return _not_signed_in()

    async def produce() -> list[str]:
        found = await _rollout_data(request)
        return [_event("panel", {"html": html.rollout_panel(found)})]

    return _event_response(_stream(request, ROLLOUT_EVERY, produce))


async def deployment_events(request: Request) -> Response:
    if _session(request) is None:
        return _not_signed_in()
    try:
        found = await _store(request).read(_find_deployment(request))
    except BraceError as error:
        return _refusal(error)
    path = ServerPaths(_store(request).home).deployment_log(found["id"])
    follower = LogTail(lambda: path)
    await asyncio.to_thread(follower.poll)  # from the end: the page has the start

    async def produce() -> list[str]:
        live = data.deployment_live(_traffic(request), _live(request), found["id"])
        events = [_event("panel", {"html": html.deployment_panel(live)})]
        lines = await asyncio.to_thread(follower.poll)
        if lines:
            events.append(_event("log", {"lines": lines}))
        return events

    return _event_response(_stream(request, DEPLOYMENT_EVERY, produce))


# actions

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
    if not _from_this_server(request):
        return JSONResponse(
            {"error": "console actions from another site are refused", "error_code": "FORBIDDEN"},
            status_code=403,
        )
    session = _session(request)
    if session is None:
        return _not_signed_in()
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
            _sessions(request).end(session.token)
            response = JSONResponse({"message": "Signed out.", "go": "/console/signin"})
            response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
            return response
        message, go = await _act(request, action, body)
    except BraceError as error:
        return _refusal(error)
    answer: dict[str, Any] = {"message": message}
    if go:
        answer["go"] = go
    return JSONResponse(answer)


async def _act(request: Request, action: str, body: dict[str, Any]) -> tuple[str, str | None]:
    """Do `action`; (message for the page, where to go next or None)."""
    store = _store(request)
    model = _text(body, "model")

    async def run(use: Callable[[Store], Any]) -> Any:
        return await store.call(use)

    if action in _ROLLOUT:
        environment = _text(body, "environment")
        _, leads_to = await run(lambda s: rollout.request(s, _ROLLOUT[action], model, environment))
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
        _live(request).wake(found.id)
        return f"Deployment {found.name} is waking up.", None
    raise InvalidError(f"unknown action {action!r}", code="INVALID_BODY", facts={"field": "action"})


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

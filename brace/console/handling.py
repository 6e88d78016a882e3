"""What every console handler uses: the parts of the app a request reaches (sessions,
the store's worker, what the running server lends), the path's parameters, the reads a
page and its live stream share, and the responses: a page with its security headers,
the sign-in page, a JSON refusal, and the guard of the pages that need a session.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from brace.console import data, html
from brace.console.guard import safe_next, same_origin
from brace.console.live import Live
from brace.console.sessions import COOKIE, Session, Sessions
from brace.errors import BraceError
from brace.server.api.errors import error_body
from brace.server.metrics.endpoint import Sources
from brace.server.storeworker import StoreWorker
from brace.store import Tx

Page = Callable[[Request, Session], Awaitable[Response]]


# the parts of the app the console uses


def sessions_of(request: Request) -> Sessions:
    found: Sessions = request.app.state.console_sessions
    return found


def live_of(request: Request) -> Live:
    found: Live = request.app.state.console_live
    return found


def store_of(request: Request) -> StoreWorker:
    found: StoreWorker = request.app.state.store
    return found


def traffic_of(request: Request) -> data.Traffic:
    sources: Sources = request.app.state.sources
    return data.Traffic.take(sources)


def current_session(request: Request) -> Session | None:
    return sessions_of(request).find(request.cookies.get(COOKIE))


def from_this_server(request: Request) -> bool:
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


def page_response(
    title: str, body: str, session: Session | None, status: int = 200, live: str = ""
) -> HTMLResponse:
    nonce = secrets.token_urlsafe(16)
    text = html.page(title, body, nonce=nonce, csrf=session.csrf if session else None, live=live)
    return HTMLResponse(text, status_code=status, headers=_headers(nonce))


def sign_in_page(next_path: str, refused: str | None = None, status: int = 401) -> HTMLResponse:
    return page_response("Sign in", html.sign_in(safe_next(next_path), refused), None, status)


def refusal(error: BraceError) -> JSONResponse:
    return JSONResponse(error_body(error), status_code=error.http_status)


def not_signed_in() -> JSONResponse:
    return JSONResponse(
        {"error": "sign in to the console first", "error_code": "UNAUTHORIZED"}, status_code=401
    )


def signed_in(handler: Page) -> Callable[[Request], Awaitable[Response]]:
    """A page that needs a session: without one, the sign-in page (401)."""

    async def guarded(request: Request) -> Response:
        session = current_session(request)
        if session is None:
            path = request.url.path
            if request.url.query:
                path += "?" + request.url.query
            return sign_in_page(path)
        try:
            return await handler(request, session)
        except BraceError as error:
            status = error.http_status
            body = f'<h1>{html.esc(error.message)}</h1><p><a href="/">Back to the models</a></p>'
            return page_response("Not found" if status == 404 else "Refused", body, session, status)

    return guarded


def path_param(request: Request, name: str) -> str:
    return str(request.path_params[name])


async def rollout_data(request: Request) -> dict[str, Any]:
    traffic = traffic_of(request)
    model, environment = path_param(request, "model"), path_param(request, "environment")
    return await store_of(request).read(
        lambda tx: data.rollout_page(tx, model, environment, traffic)
    )


def deployment_reader(request: Request) -> Callable[[Tx], dict[str, Any]]:
    return lambda tx: data.deployment_page(
        tx, path_param(request, "model"), path_param(request, "deployment")
    )

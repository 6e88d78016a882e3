"""The live pages' server-sent events: a rollout's panel, a deployment's panel and log.

Each stream sends its events every few seconds until the client goes away, the
session ends (then `signed_out`) or the server stops.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from brace.console import data, html, html_rollout
from brace.console.handling import (
    current_session,
    deployment_reader,
    live_of,
    not_signed_in,
    refusal,
    rollout_data,
    store_of,
    traffic_of,
)
from brace.errors import BraceError
from brace.logs import LogTail
from brace.server.paths import ServerPaths

ROLLOUT_EVERY = 0.5
"""Seconds between updates of the rollout view."""
DEPLOYMENT_EVERY = 1.0
"""Seconds between updates of the deployment page (charts, replicas, log)."""


def _event(name: str, payload: object) -> str:
    return f"event: {name}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


async def _stream(
    request: Request, every: float, produce: Callable[[], Awaitable[list[str]]]
) -> AsyncIterator[str]:
    """`produce`'s events every `every` seconds until the client goes away, the
    session ends (then a `signed_out` event) or the server stops."""
    live = live_of(request)
    while True:
        if current_session(request) is None:
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
    if current_session(request) is None:
        return not_signed_in()

    async def produce() -> list[str]:
        found = await rollout_data(request)
        return [_event("panel", {"html": html_rollout.rollout_panel(found)})]

    return _event_response(_stream(request, ROLLOUT_EVERY, produce))


async def deployment_events(request: Request) -> Response:
    if current_session(request) is None:
        return not_signed_in()
    try:
        found = await store_of(request).read(deployment_reader(request))
    except BraceError as error:
        return refusal(error)
    path = ServerPaths(store_of(request).home).deployment_log(found["id"])
    follower = LogTail(lambda: path)
    await asyncio.to_thread(follower.poll)  # from the end: the page has the start

    async def produce() -> list[str]:
        live = data.deployment_live(traffic_of(request), live_of(request), found["id"])
        events = [_event("panel", {"html": html.deployment_panel(live)})]
        lines = await asyncio.to_thread(follower.poll)
        if lines:
            events.append(_event("log", {"lines": lines}))
        return events

    return _event_response(_stream(request, DEPLOYMENT_EVERY, produce))

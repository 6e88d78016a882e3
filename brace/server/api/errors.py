"""A refusal from the services, worded for the management API.

`BraceError` carries its kind (`code`) and HTTP status: 400 invalid, 401 no key,
404 not found, 409 conflict or lifecycle rule. The body is
`{"error": message, "error_code": code}`, plus the facts the services gave. Hints
are left out: they are written for the CLI; so are the paths of brace's own files in
the errors about them (a full disk: "brace.db: the disk is full"). Anything else is
a bug: 500 with no traceback in the answer (the server's log has it).
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.responses import JSONResponse

from brace.errors import BraceError, StateError, UnsafePathError, without_paths

log = logging.getLogger("brace.api")


def error_body(error: BraceError) -> dict[str, object]:
    message = error.message
    if isinstance(error, StateError | UnsafePathError):
        message = without_paths(message)  # where brace's files live is not an answer
    body: dict[str, object] = {"error": message, "error_code": error.code}
    if error.facts:
        body["details"] = error.facts
    return body


async def brace_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, BraceError)
    return JSONResponse(error_body(error), status_code=error.http_status)


async def not_found(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        {"error": f"no such path: {request.url.path}", "error_code": "NOT_FOUND"},
        status_code=404,
    )


async def method_not_allowed(request: Request, error: Exception) -> JSONResponse:
    return JSONResponse(
        {
            "error": f"{request.method} is not allowed on {request.url.path}",
            "error_code": "METHOD_NOT_ALLOWED",
        },
        status_code=405,
    )


async def bug(request: Request, error: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=error)
    return JSONResponse(
        {"error": "internal error (see the server's log)", "error_code": "INTERNAL"},
        status_code=500,
    )

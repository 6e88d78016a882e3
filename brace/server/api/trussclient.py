"""The management paths Truss's own REST client calls beyond the core ones.

`truss.remote.baseten.api.BasetenApi` (truss 0.18.36) calls, and reads:

  POST .../deployments/{id}/logs     `get_model_deployment_logs`: `logs`, newest first,
                                     each `timestamp` (epoch ns), `message`, `replica`
  GET  .../deployments/{id}/config   `get_deployment_config`: `config`, `raw_config`
  GET  .../deployments/{id}/download `get_deployment_download_url`: `download_url`,
                                     which it then fetches as a tar archive
  GET  /v1/secrets                   `get_all_secrets`: `secrets`, names and dates
  POST /v1/secrets                   `upsert_secret` {"name", "value"}: the secret

The archive itself is served at `downloads.ARCHIVE_PATH` (outside /v1: a signed link
needs no key). docs/api.md has the rules; brace.logs, brace.services.archive and
brace.services.secrets do the work.
"""

from __future__ import annotations

import asyncio
import re
import tempfile
from collections.abc import Iterator
from typing import IO, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from brace.apikey import authorized
from brace.errors import InvalidError
from brace.logs import LEVELS, LogFilter, search
from brace.server.api import bodies
from brace.server.api.downloads import ARCHIVE_PATH, Downloads
from brace.server.api.routes import LOG_LINES, _body, _deployment_id, _model_id, _run
from brace.server.paths import ServerPaths
from brace.server.storeworker import StoreWorker
from brace.services import archive
from brace.services import secrets as saved_secrets
from brace.services.lookup import find_deployment
from brace.store import Deployment, Store

MAX_EPOCH_MILLIS = 253_402_300_799_999
"""9999-12-31T23:59:59.999Z: the last time a log range can name."""
MAX_PATTERN = 1000
"""Longest `search_pattern`, in characters."""
MAX_TERMS = 100
"""Most `includes` or `excludes`."""
_LOG_FIELDS = (
    "start_epoch_millis",
    "end_epoch_millis",
    "min_level",
    "replica",
    "request_id",
    "search_pattern",
    "includes",
    "excludes",
)
_FILTER_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def _invalid(name: str, message: str) -> InvalidError:
    return InvalidError(message, code="INVALID_BODY", facts={"field": name})


def _millis(body: dict[str, Any], name: str) -> int | None:
    value = bodies.field(body, name, int)
    if value is not None and not 0 <= value <= MAX_EPOCH_MILLIS:
        raise _invalid(name, f"the field {name!r} must be epoch milliseconds, 0-{MAX_EPOCH_MILLIS}")
    return value


def _terms(body: dict[str, Any], name: str) -> tuple[str, ...]:
    value = body.get(name)
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(name, f"the field {name!r} must be a list of strings")
    if len(value) > MAX_TERMS:
        raise _invalid(name, f"the field {name!r} has more than {MAX_TERMS} strings")
    return tuple(value)


_REPEATS = ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")


def backtracking(pattern: str) -> str | None:
    """Why `pattern` could take exponential time in Python's engine, or None.

    Truss documents search_pattern as RE2, which runs in linear time; Python's `re`
    backtracks, and holds the GIL while it does, so `(a+)+$` on a long line would stall
    the whole server. Refused: a repetition inside a repetition, and backreferences
    (which RE2 does not have either). Alternatives of a repetition that match the same
    text (`(a|a)*`) can still be slow; they are not detected."""
    from re import _parser  # type: ignore[attr-defined]  # the parser `re` itself uses

    def walk(items: Any, repeated: bool) -> str | None:
        for op, value in items:
            name = str(op)
            if name in ("GROUPREF", "GROUPREF_EXISTS"):
                return "uses a backreference"
            if name in _REPEATS:
                _, high, inner = value
                unbounded = high is _parser.MAXREPEAT or high > 1
                if repeated and unbounded:
                    return "repeats a repetition (like (a+)+)"
                if found := walk(inner, repeated or unbounded):
                    return found
            elif name == "SUBPATTERN":
                if found := walk(value[-1], repeated):
                    return found
            elif name == "BRANCH":
                for branch in value[1]:
                    if found := walk(branch, repeated):
                        return found
            elif name in ("ASSERT", "ASSERT_NOT") and (found := walk(value[1], repeated)):
                return found
        return None

    return walk(_parser.parse(pattern), False)


def log_filter(body: dict[str, Any]) -> LogFilter:
    """The body of `POST .../logs` read into a filter (InvalidError naming the field)."""
    bodies.only(body, *_LOG_FIELDS)
    start, end = _millis(body, "start_epoch_millis"), _millis(body, "end_epoch_millis")
    if start is not None and end is not None and start > end:
        raise _invalid("start_epoch_millis", "start_epoch_millis is after end_epoch_millis")
    level = bodies.field(body, "min_level", str)
    if level is not None:
        if level.upper() not in _FILTER_LEVELS:
            raise _invalid("min_level", f"min_level must be one of {', '.join(_FILTER_LEVELS)}")
        level = level.upper()
    assert level is None or level in LEVELS
    pattern_text = bodies.field(body, "search_pattern", str)
    pattern = None
    if pattern_text is not None:
        if len(pattern_text) > MAX_PATTERN:
            raise _invalid("search_pattern", f"search_pattern is over {MAX_PATTERN} characters")
        try:
            pattern = re.compile(pattern_text)
        except re.error as error:
            message = f"search_pattern is not a valid regex: {error}"
            raise _invalid("search_pattern", message) from None
        if reason := backtracking(pattern_text):
            raise _invalid("search_pattern", f"search_pattern {reason}; simplify it")
    return LogFilter(
        start_ms=start,
        end_ms=end,
        min_level=level,
        replica=bodies.field(body, "replica", str),
        request_id=bodies.field(body, "request_id", str),
        pattern=pattern,
        includes=_terms(body, "includes"),
        excludes=_terms(body, "excludes"),
    )


def _home(request: Request) -> Any:
    worker: StoreWorker = request.app.state.store
    return worker.home


def _find(request: Request) -> Any:
    def read(store: Store) -> Deployment:
        with store.read() as tx:
            return find_deployment(tx, _deployment_id(request), _model_id(request))

    return _run(request, read)


async def search_logs(request: Request) -> JSONResponse:
    wanted = log_filter(await _body(request, required=False))
    found: Deployment = await _find(request)
    path = ServerPaths(_home(request)).deployment_log(found.id)
    logs = await asyncio.to_thread(search, path, wanted, LOG_LINES)
    return JSONResponse({"logs": logs})


async def deployment_config(request: Request) -> JSONResponse:
    found: Deployment = await _find(request)
    source = archive.source_of(_home(request), found)
    return JSONResponse(await asyncio.to_thread(archive.config_answer, source))


async def download_url(request: Request) -> JSONResponse:
    found: Deployment = await _find(request)
    archive.source_of(_home(request), found)  # refuse now, not when the link is used
    downloads: Downloads = request.app.state.downloads
    link = downloads.link(str(request.base_url), found.model_id, found.id)
    return JSONResponse({"download_url": link})


async def download_archive(request: Request) -> StreamingResponse:
    model_id, deployment_id = _model_id(request), _deployment_id(request)
    if not authorized(request.headers.get("authorization"), request.app.state.api_key):
        downloads: Downloads = request.app.state.downloads
        query = request.query_params
        downloads.check(
            model_id, deployment_id, query.get("expires", ""), query.get("signature", "")
        )
    found: Deployment = await _find(request)
    source = archive.source_of(_home(request), found)
    spooled = await asyncio.to_thread(_archive_file, source)
    return StreamingResponse(
        _chunks(spooled),
        media_type="application/gzip",
        headers={"content-disposition": f'attachment; filename="{found.name}.tar.gz"'},
    )


def _archive_file(source: archive.Source) -> IO[bytes]:
    """The archive, written to an unnamed temporary file (removed when closed)."""
    out = tempfile.TemporaryFile()  # noqa: SIM115  (closed by _chunks, or here)
    try:
        archive.write_archive(source, out)
        out.seek(0)
    except BaseException:
        out.close()
        raise
    return out


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    with file:
        while chunk := file.read(1 << 16):
            yield chunk


# secrets


async def list_secrets(request: Request) -> JSONResponse:
    found = await asyncio.to_thread(saved_secrets.listing, _home(request))
    return JSONResponse({"secrets": [info.to_json() for info in found]})


async def upsert_secret(request: Request) -> JSONResponse:
    body = await _body(request, "name", "value")
    name = bodies.field(body, "name", str, required=True)
    value = bodies.field(body, "value", str, required=True)
    assert name is not None and value is not None
    saved = await asyncio.to_thread(saved_secrets.save, _home(request), name, value)
    return JSONResponse(saved.to_json())


_DEPLOYMENT = "/v1/models/{model_id}/deployments/{deployment_id}"

ROUTES = [
    Route(_DEPLOYMENT + "/logs", search_logs, methods=["POST"]),
    Route(_DEPLOYMENT + "/config", deployment_config, methods=["GET"]),
    Route(_DEPLOYMENT + "/download", download_url, methods=["GET"]),
    Route("/v1/secrets", list_secrets, methods=["GET"]),
    Route("/v1/secrets", upsert_secret, methods=["POST"]),
]
"""Management paths (in the OpenAPI document)."""

ARCHIVE_ROUTE = Route(ARCHIVE_PATH, download_archive, methods=["GET"])
"""The signed archive path (outside /v1, in docs/api.md)."""

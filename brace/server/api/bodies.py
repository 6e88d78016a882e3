"""Reading JSON request bodies at the API's boundary, with errors that name the field.

A body must be a JSON object of at most `MAX_BODY` bytes, nested at most
`brace.jsontext.MAX_DEPTH` deep, whose numbers are finite (`NaN` and `Infinity` are
refused: they are not JSON, and no setting means anything with them). Each field is
checked for its type here, and its value by the services (ranges, names, rules), so
the API and the CLI refuse the same values with the same words.
"""

from __future__ import annotations

from typing import Any, TypeVar

from starlette.requests import Request

from brace.errors import InvalidError
from brace.jsontext import MAX_DEPTH, BodyError
from brace.jsontext import parse as parse_json

T = TypeVar("T")

MAX_BODY = 1 << 20
"""Largest management request body, in bytes."""


def _too_large() -> InvalidError:
    return InvalidError(
        f"the body is larger than {MAX_BODY} bytes",
        "Management bodies are small JSON objects; send only the fields to change.",
        code="INVALID_BODY",
    )


async def read(request: Request) -> bytes:
    """The request's body, refused before it is read when `Content-Length` is above
    `MAX_BODY`, and as soon as a chunked body passes it (the rest is never read, so
    a large body costs no memory)."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():  # the gateway refuses these first; never trust it alone
            raise InvalidError("the Content-Length header is not a number", code="INVALID_BODY")
        if len(declared) > 12 or int(declared) > MAX_BODY:
            raise _too_large()
    parts: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise _too_large()
        parts.append(chunk)
    return b"".join(parts)


def parse(raw: bytes, *, required: bool = True) -> dict[str, Any]:
    """The body as a JSON object ({} when empty and not required)."""
    if not raw.strip():
        if required:
            raise InvalidError("the request needs a JSON object body", code="INVALID_BODY")
        return {}
    if len(raw) > MAX_BODY:
        raise _too_large()
    try:
        body = parse_json(raw, finite=True, max_depth=MAX_DEPTH)
    except BodyError as error:
        raise InvalidError(f"the body is not valid JSON: {error}", code="INVALID_BODY") from None
    if not isinstance(body, dict):
        raise InvalidError("the body must be a JSON object", code="INVALID_BODY")
    return body


def only(body: dict[str, Any], *names: str) -> None:
    """Refuse fields other than `names`."""
    unknown = sorted(set(body) - set(names))
    if unknown:
        raise InvalidError(
            f"unknown field {unknown[0]!r}; allowed: {', '.join(names)}",
            code="INVALID_BODY",
            facts={"field": unknown[0]},
        )


def field(body: dict[str, Any], name: str, kind: type[T], *, required: bool = False) -> T | None:
    """`body[name]` if it has type `kind` (None when absent and not required)."""
    if name not in body or body[name] is None:
        if required:
            raise InvalidError(
                f"the field {name!r} is required", code="INVALID_BODY", facts={"field": name}
            )
        return None
    value = body[name]
    if (kind is not bool and isinstance(value, bool)) or not isinstance(value, kind):
        raise InvalidError(
            f"the field {name!r} must be {_names[kind]}, not {type(value).__name__}",
            code="INVALID_BODY",
            facts={"field": name},
        )
    return value


_names: dict[type, str] = {
    str: "a string",
    bool: "true or false",
    dict: "an object",
    int: "an integer",
}

"""Request bodies into model inputs, model results into response bodies, as Truss does.

Inputs: the body is JSON, unless the first argument of `preprocess` (or of `predict`
when there is none) is annotated with a pydantic model: then the body is validated
into that model, and a validation error answers 400 with Truss's wording
(`Input Parsing Error:` and one line per field). Results: pydantic models are dumped
as their JSON; numpy scalars and arrays are converted (Truss's `DeepNumpyEncoder`);
anything else must be plain JSON. Neither pydantic nor numpy is imported here: a model
that uses them has already imported them, and the objects say what they are.

Every answer that is an error carries Baseten's error headers, as Truss's server sets
them: `X-BASETEN-ERROR-SOURCE: 04` (the model server) and `X-BASETEN-ERROR-CODE`
(`600` the model or the server failed, `700` the client's request was wrong, `500`
an unexpected failure).
"""

from __future__ import annotations

import json
import sys
import textwrap
from enum import IntEnum
from typing import Any

from starlette.responses import Response

from brace import jsontext


class ErrorCode(IntEnum):
    UNEXPECTED = 500
    DOWNSTREAM = 600  # the model (or the server) failed
    CLIENT = 700  # the request was wrong


def error_headers(code: ErrorCode) -> dict[str, str]:
    return {"X-BASETEN-ERROR-SOURCE": "04", "X-BASETEN-ERROR-CODE": f"{int(code):03d}"}


class InputParsingError(ValueError):
    """The body does not parse into what the model takes (answered 400)."""


def _is_pydantic_model(value: object) -> bool:
    pydantic = sys.modules.get("pydantic")
    base = getattr(pydantic, "BaseModel", None)
    return base is not None and isinstance(value, base)


def input_model(annotation: object) -> type | None:
    """The pydantic model class the body is parsed into, when `annotation` is one."""
    pydantic = sys.modules.get("pydantic")
    base = getattr(pydantic, "BaseModel", None)
    if base is not None and isinstance(annotation, type) and issubclass(annotation, base):
        return annotation
    return None


def parse_json(body: bytes) -> Any:
    """The body's JSON, read as Truss's server reads it (`json.loads`: `NaN` and
    `Infinity` are numbers), by the parser the management API shares (a body nested
    too deeply is an InputParsingError, not a RecursionError)."""
    try:
        return jsontext.parse(body, finite=False)
    except jsontext.BodyError as error:
        raise InputParsingError(f"Invalid JSON payload: {error}") from None


def parse_into(model: type, body: bytes) -> Any:
    """`body` validated into the pydantic `model` (v2 or v1)."""
    validate = getattr(model, "model_validate_json", None) or model.parse_raw  # type: ignore[attr-defined]
    try:
        return validate(body)
    except RecursionError:  # pydantic v1 reads with json.loads
        raise InputParsingError("Invalid JSON payload: it nests too deeply to be read") from None
    except ValueError as error:  # pydantic.ValidationError is a ValueError
        if type(error).__name__ == "ValidationError":
            raise InputParsingError(format_validation_error(error)) from None
        raise InputParsingError(f"Invalid JSON payload: {error}") from None


def _location(loc: tuple[str | int, ...]) -> str:
    """`("items", 1, "value")` -> `items[1].value` (Truss's wording)."""
    parts: list[str] = []
    for index, part in enumerate(loc):
        if isinstance(part, int):
            parts.append(f"[{part}]")
        else:
            parts.append(f".{part}" if index > 0 else str(part))
    return "".join(parts)


def format_validation_error(error: Any) -> str:
    """A pydantic ValidationError as Truss words it."""
    try:
        errors = error.errors()
        parts = ["Input Parsing Error:" if len(errors) == 1 else "Input Parsing Errors:"]
        for item in errors:
            message = item.get("msg") or str({k: v for k, v in item.items() if k != "loc"})
            parts.append(textwrap.indent(f"`{_location(tuple(item['loc']))}`: {message}.", "  "))
    except Exception:  # a shape we do not know: say it as pydantic does
        return f"Input Parsing Error, {error}"
    return "\n".join(parts)


def _default(value: Any) -> Any:
    """JSON for what json.dumps cannot encode by itself: numpy values (Truss's
    DeepNumpyEncoder) and pydantic models nested in a result."""
    if type(value).__module__ == "numpy" and hasattr(value, "tolist"):
        return value.tolist()
    if _is_pydantic_model(value):
        dump = getattr(value, "model_dump", None) or value.dict
        return dump(mode="json") if hasattr(value, "model_dump") else dump()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def encode_result(result: Any) -> bytes:
    """The JSON body for a model's result; TypeError when it has no JSON form."""
    if _is_pydantic_model(result):
        dump_json = getattr(result, "model_dump_json", None) or result.json
        text: str = dump_json()
        return text.encode()
    return json.dumps(result, default=_default).encode()


def json_response(
    value: Any, status_code: int = 200, headers: dict[str, str] | None = None
) -> Response:
    return Response(
        json.dumps(value).encode(), status_code, headers=headers, media_type="application/json"
    )


def error_response(message: Any, status_code: int, code: ErrorCode | None = None) -> Response:
    """`{"error": message}`, with Baseten's error headers when `code` is given."""
    return json_response(
        {"error": message}, status_code, error_headers(code) if code is not None else None
    )

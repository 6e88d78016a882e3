"""The one JSON parser for request bodies: the management API's and the replica's.

`json.loads` alone lets three kinds of text through as something other than a clean
refusal: nesting deeper than the interpreter's recursion limit raises RecursionError
(which is no ValueError, so it escaped as a 500), `NaN`/`Infinity`/`-Infinity` and
numbers such as `1e400` become floats that are not finite (which JSON cannot print
back), and an integer of more than 4,300 digits raises a ValueError about
`sys.set_int_max_str_digits`. `parse` turns each into `BodyError` (a ValueError)
with one line saying what is wrong, so every front end answers 400.

The replica calls it with `finite=False`: Truss's server reads predict bodies with
`json.loads`, which accepts `NaN` and `Infinity`, and models may rely on that. The
management API reads settings, where only finite numbers mean anything.

Imported by the replica's start path: the standard library's `json` only.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects a body may have. Baseten's bodies nest three
levels; a model's input a few more."""


class BodyError(ValueError):
    """The body is not JSON that brace reads (the message says why, in one line)."""


def _refuse_constant(name: str) -> Any:
    raise BodyError(f"{name} is not a finite number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise BodyError(f"{text} is not a finite number")
    return value


def depth(raw: bytes | str, limit: int = MAX_DEPTH) -> int:
    """How deep the arrays and objects of `raw` nest, counting up to `limit + 1` (then
    it stops reading). Brackets inside strings are not counted; `raw` need not be
    valid JSON (the parser says what else is wrong)."""
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    if "[" not in text and "{" not in text:
        return 0
    level = deepest = 0
    in_string = escaped = False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            level += 1
            if level > deepest:
                deepest = level
                if deepest > limit:
                    return deepest
        elif char in "]}":
            level -= 1
    return deepest


def parse(raw: bytes | str, *, finite: bool = True, max_depth: int | None = None) -> Any:
    """The JSON value of `raw`. BodyError when it is not JSON, nests deeper than
    `max_depth` (None: as deep as the interpreter's recursion limit lets `json` go,
    about 1,000 levels; a depth is checked in Python, so only for small bodies such as
    the management API's), or (with `finite`) holds a number that is not finite."""
    if max_depth is not None and depth(raw, max_depth) > max_depth:
        raise BodyError(f"it nests deeper than {max_depth} levels")
    try:
        if finite:
            return json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite_float)
        return json.loads(raw)
    except BodyError:
        raise
    except RecursionError:
        raise BodyError("it nests too deeply to be read") from None
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, too many digits
        raise BodyError(str(error)) from None

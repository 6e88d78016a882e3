"""The console's cross-site checks (pure functions over header values).

The gateway already answers 403 to a request whose `Origin` is not the server itself,
and 400 to a `Host` it does not serve (`brace.server.gateway.hosts`); those apply to the
console too. The console adds, for every state-changing request (sign-in, sign-out,
actions): an `Origin` header is required (browsers send it on every POST), or when a
privacy setting drops it a `Referer` of the same origin; and, once signed in, the
session's CSRF token (`sessions`). A request with neither header is refused: a
browser always sends one of them on a POST, and other programs use the API.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from brace.server.gateway.hosts import origin_allowed


def same_origin(origin: str | None, referer: str | None, host: str | None) -> bool:
    """True when the request comes from a page of this server (`Host: host`)."""
    if origin is not None:
        return origin != "null" and origin_allowed(origin, host)
    if referer:
        parts = urlsplit(referer)
        return bool(parts.scheme) and origin_allowed(f"{parts.scheme}://{parts.netloc}", host)
    return False


def safe_next(path: str | None) -> str:
    """Where to go after signing in: a path of this server, else `/`. Refuses other
    hosts (`//evil`, `https://evil`, `/\\evil`) and anything that is not a path."""
    if not path or not path.startswith("/") or path.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 0x21 or c == "\\" for c in path):
        return "/"
    return path

"""The request a replica is serving, for its log records: `x-baseten-request-id`.

The gateway names every request it forwards (`brace.server.gateway.exchange.Exchange.request_id`)
and sends the id to the replica in that header. The replica's app puts it in
`REQUEST_ID` for the request's task; the user's sync methods run in threads with a copy
of that context (`contextvars.copy_context().run`), so a record logged while serving the request, in
any of them, carries the id (`brace.runtime.main.LogFormatter`), and
`POST .../logs {"request_id": ...}` finds it (`brace.logs`). Prints carry no id: they
are not records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar

HEADER = b"x-baseten-request-id"
REQUEST_ID: ContextVar[str | None] = ContextVar("brace_request_id", default=None)
_VALID = re.compile(rb"[0-9A-Za-z_-]{1,64}")


def from_headers(headers: Iterable[tuple[bytes, bytes]]) -> str | None:
    """The request id an ASGI scope's headers carry, if it is one the gateway could have
    given (1-64 letters, digits, `-`, `_`): anything else would not parse in a log line."""
    for name, value in headers:
        if name == HEADER and _VALID.fullmatch(value):
            return value.decode()
    return None

"""HTTP/1.1 on the wire: the bytes the gateway writes that it does not copy from a peer.

Status lines, the hop-by-hop header names a proxy must not pass on, chunk framing and
the small JSON responses the gateway answers itself (404, 405, 502, 503, 202), and the
request ids. Shared by both sides of the proxy (`downstream`, `upstream`).
"""

from __future__ import annotations

import json
import os
from http import HTTPStatus

CRLF = b"\r\n"
LAST_CHUNK = b"0\r\n\r\n"
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
CHUNKED = b"transfer-encoding: chunked\r\n"
CLOSE = b"connection: close\r\n"
REQUEST_ID = b"x-baseten-request-id"

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"expect",
    }
)
"""Headers that describe one connection, not the message: never forwarded (RFC 9110 7.6.1).
`expect` is answered by the gateway itself, which sends `100 Continue` to the client."""

STATUS_LINES: dict[int, bytes] = {
    status.value: b"HTTP/1.1 %d %s\r\n" % (status.value, status.phrase.encode("ascii"))
    for status in HTTPStatus
}


def status_line(status: int) -> bytes:
    line = STATUS_LINES.get(status)
    return line if line is not None else b"HTTP/1.1 %d \r\n" % status


def request_id_header() -> bytes:
    """A fresh `x-baseten-request-id` header line: 32 random hex digits.

    Ids are drawn from os.urandom 256 at a time: one system call per 256 requests."""
    if not _ids:
        digits = os.urandom(16 * 256).hex().encode()
        _ids.extend(b"%s: %s\r\n" % (REQUEST_ID, digits[i : i + 32]) for i in range(0, 8192, 32))
    return _ids.pop()


_ids: list[bytes] = []


def chunk_size(data: bytes) -> bytes:
    """The size line that frames `data` as one chunk (followed by data and CRLF)."""
    return b"%x\r\n" % len(data)


def json_response(
    status: int, payload: object, *, keep_alive: bool, extra_headers: bytes = b""
) -> bytes:
    """A whole response with a JSON body, ready to write."""
    body = json.dumps(payload, separators=(",", ":")).encode()
    return b"".join(
        (
            status_line(status),
            b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body),
            request_id_header(),
            extra_headers,
            b"" if keep_alive else CLOSE,
            CRLF,
            body,
        )
    )


def error_response(status: int, message: str, *, keep_alive: bool) -> bytes:
    """Baseten's error shape: `{"error": message}`."""
    extra = b"allow: POST\r\n" if status == 405 else b""
    return json_response(status, {"error": message}, keep_alive=keep_alive, extra_headers=extra)

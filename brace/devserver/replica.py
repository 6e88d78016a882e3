"""Asking a running replica to reload its code: `POST /brace/reload` on its Unix socket.

The replica (brace/runtime/reload.py) answers once the reload is done: 200 with
`applied` true (new code serves, with its version and how it was applied) or false
(`mode: unchanged`), or 422 with the error and the user's traceback while the last
good code keeps serving. Reloads are serialized in the replica and it always reads
the newest files, so asking again after a burst of saves is always safe.

`parse_answer` turns the HTTP answer into a `ReloadAnswer` (pure, table-tested);
`reload_replica` is the real HTTP call, stdlib only (http.client over AF_UNIX).
"""

from __future__ import annotations

import http.client
import json
import socket
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

RELOAD_PATH = "/brace/reload"
# A reload can run the user's load() (new instance): allow as long as a start would.
RELOAD_TIMEOUT = 600.0


class ReloadResult(Enum):
    APPLIED = "applied"  # new code serves
    UNCHANGED = "unchanged"  # the replica already serves what is on disk
    REJECTED = "rejected"  # the new code failed; the last good code serves (422)
    UNREACHABLE = "unreachable"  # nothing listens yet (starting) or any more (stopped)
    UNSUPPORTED = "unsupported"  # a replica without live reload (404)
    ERROR = "error"  # any other answer


@dataclass(frozen=True)
class ReloadAnswer:
    outcome: ReloadResult
    version: int | None = None
    mode: str | None = None
    ms: float | None = None  # the reload's time inside the replica
    stage: str | None = None
    error: str | None = None
    traceback: str | None = None


def parse_answer(status: int, body: bytes) -> ReloadAnswer:
    """What a replica's answer to POST /brace/reload means."""
    try:
        data: Any = json.loads(body) if body else {}
    except ValueError:
        data = None
    if not isinstance(data, dict):
        text = body.decode(errors="replace").strip()[:200]
        return ReloadAnswer(ReloadResult.ERROR, error=f"the replica answered {status}: {text}")
    version = data.get("version")
    version = version if isinstance(version, int) else None
    if status == 200 and data.get("applied") is True:
        ms = data.get("ms")
        return ReloadAnswer(
            ReloadResult.APPLIED,
            version=version,
            mode=str(data.get("mode") or "class-swap"),
            ms=float(ms) if isinstance(ms, (int, float)) else None,
        )
    if status == 200:
        return ReloadAnswer(ReloadResult.UNCHANGED, version=version, mode="unchanged")
    if status == 422:
        traceback = data.get("traceback")
        return ReloadAnswer(
            ReloadResult.REJECTED,
            version=version,
            stage=str(data["stage"]) if data.get("stage") else None,
            error=str(data.get("error") or "the new code failed to load"),
            traceback=str(traceback) if traceback else None,
        )
    if status == 404:
        return ReloadAnswer(
            ReloadResult.UNSUPPORTED,
            error="the replica has no live reload (POST /brace/reload: 404)",
        )
    detail = data.get("error") or data
    if status == 503:  # the first load failed or is being retried: the replica restarts
        return ReloadAnswer(ReloadResult.UNREACHABLE, error=str(detail))
    return ReloadAnswer(
        ReloadResult.ERROR, version=version, error=f"the replica answered {status}: {detail}"
    )


class UnixHTTPConnection(http.client.HTTPConnection):
    """HTTP/1.1 over a Unix socket (the replicas listen on one each)."""

    def __init__(self, path: str | Path, timeout: float) -> None:
        super().__init__("replica", timeout=timeout)
        self.socket_path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def reload_replica(socket_path: Path, timeout: float = RELOAD_TIMEOUT) -> ReloadAnswer:
    """Ask the replica listening on `socket_path` to reload; returns once it is done."""
    connection = UnixHTTPConnection(socket_path, timeout)
    try:
        try:
            connection.connect()
        except OSError as error:
            return ReloadAnswer(ReloadResult.UNREACHABLE, error=str(error))
        connection.request("POST", RELOAD_PATH, body=b"", headers={"Content-Length": "0"})
        response = connection.getresponse()
        return parse_answer(response.status, response.read())
    except TimeoutError:
        return ReloadAnswer(
            ReloadResult.ERROR, error=f"the replica did not answer within {timeout:.0f} s"
        )
    except (OSError, http.client.HTTPException) as error:
        return ReloadAnswer(ReloadResult.UNREACHABLE, error=f"the replica went away: {error}")
    finally:
        connection.close()

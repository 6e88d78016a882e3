"""The running server's record (`server.json` in the brace home) and how to read it.

Written when the server is listening and removed when it stops. A record whose
process is gone (the server was killed), exited but not yet reaped (a zombie), or
whose pid now belongs to another process is stale: it is treated as no server, and
the next server replaces it. Imported by the CLI, so it stays light: no uvicorn, no
asyncio servers.

`server_id` is a random token the server also answers on `/healthz`: a command that
finds the same token at an address knows the server there is this home's, while
anyone else who asks /healthz learns nothing about the home (only the owner can read
`server.json`).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass

from brace.errors import ServerError
from brace.files import read_limited
from brace.server.paths import ServerPaths

RECORD_LIMIT = 64 * 1024  # bytes; a record is about 100


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    process_started: float
    host: str
    port: int
    server_id: str = ""
    """Random per server start; echoed by /healthz (empty in records of older servers)."""

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def new_server_id() -> str:
    """A fresh server identity: 128 random bits, as hex."""
    import secrets  # here, as tempfile: `brace` commands read records, never write them

    return secrets.token_hex(16)


def write_record(paths: ServerPaths, record: ServerRecord) -> None:
    """Write atomically (temp file + rename), readable only by the owner."""
    import tempfile

    try:
        fd, temporary = tempfile.mkstemp(prefix=".server-", dir=paths.home)
        try:
            with os.fdopen(fd, "w") as file:
                json.dump(asdict(record), file)
            os.replace(temporary, paths.state_file)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
    except OSError as error:
        raise ServerError(
            f"{paths.state_file}: cannot write the server's record ({error.strerror})"
        ) from None


def read_record(paths: ServerPaths) -> ServerRecord | None:
    """The record of a server that is still running, or None."""
    try:
        record = ServerRecord(**json.loads(read_limited(paths.state_file, RECORD_LIMIT)))
    except (OSError, ValueError, TypeError):
        return None
    from brace.processes import is_same_process

    return record if is_same_process(record.pid, record.process_started) else None


def remove_record(paths: ServerPaths, pid: int) -> None:
    try:
        record = json.loads(read_limited(paths.state_file, RECORD_LIMIT))
    except (OSError, ValueError):
        return
    if isinstance(record, dict) and record.get("pid") == pid:
        paths.state_file.unlink(missing_ok=True)

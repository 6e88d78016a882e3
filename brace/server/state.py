"""The running server's record (`server.json` in the brace home) and how to read it.

Written when the server is listening and removed when it stops. A record whose
process is gone (the server was killed) is treated as no server. Imported by the CLI,
so it stays light: no uvicorn, no asyncio servers.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass

from brace.server.paths import ServerPaths


@dataclass(frozen=True)
class ServerRecord:
    pid: int
    process_started: float
    host: str
    port: int

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"


def write_record(paths: ServerPaths, record: ServerRecord) -> None:
    """Write atomically (temp file + rename), readable only by the owner."""
    fd, temporary = tempfile.mkstemp(prefix=".server-", dir=paths.home)
    with os.fdopen(fd, "w") as file:
        json.dump(asdict(record), file)
    os.replace(temporary, paths.state_file)


def read_record(paths: ServerPaths) -> ServerRecord | None:
    """The record of a server that is still running, or None."""
    try:
        record = ServerRecord(**json.loads(paths.state_file.read_text()))
    except (OSError, ValueError, TypeError):
        return None
    from brace.server.supervisor import is_same_process

    return record if is_same_process(record.pid, record.process_started) else None


def remove_record(paths: ServerPaths, pid: int) -> None:
    try:
        record = json.loads(paths.state_file.read_text())
    except (OSError, ValueError):
        return
    if record.get("pid") == pid:
        paths.state_file.unlink(missing_ok=True)

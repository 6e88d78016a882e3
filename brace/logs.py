"""A deployment's log: one file that replicas and the server append to, read three ways.

The replica's output (the user's prints, load and reload records, tracebacks) is
appended by the replica process itself; the server adds its own lines through
`DeploymentLog.write`. Readers: `tail` (the last lines, for error messages), and
`LogTail` (what was appended since the last call: `brace logs --follow`, `brace watch`).
Where the file lives is `brace.server.paths.ServerPaths.deployment_log`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

_TAIL_CHUNK = 65536
"""Bytes read from the end of the file per step when looking for the last lines."""


class DeploymentLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, message: str) -> None:
        """Append one of the server's own lines: `<local time> [brace] <message>`."""
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a") as file:
            file.write(f"{stamp} [brace] {message}\n")

    def tail(self, count: int) -> list[str]:
        """The last `count` lines (fewer if the file is shorter; none if it is missing).

        Reads from the end in chunks, so a large log costs what its last lines cost.
        """
        try:
            with self.path.open("rb") as file:
                end = file.seek(0, os.SEEK_END)
                data = b""
                position = end
                while position > 0 and data.count(b"\n") <= count:
                    step = min(_TAIL_CHUNK, position)
                    position -= step
                    file.seek(position)
                    data = file.read(step) + data
        except OSError:
            return []
        lines = data.decode(errors="replace").splitlines()
        return lines[-count:] if count > 0 else []


def tail(path: Path, count: int = 20) -> str:
    """The last `count` lines of the file at `path`, joined; "" when there are none."""
    return "\n".join(DeploymentLog(path).tail(count))


class LogTail:
    """New complete lines of a file that only grows.

    Starts at the file's current end, or at its start with `from_start`. A partial last
    line is kept until its newline arrives. `path` is asked again on every call: when it
    names another file (the deployment was re-created), reading starts over there.
    """

    def __init__(self, path: Callable[[], Path], *, from_start: bool = False) -> None:
        self._path = path
        self._current = path()
        self._position = 0 if from_start else _size(self._current)
        self._partial = b""

    def poll(self, *, partial: bool = False) -> list[str]:
        """The lines appended since the last call; with `partial`, an unfinished last
        line too (for a reader that will not call again)."""
        path = self._path()
        if path != self._current:
            self._current, self._position, self._partial = path, 0, b""
        try:
            with path.open("rb") as handle:
                size = handle.seek(0, os.SEEK_END)
                if size < self._position:  # truncated or replaced: start over
                    self._position, self._partial = 0, b""
                handle.seek(self._position)
                chunk = handle.read()
        except OSError:
            return []
        self._position += len(chunk)
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        if partial and self._partial:
            lines.append(self._partial)
            self._partial = b""
        return [line.decode(errors="replace").rstrip("\r") for line in lines]


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


# The two stamps that start lines: brace's own ("2026-01-02T03:04:05 [brace] ...") and the
# replica's log records ("2026-01-02 03:04:05,678 INFO ..."), both in local time.
_STAMP = re.compile(r"^(\d{4}-\d\d-\d\d)[T ](\d\d:\d\d:\d\d)(?:,(\d{3}))?")


def line_time(line: str) -> float | None:
    """When a log line was written (seconds since the epoch), if it starts with a stamp."""
    found = _STAMP.match(line)
    if found is None:
        return None
    day, clock, millis = found.groups()
    try:
        seconds = time.mktime(time.strptime(f"{day} {clock}", "%Y-%m-%d %H:%M:%S"))
    except (ValueError, OverflowError):
        return None
    return seconds + int(millis or 0) / 1000


def log_record(line: str) -> dict[str, Any]:
    """A line as Baseten's log record: `timestamp` in epoch nanoseconds as a string
    ("" when the line carries no time of its own), `message`, `replica` (None)."""
    seconds = line_time(line)
    stamp = "" if seconds is None else str(round(seconds * 1000) * 1_000_000)
    return {"timestamp": stamp, "message": line, "replica": None}


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(: .*)?$")


def last_error(lines: list[str]) -> str | None:
    """The last exception line (`RuntimeError: weights are missing`) among `lines`:
    what a traceback in the log ends with."""
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line.strip()):
            return line.strip()
    return None

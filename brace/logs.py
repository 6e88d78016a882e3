"""A deployment's log: one file that replicas and the server append to, read three ways.

The replica's output (the user's prints, load and reload records, tracebacks) is
appended by the replica process itself; the server adds its own lines through
`DeploymentLog.write`. Readers: `tail` (the last lines, for error messages), and
`LogTail` (what was appended since the last call: `brace logs --follow`, `brace watch`);
`parse_line` reads a line's stamp, level and replica (`brace logs -o jsonl`, the API).
Where the file lives is `brace.server.paths.ServerPaths.deployment_log`.
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

_TAIL_CHUNK = 65536
"""Bytes read from the end of the file per step when looking for the last lines."""


def open_for_append(path: Path) -> int:
    """A descriptor appending to the log file at `path` (created readable by its owner
    only), for this process's writes or a child's stdout; the caller closes it."""
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)


class DeploymentLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def write(self, message: str) -> None:
        """Append one of the server's own lines: `<stamp> [brace] <message>` (the stamp
        as the replica's records have it: see `parse_line`)."""
        stamp = now_stamp()
        with os.fdopen(open_for_append(self.path), "a") as file:
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


# Lines start with a stamp in ISO 8601, local time with milliseconds and the zone:
#   brace's own:           2026-01-02T03:04:05.678+01:00 [brace] status ACTIVE
#   the replica's records: 2026-01-02T03:04:05.678+01:00 INFO [r1b2c3d4] brace.runtime: ...
#   ... while serving a request: ... INFO [r1b2c3d4] [request_id=0f3a...] model.model: ...
#   ... a replica on another node: ... INFO [r1b2c3d4@10.0.0.2] brace.runtime: ...
# (the replica id in brackets when the replica was given one). Older logs have
# "2026-01-02T03:04:05 [brace] ..." and "2026-01-02 03:04:05,678 INFO ...", local time
# without a zone; they are read as well. Other lines (a model's print(), the lines of a
# traceback) carry no stamp.
STAMP = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d{1,6})?(?:Z|[+-]\d\d:?\d\d)?"
RECORD = re.compile(
    rf"^({STAMP}) ([A-Z]+) (?:\[([\w-]+)(?:@([\w.:-]+))?\] )?(?:\[request_id=([\w-]+)\] )?"
)
"""The start of a replica's log record: stamp, level, replica id, the node of a replica
on another machine (`[id@node]`, docs/scale-out.md), request id (if any)."""
_BRACE = re.compile(rf"^({STAMP}) (?=\[brace\] )")
_STAMPED = re.compile(rf"^({STAMP})(?: |$)")


@dataclass(frozen=True)
class LogLine:
    """One line of a deployment's log, read."""

    time: datetime | None
    """When it was written (aware); a line without a stamp has the time of the stamped
    line before it, if any."""
    level: str | None
    """INFO, WARNING, ... for log records and brace's own lines (INFO); None for lines
    that are not records (prints, traceback lines)."""
    replica: str | None
    """The replica that logged it, when its records name one."""
    message: str
    """The line without its stamp, level and replica (brace's keep their "[brace]")."""
    stamped: bool
    request_id: str | None = None
    """The request it was logged for (`x-baseten-request-id`), when its record names one."""
    node: str | None = None
    """The node of a replica on another machine, when its record names one."""

    def to_json(self) -> dict[str, Any]:
        """The `brace logs -o jsonl` object (`node` only for a replica on another node)."""
        found: dict[str, Any] = {
            "time": self.time.isoformat(timespec="milliseconds") if self.time else None,
            "level": self.level,
            "replica": self.replica,
            "message": self.message,
        }
        if self.node is not None:
            found["node"] = self.node
        return found


def parse_line(line: str, previous: datetime | None = None) -> LogLine:
    """Read a log line; `previous` is the time of the stamped line before it."""
    request_id = node = None
    if found := RECORD.match(line):
        stamp, level, replica, node, request_id = found.groups()
    elif found := _BRACE.match(line):
        stamp, level, replica = found.group(1), "INFO", None
    elif found := _STAMPED.match(line):
        stamp, level, replica = found.group(1), None, None
    else:
        return LogLine(previous, None, None, line, False)
    moment = _parse_stamp(stamp)
    if moment is None:
        return LogLine(previous, None, None, line, False)
    return LogLine(moment, level, replica, line[found.end() :], True, request_id, node)


def _parse_stamp(stamp: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(stamp.replace(",", "."))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.astimezone()  # naive: local


class LogLines:
    """Reads lines in order, giving unstamped ones the time of the line before; with
    `since`, `select` keeps the lines written then or later."""

    def __init__(self, since: datetime | None = None) -> None:
        self.since = since
        self.last: datetime | None = None

    def read(self, line: str) -> LogLine:
        parsed = parse_line(line, self.last)
        if parsed.stamped:
            self.last = parsed.time
        return parsed

    def select(self, lines: Iterable[str]) -> list[tuple[str, LogLine]]:
        """Each line with its reading, from `since` on (a line of unknown time, before
        any stamp, is left out then)."""
        read = [(line, self.read(line)) for line in lines]
        since = self.since
        if since is None:
            return read
        return [(line, p) for line, p in read if p.time is not None and p.time >= since]


def now_stamp() -> str:
    """Now, as log lines are stamped: ISO 8601, local time, milliseconds and zone."""
    return datetime.now().astimezone().isoformat(timespec="milliseconds")


def line_time(line: str) -> float | None:
    """When a log line was written (seconds since the epoch), if it starts with a stamp."""
    parsed = parse_line(line)
    return parsed.time.timestamp() if parsed.stamped and parsed.time else None


def log_record(line: str) -> dict[str, Any]:
    """A line as Baseten's log record: `timestamp` in epoch nanoseconds as a string
    ("" when the line carries no time of its own), `message` (the whole line),
    `replica` (the replica id its record names, else None)."""
    parsed = parse_line(line)
    seconds = parsed.time.timestamp() if parsed.stamped and parsed.time else None
    stamp = "" if seconds is None else str(round(seconds * 1000) * 1_000_000)
    return {"timestamp": stamp, "message": line, "replica": parsed.replica}


LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}
"""Record levels by severity; `min_level` takes the first four (Baseten's LogLevelV1)."""


@dataclass(frozen=True)
class LogFilter:
    """Which lines `POST .../logs` answers with (the fields of Baseten's body; each one
    left as None or empty keeps every line).

    Times are epoch milliseconds, both ends included, compared with a line's time (an
    unstamped line has the time of the stamped line before it; one before any stamp
    has no time and is left out). `min_level` keeps records at that level or above and
    drops lines without a level (prints, traceback lines), as Truss's `--min-level`
    says. `replica` and `request_id` keep the records that name them. `pattern` is
    searched for in the line, each of `includes` must occur in it and none of
    `excludes` (case-sensitive substrings)."""

    start_ms: int | None = None
    end_ms: int | None = None
    min_level: str | None = None
    replica: str | None = None
    request_id: str | None = None
    pattern: re.Pattern[str] | None = None
    includes: tuple[str, ...] = ()
    excludes: tuple[str, ...] = ()

    def keeps(self, line: str, parsed: LogLine) -> bool:
        if parsed.time is None:
            return False
        moment = parsed.time.timestamp() * 1000
        if self.start_ms is not None and moment < self.start_ms:
            return False
        if self.end_ms is not None and moment > self.end_ms:
            return False
        if self.min_level is not None and LEVELS.get(parsed.level or "", -1) < LEVELS.get(
            self.min_level, 0
        ):
            return False
        if self.replica is not None and parsed.replica != self.replica:
            return False
        if self.request_id is not None and parsed.request_id != self.request_id:
            return False
        if any(text not in line for text in self.includes):
            return False
        if any(text in line for text in self.excludes):
            return False
        return self.pattern is None or self.pattern.search(line) is not None


SEEK_MARGIN_MS = 60_000
"""How far before `start_ms` a search starts reading: lines of several processes are
appended a little out of order (each stamps its own), never by this much."""


def _line_time_at(file: Any, offset: int) -> float | None:
    """The time (epoch ms) of the first stamped line starting after `offset`, reading
    a few lines at most; None at the end of the file."""
    file.seek(offset)
    if offset:
        file.readline()  # the rest of the line `offset` falls in
    for _ in range(64):
        raw = file.readline()
        if not raw:
            return None
        parsed = parse_line(raw.decode(errors="replace").rstrip("\r\n"))
        if parsed.stamped and parsed.time is not None:
            return parsed.time.timestamp() * 1000
    return None


def _start_offset(file: Any, start_ms: float) -> int:
    """A byte offset at the start of a line no later than the first line written at
    `start_ms` (less `SEEK_MARGIN_MS`): a bisection over the file's stamps, so a search
    from a recent time costs what the recent lines cost."""
    target = start_ms - SEEK_MARGIN_MS
    low, high = 0, file.seek(0, os.SEEK_END)
    while high - low > _TAIL_CHUNK:
        middle = (low + high) // 2
        moment = _line_time_at(file, middle)
        if moment is None or moment >= target:
            high = middle
        else:
            low = middle
    if low:
        file.seek(low)
        file.readline()
        return int(file.tell())
    return 0


def search(path: Path, wanted: LogFilter, limit: int) -> list[dict[str, Any]]:
    """The last `limit` lines of the log at `path` that `wanted` keeps, newest first, as
    Baseten's log records (`log_record`, the time of an unstamped line its own). Reads
    the file once, front to back (from near `start_ms` when it is given), keeping
    `limit` lines at most."""
    kept: deque[tuple[str, LogLine]] = deque(maxlen=max(limit, 0))
    reader = LogLines()
    try:
        with path.open("rb") as file:
            if wanted.start_ms is not None:
                file.seek(_start_offset(file, wanted.start_ms))
            for raw in file:
                line = raw.decode(errors="replace").rstrip("\r\n")
                parsed = reader.read(line)
                if wanted.keeps(line, parsed):
                    kept.append((line, parsed))
    except FileNotFoundError:
        return []
    return [_record(line, parsed) for line, parsed in reversed(kept)]


def _record(line: str, parsed: LogLine) -> dict[str, Any]:
    seconds = parsed.time.timestamp() if parsed.time else 0.0
    stamp = str(round(seconds * 1000) * 1_000_000)
    return {"timestamp": stamp, "message": line, "replica": parsed.replica}


_SINCE = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_since(text: str, now: datetime) -> datetime:
    """`--since`: a duration back from `now` (`90s`, `10m`, `1h`, `2d`) or an ISO 8601
    time (`2026-01-02T03:04`, local time unless it has a zone). ValueError otherwise."""
    text = text.strip()
    if found := _SINCE.match(text):
        number, unit = found.groups()
        return now - timedelta(seconds=float(number) * _UNITS[unit])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is neither a duration (30s, 10m, 1h, 2d) nor an ISO 8601 time "
            "(2026-01-02T03:04:05)"
        ) from None
    return moment.astimezone()


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b(: .*)?$")


def last_error(lines: list[str]) -> str | None:
    """The last exception line (`RuntimeError: weights are missing`) among `lines`:
    what a traceback in the log ends with."""
    for line in reversed(lines):
        if _EXCEPTION_LINE.match(line.strip()):
            return line.strip()
    return None

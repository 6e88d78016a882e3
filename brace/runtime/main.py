"""The replica's command line: `python -m brace.runtime --truss DIR --uds PATH`.

Only argparse, logging and datetime are imported before the arguments are parsed;
the server (uvicorn, starlette, the model) is imported once, after. Logs are plain
lines on stderr, and stdout is line-buffered, because the controller sends both to one file
per deployment and a user's print() should land there in order, not at exit. Both
streams pass through the replica's `Redactor` (redact.py), so no secret value reaches
that file. A log record reads `2026-01-02T03:04:05.678+01:00 INFO [REPLICA] logger:
message`: local time in ISO 8601 with milliseconds and the zone, as the server stamps
its own lines in that file (`brace.logs` reads both), the replica's id when it was
given one (`--replica-id`), and `[request_id=ID]` after it for a record logged while
serving a request (brace/runtime/requestid.py).
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from brace.runtime.redact import RedactingStream, Redactor

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMAT = "%(asctime)s %(levelname)s {replica}%(request_tag)s%(name)s: %(message)s"


class LogFormatter(logging.Formatter):
    """Records stamped in ISO 8601: local time with milliseconds and the zone; a record
    logged while serving a request names it: `[request_id=<id>] ` after the replica."""

    def __init__(self, replica_id: str | None = None) -> None:
        tag = f"[{replica_id}] " if replica_id else ""
        super().__init__(LOG_FORMAT.format(replica=tag.replace("%", "%%")))

    def format(self, record: logging.LogRecord) -> str:
        from brace.runtime.requestid import REQUEST_ID  # stdlib only: cheap at start

        request = REQUEST_ID.get()
        record.request_tag = f"[request_id={request}] " if request else ""
        return super().format(record)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        moment = datetime.fromtimestamp(record.created).astimezone()
        return moment.isoformat(timespec="milliseconds")


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m brace.runtime",
        description="Serve one Truss model (one brace replica).",
    )
    parser.add_argument("--truss", type=Path, required=True, help="the Truss directory")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--uds", type=Path, help="listen on this Unix socket")
    where.add_argument("--port", type=int, help="listen on this TCP port")
    parser.add_argument("--host", default="127.0.0.1", help="TCP host (with --port)")
    parser.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    parser.add_argument(
        "--access-log", action="store_true", help="log one line per request (off by default)"
    )
    parser.add_argument("--replica-id", help="name this replica in its log records")
    return parser


def redact_output(redactor: Redactor) -> None:
    """Send sys.stdout and sys.stderr through `redactor` (call before logging starts)."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    sys.stdout = RedactingStream(sys.stdout, redactor)
    sys.stderr = RedactingStream(sys.stderr, redactor)


def configure_logging(level: str, replica_id: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(LogFormatter(replica_id))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    # uvicorn's own info lines (started, shutting down) are noise next to ours.
    if level != "debug":
        logging.getLogger("uvicorn.error").setLevel(max(logging.WARNING, root.level))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    redactor = Redactor()
    redact_output(redactor)
    configure_logging(args.log_level, args.replica_id)

    from brace.runtime.server import Options, serve  # the heavy part, imported once

    options = Options(
        truss=args.truss,
        uds=args.uds.absolute() if args.uds is not None else None,
        host=args.host,
        port=args.port,
        access_log=args.access_log,
    )
    return serve(options, redactor)

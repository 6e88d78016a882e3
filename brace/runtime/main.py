"""The replica's command line: `python -m brace.runtime --truss DIR --uds PATH`.

Only argparse and logging are imported before the arguments are parsed; the server
(uvicorn, starlette, the model) is imported once, after. Logs are plain lines on
stderr, and stdout is line-buffered, because the controller sends both to one file
per deployment and a user's print() should land there in order, not at exit. Both
streams pass through the replica's `Redactor` (redact.py), so no secret value reaches
that file.
"""

from __future__ import annotations

import argparse
import io
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from brace.runtime.redact import RedactingStream, Redactor

LOG_LEVELS = ("critical", "error", "warning", "info", "debug")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


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
    return parser


def redact_output(redactor: Redactor) -> None:
    """Send sys.stdout and sys.stderr through `redactor` (call before logging starts)."""
    if isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(line_buffering=True)
    sys.stdout = RedactingStream(sys.stdout, redactor)
    sys.stderr = RedactingStream(sys.stderr, redactor)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))
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
    configure_logging(args.log_level)

    from brace.runtime.server import Options, serve  # the heavy part, imported once

    options = Options(
        truss=args.truss,
        uds=args.uds.absolute() if args.uds is not None else None,
        host=args.host,
        port=args.port,
        access_log=args.access_log,
    )
    return serve(options, redactor)

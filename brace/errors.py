"""The one error hierarchy of brace.

Every failure a user can cause or fix is a `BraceError`: a message that says what went
wrong, an optional hint that says what to do instead, a `code` naming the kind of
failure (the management API's `error_code`), the `facts` a front end needs to word its
own hint, an exit code for the CLI and an HTTP status for the management API. The CLI
prints message and hint on one line each and exits with the code; the API answers
`{"error": message, "error_code": code}` with the status. Anything that is not a
`BraceError` is a bug and is shown as such.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    ERROR = 1
    USAGE = 2
    AUTH = 3
    NOT_FOUND = 4
    REFUSED = 5
    SERVER = 6
    INTERRUPTED = 130


class BraceError(Exception):
    """Base of every error a user can act on."""

    exit_code: ExitCode = ExitCode.ERROR
    http_status: int = 500
    default_code: str = "ERROR"

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        code: str | None = None,
        facts: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code or self.default_code
        self.facts = dict(facts or {})

    def to_json(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body


class UsageError(BraceError):
    """The command line itself is wrong (conflicting or missing options)."""

    exit_code = ExitCode.USAGE
    http_status = 400
    default_code = "INVALID_ARGUMENT"


class AuthError(BraceError):
    exit_code = ExitCode.AUTH
    http_status = 401
    default_code = "UNAUTHORIZED"


class NotFoundError(BraceError):
    exit_code = ExitCode.NOT_FOUND
    http_status = 404
    default_code = "NOT_FOUND"


class InvalidError(BraceError):
    """A value fails validation (config.yaml, settings, names)."""

    exit_code = ExitCode.REFUSED
    http_status = 400
    default_code = "VALIDATION_ERROR"


class ConfigError(InvalidError):
    """config.yaml or the model directory is not a valid Truss."""


class RefusedError(BraceError):
    """A lifecycle rule forbids the action in the current state."""

    exit_code = ExitCode.REFUSED
    http_status = 409
    default_code = "CONFLICT"


class ServerError(BraceError):
    """The brace server is unreachable or answered with an error."""

    exit_code = ExitCode.SERVER
    http_status = 503
    default_code = "SERVER_ERROR"


class StateError(BraceError):
    """brace's own files cannot be used: the home, the state file or a snapshot is
    damaged, unreadable, or cannot be written (a full disk). Never silently replaced."""

    exit_code = ExitCode.ERROR
    http_status = 500
    default_code = "STATE_ERROR"


class UnsafePathError(BraceError):
    """A path brace would create outside the home is not private to this user."""

    exit_code = ExitCode.ERROR
    http_status = 500
    default_code = "UNSAFE_PATH"


_PATH = re.compile(r"(?<![\w.:/])/(?:[^\s/:'\"(),]+/)+([^\s/:'\"(),]+)")


def without_paths(text: str) -> str:
    """`text` with each absolute file path cut to its last part ("/home/u/.brace/state.db"
    -> "state.db"): for answers to requests, which must not show where files live."""
    return _PATH.sub(r"\1", text)

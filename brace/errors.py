"""The one error hierarchy of brace.

Every failure a user can cause or fix is a `BraceError`: a message that says what went
wrong, an optional hint that says what to do instead, an exit code for the CLI and an
HTTP status for the management API. The CLI prints message and hint on one line each
and exits with the code; the API answers `{"error": message, "hint": hint}`. Anything
that is not a `BraceError` is a bug and is shown as such.
"""

from __future__ import annotations

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

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def to_json(self) -> dict[str, str]:
        body = {"error": self.message}
        if self.hint:
            body["hint"] = self.hint
        return body


class UsageError(BraceError):
    """The command line itself is wrong (conflicting or missing options)."""

    exit_code = ExitCode.USAGE
    http_status = 400


class AuthError(BraceError):
    exit_code = ExitCode.AUTH
    http_status = 401


class NotFoundError(BraceError):
    exit_code = ExitCode.NOT_FOUND
    http_status = 404


class InvalidError(BraceError):
    """A value fails validation (config.yaml, settings, names)."""

    exit_code = ExitCode.REFUSED
    http_status = 400


class ConfigError(InvalidError):
    """config.yaml or the model directory is not a valid Truss."""


class RefusedError(BraceError):
    """A lifecycle rule forbids the action in the current state."""

    exit_code = ExitCode.REFUSED
    http_status = 409


class ServerError(BraceError):
    """The brace server is unreachable or answered with an error."""

    exit_code = ExitCode.SERVER
    http_status = 503


class UnsafePathError(BraceError):
    """A path brace would create outside the home is not private to this user."""

    exit_code = ExitCode.ERROR
    http_status = 500

"""What keeps the server from doing its job in full: a state or a log that cannot be
written (a full disk). One line in the server's log when it starts, `problems()` for
`brace status` until a write succeeds again, and deployment logs that drop a line
they cannot write instead of stopping the controller."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from brace.errors import BraceError, without_paths
from brace.logs import DeploymentLog

_log = logging.getLogger("brace.server")


class WriteProblems:
    def __init__(self) -> None:
        self.failure: str | None = None
        """Why the last write failed (a full disk), until one succeeds."""

    def cannot_write(self, error: BaseException) -> None:
        """Note that something could not be written."""
        if self.failure is None:
            _log.error(
                "cannot write the server's state (%s): serving what runs, and trying "
                "again at every tick",
                _without_paths(error),
            )
        self.failure = _without_paths(error)

    def written(self) -> None:
        """A tick's write succeeded."""
        if self.failure is not None:
            _log.warning("the server's state is written again")
            self.failure = None

    def problems(self) -> list[str]:
        """For `brace status` (no paths in it: /healthz answers anyone on this machine)."""
        if self.failure is None:
            return []
        return [
            f"cannot write its state ({self.failure}): replicas keep serving, "
            "changes wait until it can write again"
        ]

    def log(self, path: Path) -> DeploymentLog:
        """The deployment log at `path`, for the server's own lines."""
        return SparingLog(path, self.cannot_write)


class SparingLog(DeploymentLog):
    """A deployment's log for the server's own lines: a line that cannot be written (a
    full disk) is dropped and reported once, instead of stopping the controller."""

    def __init__(self, path: Path, failed: Callable[[BaseException], None]) -> None:
        super().__init__(path)
        self._failed = failed

    def write(self, message: str) -> None:
        try:
            super().write(message)
        except OSError as error:
            self._failed(error)


def _without_paths(error: BaseException) -> str:
    """An error's text with the file paths in it cut to their last part."""
    text = error.message if isinstance(error, BraceError) else str(error)
    if isinstance(error, OSError) and error.strerror:
        text = error.strerror
    return without_paths(text)

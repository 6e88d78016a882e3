"""The brace home: where state, snapshots and keys live (`BRACE_HOME`, default ~/.brace).

The directory is private to its owner (0700) and every file brace writes in it is 0600,
because it holds the API key and the user's model code.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from brace.errors import StateError

DEFAULT_HOME = "~/.brace"


def brace_home(value: str | os.PathLike[str] | None = None) -> Path:
    """The home directory: `value`, else $BRACE_HOME, else ~/.brace (not created).

    A path that cannot be resolved (a symlink loop) is a StateError naming it.
    """
    chosen = value if value is not None else os.environ.get("BRACE_HOME") or DEFAULT_HOME
    try:
        return Path(chosen).expanduser().resolve()
    except (OSError, RuntimeError) as error:  # RuntimeError: pathlib's "Symlink loop"
        reason = error.strerror if isinstance(error, OSError) else "a symlink loop"
        raise StateError(
            f"{chosen}: cannot use it as the brace home ({reason})",
            "Point BRACE_HOME at a directory you own.",
        ) from None


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it readable only by its owner.

    OSError if it cannot be: the reason is the real one (a symlink loop says so, not
    "File exists").
    """
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
    except FileExistsError:
        os.stat(path)  # a symlink loop or a dangling link raises its own reason here
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(path)) from None
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path

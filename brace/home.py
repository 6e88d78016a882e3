"""The brace home: where state, snapshots and keys live (`BRACE_HOME`, default ~/.brace).

The directory is private to its owner (0700) and every file brace writes in it is 0600,
because it holds the API key and the user's model code.
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_HOME = "~/.brace"


def brace_home(value: str | os.PathLike[str] | None = None) -> Path:
    """The home directory: `value`, else $BRACE_HOME, else ~/.brace (not created)."""
    chosen = value if value is not None else os.environ.get("BRACE_HOME") or DEFAULT_HOME
    return Path(chosen).expanduser().resolve()


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) if needed and make it readable only by its owner."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path


def touch_private(path: Path) -> Path:
    """Create `path` as an empty 0600 file if missing, and tighten it if it is looser."""
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    os.close(fd)
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)
    return path

"""Where the server keeps its files: state file, logs, and replica sockets.

Replica sockets (and the internal app's) live in `<home>/sockets`: the home is private
to its owner (0700), so no other local user can see, create or replace a socket there.
A Unix socket path must fit in `SOCKET_PATH_MAX` bytes, and a brace home can be deep
(a test's tmp dir); only then do sockets live outside the home, in
`$TMPDIR/brace-<uid>/<hash of the home>`. That path can be predicted by anyone, so
every folder of it is checked (`private_dir`): a folder that another user created
first, a symlink, or one that others may write to is refused, never used.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass
from pathlib import Path

from brace.errors import UnsafePathError
from brace.home import ensure_private_dir

STATE_FILE = "server.json"

SOCKET_PATH_MAX = 103 if sys.platform == "darwin" else 107
"""Bytes a Unix socket path may have (sun_path holds 104 or 108, the last one NUL)."""

SOCKET_NAME_ROOM = 16
"""Bytes kept for a socket's file name: a replica id (8) + `.sock`, or `internal.sock`."""


@dataclass(frozen=True)
class ServerPaths:
    home: Path
    temp: Path | None = None
    """Where sockets go when the home is too deep for them: a seam for tests (default:
    `tempfile.gettempdir()`, i.e. $TMPDIR or /tmp)."""

    @property
    def state_file(self) -> Path:
        return self.home / STATE_FILE

    @property
    def logs(self) -> Path:
        return ensure_private_dir(self.home / "logs")

    @property
    def server_log(self) -> Path:
        return self.logs / "server.log"

    def deployment_log(self, deployment_id: str) -> Path:
        return self.logs / f"{deployment_id}.log"

    def sockets(self) -> Path:
        """The sockets folder, created if needed; `UnsafePathError` if it is not safe."""
        inside = ensure_private_dir(self.home) / "sockets"
        if fits_socket_path(inside):
            return private_dir(inside, f"Remove {inside}; brace creates it again.")
        import hashlib  # here, as tempfile: `brace` commands import this module
        import tempfile

        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:10]
        base = (self.temp or Path(tempfile.gettempdir())) / f"brace-{os.getuid()}"
        hint = (
            f"Remove {base} (another user may have created it), set TMPDIR to a folder "
            "only you can write to, or use a shorter BRACE_HOME so that sockets stay in it."
        )
        return private_dir(private_dir(base, hint) / digest, hint)

    def replica_socket(self, replica_id: str) -> Path:
        return self.sockets() / f"{replica_id}.sock"

    @property
    def internal_socket(self) -> Path:
        return self.sockets() / "internal.sock"


def fits_socket_path(folder: Path) -> bool:
    """True when a socket with any of brace's names fits in `folder`."""
    return len(os.fsencode(folder)) + 1 + SOCKET_NAME_ROOM <= SOCKET_PATH_MAX


def private_dir(path: Path, hint: str) -> Path:
    """Create `path` (mode 0700) if missing, and return it once it is safe to use.

    Safe means: a real directory (not a symlink), owned by this process's user, that
    no one else may write to, in a parent where no one else can rename or replace it
    (not writable by others, or sticky like /tmp). A folder readable by others is
    tightened to 0700; anything else raises `UnsafePathError` naming the path, with
    `hint` (what to do).
    """
    _check_parent(path.parent, hint)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    except OSError as error:
        raise UnsafePathError(f"cannot create {path}: {error.strerror}", hint) from None
    info = os.lstat(path)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(f"{path} is a symlink; brace will not use it", hint)
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(f"{path} is not a directory", hint)
    if info.st_uid != os.geteuid():
        raise UnsafePathError(
            f"{path} belongs to another user (uid {info.st_uid}); brace will not use it",
            hint,
        )
    if info.st_mode & 0o022:
        raise UnsafePathError(
            f"{path} may be written by other users (mode {stat.S_IMODE(info.st_mode):04o}); "
            "brace will not use it",
            hint,
        )
    if info.st_mode & 0o077:
        os.chmod(path, 0o700)
    return path


def _check_parent(parent: Path, hint: str) -> None:
    """A parent others may write to must be sticky, so our folder cannot be swapped."""
    try:
        info = os.stat(parent)
    except OSError:
        return  # mkdir will say what is wrong
    if info.st_mode & 0o002 and not info.st_mode & stat.S_ISVTX:
        raise UnsafePathError(
            f"{parent} may be written by any user and is not sticky; brace will not "
            "keep sockets in it",
            hint,
        )

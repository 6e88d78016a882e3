"""One home, one server: an OS lock held for the server's whole life, and one start at
a time among the commands that start it.

`server.json` says where a server listens, but it is written once the server listens:
two servers started at the same moment both found none and both ran (sharing one
internal socket, both starting replicas). So a server first takes `server.lock` in the
home with `flock` (exclusive, non-blocking) and holds it until it exits; the kernel
drops it when the process dies, even by SIGKILL, so a crash never leaves a stale
claim. The lock file holds the pid of its holder, for the refusal to name.

Commands that start the server in the background (`brace up`, and every command that
needs one, such as twenty `brace push --publish` of a CI matrix at once) take
`server-start.lock` while they look and start, so one starts it and the others find
it running and use it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from brace.errors import ServerError
from brace.home import ensure_private_dir
from brace.polling import poll

HOLDER_WAIT = 2.0
"""Seconds a refused server waits for the holder's pid to appear in the lock file."""
SERVER_LOCK = "server.lock"
START_LOCK = "server-start.lock"


def _open(path: Path) -> int:
    """The lock file's descriptor; ServerError naming it when it cannot be opened."""
    try:
        ensure_private_dir(path.parent)
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as error:
        raise ServerError(f"{path}: cannot open the lock file ({error.strerror})") from None


def _holder(fd: int) -> str | None:
    """The pid the lock file holds, as text; None while it holds none, or the pid of a
    process that is gone (a server killed before the holder wrote its own)."""
    text = os.pread(fd, 32, 0).decode(errors="replace").strip()
    if not text.isdigit() or len(text) > 10:
        return None
    try:
        os.kill(int(text), 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass  # alive, another user's: not ours to signal
    return text


def claim(home: Path) -> int:
    """Take this home's server lock for the life of the process; its descriptor (keep
    it open, and `release` it on the way out). ServerError naming the holder's pid when
    another server holds it."""
    path = home / SERVER_LOCK
    fd = _open(path)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        # The holder writes its pid just after it took the lock: wait a moment for it.
        holder = poll(lambda: _holder(fd), HOLDER_WAIT) or "unknown"
        os.close(fd)
        raise ServerError(
            f"a brace server for {home} is already running (pid {holder})",
            "Stop it with `brace down`, or use it as it is.",
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def release(fd: int) -> None:
    """Give the lock up (on a clean exit): its pid is cleared first, so a server that
    starts next never names this one."""
    with contextlib.suppress(OSError):
        os.ftruncate(fd, 0)
    os.close(fd)


@contextlib.contextmanager
def one_start(home: Path, timeout: float) -> Iterator[None]:
    """Hold this home's start lock, waiting up to `timeout` seconds for another command
    that is starting the server (ServerError after that)."""
    fd = _open(home / START_LOCK)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise ServerError(
                        f"another command has been starting the brace server for {home} "
                        f"for {timeout:.0f} s"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # releases the lock

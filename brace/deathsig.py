"""Processes that must not outlive their parent: Linux's parent-death signal.

Imported where processes are started (the server's supervisor, the fork server), never
by the CLI: ctypes is loaded here, at import, so that `die_with_parent` imports nothing
when it runs in a child between fork and exec, where taking the import lock could
deadlock on a lock another thread of the parent held at the fork.
"""

from __future__ import annotations

import contextlib
import ctypes
import signal

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent (the thread that forked
    it) dies: PR_SET_PDEATHSIG, on Linux; nothing elsewhere."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

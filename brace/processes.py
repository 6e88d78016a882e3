"""Is the process that wrote a record still running? (server.json, replicas, staging)

brace records a process as its pid plus its start time, because pids are reused: a
record names a live process only if a process with that pid exists, started at that
time, and is not a zombie. A zombie has exited and only waits for its parent to read
its status (a server killed with SIGKILL stays one until the command that started it
exits, or for good under an init that does not reap); to psutil it still has a pid
and a start time, but it serves nothing and holds no lock.
"""

from __future__ import annotations

import psutil

# psutil reads start times from /proc in clock ticks: the same process reads equal
# within this tolerance, in seconds.
START_TOLERANCE = 0.01


def process_started(pid: int) -> float:
    """The start time of process `pid` (seconds since the epoch)."""
    return float(psutil.Process(pid).create_time())


def is_same_process(pid: int, started: float) -> bool:
    """True if `pid` is still the process that started at `started` and has not exited."""
    try:
        process = psutil.Process(pid)
        if abs(process.create_time() - started) >= START_TOLERANCE:
            return False  # the pid was reused
        return bool(process.status() != psutil.STATUS_ZOMBIE)
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return False
